package model

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// AuditModes are the audits the Audit view runs (`frm admin audit ...`).
var AuditModes = []string{"names", "space", "usage"}

// AuditProblem is one problem an audit found.
type AuditProblem struct {
	// Code is the core's problem number (site.Problem).
	Code int
	// Kind names the problem ("dangling link", "usage mismatch", ...).
	Kind string
	// Name is what the problem is about: a namespace name (pfn), a data
	// file, or a space (usage).
	Name  string
	PFN   string
	Data  string
	Other string
	Size  int64
	// OtherExists, Space and Claimed complete the core's record of the
	// problem (site.AuditEvent), so that it can be fixed later exactly as
	// found.
	OtherExists bool
	Space       string
	Claimed     int64
	// Fix says exactly what fixing it changes; empty when it cannot be
	// fixed from here.
	Fix string
	// Destructive fixes delete data.
	Destructive bool
	Fixed       bool
}

// Key identifies a problem (selection, marks, fixes).
func (p *AuditProblem) Key() string {
	return fmt.Sprintf("%d\x00%s\x00%s\x00%s", p.Code, p.Kind, p.PFN, p.Data+p.Name)
}

// Audit is the state of the Audit view: the audit asked for, its progress
// and the problems found, with marks for fixing a selection.
type Audit struct {
	Mode   string // names, space, usage
	Target string // directory (names), space[:partition], space or "" (usage)

	Table   *Table[AuditProblem]
	Marked  map[string]bool
	Running bool
	Started time.Time
	Scanned int64
	// Estimate is the expected number of entries scanned (0: unknown),
	// for the progress bar.
	Estimate int64
	// Summary is the last run's result line; Err its error.
	Summary string
	Err     error
	gen     uint64
}

// NewAudit returns an Audit model.
func NewAudit() *Audit {
	a := &Audit{Mode: "names", Target: "/", Marked: map[string]bool{},
		Table: NewTable(func(p *AuditProblem) string { return p.Key() }, func(p *AuditProblem, f string) bool {
			f = strings.ToLower(f)
			return strings.Contains(strings.ToLower(p.Kind+" "+p.Name+" "+p.Other), f)
		})}
	a.Table.SetSort(func(x, y *AuditProblem) bool {
		if x.Kind != y.Kind {
			return x.Kind < y.Kind
		}
		return x.Name < y.Name
	})
	return a
}

// Start begins a run of the audit and returns its generation; problems of
// any other generation are stale.
func (a *Audit) Start(mode, target string, now time.Time) uint64 {
	a.gen++
	a.Mode, a.Target = mode, target
	a.Table.Reset()
	a.Marked = map[string]bool{}
	a.Running, a.Started, a.Scanned, a.Summary, a.Err = true, now, 0, "", nil
	return a.gen
}

// Current reports whether gen is the run in progress.
func (a *Audit) Current(gen uint64) bool { return a.Running && gen == a.gen }

// Add adds problems found by run gen.
func (a *Audit) Add(gen uint64, ps []AuditProblem) {
	if a.Current(gen) {
		a.Table.Append(ps)
	}
}

// Finish ends run gen with its summary.
func (a *Audit) Finish(gen uint64, summary string, err error) bool {
	if !a.Current(gen) {
		return false
	}
	a.Running, a.Summary, a.Err = false, summary, err
	return true
}

// Abandon forgets the run in progress (cancelled).
func (a *Audit) Abandon() {
	a.gen++
	a.Running = false
	a.Summary = "cancelled"
}

// Toggle marks or unmarks the selected problem (fixable ones only).
func (a *Audit) Toggle() bool {
	p, ok := a.Table.Selected()
	if !ok || p.Fix == "" || p.Fixed {
		return false
	}
	k := p.Key()
	if a.Marked[k] {
		delete(a.Marked, k)
	} else {
		a.Marked[k] = true
	}
	return true
}

// ToFix returns the problems a fix applies to: all fixable ones (all),
// else the marked ones, else the selected one; fixed ones are left out.
func (a *Audit) ToFix(all bool) []AuditProblem {
	var out []AuditProblem
	rows := a.Table.Rows()
	switch {
	case all || len(a.Marked) > 0:
		for _, p := range rows {
			if p.Fix != "" && !p.Fixed && (all || a.Marked[p.Key()]) {
				out = append(out, p)
			}
		}
	default:
		if p, ok := a.Table.Selected(); ok && p.Fix != "" && !p.Fixed {
			out = append(out, *p)
		}
	}
	return out
}

// SetFixed records problems fixed (by key) and unmarks them.
func (a *Audit) SetFixed(keys []string) {
	if len(keys) == 0 {
		return
	}
	set := map[string]bool{}
	for _, k := range keys {
		set[k] = true
		delete(a.Marked, k)
	}
	rows := append([]AuditProblem(nil), a.Table.Rows()...)
	for i := range rows {
		if set[rows[i].Key()] {
			rows[i].Fixed = true
		}
	}
	a.Table.SetRows(rows)
}

// Counts returns problems per kind (sorted by kind) and how many are fixed.
func (a *Audit) Counts() (kinds []string, n map[string]int, fixed int) {
	n = map[string]int{}
	for _, p := range a.Table.Rows() {
		if n[p.Kind] == 0 {
			kinds = append(kinds, p.Kind)
		}
		n[p.Kind]++
		if p.Fixed {
			fixed++
		}
	}
	sort.Strings(kinds)
	return kinds, n, fixed
}

// Progress is the fraction done (0..1) when an estimate is known, and -1
// otherwise.
func (a *Audit) Progress() float64 {
	if a.Estimate <= 0 {
		return -1
	}
	f := float64(a.Scanned) / float64(a.Estimate)
	if a.Running {
		return min(f, 0.99)
	}
	return min(f, 1)
}

// FixText is the confirmation of a fix: how many problems, and what
// changes for each (up to show of them, then how many more).
func FixText(ps []AuditProblem, show int) string {
	var b strings.Builder
	destructive := 0
	for _, p := range ps {
		if p.Destructive {
			destructive++
		}
	}
	fmt.Fprintf(&b, "Fix %d %s? This will:", len(ps), plural(len(ps), "problem", "problems"))
	for i, p := range ps {
		if i == show {
			fmt.Fprintf(&b, "\n  ... and %d more", len(ps)-show)
			break
		}
		b.WriteString("\n  " + p.Fix)
	}
	if destructive > 0 {
		fmt.Fprintf(&b, "\n\n%d of these DELETE data files.", destructive)
	}
	return b.String()
}
