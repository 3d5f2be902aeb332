package model

import (
	"path"
	"strings"
	"unicode/utf8"
)

// Hint is one key of the key bar: the key as shown ("enter", "^r") and
// what it does.
type Hint struct{ Key, Desc string }

// Width is the number of cells the hint takes: key, a blank, description.
// Key labels and descriptions are narrow text (letters, arrows), one cell
// per rune.
func (h Hint) Width() int { return utf8.RuneCountInString(h.Key) + 1 + utf8.RuneCountInString(h.Desc) }

// HintSep is the width of the separator between two hints (" • ").
const HintSep = 3

// FitHints chooses the hints of a key bar width cells wide. hints are in
// order of importance, and last is the hint that must always be there
// (the one that shows every key): the most important hints are taken
// while they fit, and last closes the bar. No hint is ever cut: a bar
// that cannot hold them all drops the least important ones. A duplicate
// (same key label) of a hint already taken is skipped.
func FitHints(hints []Hint, last Hint, width int) []Hint {
	used := last.Width()
	out := make([]Hint, 0, len(hints)+1)
	seen := map[string]bool{last.Key: true}
	for _, h := range hints {
		if seen[h.Key] {
			continue
		}
		if used+HintSep+h.Width() > width {
			break
		}
		seen[h.Key] = true
		used += HintSep + h.Width()
		out = append(out, h)
	}
	return append(out, last)
}

// PartitionLabels returns, for the partition paths of one space, the part
// of each path that tells it from the others: the path relative to the
// longest directory they all share ("/srv/a/data1", "/srv/a/data2" ->
// "data1", "data2"; "/d1/frm", "/d2/frm" -> "d1/frm", "d2/frm"). A space
// of one partition, or partitions that share nothing but the root, keep
// their whole paths.
func PartitionLabels(paths []string) []string {
	out := make([]string, len(paths))
	copy(out, paths)
	if len(paths) < 2 {
		return out
	}
	common := path.Dir(path.Clean(paths[0]))
	for _, p := range paths[1:] {
		for common != "/" && common != "." && !strings.HasPrefix(path.Clean(p), strings.TrimSuffix(common, "/")+"/") {
			common = path.Dir(common)
		}
	}
	if common == "/" || common == "." {
		return out
	}
	for i, p := range paths {
		out[i] = strings.TrimPrefix(path.Clean(p), common+"/")
	}
	return out
}
