package config

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// parseTOML decodes frm's native format on top of the built-in defaults.
func parseTOML(data []byte, name, instance string) (*Config, error) {
	c := defaultBase()
	md, err := toml.Decode(string(data), c)
	if err != nil {
		return nil, tomlError(name, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, unknownKeys(name, data, und)
	}
	// A policy that gives neither hold nor hold_forever inherits the "*"
	// hold; the decoder cannot tell an absent hold from "0", so look at
	// the keys.
	var raw struct {
		Purge struct {
			Policy []map[string]any `toml:"policy"`
		} `toml:"purge"`
	}
	if _, err := toml.Decode(string(data), &raw); err != nil {
		return nil, tomlError(name, err)
	}
	holdGiven := func(i int) bool {
		if i >= len(raw.Purge.Policy) {
			return true
		}
		for k := range raw.Purge.Policy[i] {
			if strings.EqualFold(k, "hold") || strings.EqualFold(k, "hold_forever") {
				return true
			}
		}
		return false
	}
	if instance != "" {
		c.Instance = instance
	}
	c.finalize(holdGiven)
	return c, nil
}

// tomlError renders a decoder error as "file:line: message", on one line
// (the decoder quotes raw input, newlines included).
func tomlError(name string, err error) error {
	msg := strings.TrimRight(decodeMessage(name, err), "\n")
	return errors.New(strings.ReplaceAll(msg, "\n", `\n`))
}

func decodeMessage(name string, err error) string {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		msg := pe.Message
		if pe.LastKey != "" {
			msg = fmt.Sprintf("%s: %s", pe.LastKey, msg)
		}
		if pe.Position.Line > 0 {
			return fmt.Sprintf("%s:%d: %s", name, pe.Position.Line, msg)
		}
		return fmt.Sprintf("%s: %s", name, msg)
	}
	msg := strings.TrimPrefix(err.Error(), "toml: ")
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		rest := msg[len(m[0]):]
		if key, err := strconv.Unquote(m[2]); err == nil && key != "" {
			rest = key + ": " + rest
		}
		return fmt.Sprintf("%s:%s: %s", name, m[1], rest)
	}
	return fmt.Sprintf("%s: %s", name, msg)
}

var lineRE = regexp.MustCompile(`^line (\d+)(?: \(last key ("[^"]*")\))?: `)

// unknownKeys reports the keys the schema does not know, each with the
// line that sets it when it can be found.
func unknownKeys(name string, data []byte, keys []toml.Key) error {
	set := map[string]bool{}
	for _, k := range keys {
		set[k.String()] = true
	}
	var errs []error
	for _, k := range keys {
		ks := k.String()
		// Only the outermost unknown key: "foo" rather than "foo.bar".
		top := true
		for i := 1; i < len(k); i++ {
			if set[k[:i].String()] {
				top = false
				break
			}
		}
		if !top {
			continue
		}
		if line := keyLine(data, k); line > 0 {
			errs = append(errs, fmt.Errorf("%s:%d: unknown key %q", name, line, ks))
		} else {
			errs = append(errs, fmt.Errorf("%s: unknown key %q", name, ks))
		}
	}
	return errors.Join(errs...)
}

// keyLine finds the line that defines key (best effort: table headers and
// "key = value" lines; 0 when not found).
func keyLine(data []byte, key toml.Key) int {
	want := strings.Join(key, ".")
	var table []string
	for n, line := range strings.Split(string(data), "\n") {
		t := strings.TrimSpace(line)
		if t == "" || t[0] == '#' {
			continue
		}
		if t[0] == '[' {
			h := strings.Trim(t, "[]")
			if i := strings.IndexByte(h, ']'); i >= 0 {
				h = h[:i]
			}
			table = splitKey(h)
			if strings.Join(table, ".") == want {
				return n + 1
			}
			continue
		}
		eq := strings.IndexByte(t, '=')
		if eq <= 0 {
			continue
		}
		full := append(append([]string{}, table...), splitKey(t[:eq])...)
		if strings.Join(full, ".") == want {
			return n + 1
		}
	}
	return 0
}

func splitKey(k string) []string {
	parts := strings.Split(strings.TrimSpace(k), ".")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if len(p) >= 2 && (p[0] == '"' || p[0] == '\'') && p[len(p)-1] == p[0] {
			p = p[1 : len(p)-1]
		}
		parts[i] = p
	}
	return parts
}

// WriteTOML writes the effective configuration as TOML that Load reads
// back to an equal Config. Secrets are replaced by "REDACTED": the S3
// secret key and any password inside the catalog DSN.
func (c *Config) WriteTOML(w io.Writer) error {
	cp := *c
	if cp.MSS.S3.SecretKey != "" {
		cp.MSS.S3.SecretKey = redactedPlaceholder
	}
	cp.Catalog.DSN = RedactDSN(cp.Catalog.DSN)
	var hdr strings.Builder
	hdr.WriteString("# frm effective configuration")
	if c.Source != "" {
		fmt.Fprintf(&hdr, " (from %s", oneLine(c.Source))
		if c.Format != "" {
			fmt.Fprintf(&hdr, ", %s format", oneLine(c.Format))
		}
		hdr.WriteString(")")
	}
	hdr.WriteString("\n# Durations: seconds or N[s|m|h|d]; sizes: bytes or N[k|m|g|t].\n\n")
	if _, err := io.WriteString(w, hdr.String()); err != nil {
		return err
	}
	enc := toml.NewEncoder(w)
	enc.Indent = ""
	return enc.Encode(cp)
}

func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}

var dsnPasswordRE = regexp.MustCompile(`(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s&;]*)`)

// RedactDSN returns dsn with any password replaced by "REDACTED": the
// password of a URL ("postgres://user:pw@host/db"), a password=... query
// parameter, or a password=... keyword of a "key=value ..." DSN.
func RedactDSN(dsn string) string {
	if dsn == "" {
		return dsn
	}
	out := dsn
	if isURL(dsn) {
		if u, err := url.Parse(dsn); err == nil {
			changed := false
			if u.User != nil {
				if _, has := u.User.Password(); has {
					u.User = url.UserPassword(u.User.Username(), redactedPlaceholder)
					changed = true
				}
			}
			if q := u.Query(); q.Has("password") {
				q.Set("password", redactedPlaceholder)
				u.RawQuery = q.Encode()
				changed = true
			}
			if changed {
				return u.String()
			}
			return dsn
		}
		// Unparsable URL: blank everything between "://" and the last '@'.
		if i, j := strings.Index(dsn, "://"), strings.LastIndexByte(dsn, '@'); j > i+3 {
			cred := dsn[i+3 : j]
			if k := strings.IndexByte(cred, ':'); k >= 0 {
				out = dsn[:i+3] + cred[:k+1] + redactedPlaceholder + dsn[j:]
			}
		}
	}
	return dsnPasswordRE.ReplaceAllString(out, "${1}"+redactedPlaceholder)
}
