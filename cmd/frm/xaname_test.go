package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"frm/core/sitegen"
)

// TestDataFileNamesAsXrootd: the XA data file frm creates (reloc into a
// space) is named as xrootd's own frm_admin names it on the same site:
// the same layout and the same case, hex digit by hex digit (time, pid
// and sequence aside), the same upper-case suffix ("…1A4%").
func TestDataFileNamesAsXrootd(t *testing.T) {
	if _, err := os.Stat(xrootdAdmin); err != nil {
		if os.Getenv("FRM_REQUIRE_XROOTD") == "1" {
			t.Fatalf("xrootd's frm_admin is not installed: %v", err)
		}
		t.Skip("xrootd's frm_admin is not installed (apt-get install -y xrootd-server)")
	}
	bin := buildBin(t)
	l := sitegen.NewLayout(filepath.Join(t.TempDir(), "site"))
	if err := l.WriteConfigs(); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(l.LocalRoot, "store"), 0o755)
	for _, f := range []string{"x", "f"} {
		os.WriteFile(filepath.Join(l.LocalRoot, "store", f), []byte("data\n"), 0o644)
	}
	if out, err := exec.Command(xrootdAdmin, "-c", l.XrdConfig, "reloc", "/store/x", "data").CombinedOutput(); err != nil {
		t.Fatalf("xrootd reloc: %v\n%s", err, out)
	}
	if code, out, errs := runAdmin(t, bin, l.Config, "reloc", "/store/f", "data"); code != 0 {
		t.Fatalf("frm reloc: %d %s %s", code, out, errs)
	}
	// <time LE 8><pid LE 8>00007f000001<seq 8><suffix 3>%
	shape := regexp.MustCompile(`/data/[0-9A-F]{2}/[0-9A-F]{16}00007f000001[0-9A-F]{8}([0-9A-F]{3}%)$`)
	var suffixes []string
	for _, f := range []string{"x", "f"} {
		target, err := os.Readlink(filepath.Join(l.LocalRoot, "store", f))
		if err != nil {
			t.Fatal(err)
		}
		m := shape.FindStringSubmatch(target)
		if m == nil {
			t.Errorf("%s's data file %s is not named as xrootd names them", f, target)
			continue
		}
		suffixes = append(suffixes, m[1])
	}
	if len(suffixes) == 2 && suffixes[0] != suffixes[1] {
		t.Errorf("suffixes: xrootd %s, frm %s", suffixes[0], suffixes[1])
	}
}
