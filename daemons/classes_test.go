package daemons

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"frm/core/config"
	"frm/core/control"
	"frm/core/pgqueue"
	"frm/core/xrdq"
)

// queueBatch queues one stage request per lfn (one group commit), older
// first.
func queueBatch(t *testing.T, s tsite, lfns []string, cgi string) {
	t.Helper()
	q := xrdq.Open(s.cfg.QueueDir())
	os.MkdirAll(s.cfg.QueueDir(), 0o755)
	q.Init()
	var rs []xrdq.Request
	for i, lfn := range lfns {
		addSeq++
		cmd, err := xrdq.ParseAgentLine(fmt.Sprintf("+ r%d - 0 r %s%s", i, lfn, cgi))
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, xrdq.BuildRequest(cmd, cmd.Paths[0], "anon", time.Now().Add(time.Duration(addSeq)*time.Second)))
	}
	if _, err := q.AddBatch(rs); err != nil {
		t.Fatal(err)
	}
}

// sparseMSS makes n MSS files of size bytes under dir (sparse: the MSS of
// a test holds thousands without the disk).
func sparseMSS(t *testing.T, s tsite, dir string, n int, size int64) []string {
	t.Helper()
	var lfns []string
	os.MkdirAll(filepath.Join(s.l.RemoteRoot, dir), 0o755)
	for i := range n {
		lfn := fmt.Sprintf("%s/f%05d", dir, i)
		f, err := os.Create(filepath.Join(s.l.RemoteRoot, lfn))
		if err != nil {
			t.Fatal(err)
		}
		f.Truncate(size)
		f.Close()
		lfns = append(lfns, lfn)
	}
	return lfns
}

// slowCopy makes stage-ins take a while (a copy command that sleeps),
// so that the order in which transfers start shows in the order they end.
func slowCopy(c *config.Config, secs string) {
	c.MSS.Backend = "command"
	c.MSS.CopyIn = []string{"/bin/sh", "-c", `sleep ` + secs + `; exec cp "$0" "$1"`, "$SRC", "$DST"}
}

// doneBefore counts the transfers that ended (done) before lfn's did.
func doneBefore(r *running, lfn string) int {
	n := 0
	for _, ev := range r.eventsOf("done") {
		if ev.LFN == lfn {
			break
		}
		n++
	}
	return n
}

