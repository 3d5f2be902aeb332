package tui

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"frm/core/sitegen/sitetest"

	"frm/core/catalog"
	"frm/core/config"
	"frm/core/control"
	"frm/core/site"
	"frm/core/sitegen"
	"frm/core/usage"
	"frm/core/wire"
	"frm/tui/model"
)

// TestSiteBackend runs the real backend against a demo site: spaces with
// watermarks, a listing in chunks with residency columns, the queue
// without a daemon, and an action through core/site.
func TestSiteBackend(t *testing.T) {
	ctx := context.Background()
	s, sum := demoSite(t, 200, 1)
	be := &SiteBackend{Site: s, ChunkSize: 7}
	sp, err := be.Spaces(ctx)
	if err != nil || len(sp) == 0 {
		t.Fatalf("spaces %v %v", sp, err)
	}
	var files int64
	for _, r := range sp {
		if r.Partition == "" {
			files += r.Files
			if r.Space == "fast" && !r.NoPurge || r.Space == "public" && (r.NoPurge || r.MinFree <= 0 || r.MaxFree < r.MinFree) {
				t.Errorf("watermarks of %s: %+v", r.Space, r)
			}
		}
	}
	if files == 0 {
		t.Errorf("no data files counted")
	}

	// Walk the whole tree through List, in chunks.
	var total, chunks int
	var lfn string
	states := map[model.Residency]int{}
	var walk func(dir string)
	walk = func(dir string) {
		err := be.List(ctx, dir, func(rows []model.FileRow) error {
			chunks++
			for _, r := range rows {
				if r.Dir {
					walk(path.Join(dir, r.Name))
					continue
				}
				total++
				states[r.Res]++
				if lfn == "" && r.Res == model.ResMigrated {
					lfn = path.Join(dir, r.Name)
				}
			}
			return nil
		})
		if err != nil {
			t.Errorf("list %s: %v", dir, err)
		}
	}
	walk("/")
	if total < sum.Files || chunks < 2 || states[model.ResMigrated] == 0 || states[model.ResNeedsMig] == 0 || states[model.ResNone] == 0 {
		t.Errorf("listed %d files (demo %d) in %d chunks: %v", total, sum.Files, chunks, states)
	}

	snap, err := be.Queue(ctx)
	if err != nil || snap.DaemonUp || snap.DaemonErr == "" {
		t.Errorf("queue without a daemon: %+v %v", snap, err)
	}

	// An action goes through site.Pin.
	if lfn == "" {
		t.Fatal("no migrated file found")
	}
	if txt, err := be.Pin(ctx, []string{lfn}, "forever"); err != nil || txt != "1 of 1 file pinned (forever)" {
		t.Errorf("pin: %q %v", txt, err)
	}
	if _, err := be.Pin(ctx, []string{lfn}, "bad"); err == nil {
		t.Errorf("a bad keep spec must fail")
	}
}

