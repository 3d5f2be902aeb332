package model

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MaxPriority is the highest request priority (xrdq.MaxPriority).
const MaxPriority = 2

// QueueRow is one queued or running transfer request.
type QueueRow struct {
	Kind     string // stage, get, migrate, put
	Priority int
	LFN      string
	RID      string
	TID      string // requester
	Added    int64  // epoch seconds
	Running  bool
	// Progress of a running transfer: Done of Size bytes (Done < 0:
	// unknown), Rate in bytes per second.
	Size, Done int64
	Rate       float64
	// Class is the request class ("" none configured, or not known
	// yet: it depends on the size of the MSS copy).
	Class string
	// Source is where a running stage's data comes from when not this
	// site's MSS ("peer b").
	Source string
}

// Key identifies the row: kind, request id and file.
func (r *QueueRow) Key() string { return r.Kind + "\x00" + r.RID + "\x00" + r.LFN }

// ETA is the time left of a running transfer, or -1 when unknown.
func (r *QueueRow) ETA() time.Duration {
	if !r.Running || r.Done < 0 || r.Size <= 0 || r.Rate <= 0 || r.Done > r.Size {
		return -1
	}
	return time.Duration(float64(r.Size-r.Done) / r.Rate * float64(time.Second))
}

// QueueChanged is the type of an event that says only that the queue
// changed somewhere (a shared queue's NOTIFY): the view reloads.
const QueueChanged = "changed"

// QueueEvent is a daemon event, as the Queues view applies it.
type QueueEvent struct {
	Time  time.Time
	Type  string // queued, start, done, fail, merged, skipped, cancel
	Kind  string
	LFN   string
	RID   string
	Bytes int64
	Secs  float64
	Err   string
	Class string // the request class, when the daemon has classes
}

// Queues is the Queues view: the requests of every transfer queue,
// running ones first, then by priority (highest first) and age.
type Queues struct {
	Table   *Table[QueueRow]
	Refresh Refresh
	// DaemonUp is false when the rows were read from the queue files
	// because no daemon answered.
	DaemonUp bool
	// DaemonErr is why the daemon could not be reached.
	DaemonErr string
	// Events are the latest daemon events, newest last (at most 100).
	Events []QueueEvent
	// Throughput holds bytes transferred per 10-second bucket, oldest
	// first, over the last 5 minutes (for the sparkline).
	Throughput [30]int64
	bucketAt   int64 // start (unix seconds, multiple of 10) of the last bucket
	// Done and Failed count transfers ended since the view started.
	Done, Failed int
	// Classes are the daemon's request classes, in its order (nil: none
	// configured, or no daemon to say).
	Classes []string
}

// NewQueues returns an empty Queues model.
func NewQueues() *Queues {
	q := &Queues{Table: NewTable(func(r *QueueRow) string { return r.Key() },
		func(r *QueueRow, f string) bool {
			f = strings.ToLower(f)
			return strings.Contains(strings.ToLower(r.LFN), f) || strings.Contains(strings.ToLower(r.RID), f) ||
				strings.Contains(strings.ToLower(r.TID), f) || r.Kind == f || r.Class != "" && strings.ToLower(r.Class) == f
		})}
	q.Table.SetSort(func(a, b *QueueRow) bool {
		if a.Running != b.Running {
			return a.Running
		}
		if a.Priority != b.Priority {
			return a.Priority > b.Priority
		}
		if a.Added != b.Added {
			return a.Added < b.Added
		}
		return a.Key() < b.Key()
	})
	return q
}

// Counts returns the number of requests per kind and the running ones.
func (q *Queues) Counts() (perKind map[string]int, running int) {
	perKind = map[string]int{}
	for _, r := range q.Table.Rows() {
		perKind[r.Kind]++
		if r.Running {
			running++
		}
	}
	return perKind, running
}

// ClassDepth is the number of requests of a class waiting (not running).
type ClassDepth struct {
	Name    string
	Waiting int
}

