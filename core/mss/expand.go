package mss

import (
	"strconv"
	"strings"
)

// cgiPair is one "key=value" of a request's CGI, in order.
type cgiPair struct{ key, val, raw string }

// parseCGI splits an opaque "a=1&b=2" (a leading '?' or '&' is ignored)
// into its pairs. Values are kept as given (not URL-decoded), as xrootd
// does; a key without '=' has the empty value; empty pieces are dropped.
func parseCGI(cgi string) []cgiPair {
	cgi = strings.TrimLeft(cgi, "?&")
	var out []cgiPair
	for piece := range strings.SplitSeq(cgi, "&") {
		if piece == "" {
			continue
		}
		k, v, _ := strings.Cut(piece, "=")
		out = append(out, cgiPair{key: k, val: v, raw: piece})
	}
	return out
}

// renderCGI renders the pairs as xrootd's $CGI: "&a=1&b=2" ("" when
// there are none).
func renderCGI(pairs []cgiPair) string {
	var b strings.Builder
	for _, p := range pairs {
		b.WriteByte('&')
		b.WriteString(p.raw)
	}
	return b.String()
}

// copyVars are the variables of one copy command invocation.
type copyVars struct {
	builtin map[string]string
	cgi     []cgiPair
}

// newCopyVars returns the variables for a transfer of req with the given
// source and destination (see Command for the table).
func newCopyVars(req Request, src, dst, pfn string) copyVars {
	mode := "r"
	if req.Mode != 0 {
		mode = string(rune(req.Mode))
	}
	cgi := parseCGI(req.CGI)
	return copyVars{
		builtin: map[string]string{
			"SRC":   src,
			"DST":   dst,
			"LFN":   req.LFN,
			"PFN":   pfn,
			"RFN":   req.RFN,
			"RID":   req.RID,
			"TID":   req.TID,
			"PRTY":  strconv.Itoa(req.Priority),
			"FMODE": strconv.FormatInt(int64(req.Priority), 8),
			"OFLAG": mode,
			"OPTS":  "0",
			"MDP":   "0",
			"CGI":   renderCGI(cgi),
		},
		cgi: cgi,
	}
}

// lookup returns the value of variable name: a built-in first, then the
// first CGI value of that key (only for names that start with a letter,
// so "$1" or "$0" in an administrator's sh -c script is never replaced by
// request data).
func (v copyVars) lookup(name string) (string, bool) {
	if s, ok := v.builtin[name]; ok {
		return s, true
	}
	if !isLetter(name[0]) {
		return "", false
	}
	for _, p := range v.cgi {
		if p.key == name {
			return p.val, true
		}
	}
	return "", false
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// isNameChar reports whether c may appear in a variable name: letters,
// digits and '.' (xrootd's copycmd rule, so "$oss.cgroup" is one name).
func isNameChar(c byte) bool { return isLetter(c) || c >= '0' && c <= '9' || c == '.' }

// expandArgs substitutes variables in each element of argv separately and
// returns a new slice of the same length; argv is not modified. "$name"
// (see isNameChar) is replaced by lookup(name) when that reports ok, else
// kept literally; "\$" gives a literal "$"; a "$" not followed by a name
// character is literal. Substituted values are not scanned again, so a
// value containing "$SRC", quotes, ";" or "$(…)" reaches the program as
// literal text inside its one argument.
func expandArgs(argv []string, lookup func(name string) (string, bool)) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = expandOne(a, lookup)
	}
	return out
}

func expandOne(s string, lookup func(string) (string, bool)) string {
	if strings.IndexByte(s, '$') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && s[i+1] == '$':
			b.WriteByte('$')
			i += 2
		case c == '$':
			j := i + 1
			for j < len(s) && isNameChar(s[j]) {
				j++
			}
			if j == i+1 {
				b.WriteByte('$')
				i++
				continue
			}
			if v, ok := lookup(s[i+1 : j]); ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i:j])
			}
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}
