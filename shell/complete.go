package shell

import (
	"os"
	"path"
	"sort"
	"strings"
	"unicode/utf8"
)

// Completion of the word before the cursor, for every face that edits a
// command line (the REPL's line editor, the TUI's command palette): the
// command names, a command's options and type words, space names, and
// logical file names read from the namespace. Candidates are rendered as
// they must be typed, quoted or escaped the way the word was begun, so
// that a name with blanks or quotes completes into a line Split reads
// back as that name.

// Complete returns the completions of the last word of line as suffixes
// to append to line, sorted, and that word as typed. A suffix of a
// complete name (not a directory) inside quotes ends with the closing
// quote.
func (sh *Shell) Complete(line string) (suffixes []string, word string) {
	l := lex(line)
	cur := ""
	if l.open {
		cur, word = l.last, line[l.lastStart:]
	}
	for _, c := range sh.candidates(l.words, cur) {
		if !strings.HasPrefix(c, cur) || l.escape {
			continue
		}
		s := quoteRest(c[len(cur):], l.state)
		if l.state != unquoted && !strings.HasSuffix(c, "/") {
			s += string(rune(l.state))
		}
		if s != "" {
			suffixes = append(suffixes, s)
		}
	}
	sort.Strings(suffixes)
	return suffixes, word
}

// CompleteLine completes line as a palette does: one candidate is
// inserted, with a blank after it unless it is a directory; of several,
// what they share is inserted and the candidates (whole words, as typed)
// are returned to be shown.
func (sh *Shell) CompleteLine(line string) (string, []string) {
	suffixes, word := sh.Complete(line)
	switch len(suffixes) {
	case 0:
		return line, nil
	case 1:
		if strings.HasSuffix(suffixes[0], "/") {
			return line + suffixes[0], nil
		}
		return line + suffixes[0] + " ", nil
	}
	common := suffixes[0]
	for _, s := range suffixes[1:] {
		for !strings.HasPrefix(s, common) {
			_, n := utf8.DecodeLastRuneInString(common)
			common = common[:len(common)-n]
		}
	}
	shown := make([]string, len(suffixes))
	for i, s := range suffixes {
		shown[i] = word + s
	}
	return line + common, shown
}

// candidates are the values (unquoted) the word cur may complete to,
// after the words before it.
func (sh *Shell) candidates(before []string, cur string) []string {
	if len(before) == 0 {
		return CommandNames()
	}
	cmd, ok := lookup(before[0])
	if !ok {
		return nil
	}
	if strings.HasPrefix(cur, "-") {
		return optionNames(cmd)
	}
	if strings.HasPrefix(cur, "/") {
		return sh.lfns(cur)
	}
	var positional []string
	for _, w := range before[1:] {
		if !strings.HasPrefix(w, "-") {
			positional = append(positional, w)
		}
	}
	if len(cmd.subs) > 0 && len(positional) == 0 {
		return cmd.subs
	}
	wantSpace := cmd.name == "reloc" && len(positional) == 1 ||
		cmd.name == "audit" && len(positional) == 1 && positional[0] != "names" ||
		cmd.name == "df" || cmd.name == "query" && len(positional) == 1 && positional[0] == "usage"
	if wantSpace && sh.Site != nil {
		var n []string
		for _, sp := range sh.Site.Spaces.All() {
			n = append(n, sp.Name)
		}
		return n
	}
	return nil
}

// lfns completes a logical name from the namespace directory it is in.
func (sh *Shell) lfns(cur string) []string {
	if sh.Site == nil {
		return nil
	}
	dir, _ := path.Split(cur)
	lfn, err := sh.Site.Clean(dir)
	if err != nil {
		return nil
	}
	f, err := os.Open(sh.Site.PFN(lfn))
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	for {
		ents, err := f.ReadDir(1024)
		for _, e := range ents {
			n := dir + e.Name()
			if e.IsDir() {
				n += "/"
			}
			out = append(out, n)
		}
		if err != nil || len(out) > 5000 {
			break
		}
	}
	return out
}