// Depths returns the waiting requests per class: the daemon's classes in
// its order, then classes only the rows name (sorted), then "" for the
// waiting requests whose class is not known yet (only when there are
// some). It is nil when there are no classes: neither the daemon nor a
// row names one.
func (q *Queues) Depths() []ClassDepth {
	n := map[string]int{}
	for _, r := range q.Table.Rows() {
		if !r.Running {
			n[r.Class]++
		} else if _, ok := n[r.Class]; !ok {
			n[r.Class] = 0
		}
	}
	var out []ClassDepth
	seen := map[string]bool{"": true}
	for _, c := range q.Classes {
		if !seen[c] {
			seen[c] = true
			out = append(out, ClassDepth{c, n[c]})
		}
	}
	var extra []string
	for c := range n {
		if !seen[c] {
			extra = append(extra, c)
		}
	}
	slices.Sort(extra)
	for _, c := range extra {
		out = append(out, ClassDepth{c, n[c]})
	}
	if len(out) > 0 && n[""] > 0 {
		out = append(out, ClassDepth{"", n[""]})
	}
	return out
}

// ClassWidth is the width of the class column: the longest class name of
// the rows, 0 (no column) when no row has a class.
func (q *Queues) ClassWidth() int {
	w := 0
	for _, r := range q.Table.Rows() {
		w = max(w, len(r.Class))
	}
	return w
}

// Apply applies a live event: a queued request appears, a started one runs,
// an ended one disappears. The next full refresh reconciles anything an
// event could not say.
func (q *Queues) Apply(ev QueueEvent) {
	q.Events = append(q.Events, ev)
	if n := len(q.Events); n > 100 {
		q.Events = append(q.Events[:0], q.Events[n-100:]...)
	}
	rows := q.Table.Rows()
	find := func() int {
		for i := range rows {
			if rows[i].RID == ev.RID && (ev.LFN == "" || rows[i].LFN == ev.LFN) && (ev.Kind == "" || rows[i].Kind == ev.Kind) {
				return i
			}
		}
		return -1
	}
	switch ev.Type {
	case "queued":
		if find() < 0 {
			q.Table.Append([]QueueRow{{Kind: ev.Kind, LFN: ev.LFN, RID: ev.RID, Added: ev.Time.Unix(), Done: -1, Class: ev.Class}})
		}
	case "start":
		if i := find(); i >= 0 {
			rows[i].Running = true
			if ev.Class != "" {
				rows[i].Class = ev.Class
			}
			q.Table.Refilter()
		} else {
			q.Table.Append([]QueueRow{{Kind: ev.Kind, LFN: ev.LFN, RID: ev.RID, Added: ev.Time.Unix(), Running: true, Done: -1, Class: ev.Class}})
		}
	case "done", "fail", "cancel", "skipped":
		if ev.Type == "done" {
			q.Done++
			q.addBytes(ev.Time, ev.Bytes)
		}
		if ev.Type == "fail" {
			q.Failed++
		}
		keep := rows[:0:0]
		for _, r := range rows {
			if r.RID == ev.RID && (ev.LFN == "" || r.LFN == ev.LFN) && (ev.Kind == "" || r.Kind == ev.Kind) {
				continue
			}
			keep = append(keep, r)
		}
		if len(keep) != len(rows) {
			q.Table.SetRows(keep)
		}
	}
}

// addBytes adds n bytes to the throughput bucket of t.
func (q *Queues) addBytes(t time.Time, n int64) {
	b := t.Unix() / 10 * 10
	if q.bucketAt == 0 {
		q.bucketAt = b
	}
	if b > q.bucketAt {
		shift := int((b - q.bucketAt) / 10)
		if shift >= len(q.Throughput) {
			q.Throughput = [30]int64{}
		} else {
			copy(q.Throughput[:], q.Throughput[shift:])
			for i := len(q.Throughput) - shift; i < len(q.Throughput); i++ {
				q.Throughput[i] = 0
			}
		}
		q.bucketAt = b
	}
	if b < q.bucketAt-int64(len(q.Throughput)-1)*10 {
		return
	}
	q.Throughput[len(q.Throughput)-1-int((q.bucketAt-b)/10)] += n
}

// Sparkline renders Throughput with eighth blocks.
func (q *Queues) Sparkline() string {
	const ticks = "▁▂▃▄▅▆▇█"
	var peak int64
	for _, v := range q.Throughput {
		peak = max(peak, v)
	}
	var b strings.Builder
	for _, v := range q.Throughput {
		switch {
		case v == 0 || peak == 0:
			b.WriteRune(' ')
		default:
			i := int(v * 7 / peak)
			b.WriteRune([]rune(ticks)[i])
		}
	}
	return b.String()
}

// Count renders n with thousands separators: 1,912.
func Count(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// Duration renders d compactly: 45s, 12m, 3h, 5d.
func Duration(d time.Duration) string {
	switch {
	case d < 0:
		return "-"
	case d < 100*time.Second:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < 100*time.Minute:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
