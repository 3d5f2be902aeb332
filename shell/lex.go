package shell

import "strings"

// The command line's words: blank separated, as frm_admin's; frm adds
// quoting so that names with blanks or quotes can be typed (frm_admin has
// none): single quotes take everything literally up to the next single
// quote; double quotes too, except that \" and \\ stand for " and \;
// outside quotes a backslash takes the next character literally.

// quoteState is where a line ends: outside quotes, or inside which quote.
type quoteState rune

const (
	unquoted     quoteState = 0
	singleQuoted quoteState = '\''
	doubleQuoted quoteState = '"'
)

// lexed is a line broken into words.
type lexed struct {
	words []string
	// The last word, when the line does not end between words: its
	// value so far, where it starts in the line, and the quote state at
	// the end of the line. open is false after a trailing blank.
	open      bool
	lastStart int
	last      string
	state     quoteState
	// escape: the line ends in a backslash that escapes nothing yet.
	escape bool
}

// lex breaks line into words; the last word may be unfinished (an open
// quote or a trailing backslash), which Split refuses and completion
// continues.
func lex(line string) lexed {
	var l lexed
	var cur strings.Builder
	state := unquoted
	escape := false
	// Bytes, not runes: every special character is ASCII, and a name
	// that is not valid UTF-8 must read back byte for byte.
	for i := 0; i < len(line); i++ {
		c := line[i]
		if !l.open && !(state == unquoted && !escape && (c == ' ' || c == '\t')) {
			l.open, l.lastStart = true, i
		}
		switch {
		case escape:
			if state == doubleQuoted && c != '"' && c != '\\' {
				cur.WriteByte('\\')
			}
			cur.WriteByte(c)
			escape = false
		case state != unquoted:
			switch {
			case byte(state) == c:
				state = unquoted
			case c == '\\' && state == doubleQuoted:
				escape = true
			default:
				cur.WriteByte(c)
			}
		case c == '\\':
			escape = true
		case c == '"' || c == '\'':
			state = quoteState(c)
		case c == ' ' || c == '\t':
			if l.open {
				l.words = append(l.words, cur.String())
				cur.Reset()
				l.open = false
			}
		default:
			cur.WriteByte(c)
		}
	}
	l.state, l.escape = state, escape
	if l.open {
		l.last = cur.String()
	}
	return l
}

// Split breaks a command line into words (see above for quoting). An
// unterminated quote or a trailing backslash is a usage error.
func Split(line string) ([]string, error) {
	l := lex(line)
	switch {
	case l.state != unquoted:
		return nil, usagef("unterminated quote in %q", line)
	case l.escape:
		return nil, usagef("trailing backslash in %q", line)
	}
	if l.open {
		l.words = append(l.words, l.last)
	}
	return l.words, nil
}

// quoteRest renders s as it must be typed after a word that ends in quote
// state st, so that the line reads back as the word followed by s.
func quoteRest(s string, st quoteState) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch st {
		case unquoted:
			if strings.IndexByte(" \t'\"\\", c) >= 0 {
				b.WriteByte('\\')
			}
		case doubleQuoted:
			if c == '"' || c == '\\' {
				b.WriteByte('\\')
			}
		case singleQuoted:
			if c == '\'' {
				b.WriteString(`'\''`) // close, a literal quote, reopen
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Quote renders a word so that Split reads it back whole: as it is when it
// needs no quoting.
func Quote(word string) string {
	if word != "" && !strings.ContainsAny(word, " \t'\"\\") {
		return word
	}
	if !strings.ContainsRune(word, '\'') {
		return "'" + word + "'"
	}
	return `"` + quoteRest(word, doubleQuoted) + `"`
}
