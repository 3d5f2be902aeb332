package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"frm/core/pgtest"
)

// TestToolsWorkWithTheDatabaseDown: with the catalog database down, what
// needs only the daemon (status, wake) works, what needs the catalog says
// so clearly, and the daemon's log names the cause once, not every few
// seconds. Before, status and wake failed because opening the site
// connected to the database first.
func TestToolsWorkWithTheDatabaseDown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	t.Setenv("FRM_CATALOG_DSN", "")
	srv := pgtest.Start(t)
	cfg := writeDBConfig(t, srv.CreateDB(t))
	if code, out, errs := runDB(t, "init", "-c", cfg); code != 0 {
		t.Fatalf("db init: %d\n%s%s", code, out, errs)
	}
	os.MkdirAll(filepath.Join(filepath.Dir(cfg), "ns", "store"), 0o755)
	mssDir := filepath.Join(filepath.Dir(cfg), "mss")
	os.MkdirAll(mssDir, 0o755)
	b, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append([]byte("remote_root = \""+mssDir+"\"\n"), b...), 0o644)
	bin := buildBin(t)
	logf := filepath.Join(t.TempDir(), "daemon.log")
	d := exec.Command(bin, "daemon", "-c", cfg, "-l", logf)
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Process.Kill()
		d.Wait()
		if t.Failed() || os.Getenv("FRM_TEST_SHOWLOG") != "" {
			b, _ := os.ReadFile(logf)
			t.Logf("daemon log:\n%s", b)
		}
	})
	logHas := func(s string) bool { b, _ := os.ReadFile(logf); return strings.Contains(string(b), s) }
	waitFor(t, "the daemon", func() bool { return logHas("frm daemon running") })

	srv.Down(t)
	defer srv.Up(t)
	admin := func(args ...string) (int, string) {
		cmd := exec.Command(bin, append([]string{"admin", "-c", cfg}, args...)...)
		out, _ := cmd.CombinedOutput()
		return cmd.ProcessState.ExitCode(), string(out)
	}
	if code, out := admin("status"); code != 0 || !strings.Contains(out, "frm daemon pid") {
		t.Errorf("status with the database down: %d\n%s", code, out)
	}
	if code, out := admin("wake"); code != 0 {
		t.Errorf("wake with the database down: %d\n%s", code, out)
	}
	if code, out := admin("queue"); code != 0 || !strings.Contains(out, "queue files") {
		t.Errorf("queue with the database down: %d\n%s", code, out)
	}
	if code, out := admin("ls", "/store"); code == 0 || !strings.Contains(out, "catalog database is unavailable") {
		t.Errorf("ls with the database down: %d\n%s", code, out)
	}
	// A while of the daemon running without its database: each cause is
	// said once.
	time.Sleep(5 * time.Second)
	d.Process.Signal(syscall.SIGTERM)
	d.Wait()
	b, _ = os.ReadFile(logf)
	for _, line := range []string{"another host purges the space", "lease lost"} {
		if strings.Contains(string(b), line) {
			t.Errorf("the log says %q with the database down:\n%s", line, b)
		}
	}
	for _, line := range []string{"cannot reach the purge leases", "cannot compare this host's files with the catalog"} {
		if n := strings.Count(string(b), line); n > 1 {
			t.Errorf("%q said %d times:\n%s", line, n, b)
		}
	}
}
