package site_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"frm/core/catalog"
	"frm/core/config"
	"frm/core/mss"
	"frm/core/mss/msstest"
	"frm/core/site"
	"frm/core/sitegen"
	"frm/core/wire"
)

// mssConfigs are [mss] set-ups of the demo site (whose MSS is a posix tree
// at remote_root holding a copy of every migrated file), as edits of its
// frm.toml.
var mssConfigs = map[string]func(toml string) string{
	"posix": func(toml string) string { return toml },
	"command without rename_cmd": func(toml string) string {
		return strings.Replace(toml, `backend = "posix"`, `backend = "command"
copy_in = ["/bin/cp", "$SRC", "$DST"]
copy_out = ["/bin/sh", "-c", "mkdir -p \"$(dirname \"$1\")\" && cp \"$0\" \"$1\"", "$SRC", "$DST"]`, 1)
	},
	"command with rename_cmd": func(toml string) string {
		return strings.Replace(toml, `backend = "posix"`, `backend = "command"
copy_in = ["/bin/cp", "$SRC", "$DST"]
rename_cmd = ["/bin/sh", "-c", "mkdir -p \"$(dirname \"$1\")\" && ln -- \"$0\" \"$1\" && rm -- \"$0\"", "$SRC", "$DST"]`, 1)
	},
	// No MSS configured at all: no remote_root, no backend.
	"no MSS": func(toml string) string {
		var out []string
		for _, line := range strings.Split(toml, "\n") {
			if !strings.HasPrefix(line, "remote_root") && !strings.HasPrefix(line, "backend") {
				out = append(out, line)
			}
		}
		return strings.Join(out, "\n")
	},
}