// TestSiteBackendAdmin: audit, a selective fix, the daemon status without
// a daemon, stop files and the command palette over a demo site.
func TestSiteBackendAdmin(t *testing.T) {
	ctx := context.Background()
	s, _ := demoSite(t, 60, 2)
	be := &SiteBackend{Site: s}
	// Break two files: their data goes, their links dangle.
	var broken []string
	var walk func(dir string)
	walk = func(dir string) {
		err := be.List(ctx, dir, func(rows []model.FileRow) error {
			for _, r := range rows {
				switch {
				case r.Dir:
					walk(dir + "/" + r.Name)
				case len(broken) < 2:
					pfn := s.PFN(dir + "/" + r.Name)
					target, err := os.Readlink(pfn)
					if err == nil && strings.HasSuffix(target, "%") && os.Remove(target) == nil {
						broken = append(broken, pfn)
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("list %s: %v", dir, err)
		}
	}
	walk("/store")
	if len(broken) != 2 {
		t.Fatalf("broke %v", broken)
	}
	audit := func() []model.AuditProblem {
		var ps []model.AuditProblem
		var n atomic.Int64
		sum, err := be.Audit(ctx, AuditRequest{Mode: "names", Target: "/"}, func(p model.AuditProblem) {
			if p.Kind == "dangling link" {
				ps = append(ps, p)
			}
		}, &n)
		if err != nil || n.Load() == 0 {
			t.Fatalf("audit: %q %v scanned %d", sum, err, n.Load())
		}
		return ps
	}
	ps := audit() // the demo has a dangling link of its own
	var mine model.AuditProblem
	for _, p := range ps {
		if p.PFN == broken[0] {
			mine = p
		}
	}
	if len(ps) < 2 || mine.Fix == "" {
		t.Fatalf("problems %+v", ps)
	}
	// Fix only that one: the others stay.
	var keys []string
	txt, err := be.FixProblems(ctx, []model.AuditProblem{mine}, func(k string) { keys = append(keys, k) })
	if err != nil || txt != "fixed 1 of 1 problem" || len(keys) != 1 || keys[0] != mine.Key() {
		t.Fatalf("fix: %q %v %v", txt, err, keys)
	}
	left := audit()
	if len(left) != len(ps)-1 {
		t.Fatalf("after the fix %d problems, want %d", len(left), len(ps)-1)
	}
	for _, p := range left {
		if p.PFN == broken[0] {
			t.Fatalf("not fixed: %+v", p)
		}
	}
	if _, err := os.Lstat(broken[0]); !os.IsNotExist(err) {
		t.Errorf("dangling link still there: %v", err)
	}
	// A problem that no longer holds as found is left alone: the data of
	// the second broken file comes back before the fix.
	var other model.AuditProblem
	for _, p := range left {
		if p.PFN == broken[1] {
			other = p
		}
	}
	if err := os.WriteFile(other.Other, []byte("restored"), 0o644); err != nil {
		t.Fatal(err)
	}
	txt, err = be.FixProblems(ctx, []model.AuditProblem{other}, func(k string) { t.Errorf("fixed %s", k) })
	if err != nil || !strings.Contains(txt, "fixed 0 of 1 problem; 1 changed since the audit, left alone ("+broken[1]+" is no longer dangling") {
		t.Errorf("fix of a changed problem: %q %v", txt, err)
	}
	if _, err := os.Lstat(broken[1]); err != nil {
		t.Errorf("the restored file's link was removed: %v", err)
	}

	// Usage: a wrong usage log is found and fixed through its problem
	// (the demo keeps no usage log: every space differs; fix one).
	sp, _ := be.Spaces(ctx)
	if err := usage.SetAdjust(s.UsagePath(), sp[0].Space, 777); err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	usageOf := func(space string) []model.AuditProblem {
		var ps []model.AuditProblem
		if _, err := be.Audit(ctx, AuditRequest{Mode: "usage"}, func(p model.AuditProblem) {
			if p.Name == space {
				ps = append(ps, p)
			}
		}, &n); err != nil {
			t.Fatalf("audit usage: %v", err)
		}
		return ps
	}
	ups := usageOf(sp[0].Space)
	if len(ups) != 1 || ups[0].Claimed != 777 {
		t.Fatalf("usage problems %+v", ups)
	}
	if txt, err := be.FixProblems(ctx, ups, func(string) {}); err != nil || txt != "fixed 1 of 1 problem" {
		t.Errorf("usage fix: %q %v", txt, err)
	}
	if ups := usageOf(sp[0].Space); len(ups) != 0 {
		t.Errorf("usage still wrong after the fix: %+v", ups)
	}
	// Space audits run.
	if _, err := be.Audit(ctx, AuditRequest{Mode: "space", Target: sp[0].Space}, func(model.AuditProblem) {}, &n); err != nil {
		t.Errorf("audit space: %v", err)
	}

	// Daemons: down, then a stop file.
	st, err := be.Daemons(ctx)
	if err != nil || st.Up || st.Err == "" || st.Stopped["STOPSTAGE"] {
		t.Fatalf("daemons %+v %v", st, err)
	}
	if _, err := be.SetStop(ctx, "STOPSTAGE", true); err != nil {
		t.Fatal(err)
	}
	if st, _ := be.Daemons(ctx); !st.Stopped["STOPSTAGE"] {
		t.Errorf("STOPSTAGE not seen")
	}
	if _, err := be.SetStop(ctx, "STOPSTAGE", false); err != nil {
		t.Fatal(err)
	}
	if _, err := be.SetStop(ctx, "../etc", true); err == nil {
		t.Errorf("any file accepted as a stop file")
	}

	// Palette.
	out, code, err := be.Exec(ctx, "ls /")
	if err != nil || code != 0 || out == "" {
		t.Errorf("exec ls: %q %d %v", out, code, err)
	}
	if out, code, _ := be.Exec(ctx, "bogus"); code == 0 || !strings.Contains(out, "Invalid command") {
		t.Errorf("exec bogus: %q %d", out, code)
	}
}

// TestSiteBackendRequests: stage and migrate-now queue requests through
// core/site, the Queues view sees them (from the queue files: no daemon),
// and a priority change moves them.
func TestSiteBackendRequests(t *testing.T) {
	ctx := context.Background()
	s, _ := demoSite(t, 60, 4)
	be := &SiteBackend{Site: s}
	var dangling, needsMig, migrated string
	err := s.Catalog.Walk(ctx, "/store", catalog.WalkOptions{Want: catalog.WantAll, Recursive: true, Workers: 1}, func(e *catalog.Entry) error {
		switch {
		case e.Type != catalog.File:
		case e.Dangling && dangling == "":
			dangling = e.LFN
		case e.NeedsMigration() && needsMig == "":
			needsMig = e.LFN
		case e.Migrated() && !e.Dangling && migrated == "":
			migrated = e.LFN
		}
		return nil
	})
	if err != nil || dangling == "" || needsMig == "" || migrated == "" {
		t.Fatalf("walk: %v %q %q %q", err, dangling, needsMig, migrated)
	}
	txt, err := be.Stage(ctx, []string{dangling, migrated})
	if err != nil || !strings.Contains(txt, "stage: 1 of 2 files queued as frm-") || !strings.Contains(txt, path.Base(migrated)+" already on disk") ||
		!strings.Contains(txt, "no daemon") {
		t.Errorf("stage: %q %v", txt, err)
	}
	if txt, err := be.MigrateNow(ctx, []string{needsMig}); err != nil || !strings.Contains(txt, "migrate: 1 of 1 file queued") {
		t.Errorf("migrate: %q %v", txt, err)
	}
	if _, err := be.MigrateNow(ctx, []string{dangling}); err == nil || !strings.Contains(err.Error(), "data file is missing") {
		t.Errorf("migrate of a dangling file: %v", err)
	}
	rows := func() map[string]model.QueueRow {
		snap, err := be.Queue(ctx)
		if err != nil || snap.DaemonUp {
			t.Fatalf("queue: %+v %v", snap, err)
		}
		m := map[string]model.QueueRow{}
		for _, r := range snap.Rows {
			m[r.Kind+" "+r.LFN] = r
		}
		return m
	}
	st, ok := rows()["stage "+dangling]
	if _, okm := rows()["migrate "+needsMig]; !ok || !okm || st.Priority != 0 {
		t.Fatalf("queued rows %v", rows())
	}
	if txt, err := be.SetPriority(ctx, st.RID, 2); err != nil || txt != st.RID+": 1 entry moved to priority 2" {
		t.Errorf("priority: %q %v", txt, err)
	}
	if r := rows()["stage "+dangling]; r.Priority != 2 {
		t.Errorf("after the move: %+v", r)
	}
}

// TestTailFile: the last lines of the daemon's log, also of a big file
// (only its end is read; the cut first line is dropped).
func TestTailFile(t *testing.T) {
	dir := t.TempDir()
	var big strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&big, "time=2025-06-01T12:00:00Z level=INFO msg=line n=%06d\n", i)
	}
	tests := []struct {
		name    string
		content *string // nil: no file
		n       int
		want    []string
		err     string
	}{
		{name: "missing", n: 5, err: "daemon log: open "},
		{name: "empty", content: ptr(""), n: 5},
		{name: "short", content: ptr("a\nb\nc\n"), n: 5, want: []string{"a", "b", "c"}},
		{name: "last two, no final newline", content: ptr("a\nb\nc"), n: 2, want: []string{"b", "c"}},
		{name: "big", content: ptr(big.String()), n: 3, want: []string{
			"time=2025-06-01T12:00:00Z level=INFO msg=line n=019997",
			"time=2025-06-01T12:00:00Z level=INFO msg=line n=019998",
			"time=2025-06-01T12:00:00Z level=INFO msg=line n=019999"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".log")
			if tc.content != nil {
				if err := os.WriteFile(p, []byte(*tc.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := tailFile(p, tc.n)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("got %q %v, want %q", got, err, tc.want)
			}
		})
	}
	// Through the backend: the Daemons view gets the tail with the status.
	s, _ := sitetest.OpenDemo(t, sitegen.DemoOptions{Files: 20, Seed: 5, Now: time.Now()}, nil)
	logf := filepath.Join(dir, "short.log")
	be := &SiteBackend{Site: s, DaemonLog: logf}
	st, err := be.Daemons(context.Background())
	if err != nil || st.LogPath != logf || !slices.Equal(st.LogLines, []string{"a", "b", "c"}) || st.LogErr != "" {
		t.Errorf("daemons: %+v %v", st, err)
	}
	be.DaemonLog = filepath.Join(dir, "none.log")
	if st, _ := be.Daemons(context.Background()); !strings.Contains(st.LogErr, "no such file") {
		t.Errorf("missing log: %q", st.LogErr)
	}
}

func ptr(s string) *string { return &s }

// demoSite opens a demo site of files files made with seed.
func demoSite(t *testing.T, files int, seed int64) (*site.Site, sitegen.Summary) {
	t.Helper()
	l, sum, err := sitegen.Demo(context.Background(), t.TempDir(), sitegen.DemoOptions{Files: files, Seed: seed, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(l.Config, "")
	if err != nil {
		t.Fatal(err)
	}
	s, err := wire.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, sum
}

// classDaemon answers the control socket as a daemon with request classes
// long and short would.
type classDaemon struct{}

func (classDaemon) Status() control.StatusReply {
	return control.StatusReply{PID: 7, Components: []string{"transfer"}, Transfer: &control.TransferStatus{
		InUse: [2]int{1, 1},
		Active: []control.Active{
			{Kind: "stage", LFN: "/a", RID: "r1", Size: 10, Done: 5, Class: "long"},
			{Kind: "migrate", LFN: "/m", RID: "m9", Done: -1, Class: "long"}, // found by the scan: no queue record
		},
		Classes: []control.ClassStatus{{Name: "long", Slots: 1, Running: 2, Waiting: 0}, {Name: "short", Slots: 1, Waiting: 1}},
	}}
}
func (classDaemon) Queue(context.Context) ([]control.QueueEntry, error) {
	return []control.QueueEntry{
		{Kind: "stage", LFN: "/a", RID: "r1", Running: true},
		{Kind: "get", LFN: "/b", RID: "r2", Class: "short"},
	}, nil
}
func (classDaemon) Cancel(context.Context, string) (int, error) { return 0, nil }
func (classDaemon) Wake()                                       {}
func (classDaemon) Subscribe() ([]control.Event, <-chan control.Event, func()) {
	return []control.Event{{Type: "queued", Kind: "get", LFN: "/c", RID: "r3", Class: "short"}}, nil, func() {}
}

// TestSiteBackendClasses: through a daemon with request classes the
// Queues view gets the classes and each request's (a running one's from
// its transfer, a queued one's from its event), and the Daemons view each
// class's slots.
func TestSiteBackendClasses(t *testing.T) {
	ctx := context.Background()
	s, _ := demoSite(t, 10, 3)
	adm := s.Config().AdminDir()
	if err := os.MkdirAll(adm, 0o700); err != nil {
		t.Fatal(err)
	}
	stop, err := control.Serve(ctx, control.SocketPath(adm), classDaemon{})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	be := &SiteBackend{Site: s}
	snap, err := be.Queue(ctx)
	if err != nil || !snap.DaemonUp {
		t.Fatalf("queue: %+v %v", snap, err)
	}
	got := map[string]string{}
	for _, r := range snap.Rows {
		got[r.RID] = r.Class
	}
	if !slices.Equal(snap.Classes, []string{"long", "short"}) || len(got) != 3 || got["r1"] != "long" || got["r2"] != "short" || got["m9"] != "long" {
		t.Errorf("classes %v, rows' %v", snap.Classes, got)
	}
	ectx, cancel := context.WithCancel(ctx)
	var ev model.QueueEvent
	be.Events(ectx, func(e model.QueueEvent) { ev = e; cancel() })
	if ev.RID != "r3" || ev.Class != "short" {
		t.Errorf("event %+v", ev)
	}
	st, err := be.Daemons(ctx)
	if err != nil || !st.Up || !slices.Equal(st.Classes, []model.ClassSlots{{Name: "long", Slots: 1, Running: 2}, {Name: "short", Slots: 1}}) {
		t.Errorf("daemons: %+v %v", st.Classes, err)
	}
}
