package shell

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"frm/core/control"
	"frm/core/site"
)

// TestQueueAndCancelWithoutDaemon: with no daemon running, queue lists the
// queue files and says so, and cancel works in the queue files; a cancel
// of a request no queue holds is an error, also beside one that works.
func TestQueueAndCancelWithoutDaemon(t *testing.T) {
	s, _ := testSite(t)
	ctx := context.Background()
	r, err := s.Stage(ctx, []string{"/store/a/staged.fits"}, site.RequestOptions{RID: "r1"})
	if err != nil || r.Queued != 1 {
		t.Fatalf("stage: %+v %v", r, err)
	}

	sh, out, errb := newShell(s)
	if st := sh.Exec(ctx, []string{"queue"}); st != ExitOK {
		t.Fatalf("queue: status %d: %s", st, errb)
	}
	if !strings.Contains(out.String(), "stage") || !strings.Contains(out.String(), "/store/a/staged.fits") ||
		!strings.Contains(errb.String(), "daemon not reachable") || !strings.Contains(errb.String(), "reading the queue files") {
		t.Errorf("queue without a daemon:\n%s---\n%s", out, errb)
	}

	sh, out, _ = newShell(s)
	sh.JSON = true
	sh.Exec(ctx, []string{"queue"})
	var doc struct {
		Summary map[string]any `json:"summary"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil || doc.Summary["source"] != "queue files" {
		t.Errorf("queue -o json: source %v (%v):\n%s", doc.Summary["source"], err, out)
	}

	for _, tc := range []struct {
		args   []string
		status int
	}{
		{[]string{"cancel", "nosuch"}, ExitError},
		{[]string{"cancel", "r1", "nosuch"}, ExitPartial},
	} {
		sh, out, errb := newShell(s)
		if st := sh.Exec(ctx, tc.args); st != tc.status {
			t.Errorf("%v: status %d, want %d\n%s%s", tc.args, st, tc.status, out, errb)
		}
		if strings.Contains(strings.Join(tc.args, " "), "nosuch") && !strings.Contains(errb.String(), "cancel nosuch: no such request") {
			t.Errorf("%v: no error for the unknown request: %s", tc.args, errb)
		}
	}
}

// fakeDaemon answers the control socket as a daemon would with the given
// transfer status and queue.
type fakeDaemon struct {
	transfer *control.TransferStatus
	queue    []control.QueueEntry
}

func (f *fakeDaemon) Status() control.StatusReply {
	st := control.StatusReply{PID: 42, Started: time.Now().Add(-time.Hour), Components: []string{"transfer"}}
	if f.transfer != nil {
		t := *f.transfer
		t.Active = slices.Clone(t.Active)
		for i := range t.Active {
			t.Active[i].Started = time.Now()
		}
		st.Transfer = &t
	}
	return st
}
func (f *fakeDaemon) Queue(context.Context) ([]control.QueueEntry, error) { return f.queue, nil }
func (f *fakeDaemon) Cancel(context.Context, string) (int, error)         { return 0, nil }
func (f *fakeDaemon) Wake()                                               {}
func (f *fakeDaemon) Subscribe() ([]control.Event, <-chan control.Event, func()) {
	return nil, nil, func() {}
}

// serveFake runs f on the control socket of s's admin directory until the
// test ends.
func serveFake(t *testing.T, s *site.Site, f *fakeDaemon) {
	t.Helper()
	adm := s.Config().AdminDir()
	if err := os.MkdirAll(adm, 0o700); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stop, err := control.Serve(ctx, control.SocketPath(adm), f)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(); cancel() })
}

// elapsedRE matches the durations status computes from the daemon's
// clock ("up 1h0m0s", "running 0s").
var elapsedRE = regexp.MustCompile(`(up |running )[0-9hms.]+`)

// TestStatusClasses: status shows one line per request class (borrowed
// slots, unknown waiting with a shared queue, timeout, lending) and the
// requests waiting for their size, in text and JSON; without classes the
// transfer lines are those of before classes.
func TestStatusClasses(t *testing.T) {
	s, _ := testSite(t)
	classes := []control.ClassStatus{
		{Name: "long", Slots: 2, Running: 3, Waiting: 1912, Internal: 4, Lend: true, Timeout: 6 * time.Hour},
		{Name: "short", Slots: 1, Running: 0, Waiting: 0, Timeout: 10 * time.Minute},
	}
	shared := slices.Clone(classes)
	for i := range shared {
		shared[i].Waiting = -1
	}
	tests := []struct {
		name     string
		transfer control.TransferStatus
	}{
		{"status_no_classes", control.TransferStatus{SlotsIn: 4, SlotsOut: 2, InUse: [2]int{1, 0}, Internal: 3,
			Active: []control.Active{{Kind: "stage", LFN: "/store/a/x.fits", RID: "r1", TID: "alice", Priority: 1, Done: -1}}}},
		{"status_classes", control.TransferStatus{InUse: [2]int{2, 1}, Internal: 4, Classes: classes, Sizing: 7,
			Active: []control.Active{{Kind: "stage", LFN: "/store/a/x.fits", RID: "r1", TID: "alice", Priority: 1, Done: -1, Class: "long"}}}},
		{"status_classes_shared", control.TransferStatus{InUse: [2]int{2, 1}, Internal: 4, Classes: shared}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			serveFake(t, s, &fakeDaemon{transfer: &tc.transfer})
			sh, out, errb := newShell(s)
			if st := sh.Exec(context.Background(), []string{"status"}); st != ExitOK {
				t.Fatalf("status: %d %s", st, errb)
			}
			// Durations since the fake's clock read: a loaded machine may
			// answer a second late.
			text := elapsedRE.ReplaceAllString(out.String(), "${1}<elapsed>")
			golden(t, tc.name, "stdout:\n"+text+"stderr:\n"+errb.String())

			sh, out, _ = newShell(s)
			sh.JSON = true
			sh.Exec(context.Background(), []string{"status"})
			var doc struct {
				Results []map[string]any `json:"results"`
			}
			if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
				t.Fatalf("%v:\n%s", err, out)
			}
			var tr map[string]any
			for _, r := range doc.Results {
				if _, ok := r["slots_in"]; ok {
					tr = r
				}
			}
			if tr == nil {
				t.Fatalf("no transfer result:\n%s", out)
			}
			got, _ := json.Marshal(map[string]any{"classes": tr["classes"], "sizing": tr["sizing"]})
			want := map[string]string{
				"status_no_classes": `{"classes":null,"sizing":null}`,
				"status_classes": `{"classes":[{"internal":4,"lend":true,"name":"long","running":3,"slots":2,"timeout_s":21600,"waiting":1912},` +
					`{"internal":0,"lend":false,"name":"short","running":0,"slots":1,"timeout_s":600,"waiting":0}],"sizing":7}`,
				"status_classes_shared": `{"classes":[{"internal":4,"lend":true,"name":"long","running":3,"slots":2,"timeout_s":21600,"waiting":null},` +
					`{"internal":0,"lend":false,"name":"short","running":0,"slots":1,"timeout_s":600,"waiting":null}],"sizing":0}`,
			}[tc.name]
			if string(got) != want {
				t.Errorf("JSON classes\n got %s\nwant %s", got, want)
			}
			if n := len(doc.Results); n != 2+len(tc.transfer.Active) {
				t.Errorf("%d JSON results, want the daemon's, the transfers' and one per active transfer:\n%s", n, out)
			}
		})
	}
}

// TestQueueLine: the class column appears only when some entry has a
// class, aligned to the longest name ("-" for a class not known yet);
// without classes the lines are those of before classes.
func TestQueueLine(t *testing.T) {
	now := time.Unix(1700000000, 0)
	e := func(kind, rid, class string, running bool) control.QueueEntry {
		return control.QueueEntry{Kind: kind, Priority: 1, LFN: "/store/" + rid, RID: rid, TID: "alice", Added: now.Unix() - 90, Running: running, Class: class}
	}
	tests := []struct {
		name    string
		entries []control.QueueEntry
		want    []string
	}{
		{"no classes", []control.QueueEntry{e("stage", "r1", "", true), e("migrate", "m1", "", false)}, []string{
			"stage   1    1m30s running r1           alice        /store/r1",
			"migrate 1    1m30s queued  m1           alice        /store/m1",
		}},
		{"classes", []control.QueueEntry{e("stage", "r1", "short", true), e("stage", "r2", "", false), e("migrate", "m1", "long", false)}, []string{
			"stage   1    1m30s running short r1           alice        /store/r1",
			"stage   1    1m30s queued  -     r2           alice        /store/r2",
			"migrate 1    1m30s queued  long  m1           alice        /store/m1",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := classWidth(tc.entries)
			for i, en := range tc.entries {
				if got := queueLine(en, now, w); got != tc.want[i] {
					t.Errorf("line %d\n got %q\nwant %q", i, got, tc.want[i])
				}
			}
		})
	}
}

// TestQueueClasses: queue, from a daemon, shows the class column and
// gives "class" in JSON when the daemon knows classes, and neither when
// it does not.
func TestQueueClasses(t *testing.T) {
	s, _ := testSite(t)
	added := time.Now().Unix() - 60
	tests := []struct {
		name    string
		queue   []control.QueueEntry
		column  []string // the class column's cell of each line ("" none)
		classes []string // the JSON class of each entry
	}{
		{"no classes", []control.QueueEntry{{Kind: "stage", LFN: "/a", RID: "r1", TID: "u", Added: added}}, []string{""}, []string{""}},
		{"classes", []control.QueueEntry{
			{Kind: "stage", LFN: "/a", RID: "r1", TID: "u", Added: added, Class: "long", Running: true},
			{Kind: "stage", LFN: "/b", RID: "r2", TID: "u", Added: added},
			{Kind: "get", LFN: "/c", RID: "r3", TID: "u", Added: added, Class: "short"},
		}, []string{"long ", "-    ", "short"}, []string{"long", "", "short"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			serveFake(t, s, &fakeDaemon{queue: tc.queue})
			sh, out, errb := newShell(s)
			if st := sh.Exec(context.Background(), []string{"queue"}); st != ExitOK {
				t.Fatalf("queue: %d %s", st, errb)
			}
			lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
			if len(lines) != len(tc.queue)+1 {
				t.Fatalf("lines:\n%s", out)
			}
			for i, l := range lines[:len(tc.queue)] {
				// kind(7) prio age(8) state(7), then the class column, then the rid.
				rest := l[len("stage   1 ")+8+1+7+1:]
				cell, rid := "", rest
				if tc.column[i] != "" {
					cell, rid = rest[:len(tc.column[i])], rest[len(tc.column[i])+1:]
				}
				if cell != tc.column[i] || !strings.HasPrefix(rid, tc.queue[i].RID+" ") {
					t.Errorf("line %d %q: class cell %q, want %q", i, l, cell, tc.column[i])
				}
			}

			sh, out, _ = newShell(s)
			sh.JSON = true
			sh.Exec(context.Background(), []string{"queue"})
			var doc struct {
				Results []map[string]any `json:"results"`
			}
			if err := json.Unmarshal(out.Bytes(), &doc); err != nil || len(doc.Results) != len(tc.queue) {
				t.Fatalf("%v:\n%s", err, out)
			}
			for i, r := range doc.Results {
				c, has := r["class"]
				if has != (tc.classes[i] != "") || has && c != tc.classes[i] {
					t.Errorf("entry %d: class %v (present %v), want %q", i, c, has, tc.classes[i])
				}
			}
		})
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{10 * time.Minute: "10m", 6 * time.Hour: "6h", 90 * time.Minute: "1h30m",
		45 * time.Second: "45s", 1500 * time.Millisecond: "1.5s", time.Hour + 5*time.Second: "1h0m5s"} {
		if got := shortDuration(d); got != want {
			t.Errorf("%v: %q, want %q", d, got, want)
		}
	}
}
