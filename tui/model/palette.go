package model

import "strings"

// Palette is the state of the `:` command palette: the history of command
// lines (up/down), completion of command names and the output pane.
type Palette struct {
	History []string
	hist    int // index into History while browsing; len(History) = the new line
	draft   string

	Output  []string // lines of the output pane
	Scroll  int      // first output line shown
	Running bool
	Last    string // the command line whose output is shown
	Status  int    // its exit status
}

// Push records a command line run (no consecutive duplicates).
func (p *Palette) Push(line string) {
	line = strings.TrimSpace(line)
	if line != "" && (len(p.History) == 0 || p.History[len(p.History)-1] != line) {
		p.History = append(p.History, line)
	}
	if n := len(p.History); n > 500 {
		p.History = append(p.History[:0], p.History[n-500:]...)
	}
	p.hist, p.draft = len(p.History), ""
}

// Prev returns the previous history line (cur is the line being edited,
// kept to come back to).
func (p *Palette) Prev(cur string) (string, bool) {
	if p.hist > len(p.History) {
		p.hist = len(p.History)
	}
	if p.hist == 0 {
		return cur, false
	}
	if p.hist == len(p.History) {
		p.draft = cur
	}
	p.hist--
	return p.History[p.hist], true
}

// Next returns the next history line, or the draft after the last one.
func (p *Palette) Next() (string, bool) {
	if p.hist >= len(p.History) {
		return "", false
	}
	p.hist++
	if p.hist == len(p.History) {
		return p.draft, true
	}
	return p.History[p.hist], true
}

// SetOutput shows the output of a command line.
func (p *Palette) SetOutput(line, out string, status int) {
	p.Last, p.Status, p.Running = line, status, false
	out = strings.TrimRight(out, "\n")
	p.Output = nil
	if out != "" {
		p.Output = strings.Split(out, "\n")
	}
	p.Scroll = 0
}

// ScrollBy moves the output pane by delta lines within h visible lines.
func (p *Palette) ScrollBy(delta, h int) {
	p.Scroll = min(max(p.Scroll+delta, 0), max(len(p.Output)-h, 0))
}
