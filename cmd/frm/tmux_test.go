package main

import (
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Helpers of the tests that run frm as a process, and of those that drive
// its interactive modes in a real terminal (tmux).

// buildBin builds the frm binary into a temporary directory.
func buildBin(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "frm")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// needTmux skips a terminal test under -short or without tmux.
func needTmux(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary and starts tmux")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux not installed")
	}
}

// tmuxServer is a tmux server of the test's own (its own socket), killed
// when the test ends.
type tmuxServer struct {
	t    *testing.T
	sock string
}

func newTmux(t *testing.T, sock string) *tmuxServer {
	t.Helper()
	m := &tmuxServer{t: t, sock: sock}
	t.Cleanup(m.kill)
	return m
}

// do runs a tmux command on the server and returns its output.
func (m *tmuxServer) do(args ...string) string {
	m.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", m.sock}, args...)...).CombinedOutput()
	if err != nil {
		m.t.Fatalf("tmux %q: %v\n%s", args, err, out)
	}
	return string(out)
}

func (m *tmuxServer) kill() { exec.Command("tmux", "-S", m.sock, "kill-server").Run() }

// waitScreen captures the pane target ("" for the current one) until ok
// accepts it, and fails the test after d, showing the last screen.
func (m *tmuxServer) waitScreen(target, what string, d time.Duration, ok func(string) bool) string {
	m.t.Helper()
	args := []string{"capture-pane", "-p", "-J"}
	if target != "" {
		args = append(args, "-t", target)
	}
	deadline := time.Now().Add(d)
	for {
		s := m.do(args...)
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("screen never showed %s:\n%s", what, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
