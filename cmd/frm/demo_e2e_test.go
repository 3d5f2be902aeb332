package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDemoScript runs examples/demo.sh (what `make demo` runs) in tmux
// three times on one directory: the first creates the site and opens the
// console with the daemon up and its log tailed; quitting stops the daemon
// and prints the shell's command line. The second run reuses the site and
// its script is killed with SIGKILL (its daemon lives on); the third stops
// that leftover daemon and works again.
func TestDemoScript(t *testing.T) {
	needTmux(t)
	dir := t.TempDir()
	bin := buildBin(t)
	script, err := filepath.Abs("../../examples/demo.sh")
	if err != nil {
		t.Fatal(err)
	}
	site := filepath.Join(dir, "demo")
	cfg := filepath.Join(site, "frm.toml")
	pidfile := filepath.Join(site, "daemon.pid")
	tm := newTmux(t, filepath.Join(dir, "tmux.sock"))
	tmux := tm.do
	t.Cleanup(func() {
		if b, err := os.ReadFile(pidfile); err == nil { // a daemon we left behind
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	waitScreen := tm.waitScreen
	daemonPID := func() int {
		t.Helper()
		b, err := os.ReadFile(pidfile)
		if err != nil {
			t.Fatalf("no daemon pid file: %v", err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		return pid
	}
	alive := func(pid int) bool { return syscall.Kill(pid, 0) == nil }
	// start opens a tmux window running the script and waits for the
	// console with the daemon up (Daemons view, log tailed).
	start := func(win string) string {
		t.Helper()
		tmux("new-window", "-d", "-n", win, "-e", "TERM=xterm",
			"sh "+script+" "+bin+" "+site+"; echo EXIT=$?; sleep 60")
		waitScreen(win, "the console", patience, func(s string) bool { return strings.Contains(s, "[1 Spaces]") })
		tmux("send-keys", "-t", win, "5")
		return waitScreen(win, "the daemon up with its log", patience, func(s string) bool {
			return strings.Contains(s, "frm daemon pid") && strings.Contains(s, "daemon log "+filepath.Join(site, "daemon.log")) &&
				strings.Contains(s, " INFO ")
		})
	}
	quit := func(win string) string {
		t.Helper()
		tmux("send-keys", "-t", win, "q")
		return waitScreen(win, "the script's end", patience, func(s string) bool { return strings.Contains(s, "EXIT=0") })
	}
	tmux("new-session", "-d", "-x", "120", "-y", "30", "-n", "boot", "sleep 300")

	// 1: creates the site; quitting stops the daemon, prints the shell line.
	start("one")
	pid := daemonPID()
	s := quit("one")
	if !strings.Contains(s, "demo site created in "+site) || !strings.Contains(s, bin+" admin -c "+cfg) {
		t.Errorf("run 1 output:\n%s", s)
	}
	waitFor(t, "the daemon of run 1 to stop", func() bool { return !alive(pid) })
	if _, err := os.Stat(pidfile); err == nil {
		t.Errorf("pid file left behind")
	}

	// 2: the site is reused; the script dies without cleaning up.
	start("two")
	pid = daemonPID()
	st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(st[strings.LastIndexByte(string(st), ')')+1:]))
	ppid, _ := strconv.Atoi(f[1]) // the script's shell
	if err := syscall.Kill(ppid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if !alive(pid) {
		t.Fatalf("the daemon died with its script; nothing left to test")
	}

	// 3: the leftover daemon is stopped, a new one runs.
	s = start("three")
	if !alive(daemonPID()) || daemonPID() == pid {
		t.Errorf("run 3 runs daemon %d (leftover %d)", daemonPID(), pid)
	}
	waitFor(t, "the leftover daemon to stop", func() bool { return !alive(pid) })
	s = quit("three")
	if strings.Contains(s, "demo site created") || !strings.Contains(s, "stopping the daemon of an earlier run (pid "+strconv.Itoa(pid)+")") {
		t.Errorf("run 3 output:\n%s", s)
	}
}