func (r *running) eventsOf(typ string) []control.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []control.Event
	for _, ev := range r.events {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// TestShortClassOvertakesLongQueue: with 2000 × 1 MiB stages queued in a
// long class of one slot, a request of a short class of one slot, queued
// last, finishes before the tenth long one: while short was idle, long
// borrowed its slot (two long transfers ran), and the slot came back at
// the first end of a long transfer. With lend = false, long never runs
// more than its own slot.
func TestShortClassOvertakesLongQueue(t *testing.T) {
	for _, lend := range []bool{true, false} {
		t.Run(fmt.Sprintf("lend=%v", lend), func(t *testing.T) {
			s := newSite(t, func(c *config.Config) {
				slowCopy(c, "0.05")
				c.Queue.Classes = []config.QueueClass{
					{Name: "long", Slots: 1},
					{Name: "short", Slots: 1, Prefixes: []string{"/short"}, Lend: &lend},
				}
			})
			long := sparseMSS(t, s, "/long", 2000, 1<<20)
			s.mssFile(t, "/short/urgent", "small")
			queueBatch(t, s, long, "")
			r := start(t, s, "stage")
			// Both slots busy with long work (lend) or one (no lend).
			deadline := time.Now().Add(patience)
			maxLong := 0
			for len(r.eventsOf("start")) < 4 && time.Now().Before(deadline) {
				if st := r.d.Transfer.Status(); len(st.Classes) > 0 {
					maxLong = max(maxLong, st.Classes[0].Running)
				}
				time.Sleep(time.Millisecond)
			}
			queueAdd(t, s, "+ urgent - 0 r /short/urgent")
			r.d.Transfer.Wake()
			r.waitEvent(t, "done", "/short/urgent")
			doneLong := doneBefore(r, "/short/urgent")
			if doneLong >= 10 {
				t.Errorf("the short request finished after %d long ones, want before the tenth", doneLong)
			}
			if ev := r.waitEvent(t, "done", "/short/urgent"); ev.Class != "short" {
				t.Errorf("short request ran in class %q", ev.Class)
			}
			if want := map[bool]int{true: 2, false: 1}[lend]; maxLong != want {
				t.Errorf("long ran %d at once while short was idle, want %d", maxLong, want)
			}
			st := r.d.Transfer.Status()
			if len(st.Classes) != 2 || st.Classes[0].Name != "long" || st.Classes[0].Waiting < 1900 {
				t.Errorf("status classes %+v", st.Classes)
			}
		})
	}
}

// TestSizeRuleAsksTheMSS: a stage's class by max_size is decided by the
// size of its MSS copy, which the daemon asks the MSS (the record does
// not carry it); a copy out's by the disk file's size.
func TestSizeRuleAsksTheMSS(t *testing.T) {
	s := newSite(t, func(c *config.Config) {
		c.Queue.Classes = []config.QueueClass{
			{Name: "bulk", Slots: 1},
			{Name: "small", Slots: 1, MaxSize: 1024},
		}
	})
	s.mssFile(t, "/store/tiny", "tiny")
	s.mssFile(t, "/store/big", strings.Repeat("x", 4096))
	r := start(t, s, "stage")
	queueAdd(t, s, "+ a - 0 r /store/tiny")
	queueAdd(t, s, "+ b - 0 r /store/big")
	r.d.Transfer.Wake()
	for lfn, want := range map[string]string{"/store/tiny": "small", "/store/big": "bulk"} {
		if ev := r.waitEvent(t, "done", lfn); ev.Class != want {
			t.Errorf("%s ran in class %q, want %q", lfn, ev.Class, want)
		}
	}
}

// TestClassTimeoutKillsHungCopy: a copy that outlives its class timeout
// is killed, with what it started (its process group), and the request is
// retried like any passing fault: the second try succeeds.
func TestClassTimeoutKillsHungCopy(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "hung")
	pidFile := marker + ".pid"
	s := newSite(t, func(c *config.Config) {
		c.MSS.Backend = "command"
		// The first try starts a child that never ends and waits for it;
		// the second copies.
		c.MSS.CopyIn = []string{"/bin/sh", "-c",
			`if [ ! -e "$2" ]; then : > "$2"; sleep 600 & echo $! > "$2.pid"; wait; fi; exec cp "$0" "$1"`, "$SRC", "$DST", marker}
		c.Transfer.Retries = 2
		c.Queue.Classes = []config.QueueClass{{Name: "quick", Slots: 1, Timeout: config.Duration(time.Second)}}
	})
	s.mssFile(t, "/store/a", "data")
	r := startWith(t, s, testLog(), func(d *Daemon) { d.Transfer.Engine.Backoff = time.Millisecond }, "stage")
	queueAdd(t, s, "+ a - 0 r /store/a")
	r.d.Transfer.Wake()
	ev := r.waitEvent(t, "done", "/store/a")
	if ev.Class != "quick" || ev.Secs < 1 {
		t.Errorf("done %+v: want class quick after the one-second timeout", ev)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	deadline := time.Now().Add(patience)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the hung copy's child %d outlived the timeout", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got, _ := os.ReadFile(filepath.Join(s.l.LocalRoot, "/store/a")); string(got) != "data" {
		t.Errorf("staged %q", got)
	}
}

