package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"frm/core/sitegen"
	"frm/core/usage"
)

// TestUsageLogWithXrootd: frm keeps xrootd's usage log as xrootd's tools
// do. Started on a site whose log does not exist, frm creates it as
// xrootd's frm_admin does (same size, same entries in the same slots, the
// .Usage.upd beside it); reloc, rm and purge then account for the XA data
// they add and remove, and xrootd's own frm_admin, reading the file after
// them, shows the same figures as frm: the bytes each space's data files
// hold. The same sequence by xrootd's frm_admin and frm_purged on a twin
// site leaves the same log (entries, slots and figures; the creation
// times aside), though its figures are wrong on the way (compat #25).
func TestUsageLogWithXrootd(t *testing.T) {
	if _, err := os.Stat(xrootdAdmin); err != nil {
		if os.Getenv("FRM_REQUIRE_XROOTD") == "1" {
			t.Fatalf("xrootd's frm_admin is not installed: %v", err)
		}
		t.Skip("xrootd's frm_admin is not installed (apt-get install -y xrootd-server)")
	}
	bin := buildBin(t)
	site := func() sitegen.Layout {
		l := sitegen.NewLayout(filepath.Join(t.TempDir(), "site"))
		if err := l.WriteConfigs(); err != nil {
			t.Fatal(err)
		}
		return l
	}
	theirs, ours := site(), site()
	xrd := func(l sitegen.Layout, args ...string) string {
		out, err := exec.Command(xrootdAdmin, append([]string{"-c", l.XrdConfig}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("xrootd frm_admin %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	xrd(theirs, "query", "usage")
	if code, out, errs := runAdmin(t, bin, ours.Config, "query", "usage"); code != 0 {
		t.Fatalf("frm query usage: %d %s %s", code, out, errs)
	}
	read := func(l sitegen.Layout) []usage.Entry {
		es, err := usage.Read(usage.Path(l.UsageDir, ""))
		if err != nil {
			t.Fatal(err)
		}
		return es
	}
	names := func(es []usage.Entry) (out []string) {
		for _, e := range es {
			out = append(out, e.Name)
		}
		return out
	}
	if got, want := names(read(ours)), names(read(theirs)); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("entries %v, xrootd's %v", got, want)
	}
	for _, l := range []sitegen.Layout{theirs, ours} {
		fi, err := os.Stat(usage.Path(l.UsageDir, ""))
		if err != nil || fi.Size() != 16384 {
			t.Errorf("%s: %v %v", l.UsageDir, fi, err)
		}
		if _, err := os.Stat(usage.Path(l.UsageDir, "") + ".upd"); err != nil {
			t.Error(err)
		}
	}

	// XA data in, out, moved: two 6-byte files into data, one removed,
	// the other moved to fast.
	os.MkdirAll(filepath.Join(ours.LocalRoot, "store"), 0o755)
	for _, f := range []string{"p1", "p2"} {
		os.WriteFile(filepath.Join(ours.LocalRoot, "store", f), []byte("hello!"), 0o644)
	}
	for _, args := range [][]string{{"reloc", "/store/p1", "data"}, {"reloc", "/store/p2", "data"}, {"rm", "/store/p2"}, {"reloc", "/store/p1", "fast"}} {
		if code, out, errs := runAdmin(t, bin, ours.Config, args...); code != 0 {
			t.Fatalf("frm %v: %d %s %s", args, code, out, errs)
		}
	}
	used := regexp.MustCompile(`Space (\w+)\n\s+(-?\d+) Used\n\s+(-?\d+) Staged\n\s+(-?\d+) Purged\n\s+(-?\d+) Adjust\n\s+(-?\d+) Effective`)
	figures := func(out string) map[string]string {
		m := map[string]string{}
		for _, s := range used.FindAllStringSubmatch(out, -1) {
			m[s[1]] = s[6] // effective
		}
		return m
	}
	check := func(want map[string]string) {
		t.Helper()
		_, frmOut, _ := runAdmin(t, bin, ours.Config, "query", "usage")
		xrdOut := xrd(ours, "query", "usage")
		for name, w := range want {
			if got := figures(frmOut)[name]; got != w {
				t.Errorf("frm query usage: %s effective %s, want %s\n%s", name, got, w, frmOut)
			}
			if got := figures(xrdOut)[name]; got != w {
				t.Errorf("xrootd's query usage on frm's log: %s effective %s, want %s\n%s", name, got, w, xrdOut)
			}
		}
	}
	check(map[string]string{"data": "0", "fast": "6", "public": "0"})

	// The same sequence with xrootd's own frm_admin on its twin site.
	// On the way its figures are wrong, as docs/compat.md #25 says (a
	// stand-alone tool's adjustment writes the new Staged or Purged value
	// over Used: two 6-byte files relocated into data leave Used 6, not
	// 12; the removal sets it to 0, right again by chance); at the end
	// of the sequence both files hold the same entries and figures.
	// Should a later xrootd fix the bug, this test fails and #25 goes.
	os.MkdirAll(filepath.Join(theirs.LocalRoot, "store"), 0o755)
	for _, f := range []string{"p1", "p2"} {
		os.WriteFile(filepath.Join(theirs.LocalRoot, "store", f), []byte("hello!"), 0o644)
	}
	entry := func(es []usage.Entry, name string) usage.Entry {
		for _, e := range es {
			if e.Name == name {
				return e
			}
		}
		t.Fatalf("no usage entry %q in %v", name, es)
		return usage.Entry{}
	}
	xrd(theirs, "reloc", "/store/p1", "data")
	xrd(theirs, "reloc", "/store/p2", "data")
	if e := entry(read(theirs), "data"); e.Effective() != 6 {
		t.Errorf("xrootd's data entry after two relocations of 6 bytes: %+v; compat #25 expects 6, not 12", e)
	}
	xrd(theirs, "rm", "/store/p2")
	xrd(theirs, "reloc", "/store/p1", "fast")
	sameLog := func(when string) {
		t.Helper()
		o, x := read(ours), read(theirs)
		for i := range o {
			o[i].Added = 0
		}
		for i := range x {
			x[i].Added = 0
		}
		if fmt.Sprint(o) != fmt.Sprint(x) {
			t.Errorf("%s: frm's usage log %+v\nxrootd's %+v", when, o, x)
		}
	}
	sameLog("after reloc, rm, reloc")

	// A purge: p1, marked purgeable (copy time = mtime) and last read an
	// hour ago, leaves fast.
	p1 := filepath.Join(ours.LocalRoot, "store", "p1")
	if fi, err := os.Stat(p1); err == nil {
		os.Chtimes(p1, time.Now().Add(-time.Hour), fi.ModTime())
	}
	for _, args := range [][]string{{"mark", "-p", "/store/p1"}, {"purge", "-f", "-O", "100%,60", "fast"}} {
		if code, out, errs := runAdmin(t, bin, ours.Config, args...); code != 0 {
			t.Fatalf("frm %v: %d %s %s", args, code, out, errs)
		}
	}
	if _, err := os.Lstat(filepath.Join(ours.LocalRoot, "store", "p1")); err == nil {
		t.Fatal("the purge did not remove p1")
	}
	check(map[string]string{"data": "0", "fast": "0", "public": "0"})

	// xrootd's purge of the same file: mark it with its frm_admin, purge
	// with its frm_purged.
	p1 = filepath.Join(theirs.LocalRoot, "store", "p1")
	if fi, err := os.Stat(p1); err == nil {
		os.Chtimes(p1, time.Now().Add(-time.Hour), fi.ModTime())
	}
	xrd(theirs, "mark", "-p", "/store/p1")
	if out, err := exec.Command("/usr/bin/frm_purged", "-c", theirs.XrdConfig, "-O", "100%,60", "fast").CombinedOutput(); err != nil {
		t.Fatalf("xrootd's frm_purged: %v\n%s", err, out)
	}
	if _, err := os.Lstat(p1); err == nil {
		t.Fatal("xrootd's purge did not remove p1")
	}
	xrd(theirs, "query", "usage") // folds Purged into Used, as frm's next command does
	runAdmin(t, bin, ours.Config, "query", "usage")
	sameLog("after the purge")
}