// openDemoMSS creates a demo site, edits its configuration with the named
// mssConfigs entry and opens it.
func openDemoMSS(t *testing.T, files int, mssConfig string) (*site.Site, sitegen.Layout) {
	t.Helper()
	l, _, err := sitegen.Demo(context.Background(), t.TempDir(), sitegen.DemoOptions{Files: files, Seed: 3, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(l.Config)
	if err != nil {
		t.Fatal(err)
	}
	edit, ok := mssConfigs[mssConfig]
	if !ok {
		t.Fatalf("no MSS configuration %q", mssConfig)
	}
	if err := os.WriteFile(l.Config, []byte(edit(string(b))), 0o644); err != nil {
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
	t.Cleanup(s.Close)
	return s, l
}

// mssCopy is where the demo's MSS tree keeps the copy of lfn.
func mssCopy(l sitegen.Layout, lfn string) string { return l.RemoteRoot + lfn }

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// migratedXA accepts resident XA files whose MSS copy is current and
// present in the demo's MSS tree.
func migratedXA(l sitegen.Layout) func(e *catalog.Entry) bool {
	return func(e *catalog.Entry) bool {
		return strings.HasSuffix(e.Link, "%") && !e.Dangling && e.Migrated() && e.CopyTime != 0 && exists(mssCopy(l, e.LFN))
	}
}

// checkReachable fails for every file under lfn (a file or a tree) that
// claims a current MSS copy (copy time >= mtime, not 0) the MSS tree does
// not have: a purge would remove the only copy frm can reach.
func checkReachable(t *testing.T, s *site.Site, l sitegen.Layout, lfn string) {
	t.Helper()
	check := func(e *catalog.Entry) {
		if e.Type == catalog.File && !e.Dangling && e.Migrated() && e.CopyTime != 0 && !exists(mssCopy(l, e.LFN)) {
			t.Errorf("%s is migrated (copy time %d, mtime %d) but the MSS has no %s", e.LFN, e.CopyTime, e.Mtime, mssCopy(l, e.LFN))
		}
	}
	ctx := context.Background()
	e, err := s.Catalog.Lookup(ctx, lfn, catalog.WantStat|catalog.WantLink|catalog.WantCopy)
	if err != nil {
		t.Fatalf("lookup %s: %v", lfn, err)
	}
	if e.Type != catalog.Dir {
		check(&e)
		return
	}
	err = s.Catalog.Walk(ctx, lfn, catalog.WalkOptions{Want: catalog.WantStat | catalog.WantLink | catalog.WantCopy, Recursive: true},
		func(e *catalog.Entry) error { check(e); return nil })
	if err != nil {
		t.Fatalf("walk %s: %v", lfn, err)
	}
}

// TestMvMigratedFile: a migrated file renamed in the namespace never
// stays "migrated" under a name the MSS lacks. Where the MSS can rename
// (posix, a command backend with rename_cmd) its copy is renamed and the
// file stays migrated; otherwise the file is marked migratable (copy time
// = mtime - 113) so it is migrated again under its new name and is not
// purgeable meanwhile.
func TestMvMigratedFile(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mss     string
		setup   func(t *testing.T, l sitegen.Layout, from, to string)
		renamed bool // the MSS copy follows the file
	}{
		{name: "posix renames", mss: "posix", renamed: true},
		{name: "command with rename_cmd renames", mss: "command with rename_cmd", renamed: true},
		{name: "command without rename_cmd", mss: "command without rename_cmd"},
		{name: "no MSS", mss: "no MSS"},
		{name: "MSS lacks the copy", mss: "posix", setup: func(t *testing.T, l sitegen.Layout, from, to string) {
			if err := os.Remove(mssCopy(l, from)); err != nil {
				t.Fatal(err)
			}
		}},
		// The MSS holds an object under the new name (a purged file's):
		// it is not replaced by the rename; migrating the file again
		// under that name does, as a migration of a new file would.
		{name: "new name taken in the MSS", mss: "posix", setup: func(t *testing.T, l sitegen.Layout, from, to string) {
			if err := os.MkdirAll(filepath.Dir(mssCopy(l, to)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(mssCopy(l, to), []byte("purged file"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, l := openDemoMSS(t, 40, tc.mss)
			ctx := context.Background()
			e := findEntry(t, s, "/store/hmi", migratedXA(l))
			from, to := e.LFN, "/store/renamed/dir/renamed.fits"
			if tc.setup != nil {
				tc.setup(t, l, from, to)
			}
			r, err := s.Mv(ctx, from, to)
			if err != nil {
				t.Fatalf("Mv: %v", err)
			}
			if len(r.Errors) > 0 {
				t.Errorf("Mv errors: %v", r.Errors)
			}
			if want := (site.MvResult{Migrated: 1, Renamed: boolInt(tc.renamed), Remigrate: 1 - boolInt(tc.renamed), Xrefs: 1}); r.Migrated != want.Migrated ||
				r.Renamed != want.Renamed || r.Remigrate != want.Remigrate || r.Xrefs != want.Xrefs || (r.Why != nil) != (r.Remigrate > 0) {
				t.Errorf("Mv = %+v, want %+v", r, want)
			}
			checkReachable(t, s, l, to)
			n, err := s.Catalog.Lookup(ctx, to, catalog.WantAll)
			if err != nil {
				t.Fatal(err)
			}
			if n.PfnRef != s.PFN(to) {
				t.Errorf("back reference %q, want %q", n.PfnRef, s.PFN(to))
			}
			if tc.renamed {
				if n.CopyTime != e.CopyTime {
					t.Errorf("copy time %d, want %d kept (the MSS copy was renamed)", n.CopyTime, e.CopyTime)
				}
				if exists(mssCopy(l, from)) || !exists(mssCopy(l, to)) {
					t.Errorf("MSS copy not renamed: old %v, new %v", exists(mssCopy(l, from)), exists(mssCopy(l, to)))
				}
				return
			}
			if n.CopyTime != n.Mtime-site.MarkDelta {
				t.Errorf("copy time %d, want mtime-%d = %d (migratable)", n.CopyTime, site.MarkDelta, n.Mtime-site.MarkDelta)
			}
			if tc.setup == nil && !exists(mssCopy(l, from)) {
				t.Errorf("the MSS copy under the old name is gone")
			}
		})
	}
}

// TestMvDirectory: a directory rename keeps every migrated file beneath
// reachable (as TestMvMigratedFile) and rewrites the back reference of
// every XA file beneath, so audit space finds nothing.
func TestMvDirectory(t *testing.T) {
	for _, tc := range []struct {
		mss     string
		renamed bool
	}{{"posix", true}, {"command without rename_cmd", false}} {
		t.Run(tc.mss, func(t *testing.T) {
			s, l := openDemoMSS(t, 400, tc.mss)
			ctx := context.Background()
			e := findEntry(t, s, "/store/hmi", migratedXA(l))
			from := filepath.Dir(e.LFN)
			to := "/store/moved/" + filepath.Base(from)
			before := map[string]catalog.Entry{}
			err := s.Catalog.Walk(ctx, from, catalog.WalkOptions{Want: catalog.WantAll, Recursive: true}, func(e *catalog.Entry) error {
				if e.Type == catalog.File {
					before[strings.TrimPrefix(e.LFN, from)] = *e
				}
				return nil
			})
			if err != nil || len(before) < 2 {
				t.Fatalf("walk %s: %d files, %v", from, len(before), err)
			}
			r, err := s.Mv(ctx, from, to)
			if err != nil {
				t.Fatalf("Mv: %v", err)
			}
			if len(r.Errors) > 0 || !r.Dir || r.Xrefs != len(before) {
				t.Errorf("Mv = %+v; want a directory, no errors, %d back references rewritten", r, len(before))
			}
			checkReachable(t, s, l, to)
			migrated := 0
			for rel, old := range before {
				n, err := s.Catalog.Lookup(ctx, to+rel, catalog.WantAll)
				if err != nil {
					t.Errorf("%s: %v", to+rel, err)
					continue
				}
				if strings.HasSuffix(n.Link, "%") && !n.Dangling && n.PfnRef != n.PFN {
					t.Errorf("%s: back reference %q", n.LFN, n.PfnRef)
				}
				if !old.Migrated() || old.CopyTime == 0 {
					if n.CopyTime != old.CopyTime || n.HasCopy != old.HasCopy {
						t.Errorf("%s: not migrated before, copy time changed %d -> %d", n.LFN, old.CopyTime, n.CopyTime)
					}
					continue
				}
				migrated++
				if want := old.CopyTime; !tc.renamed {
					if want = n.Mtime - site.MarkDelta; n.CopyTime != want {
						t.Errorf("%s: copy time %d, want %d", n.LFN, n.CopyTime, want)
					}
				} else if n.CopyTime != want || !exists(mssCopy(l, n.LFN)) || exists(mssCopy(l, old.LFN)) {
					t.Errorf("%s: copy time %d (want %d), MSS copy renamed %v", n.LFN, n.CopyTime, want, exists(mssCopy(l, n.LFN)))
				}
			}
			if migrated == 0 {
				t.Fatal("no migrated file in the moved directory")
			}
			if r.Migrated != migrated || tc.renamed && r.Renamed != migrated || !tc.renamed && r.Remigrate != migrated {
				t.Errorf("Mv = %+v; want %d migrated files, all renamed %v", r, migrated, tc.renamed)
			}
			for _, sp := range []string{"data", "fast"} {
				var problems []site.AuditEvent
				if _, err := s.AuditSpace(ctx, sp, site.AuditOptions{OnProblem: func(ev site.AuditEvent) { problems = append(problems, ev) }}); err != nil {
					t.Fatal(err)
				}
				for _, ev := range problems {
					t.Errorf("audit space %s after mv: problem %d pfn %s data %s", sp, ev.Problem, ev.PFN, ev.Data)
				}
			}
			if exists(s.PFN(from)) {
				t.Errorf("%s still exists", from)
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestMvFailsUndone: when the namespace rename fails after the MSS copy
// was renamed (here someone creates the new name meanwhile), the copy is
// renamed back and the file is left as it was: migrated, under its old
// name, with its copy in the MSS. Refused renames change nothing.
func TestMvFailsUndone(t *testing.T) {
	s, l := openDemoMSS(t, 40, "posix")
	ctx := context.Background()
	e := findEntry(t, s, "/store/hmi", migratedXA(l))
	oldRFN, _ := s.Names.RFN(e.LFN)
	to := "/store/raced.fits"
	newRFN, _ := s.Names.RFN(to)
	m := msstest.NewMem()
	m.Put(oldRFN, []byte("copy"), time.Unix(e.Mtime, 0))
	m.Fail = func(op, rfn string) error {
		if op == "rename" && rfn == oldRFN {
			// A writer creates the new name between Mv's check and its
			// rename.
			if err := os.WriteFile(s.PFN(to), []byte("intruder"), 0o644); err != nil {
				t.Error(err)
			}
		}
		return nil
	}
	s.SetMSS(m)
	r, err := s.Mv(ctx, e.LFN, to)
	if !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("Mv = %+v, %v; want EEXIST", r, err)
	}
	if len(r.Errors) > 0 {
		t.Errorf("undo errors: %v", r.Errors)
	}
	if got := m.Names(); len(got) != 1 || got[0] != oldRFN {
		t.Errorf("MSS holds %q, want only %s (renamed back from %s)", got, oldRFN, newRFN)
	}
	after, err := s.Catalog.Lookup(ctx, e.LFN, catalog.WantAll)
	if err != nil {
		t.Fatal(err)
	}
	if after.CopyTime != e.CopyTime || after.Link != e.Link {
		t.Errorf("after the failed mv: copy time %d link %s, want %d %s", after.CopyTime, after.Link, e.CopyTime, e.Link)
	}

	// Refused before anything changes: into itself, onto an existing name.
	dir := filepath.Dir(e.LFN)
	for _, tc := range []struct{ from, to string }{{dir, dir + "/sub/x"}, {e.LFN, to}, {"/", "/x"}} {
		if _, err := s.Mv(ctx, tc.from, tc.to); err == nil {
			t.Errorf("Mv %s %s succeeded", tc.from, tc.to)
		}
	}
	checkReachable(t, s, l, "/store")
	if got := m.Names(); len(got) != 1 || got[0] != oldRFN || exists(s.PFN(dir+"/sub")) {
		t.Errorf("a refused mv changed something: MSS %q", got)
	}
}

// TestMvMSSDown: when the MSS keeps failing, a directory mv stops asking
// it after a few failures in a row (each may take retries) and marks the
// rest migratable, with the MSS's error as the reason.
func TestMvMSSDown(t *testing.T) {
	s, l := openDemoMSS(t, 1000, "posix")
	ctx := context.Background()
	e := findEntry(t, s, "/store/hmi", migratedXA(l))
	from := filepath.Dir(e.LFN)
	var calls atomic.Int32
	m := msstest.NewMem()
	m.Fail = func(op, rfn string) error {
		calls.Add(1)
		return mss.Transient(errors.New("tape library offline"))
	}
	s.SetMSS(m)
	r, err := s.Mv(ctx, from, "/store/moved/day")
	if err != nil {
		t.Fatal(err)
	}
	if r.Migrated < 30 || r.Remigrate != r.Migrated || r.Renamed != 0 {
		t.Fatalf("Mv = %+v; want every one of 30 or more migrated files marked migratable", r)
	}
	if n := int(calls.Load()); n > 2*8*(1+site.RenameRetries) {
		t.Errorf("%d renames tried for %d files; want the MSS given up on after a few failures", n, r.Migrated)
	}
	if r.Why == nil || !strings.Contains(r.Why.Error(), "tape library offline") {
		t.Errorf("reason %v, want the MSS's error", r.Why)
	}
	checkReachable(t, s, l, "/store/moved/day")
}
