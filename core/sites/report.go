package sites

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"frm/core/fedapi"
)

// ReportVersion is the version of the JSON report (a contract: fields
// are only added).
const ReportVersion = 1

// Counts are sites by state.
type Counts struct {
	OK       int `json:"ok"`
	Warning  int `json:"warning"`
	Critical int `json:"critical"`
	Unknown  int `json:"unknown"`
}

func (c *Counts) add(s State) {
	switch s {
	case OK:
		c.OK++
	case Warning:
		c.Warning++
	case Critical:
		c.Critical++
	default:
		c.Unknown++
	}
}

// Change is something that changed since the previous run.
type Change struct {
	Site string `json:"site"`
	// Kind: "state", "failures", "space", "new", "gone".
	Kind string `json:"kind"`
	Text string `json:"text"`
	// Severity is the state the change leads to (for colouring).
	Severity State `json:"severity"`
}

// RunSummary is one earlier run in a report's history.
type RunSummary struct {
	At     time.Time        `json:"at"`
	State  State            `json:"state"`
	Counts Counts           `json:"counts"`
	Sites  map[string]State `json:"sites"`
}

// Report is a run of frm sites report: every site's result, what changed
// since the previous run, and the runs kept.
type Report struct {
	Version   int       `json:"version"`
	Generated time.Time `json:"generated"`
	// State is the worst site's (the exit status of frm sites).
	State   State    `json:"state"`
	Counts  Counts   `json:"counts"`
	Results []Result `json:"sites"`
	// Previous is when the run compared with ran (nil: none).
	Previous *time.Time `json:"previous,omitempty"`
	Changes  []Change   `json:"changes,omitempty"`
	// History is the kept runs, oldest first, this one last.
	History []RunSummary `json:"history,omitempty"`

	spaceLimits [2]float64 // warn, critical: for the changes
}

// NewReport builds the report of results, comparing with the earlier
// runs (oldest first; may be empty); t says when a space crossed a
// threshold.
func NewReport(now time.Time, results []Result, runs []*Report, t Thresholds) *Report {
	r := &Report{Version: ReportVersion, Generated: now.UTC(), Results: results, spaceLimits: [2]float64{t.SpaceWarn, t.SpaceCritical}}
	for _, x := range results {
		r.State = Worst(r.State, x.State)
		r.Counts.add(x.State)
	}
	LastSeen(results, runs)
	if len(runs) > 0 {
		prev := runs[len(runs)-1]
		t := prev.Generated
		r.Previous = &t
		r.Changes = Changes(prev, r)
	}
	for _, run := range append(slices.Clone(runs), r) {
		rs := RunSummary{At: run.Generated, State: run.State, Counts: run.Counts, Sites: map[string]State{}}
		for _, x := range run.Results {
			rs.Sites[x.Name] = x.State
		}
		r.History = append(r.History, rs)
	}
	if len(r.History) > KeepRuns {
		r.History = r.History[len(r.History)-KeepRuns:]
	}
	return r
}

// Changes lists what changed from prev to cur: a site whose state
// changed (went down, came back), new failures, a space that crossed a
// threshold, sites added to or removed from the data file.
func Changes(prev, cur *Report) []Change {
	var out []Change
	old := map[string]Result{}
	for _, x := range prev.Results {
		old[x.Name] = x
	}
	for _, x := range cur.Results {
		p, ok := old[x.Name]
		delete(old, x.Name)
		if !ok {
			out = append(out, Change{Site: x.Name, Kind: "new", Text: "new site, " + x.State.String(), Severity: x.State})
			continue
		}
		if p.State != x.State {
			text := fmt.Sprintf("%s → %s", p.State, x.State)
			switch {
			case p.Status != nil && x.Status == nil:
				text = "went down: " + text
			case p.Status == nil && x.Status != nil:
				text = "came back: " + text
			}
			if x.State != OK && len(x.Reasons) > 0 {
				text += " (" + x.Reason() + ")"
			}
			out = append(out, Change{Site: x.Name, Kind: "state", Text: text, Severity: x.State})
		}
		if p.Status == nil || x.Status == nil {
			continue
		}
		if a, b := p.Status.Failures24h, x.Status.Failures24h; b > a && a >= 0 {
			out = append(out, Change{Site: x.Name, Kind: "failures", Text: fmt.Sprintf("%d new failed transfers (%d in 24h)", b-a, b), Severity: Warning})
		}
		for _, sp := range x.Status.Spaces {
			j := slices.IndexFunc(p.Status.Spaces, func(o fedapi.SpaceStatus) bool { return o.Name == sp.Name })
			if j < 0 {
				continue
			}
			a, ok1 := UsedPercent(p.Status.Spaces[j])
			b, ok2 := UsedPercent(sp)
			if !ok1 || !ok2 {
				continue
			}
			ba, bb := band(a, cur.thresholds(x)), band(b, cur.thresholds(x))
			if ba != bb {
				dir := "rose above"
				if bb < ba {
					dir = "fell below"
				}
				lim := cur.thresholds(x)[max(ba, bb)-1]
				out = append(out, Change{Site: x.Name, Kind: "space", Text: fmt.Sprintf("space %s %s %g%% (now %.0f%%)", sp.Name, dir, lim, b), Severity: []State{OK, Warning, Critical}[bb]})
			}
		}
	}
	var gone []string
	for n := range old {
		gone = append(gone, n)
	}
	sort.Strings(gone)
	for _, n := range gone {
		out = append(out, Change{Site: n, Kind: "gone", Text: "no longer in the sites file", Severity: OK})
	}
	return out
}