// TestClassesSurviveRestart: the classes of queued requests (by rule and
// by cgi) are the same after a restart, and the first run's order holds:
// status and the queue listing show them.
func TestClassesSurviveRestart(t *testing.T) {
	s := newSite(t, func(c *config.Config) {
		c.Queue.Classes = []config.QueueClass{
			{Name: "long", Slots: 1},
			{Name: "short", Slots: 1, Prefixes: []string{"/short"}},
		}
	})
	os.MkdirAll(s.cfg.AdminDir(), 0o700)
	if err := os.WriteFile(StopFile(s.cfg.AdminDir(), xrdq.Stage), nil, 0o644); err != nil { // nothing runs
		t.Fatal(err)
	}
	queueAdd(t, s, "+ a - 0 r /short/a")
	queueAdd(t, s, "+ b - 0 r /long/b")
	queueAdd(t, s, "+ c - 0 r /long/c?frm.class=short")
	want := map[string]string{"/short/a": "short", "/long/b": "long", "/long/c": "short"}
	for run := 1; run <= 2; run++ {
		r := start(t, s, "stage")
		deadline := time.Now().Add(patience)
		var got map[string]string
		for time.Now().Before(deadline) {
			got = map[string]string{}
			entries, err := r.d.queue(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if e.Class != "" {
					got[e.LFN] = e.Class
				}
			}
			if len(got) == 3 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("run %d: classes %v, want %v", run, got, want)
		}
		st := r.d.Transfer.Status()
		var waiting []int
		for _, c := range st.Classes {
			waiting = append(waiting, c.Waiting)
		}
		if !slices.Equal(waiting, []int{1, 2}) {
			t.Errorf("run %d: waiting per class %v, want [1 2]", run, waiting)
		}
		addr, err := r.d.ServeMetrics(t.Context(), "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{`frm_queue_depth{class="long"} 1`, `frm_queue_depth{class="short"} 2`, `frm_class_running{class="short"} 0`, "frm_queue_unclassified 0"} {
			if !strings.Contains(string(b), want) {
				t.Errorf("run %d: metrics lack %q", run, want)
			}
		}
		r.stop(t)
	}
}

// TestSharedQueueClasses: with the PostgreSQL queue, the daemon puts the
// requests in their classes (a size rule asking the MSS included), claims
// per class within its slots, and a short request added while 200 long
// ones wait runs before the tenth long one ends.
func TestSharedQueueClasses(t *testing.T) {
	s, pool := sharedSite(t, func(c *config.Config) {
		slowCopy(c, "0.05")
		c.Queue.Classes = []config.QueueClass{
			{Name: "long", Slots: 1},
			{Name: "short", Slots: 1, MaxSize: 1024},
		}
	})
	long := sparseMSS(t, s, "/long", 200, 1<<20)
	s.mssFile(t, "/short/urgent", "small")
	q := pgqueue.New(pool, pgqueue.Options{Site: s.cfg.Site})
	ctx := t.Context()
	for _, lfn := range long {
		if _, err := q.Add(ctx, pgqueue.NewRequest{Kind: "stage", LFN: lfn, RID: lfn}); err != nil {
			t.Fatal(err)
		}
	}
	r := start(t, s, "stage")
	deadline := time.Now().Add(patience)
	for len(r.eventsOf("start")) < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := q.Add(ctx, pgqueue.NewRequest{Kind: "stage", LFN: "/short/urgent", RID: "urgent"}); err != nil {
		t.Fatal(err)
	}
	if ev := r.waitEvent(t, "done", "/short/urgent"); ev.Class != "short" {
		t.Errorf("short request ran in class %q", ev.Class)
	}
	doneLong := doneBefore(r, "/short/urgent")
	if doneLong >= 10 {
		t.Errorf("the short request finished after %d long ones, want before the tenth", doneLong)
	}
	if n := count(t, pool, `SELECT count(*) FROM requests WHERE class = 'long' AND state = 'queued'`); n < 150 {
		t.Errorf("%d long requests queued in their class, want most of 200", n)
	}
}
