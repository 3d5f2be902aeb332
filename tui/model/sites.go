package model

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"frm/core/sites"
)

// Sites is the Sites view's state: one row per site of the sites data
// file ([sites] file) from the last probe, and the worst state.
type Sites struct {
	Table   *Table[sites.Result]
	Refresh Refresh
	// File is the data file shown (for the title).
	File  string
	Worst sites.State
	Count sites.Counts
}

// NewSites returns an empty Sites model.
func NewSites(file string) *Sites {
	return &Sites{File: file, Table: NewTable(func(r *sites.Result) string { return r.Name }, func(r *sites.Result, f string) bool {
		return strings.Contains(r.Name, f) || strings.Contains(strings.ToLower(r.State.String()), strings.ToLower(f)) ||
			strings.Contains(strings.Join(r.Tags, ","), f)
	})}
}

// SetResults replaces the rows with a probe's results (the selection
// follows its site).
func (s *Sites) SetResults(res []sites.Result) {
	s.Worst, s.Count = sites.OK, sites.Counts{}
	for _, r := range res {
		s.Worst = sites.Worst(s.Worst, r.State)
		switch r.State {
		case sites.OK:
			s.Count.OK++
		case sites.Warning:
			s.Count.Warning++
		case sites.Critical:
			s.Count.Critical++
		default:
			s.Count.Unknown++
		}
	}
	s.Table.SetRows(res)
}

// UsageText is a site's spaces in one short cell: "public 42%, tape 3%"
// ("-" when it did not answer).
func UsageText(r sites.Result) string {
	if r.Status == nil || len(r.Status.Spaces) == 0 {
		return "-"
	}
	var parts []string
	for _, sp := range r.Status.Spaces {
		if pct, ok := sites.UsedPercent(sp); ok {
			parts = append(parts, fmt.Sprintf("%s %.0f%%", sp.Name, pct))
		} else {
			parts = append(parts, sp.Name+" ?")
		}
	}
	return strings.Join(parts, ", ")
}

// QueueText is a site's queued requests ("-" when it did not answer).
func QueueText(r sites.Result) string {
	if r.Status == nil {
		return "-"
	}
	return sites.QueueText(r.Status.Queue)
}

// SiteDetail is a site's full status, one line each, for the Enter box.
func SiteDetail(r sites.Result, now time.Time, loc *time.Location) []string {
	lines := []string{fmt.Sprintf("%s  %s  %s", r.Name, r.State, r.URL)}
	if len(r.Tags) > 0 {
		lines = append(lines, "tags: "+strings.Join(r.Tags, ", "))
	}
	for _, why := range r.Reasons {
		lines = append(lines, "  "+why)
	}
	seen := "never"
	if r.LastSeen != nil {
		seen = r.LastSeen.In(loc).Format("2006-01-02 15:04:05")
	}
	lines = append(lines, fmt.Sprintf("probed %s in %d ms (%d tries), last seen %s", r.Checked.In(loc).Format("15:04:05"), r.TookMS, r.Tries, seen))
	st := r.Status
	if st == nil {
		return lines
	}
	lines = append(lines, fmt.Sprintf("site %s, frm %s, up %s, transfer daemon %v", st.Site, st.Version, Duration(time.Duration(st.UptimeSecs*float64(time.Second))), st.Daemon))
	for _, sp := range st.Spaces {
		pct, _ := sites.UsedPercent(sp)
		lines = append(lines, fmt.Sprintf("  space %-12s %3.0f%% used  %s free of %s  (%d partitions)", sp.Name, pct, sites.Bytes(sp.Free), sites.Bytes(sp.Total), sp.Partitions))
	}
	var kinds []string
	for k := range st.Queue {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	q := make([]string, 0, len(kinds))
	for _, k := range kinds {
		q = append(q, fmt.Sprintf("%s %d", k, st.Queue[k]))
	}
	lines = append(lines, "queue: "+orNone(strings.Join(q, ", ")))
	fails := "not counted yet"
	if st.Failures24h >= 0 {
		fails = fmt.Sprint(st.Failures24h)
	}
	lines = append(lines, "failed transfers in 24h: "+fails)
	if st.OldestUnmigrated != nil {
		lines = append(lines, "oldest unmigrated file: "+sites.Age(now.Sub(*st.OldestUnmigrated))+" old")
	}
	if p := st.LastPurge; p != nil {
		lines = append(lines, fmt.Sprintf("last purge %s: %d files, %s", p.At.In(loc).Format("2006-01-02 15:04"), p.Files, sites.Bytes(p.Bytes)))
	}
	return lines
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
