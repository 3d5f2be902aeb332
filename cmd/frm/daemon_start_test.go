package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestZeroQCheckRefusedAtLoad: "[transfer] qcheck = 0" and
// "frm.xfr.qcheck 0" used to pass validation and frm config show, and
// then frm daemon panicked at start (time.NewTicker) leaving its sockets
// behind. Now every command refuses the file with one message naming the
// key as written, and the daemon exits 4 having created nothing.
func TestZeroQCheckRefusedAtLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts processes")
	}
	l := agentSite(t)
	appendFile(t, l.Config, "\n[transfer]\nqcheck = 0\n")
	appendFile(t, l.XrdConfig, "\nfrm.xfr.qcheck 0\n")
	st, _, errs := runCLI(t, "", "frm", "config", "show", "-c", l.Config)
	if st != 4 || !strings.Contains(errs, "frm.toml: transfer.qcheck: must be at least 1s (is 0s)") {
		t.Errorf("config show: exit %d, stderr %q", st, errs)
	}
	st, _, errs = runCLI(t, "", "frm", "config", "show", "-c", l.XrdConfig)
	if st != 4 || !strings.Contains(errs, "xrootd.cf:") || !strings.Contains(errs, ": frm.xfr.qcheck: must be at least 1s (is 0s)") {
		t.Errorf("config show (xrootd): exit %d, stderr %q", st, errs)
	}

	bin := buildBin(t)
	for _, cfg := range []string{l.Config, l.XrdConfig} {
		cmd := exec.Command(bin, "daemon", "-c", cfg, "-drain", "1s")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(60 * time.Second): // bounds a failure only
			cmd.Process.Kill()
			<-done
			t.Fatalf("%s: the daemon started with qcheck 0", filepath.Base(cfg))
		}
		if code := cmd.ProcessState.ExitCode(); code != 4 || !strings.Contains(stderr.String(), "qcheck: must be at least 1s") || strings.Contains(stderr.String(), "panic") {
			t.Errorf("%s: daemon exit %d, stderr:\n%s", filepath.Base(cfg), code, stderr.String())
		}
		for _, f := range []string{"frm/frm.sock", "frm/xfrd.udp"} {
			if _, err := os.Lstat(filepath.Join(l.AdminPath, f)); err == nil {
				t.Errorf("%s: %s left behind", filepath.Base(cfg), f)
			}
		}
	}
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

// TestDaemonStartFailureLeavesNoSockets: a real frm daemon whose queue
// cannot be opened exits 1 at once with a message naming the queue, and
// leaves no socket; it used to log "frm daemon running", keep its sockets
// and run the migration scan and the purger without a transfer daemon
// until it was killed. A second start (queue repaired) is not blocked by
// what the first left (the lock files stay: a lock dies with its process).
func TestDaemonStartFailureLeavesNoSockets(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts processes")
	}
	l := agentSite(t)
	q := filepath.Join(l.AdminPath, "frm", "Queues", "pstgQ.0")
	if err := os.MkdirAll(q, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := buildBin(t)
	cmd := exec.Command(bin, "daemon", "-c", l.Config, "-drain", "1s")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second): // bounds a failure only
		cmd.Process.Kill()
		<-done
		t.Fatalf("the daemon runs without its queue:\n%s", stderr.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(stderr.String(), q) || strings.Contains(stderr.String(), "daemon running") {
		t.Errorf("daemon exit %d, stderr:\n%s", code, stderr.String())
	}
	for _, f := range []string{"frm/frm.sock", "frm/xfrd.udp"} {
		if _, err := os.Lstat(filepath.Join(l.AdminPath, f)); err == nil {
			t.Errorf("%s left behind", f)
		}
	}

	os.Remove(q)
	d := exec.Command(bin, "daemon", "-c", l.Config, "-drain", "1s")
	stderr.Reset()
	d.Stderr = &stderr
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(l.AdminPath, "frm", "frm.sock")
	waitFor(t, "the second daemon's control socket", func() bool { _, err := os.Stat(sock); return err == nil })
	d.Process.Signal(syscall.SIGTERM)
	if err := d.Wait(); err != nil {
		t.Errorf("second daemon: %v\n%s", err, stderr.String())
	}
	if _, err := os.Lstat(sock); err == nil {
		t.Error("control socket left after SIGTERM")
	}
}
