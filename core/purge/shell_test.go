package purge_test

// Tests of `frm admin purge` (shell/purge.go), kept with the package they
// exercise.

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"frm/core/sitegen/sitetest"

	"frm/core/meta"
	"frm/core/purge"
	"frm/core/site"
	"frm/core/sitegen"
	"frm/shell"
)

// clock is the tests' now: the real time (directories made by the test
// get real mtimes), whole seconds.
var clock = time.Now().Truncate(time.Second)

func ts(d time.Duration, layout string) string { return clock.Add(-d).UTC().Format(layout) }

const day = 24 * time.Hour

// shellSite makes a demo-layout site with a handful of files in the
// states a purge distinguishes.
func shellSite(t *testing.T) (*site.Site, sitegen.Layout) {
	t.Helper()
	s, l := sitetest.Open(t, nil)
	s.Now = func() time.Time { return clock }
	s.Loc = time.UTC
	ctx := context.Background()
	mk := func(lfn, sp string, size int, aAge time.Duration, cpy bool) {
		pfn, err := s.Place(ctx, lfn, sp, strings.NewReader(strings.Repeat("d", size)), int64(size))
		if err != nil {
			t.Fatal(err)
		}
		mt := clock.Add(-30 * day)
		if err := os.Chtimes(pfn, clock.Add(-aAge), mt); err != nil {
			t.Fatal(err)
		}
		if cpy {
			if err := meta.SetCopyTime(pfn, mt.Unix()); err != nil {
				if strings.Contains(err.Error(), "not supported") {
					t.Skip("no user xattrs")
				}
				t.Fatal(err)
			}
		}
	}
	mk("/store/d/old.fits", "data", 4000, 10*24*time.Hour, true)
	mk("/store/d/older.fits", "data", 2100, 12*24*time.Hour, true)
	mk("/store/d/recent.fits", "data", 100, time.Minute, true)
	mk("/store/d/nocopy.fits", "data", 100, 10*24*time.Hour, false)
	mk("/scratch/s/plain.tar", "", 1000, 11*24*time.Hour, true)
	if err := meta.SetPin(s.PFN("/store/d/old.fits"), meta.Pin{Flags: meta.PinKeep, Time: clock.Add(48 * time.Hour).Unix()}); err != nil {
		t.Fatal(err)
	}
	return s, l
}

func run(t *testing.T, s *site.Site, jsonOut bool, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	sh := &shell.Shell{Name: "frm_admin", Out: &out, Err: &errb, Site: s, JSON: jsonOut}
	st := sh.RunArgs(context.Background(), append([]string{"purge"}, args...), strings.NewReader(stdin))
	return out.String(), errb.String(), st
}

func exists(p string) bool { _, err := os.Lstat(p); return err == nil }

func TestShellDryRun(t *testing.T) {
	s, l := shellSite(t)
	out, errs, st := run(t, s, false, "", "-n", "-O", "100%,3600", "-v")
	if st != 0 {
		t.Fatalf("status %d: %s", st, errs)
	}
	out = strings.ReplaceAll(out, l.Dir, "$SITE")
	for _, want := range []string{
		"Zorch  data     2.0K " + ts(12*day, "060102 15:04:05") + " $SITE/ns/store/d/older.fits\n",
		"Zorch  public     1000 " + ts(11*day, "060102 15:04:05") + " $SITE/ns/scratch/s/plain.tar\n",
		"Kept   data pinned_until until " + ts(-2*day, "2006-01-02 15:04") + " $SITE/ns/store/d/old.fits\n",
		"Kept   data in_hold until " + ts(time.Minute-time.Hour, "2006-01-02 15:04") + " $SITE/ns/store/d/recent.fits\n",
		"Kept   data no_copy_time $SITE/ns/store/d/nocopy.fits\n",
		"2 files (3100 bytes) would be purged from 2 spaces; 3 files kept (1 no_copy_time, 1 pinned_until, 1 in_hold).\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if !strings.Contains(out, "++++++ data used 0 (0%) free ") || !strings.Contains(out, " 4 files 1 idle; ") {
		t.Errorf("space line missing:\n%s", out)
	}
	// Spaces must come before candidates, candidates before kept files.
	if i, j := strings.Index(out, "++++++"), strings.Index(out, "Zorch"); i < 0 || j < i {
		t.Errorf("order of lines:\n%s", out)
	}
	if !exists(s.PFN("/store/d/older.fits")) {
		t.Error("dry run removed a file")
	}
	// Without -v: no Kept lines; restricted to a space.
	out, _, _ = run(t, s, false, "", "-dry-run", "-O", "100%,3600", "data")
	if strings.Contains(out, "Kept") || strings.Contains(out, "public") || !strings.Contains(out, "Zorch  data") {
		t.Errorf("-dry-run data:\n%s", out)
	}
}

