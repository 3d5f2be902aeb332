package model

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"frm/core/units"
)

// DaemonStatus is what the daemon's control socket says ("status"), plus
// the stop files present in the admin directory (read even when no daemon
// answers).
type DaemonStatus struct {
	Up         bool
	Err        string // why the daemon is taken as down
	PID        int
	Started    time.Time
	Components []string // transfer, migrate, purge
	// Transfer slots (in = stage/get, out = migrate/put); -1 when the
	// transfer component does not run.
	SlotsIn, SlotsOut, InUseIn, InUseOut int
	Active                               int
	Draining                             bool
	// Classes are the daemon's request classes (none: the slots are
	// SlotsIn and SlotsOut): running transfers of each and its slots.
	Classes []ClassSlots
	// MSSDown: directions ("in", "out") paused because the MSS is
	// unavailable, with the cause.
	MSSDown map[string]MSSPause
	// Last purge.
	PurgeAt                 time.Time
	PurgeSkipped            bool
	PurgeFiles, PurgeErrors int
	PurgeBytes              int64
	Stopped                 map[string]bool // stop file name -> present
	AdminDir                string
	// The daemon's log file (tui.daemon_log): its path ("" when not
	// configured), its last lines, oldest first, or why it cannot be read.
	LogPath  string
	LogLines []string
	LogErr   string
}

// ClassSlots is a request class's use of its slots; Running exceeds Slots
// with slots borrowed from idle classes.
type ClassSlots struct {
	Name           string
	Slots, Running int
}

// MSSPause is a direction of transfers paused by an MSS outage.
type MSSPause struct {
	Since time.Time
	Cause string
}

// DaemonRow is one component of the Daemons view.
type DaemonRow struct {
	Name      string // stage, copy-in, migrate, copy-out, purge
	Component string // the daemon component that does it
	StopFile  string
	State     string // running, suspended, off, down
	Detail    string
}

// Key identifies a row.
func (r *DaemonRow) Key() string { return r.Name }

// StopFiles lists the stop files of the daemons' work, in display order,
// with the work each suspends and the component doing it.
var StopFiles = []struct{ Name, File, Component string }{
	{"stage", "STOPSTAGE", "transfer"},
	{"copy-in (get)", "STOPCOPYIN", "transfer"},
	{"migrate", "STOPMIGR", "transfer"},
	{"copy-out (put)", "STOPCOPYOUT", "transfer"},
	{"purge", "STOPPURGE", "purge"},
}

// Daemons is the state of the Daemons view.
type Daemons struct {
	Table   *Table[DaemonRow]
	Status  DaemonStatus
	Refresh Refresh
	// Events is the tail of the daemon's event stream.
	Events []QueueEvent
}

// NewDaemons returns an empty Daemons model.
func NewDaemons() *Daemons {
	return &Daemons{Table: NewTable(func(r *DaemonRow) string { return r.Key() }, func(r *DaemonRow, f string) bool { return true })}
}

// SetStatus rebuilds the rows from a status.
func (d *Daemons) SetStatus(st DaemonStatus, now time.Time) {
	d.Status = st
	has := map[string]bool{}
	for _, c := range st.Components {
		has[c] = true
	}
	rows := make([]DaemonRow, 0, len(StopFiles))
	for _, sf := range StopFiles {
		r := DaemonRow{Name: sf.Name, Component: sf.Component, StopFile: sf.File}
		switch {
		case st.Stopped[sf.File]:
			r.State = "suspended"
		case !st.Up:
			r.State = "down"
		case !has[sf.Component]:
			r.State = "off"
		case sf.Component == "transfer" && st.MSSDown[mssDirection(sf.File)].Cause != "":
			r.State = "paused"
		default:
			r.State = "running"
		}
		if st.Up && has[sf.Component] {
			switch {
			case sf.Component == "purge":
				switch {
				case st.PurgeAt.IsZero():
					r.Detail = "no purge yet"
				case st.PurgeSkipped:
					r.Detail = "last purge " + Duration(now.Sub(st.PurgeAt)) + " ago: not needed"
				default:
					r.Detail = fmt.Sprintf("last purge %s ago: %d files, %s", Duration(now.Sub(st.PurgeAt)), st.PurgeFiles, units.Bytes(st.PurgeBytes))
					if st.PurgeErrors > 0 {
						r.Detail += fmt.Sprintf(", %d errors", st.PurgeErrors)
					}
				}
			case len(st.Classes) > 0:
				// The classes' slots serve every kind of transfer their
				// rules give them: the same on every transfer row.
				r.Detail = classSlots(st.Classes)
				if sf.File == "STOPMIGR" && has["migrate"] {
					r.Detail += " · scan on"
				}
			case sf.File == "STOPSTAGE" || sf.File == "STOPCOPYIN":
				r.Detail = fmt.Sprintf("slots in %d/%d", st.InUseIn, st.SlotsIn)
			default:
				r.Detail = fmt.Sprintf("slots out %d/%d", st.InUseOut, st.SlotsOut)
				if sf.File == "STOPMIGR" && has["migrate"] {
					r.Detail += " · scan on"
				}
			}
		}
		if p := st.MSSDown[mssDirection(sf.File)]; sf.Component == "transfer" && p.Cause != "" {
			r.Detail = "MSS unavailable for " + Duration(now.Sub(p.Since)) + ": " + p.Cause + " · " + r.Detail
		}
		if st.Stopped[sf.File] {
			r.Detail = sf.File + " present · " + r.Detail
		}
		rows = append(rows, r)
	}
	d.Table.SetRows(rows)
}