// thresholds are the space usage limits the report's changes use (the
// defaults when the report was not built by NewReport).
func (r *Report) thresholds(Result) [2]float64 {
	if r.spaceLimits != [2]float64{} {
		return r.spaceLimits
	}
	return [2]float64{DefaultSpaceWarn, DefaultSpaceCritical}
}

// band is 0 below warn, 1 from warn, 2 from critical.
func band(pct float64, lim [2]float64) int {
	switch {
	case pct >= lim[1]:
		return 2
	case pct >= lim[0]:
		return 1
	}
	return 0
}

// RenderJSON is the report as JSON.
func RenderJSON(r *Report) ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Summary is the report's first line, as a Nagios plugin's: the worst
// state and the sites by state.
func (r *Report) Summary() string {
	c := r.Counts
	return fmt.Sprintf("SITES %s - %d sites: %d ok, %d warning, %d critical, %d unknown",
		r.State, len(r.Results), c.OK, c.Warning, c.Critical, c.Unknown)
}

// Table writes one line per site: name, state, version, spaces and
// usage, queued requests by kind, failures in 24h, oldest unmigrated
// file's age, last seen, and why.
func Table(results []Result, now time.Time) string {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SITE\tSTATE\tVERSION\tSPACES\tQUEUE\tFAIL24H\tUNMIGRATED\tLAST SEEN\tREASON")
	for _, x := range results {
		version, spaces, queue, fails, unmig := "-", "-", "-", "-", "-"
		if st := x.Status; st != nil {
			version = orDash(st.Version)
			spaces = SpacesText(st.Spaces)
			queue = QueueText(st.Queue)
			if st.Failures24h >= 0 {
				fails = fmt.Sprint(st.Failures24h)
			}
			if st.OldestUnmigrated != nil {
				unmig = Age(now.Sub(*st.OldestUnmigrated))
			}
		}
		seen := "never"
		if x.LastSeen != nil {
			seen = stamp(*x.LastSeen)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.Name, x.State, version, spaces, queue, fails, unmig, seen, orDash(x.Reason()))
	}
	tw.Flush()
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// SpacesText is "public 42% of 10G, tape 3% of 1T".
func SpacesText(spaces []fedapi.SpaceStatus) string {
	if len(spaces) == 0 {
		return "-"
	}
	var parts []string
	for _, sp := range spaces {
		pct, ok := UsedPercent(sp)
		if !ok {
			parts = append(parts, sp.Name+" ?")
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %.0f%% of %s", sp.Name, pct, Bytes(sp.Total)))
	}
	return strings.Join(parts, ", ")
}

// QueueText is the queued requests by kind ("stage 3 migrate 12"), the
// kinds with none left out; "0" when nothing is queued, "?" when the site
// could not read its queue.
func QueueText(q map[string]int) string {
	if q == nil {
		return "?"
	}
	kinds := []string{"stage", "get", "migrate", "put"}
	for k := range q {
		if !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	var parts []string
	for _, k := range kinds {
		if q[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, q[k]))
		}
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, " ")
}

// Bytes renders a size with a binary suffix: 512, 1.5K, 10G.
func Bytes(n int64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return fmt.Sprint(n)
	}
	f := float64(n)
	i := -1
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if f >= 10 {
		return fmt.Sprintf("%.0f%c", f, units[i])
	}
	return fmt.Sprintf("%.1f%c", f, units[i])
}

// RenderText is the report as text: the summary line, the table, the
// changes since the previous run and the history.
func RenderText(r *Report) ([]byte, error) {
	var b strings.Builder
	b.WriteString(r.Summary() + "\n")
	fmt.Fprintf(&b, "generated %s\n\n", stamp(r.Generated))
	b.WriteString(Table(r.Results, r.Generated))
	if r.Previous != nil {
		fmt.Fprintf(&b, "\nChanges since %s:\n", stamp(*r.Previous))
		if len(r.Changes) == 0 {
			b.WriteString("  none\n")
		}
		for _, c := range r.Changes {
			fmt.Fprintf(&b, "  %s: %s\n", c.Site, c.Text)
		}
	}
	if len(r.History) > 1 {
		fmt.Fprintf(&b, "\nLast %d runs (oldest first):\n", len(r.History))
		for _, h := range r.History {
			fmt.Fprintf(&b, "  %s  %-8s  %d ok, %d warning, %d critical, %d unknown\n", stamp(h.At), h.State, h.Counts.OK, h.Counts.Warning, h.Counts.Critical, h.Counts.Unknown)
		}
	}
	return []byte(b.String()), nil
}
