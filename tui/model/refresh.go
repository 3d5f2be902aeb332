package model

import "time"

// Refresh is the bookkeeping of one view's data loads: at most one request
// in flight, a generation number that makes results of superseded requests
// recognisable (they are dropped), and the last error, shown while the old
// rows stay visible.
type Refresh struct {
	gen      uint64
	inFlight bool
	// Pending is set when a refresh was asked for while one was in
	// flight; it is started when that one ends.
	Pending bool

	Err    error     // the last load failed (rows are those of Loaded)
	Loaded time.Time // when the rows shown were loaded
}

// Begin starts a load and returns its generation; ok is false when a load
// is already in flight (the request is remembered in Pending).
func (r *Refresh) Begin() (gen uint64, ok bool) {
	if r.inFlight {
		r.Pending = true
		return 0, false
	}
	r.gen++
	r.inFlight, r.Pending = true, false
	return r.gen, true
}

// Restart abandons the load in flight (its results will be dropped) and
// starts a new one: for a change of what is shown (another directory).
func (r *Refresh) Restart() uint64 {
	r.gen++
	r.inFlight, r.Pending = true, false
	r.Err = nil
	return r.gen
}

// Current reports whether gen is the load in flight; results of any other
// generation are stale and must be dropped.
func (r *Refresh) Current(gen uint64) bool { return r.inFlight && gen == r.gen }

// End records the end of load gen (err nil: success at now). It reports
// false for a stale generation, whose result must be dropped. On error the
// rows shown are kept and Err says why they are old.
func (r *Refresh) End(gen uint64, err error, now time.Time) bool {
	if !r.Current(gen) {
		return false
	}
	r.inFlight = false
	r.Err = err
	if err == nil {
		r.Loaded = now
	}
	return true
}

// InFlight reports whether a load is running.
func (r *Refresh) InFlight() bool { return r.inFlight }

// Gen is the current generation.
func (r *Refresh) Gen() uint64 { return r.gen }

// Log is the action log: what the administrator did and what came of it,
// newest last, at most Max entries.
type Log struct {
	Max     int
	Entries []LogEntry
}

// LogEntry is one action and its result.
type LogEntry struct {
	Time time.Time
	Text string
	Err  bool
}

// Add appends an entry, dropping the oldest beyond Max (default 200).
func (l *Log) Add(t time.Time, text string, isErr bool) {
	m := l.Max
	if m <= 0 {
		m = 200
	}
	l.Entries = append(l.Entries, LogEntry{Time: t, Text: text, Err: isErr})
	if n := len(l.Entries); n > m {
		l.Entries = append(l.Entries[:0], l.Entries[n-m:]...)
	}
}

// Last returns the newest entry.
func (l *Log) Last() (LogEntry, bool) {
	if len(l.Entries) == 0 {
		return LogEntry{}, false
	}
	return l.Entries[len(l.Entries)-1], true
}