// classSlots renders the slots of the request classes: "long 2/1 · short
// 0/1" (running/slots).
func classSlots(cs []ClassSlots) string {
	parts := make([]string, 0, len(cs))
	for _, c := range cs {
		parts = append(parts, fmt.Sprintf("%s %d/%d", c.Name, c.Running, c.Slots))
	}
	return strings.Join(parts, " · ")
}

// AddEvent appends to the event tail (the last 200 are kept).
func (d *Daemons) AddEvent(ev QueueEvent) {
	d.Events = append(d.Events, ev)
	if n := len(d.Events); n > 200 {
		d.Events = append(d.Events[:0], d.Events[n-200:]...)
	}
}

// Errors counts failures in the event tail.
func (d *Daemons) Errors() int {
	n := 0
	for _, e := range d.Events {
		if e.Type == "fail" || e.Type == "mirror_fail" {
			n++
		}
	}
	return n
}

// EventText is one line of the event tail.
func EventText(e QueueEvent, loc *time.Location) string {
	s := e.Time.In(loc).Format("15:04:05") + " " + fmt.Sprintf("%-7s", e.Type)
	if e.Kind != "" {
		s += " " + e.Kind
	}
	if e.RID != "" {
		s += " " + e.RID
	}
	if e.LFN != "" {
		s += " " + e.LFN
	}
	if e.Bytes > 0 {
		s += " " + units.Bytes(e.Bytes)
	}
	if e.Err != "" {
		s += ": " + e.Err
	}
	return s
}

// LogLine compacts one line of the daemon's log for the Daemons view: a
// slog text line "time=2025-06-01T12:00:00.000Z level=INFO msg=\"x\" k=v"
// becomes "12:00:00 INFO x k=v" (time in loc); other lines are kept. bad
// reports a WARN or ERROR line.
func LogLine(s string, loc *time.Location) (line string, bad bool) {
	rest, ok := strings.CutPrefix(s, "time=")
	if !ok {
		return s, strings.Contains(s, `"level":"ERROR"`) || strings.Contains(s, `"level":"WARN"`)
	}
	ts, rest, _ := strings.Cut(rest, " ")
	var out []string
	if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
		out = append(out, t.In(loc).Format("15:04:05"))
	} else {
		out = append(out, ts)
	}
	if lv, r, ok := strings.Cut(strings.TrimPrefix(rest, "level="), " "); strings.HasPrefix(rest, "level=") && ok {
		out = append(out, lv)
		bad = lv == "WARN" || lv == "ERROR"
		rest = r
	}
	if m, ok := strings.CutPrefix(rest, "msg="); ok {
		msg, r := m, ""
		if strings.HasPrefix(m, `"`) {
			if q, err := strconv.QuotedPrefix(m); err == nil {
				msg, _ = strconv.Unquote(q)
				r = strings.TrimPrefix(m[len(q):], " ")
			}
		} else {
			msg, r, _ = strings.Cut(m, " ")
		}
		out = append(out, msg)
		rest = r
	}
	if rest != "" {
		out = append(out, rest)
	}
	return strings.Join(out, " "), bad
}

// mssDirection is the transfer direction of a stop file's work.
func mssDirection(stopFile string) string {
	if stopFile == "STOPSTAGE" || stopFile == "STOPCOPYIN" {
		return "in"
	}
	return "out"
}
