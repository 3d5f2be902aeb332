package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"frm/core/sitegen"
)

func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	st := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return st, out.String(), errb.String()
}

func demoSite(t *testing.T) sitegen.Layout {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "site")
	st, out, errs := runCLI(t, "", "frm", "demo", "-files", "200", dir)
	if st != 0 {
		t.Fatalf("frm demo: %d %s %s", st, out, errs)
	}
	return sitegen.NewLayout(dir)
}

func TestArgv0FrmAdmin(t *testing.T) {
	l := demoSite(t)
	st, out, _ := runCLI(t, "", "/usr/local/bin/frm_admin", "-c", l.Config, "query", "pfn", "/store/x")
	if st != 0 || out != l.LocalRoot+"/store/x\n" {
		t.Fatalf("frm_admin by argv[0]: %d %q", st, out)
	}
	st, out2, _ := runCLI(t, "", "frm", "admin", "-c", l.Config, "query", "pfn", "/store/x")
	if st != 0 || out2 != out {
		t.Fatalf("frm admin: %d %q", st, out2)
	}
}

func TestXrootdConfigReadAsIs(t *testing.T) {
	l := demoSite(t)
	// The generated xrootd.cf describes the same site: the same results.
	a := []string{"find", "-r", "unmigrated", "/store"}
	st1, o1, _ := runCLI(t, "", append([]string{"frm", "admin", "-c", l.Config}, a...)...)
	st2, o2, _ := runCLI(t, "", append([]string{"frm", "admin", "-c", l.XrdConfig}, a...)...)
	// The parallel walk reports directories in no fixed order.
	if st1 != 0 || st2 != 0 || sortedLines(o1) != sortedLines(o2) || !strings.Contains(o1, "unmigrated files found.") {
		t.Fatalf("toml: %d %q\nxrootd: %d %q", st1, o1, st2, o2)
	}
}

func sortedLines(s string) string {
	l := strings.Split(s, "\n")
	sort.Strings(l)
	return strings.Join(l, "\n")
}

func TestConfigLookupAndErrors(t *testing.T) {
	l := demoSite(t)
	t.Setenv("FRM_CONFIG", l.Config)
	if st, out, _ := runCLI(t, "", "frm", "admin", "query", "rfn", "/a"); st != 0 || out != l.RemoteRoot+"/a\n" {
		t.Fatalf("$FRM_CONFIG not used: %d %q", st, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(bad, []byte("local_root = \"/x\"\nbogus_key = 1\n"), 0o644)
	st, _, errs := runCLI(t, "", "frm", "admin", "-c", bad, "query", "pfn", "/a")
	if st != 4 || !strings.Contains(errs, "bogus_key") {
		t.Fatalf("unknown key: status %d, stderr %q", st, errs)
	}
	// help works without a configuration.
	if st, out, _ := runCLI(t, "", "frm", "admin", "-c", bad, "help", "mv"); st != 0 || !strings.Contains(out, "Usage: mv oldlfn newlfn") {
		t.Fatalf("help without config: %d %q", st, out)
	}
}

func TestConfigShowAndConvert(t *testing.T) {
	l := demoSite(t)
	st, shown, errs := runCLI(t, "", "frm", "config", "show", "-c", l.Config)
	if st != 0 || !strings.Contains(shown, "local_root") {
		t.Fatalf("config show: %d %q %q", st, shown, errs)
	}
	st, conv, errs := runCLI(t, "", "frm", "config", "convert", l.XrdConfig)
	if st != 0 || !strings.Contains(conv, "[[space]]") || !strings.Contains(conv, l.LocalRoot) {
		t.Fatalf("config convert: %d %q %q", st, conv, errs)
	}
	// The converted TOML loads and gives the same site.
	p := filepath.Join(t.TempDir(), "conv.toml")
	os.WriteFile(p, []byte(conv), 0o644)
	a := []string{"query", "space"}
	_, o1, _ := runCLI(t, "", append([]string{"frm", "admin", "-c", l.XrdConfig}, a...)...)
	st, o2, e2 := runCLI(t, "", append([]string{"frm", "admin", "-c", p}, a...)...)
	if st != 0 || o1 != o2 {
		t.Fatalf("converted config differs: %q vs %q (%s)", o1, o2, e2)
	}
}

func TestHelpEverywhere(t *testing.T) {
	for _, a := range [][]string{{"frm", "-h"}, {"frm", "admin", "-h"}, {"frm", "config", "-h"}, {"frm", "demo", "-h"}} {
		st, out, errs := runCLI(t, "", a...)
		if st != 0 || !strings.Contains(out+errs, "Usage") {
			t.Errorf("%q: %d %q %q", a, st, out, errs)
		}
	}
	if st, _, _ := runCLI(t, "", "frm", "nosuch"); st != 2 {
		t.Errorf("unknown subcommand exit %d", st)
	}
	if st, _, _ := runCLI(t, "", "frm", "admin", "-Z"); st != 2 {
		t.Errorf("bad admin option exit %d", st)
	}
}

func TestDemoRefusesNonEmptyDir(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "x"), nil, 0o644)
	if st, _, errs := runCLI(t, "", "frm", "demo", dir); st != 1 || !strings.Contains(errs, "not empty") {
		t.Fatalf("demo into a non-empty dir: %d %q", st, errs)
	}
}

// TestBinaryAsFrmAdmin builds the binary and runs it through a symlink
// named frm_admin, as existing scripts will.
func TestBinaryAsFrmAdmin(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "frm")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	os.Symlink("frm", filepath.Join(dir, "frm_admin"))
	l := demoSite(t)
	cmd := exec.Command(filepath.Join(dir, "frm_admin"), "-c", l.Config)
	cmd.Stdin = strings.NewReader("query pfn /a\nbogus\nquery rfn /b\n")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 2 {
		t.Fatalf("batch with an invalid command: %v", err)
	}
	if out.String() != l.LocalRoot+"/a\n"+l.RemoteRoot+"/b\n" || !strings.Contains(errb.String(), "frm_admin: Invalid command - bogus") {
		t.Fatalf("stdout %q stderr %q", out.String(), errb.String())
	}
}
