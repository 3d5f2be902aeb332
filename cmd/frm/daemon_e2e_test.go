package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"frm/core/sitegen"
)

// patience bounds the wait for something that takes a moment on an idle
// machine. Only a failure waits that long, so it is generous: the suite
// runs on loaded machines (CI, -race, several packages at once).
const patience = 60 * time.Second

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startDaemonProc starts `frm daemon args...`; it is killed when the test
// ends, and its log (stderr) shown when the test failed.
func startDaemonProc(t *testing.T, bin string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"daemon"}, args...)...)
	log := &lockedBuffer{}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("daemon log:\n%s", log.String())
		}
	})
	return cmd
}

// TestDaemonKilledMidStageLosesNothing: a daemon SIGKILLed during a stage
// leaves nothing under the file's name, and the next daemon finishes the
// request. Requests come from xrootd's own frm_xfragent when it is
// installed, else from frm pstga.
func TestDaemonKilledMidStageLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	bin := buildBin(t)
	l := sitegen.NewLayout(filepath.Join(t.TempDir(), "site"))
	if err := l.WriteConfigs(); err != nil {
		t.Fatal(err)
	}
	// A copy command that waits for a gate, so the kill lands
	// mid-transfer however slow the machine (the gate opens for the second
	// daemon).
	gate := filepath.Join(t.TempDir(), "gate")
	cfg, _ := os.ReadFile(l.Config)
	slow := strings.Replace(string(cfg), `backend = "posix"`, `backend = "command"
copy_in = ["/bin/sh", "-c", "while [ ! -e \"$2\" ]; do sleep 0.05; done; cp \"$0\" \"$1\"", "$SRC", "$DST", "`+gate+`"]
copy_out = ["/bin/cp", "$SRC", "$DST"]`, 1)
	slow = strings.Replace(slow, "[migrate]", "[transfer]\nqcheck = \"1s\"\n\n[migrate]", 1)
	os.WriteFile(l.Config, []byte(slow), 0o644)
	lfn := "/store/e2e/big.fits"
	os.MkdirAll(filepath.Join(l.RemoteRoot, "store/e2e"), 0o755)
	os.WriteFile(filepath.Join(l.RemoteRoot, lfn), []byte("payload"), 0o644)

	daemon := func() *exec.Cmd { return startDaemonProc(t, bin, "-c", l.Config, "-only", "stage", "-drain", "2s") }
	d1 := daemon()
	sock := filepath.Join(l.AdminPath, "frm", "frm.sock")
	waitFor(t, "control socket", func() bool { _, err := os.Stat(sock); return err == nil })

	// A second daemon for the same instance refuses to start.
	out, err := exec.Command(bin, "daemon", "-c", l.Config).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "another frm daemon") {
		t.Fatalf("second daemon: %v %s", err, out)
	}

	line := "+ rk - 1 r " + lfn + "\n"
	if _, err := exec.LookPath("frm_xfragent"); err == nil {
		agent := exec.Command("frm_xfragent", "-c", l.XrdConfig)
		agent.Stdin = strings.NewReader(line)
		agent.Env = append(os.Environ(), "XRDCONFIGFN=") // xrootd reads its config from -c
		if out, err := agent.CombinedOutput(); err != nil && agent.ProcessState.ExitCode() != 8 {
			t.Fatalf("frm_xfragent: %v %s", err, out)
		}
	} else {
		agent := exec.Command(bin, "pstga", "-c", l.Config)
		agent.Stdin = strings.NewReader(line)
		if out, err := agent.CombinedOutput(); err != nil {
			t.Fatalf("frm pstga: %v %s", err, out)
		}
	}
	pfn := filepath.Join(l.LocalRoot, lfn)
	waitFor(t, "the stage to start", func() bool { _, err := os.Lstat(pfn + ".anew"); return err == nil })
	d1.Process.Signal(syscall.SIGKILL)
	d1.Wait()
	if _, err := os.Lstat(pfn); err == nil {
		t.Fatal("a killed stage left the file under its real name")
	}

	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	d2 := daemon()
	waitFor(t, "the stage to finish after the restart", func() bool {
		b, err := os.ReadFile(pfn)
		return err == nil && string(b) == "payload"
	})
	if _, err := os.Lstat(pfn + ".anew"); err == nil {
		t.Error("placeholder left")
	}
	q, _ := exec.Command(bin, "admin", "-c", l.Config, "query", "xfrq", "stage", "lfn", "rid").CombinedOutput()
	if !strings.Contains(string(q), "No entries found.") {
		t.Errorf("queue after completion: %s", q)
	}
	// SIGTERM: a clean exit.
	d2.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- d2.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("daemon exit after SIGTERM: %v", err)
		}
	case <-time.After(patience):
		t.Fatal("daemon did not stop on SIGTERM")
	}
}

// TestDaemonSIGHUPReload: a broken configuration is reported and the
// running one kept; a good one is taken.
func TestDaemonSIGHUPReload(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	bin := buildBin(t)
	l := sitegen.NewLayout(filepath.Join(t.TempDir(), "site"))
	if err := l.WriteConfigs(); err != nil {
		t.Fatal(err)
	}
	logf := filepath.Join(t.TempDir(), "daemon.log")
	cmd := exec.Command(bin, "daemon", "-c", l.Config, "-l", logf)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	logHas := func(s string) bool { b, _ := os.ReadFile(logf); return strings.Contains(string(b), s) }
	waitFor(t, "start", func() bool { return logHas("frm daemon running") })
	good, _ := os.ReadFile(l.Config)
	os.WriteFile(l.Config, append(append([]byte{}, good...), []byte("\nbogus_key = 1\n")...), 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the reload error", func() bool { return logHas("reload failed; keeping the running configuration") && logHas("bogus_key") })
	if cmd.ProcessState != nil {
		t.Fatal("daemon exited on a bad reload")
	}
	os.WriteFile(l.Config, good, 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the reload", func() bool { return logHas("configuration reloaded") })
	// A reloadable key and a restart-only one: each is named in the log,
	// the second with "restart needed".
	changed := strings.Replace(string(good), "[purge]\nwait_time = \"10m\"", "[purge]\nwait_time = \"5m\"", 1)
	changed = strings.Replace(changed, "remote_root = \""+l.RemoteRoot+"\"", "remote_root = \""+l.RemoteRoot+"2\"", 1)
	if changed == string(good) || !strings.Contains(changed, "5m") || !strings.Contains(changed, l.RemoteRoot+"2") {
		t.Fatalf("could not edit the configuration:\n%s", changed)
	}
	os.WriteFile(l.Config, []byte(changed), 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the changed keys in the log", func() bool {
		return logHas("configuration changed\" key=purge.wait_time") || logHas("configuration changed key=purge.wait_time")
	})
	if !logHas("restart needed") || !logHas("key=remote_root") {
		b, _ := os.ReadFile(logf)
		t.Errorf("the restart-only key is not named:\n%s", b)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
}