func TestShellDryRunJSON(t *testing.T) {
	s, _ := shellSite(t)
	out, errs, st := run(t, s, true, "", "-n", "-O", "100%,3600", "-v", "/store")
	if st != 0 {
		t.Fatalf("status %d: %s", st, errs)
	}
	var doc struct {
		Command string           `json:"command"`
		Results []map[string]any `json:"results"`
		Summary map[string]any   `json:"summary"`
		Status  int              `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	kinds := map[string]int{}
	for _, r := range doc.Results {
		kinds[r["kind"].(string)]++
		if r["kind"] == "kept" && strings.HasSuffix(r["pfn"].(string), "/old.fits") {
			if r["reason"] != "pinned_until" || int64(r["until"].(float64)) != clock.Add(48*time.Hour).Unix() {
				t.Errorf("kept item %v", r)
			}
		}
		if r["kind"] == "candidate" && (r["lfn"] != "/store/d/older.fits" || r["size"].(float64) != 2100) {
			t.Errorf("candidate item %v", r)
		}
	}
	if kinds["candidate"] != 1 || kinds["kept"] != 3 || kinds["space"] != 3 {
		t.Errorf("kinds %v", kinds)
	}
	if doc.Summary["dry_run"] != true || doc.Summary["files"].(float64) != 1 {
		t.Errorf("summary %v", doc.Summary)
	}
}

func TestShellRealRun(t *testing.T) {
	s, l := shellSite(t)
	older := s.PFN("/store/d/older.fits")
	data, _ := os.Readlink(older)

	// Batch mode takes the default answer, no.
	var out, errb bytes.Buffer
	sh := &shell.Shell{Name: "frm_admin", Out: &out, Err: &errb, Site: s}
	if st := sh.RunBatch(context.Background(), strings.NewReader("purge -O 100%,3600\n")); st != 0 {
		t.Fatalf("batch status %d: %s", st, errb.String())
	}
	if !strings.Contains(errb.String(), "Purge 1 files (2100 bytes) from data? (n | y | a): n (batch mode") || !exists(older) {
		t.Fatalf("batch purge:\n%s\n%s", out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "0 files (0 bytes) purged.") {
		t.Errorf("batch summary:\n%s", out.String())
	}

	// Spaces are asked in configuration order: n for public, y for data.
	o, errs, st := run(t, s, false, "n\ny\n", "-O", "100%,3600", "-v")
	if st != 0 {
		t.Fatalf("status %d: %s", st, errs)
	}
	o = strings.ReplaceAll(o, l.Dir, "$SITE")
	if exists(older) || exists(data) || !exists(s.PFN("/scratch/s/plain.tar")) {
		t.Errorf("after y/n: older %v data %v plain %v", exists(older), exists(data), exists(s.PFN("/scratch/s/plain.tar")))
	}
	for _, want := range []string{"Purged data     2.0K " + ts(12*day, "060102 15:04:05") + " $SITE/ns/store/d/older.fits\n", " 4 files 1 prgd; 2.0K freed ", "1 file (2100 bytes) purged.\n"} {
		if !strings.Contains(o, want) {
			t.Errorf("missing %q in\n%s", want, o)
		}
	}
	es, _ := s.QueryUsage("data")
	if len(es) != 1 || es[0].Purged != 2100 {
		t.Errorf("usage log %+v", es)
	}

	// -force: no question. STOPPURGE first refuses.
	stop := purge.StopFile(s)
	os.MkdirAll(filepath.Dir(stop), 0o755)
	os.WriteFile(stop, nil, 0o644)
	_, errs, st = run(t, s, false, "", "-force", "-O", "100%,3600")
	if st != 1 || !strings.Contains(errs, "purging is suspended") || !strings.Contains(errs, "STOPPURGE exists") || !exists(s.PFN("/scratch/s/plain.tar")) {
		t.Errorf("STOPPURGE: status %d %s", st, errs)
	}
	os.Remove(stop)
	o, errs, st = run(t, s, false, "", "-f", "-v", "-O", "100%,3600", "/scratch")
	if st != 0 || exists(s.PFN("/scratch/s/plain.tar")) || strings.Contains(errs, "?") {
		t.Errorf("-force: status %d\n%s\n%s", st, o, errs)
	}
}

func TestShellErrors(t *testing.T) {
	s, _ := shellSite(t)
	for _, tt := range []struct {
		args   []string
		status int
		msg    string
	}{
		{[]string{"-n", "/archive"}, 1, "/archive is not marked purgeable"},
		{[]string{"-n", "nosuch"}, 1, "nosuch space not found."},
		{[]string{"-n", "-O", "lots"}, 2, "invalid -O free value"},
		{[]string{"-n", "-zap"}, 2, "Invalid option"},
	} {
		_, errs, st := run(t, s, false, "", tt.args...)
		if st != tt.status || !strings.Contains(errs, tt.msg) {
			t.Errorf("%v: status %d, stderr %q", tt.args, st, errs)
		}
	}
	// Policies met (the real disk is not 100% full): nothing to do.
	out, _, st := run(t, s, false, "", "-O", "0%")
	if st != 0 || !strings.Contains(out, "Purge cycle skipped; all policies met.") {
		t.Errorf("met: %d %s", st, out)
	}
}
