package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestREPLInTmux drives the interactive shell in a real terminal (tmux):
// tab completion, history across sessions, Ctrl-C at the prompt, and an
// empty line leaving.
func TestREPLInTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts tmux")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux not installed")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "frm")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	l := demoSite(t)
	hist := filepath.Join(dir, "history")
	// Each session gets its own server socket: a server still shutting
	// down after kill-server must not be mistaken for the next one.
	sock := filepath.Join(dir, "tmux1.sock")
	tmux := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("tmux", append([]string{"-S", sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %q: %v\n%s", args, err, out)
		}
		return string(out)
	}
	start := func() {
		tmux("new-session", "-d", "-x", "120", "-y", "40", "-e", "FRM_HISTORY="+hist, "-e", "NO_COLOR=1", "-e", "TERM=xterm",
			bin+" admin -c "+l.Config+"; echo EXIT=$?; sleep 30")
	}
	screen := func() string { return tmux("capture-pane", "-p", "-J") }
	waitFor := func(what string) string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			s := screen()
			if strings.Contains(s, what) {
				return s
			}
			if time.Now().After(deadline) {
				t.Fatalf("screen never showed %q:\n%s", what, s)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	defer func() { exec.Command("tmux", "-S", sock, "kill-server").Run() }()

	start()
	waitFor("frm_admin> ")
	// Tab completes the command and the type word.
	tmux("send-keys", "fi", "Tab", " -r unmi", "Tab", " /sto", "Tab", "Enter")
	s := waitFor("unmigrated files found.")
	if !strings.Contains(s, "find -r unmigrated /store/") {
		t.Errorf("completion did not produce the command line:\n%s", s)
	}
	// Ctrl-C at the prompt drops the line and stays in the shell.
	tmux("send-keys", "query pfn /dropped", "C-c")
	tmux("send-keys", "query pfn /kept", "Enter")
	s = waitFor(l.LocalRoot + "/kept")
	if strings.Contains(s, l.LocalRoot+"/dropped") {
		t.Errorf("Ctrl-C did not drop the line:\n%s", s)
	}
	// An empty line leaves with status 0.
	tmux("send-keys", "Enter")
	waitFor("EXIT=0")
	tmux("kill-server")
	sock = filepath.Join(dir, "tmux2.sock")

	// History persists: Up recalls the last command of the previous session.
	b, err := os.ReadFile(hist)
	if err != nil || !strings.Contains(string(b), "query pfn /kept") {
		t.Fatalf("history file: %q %v", b, err)
	}
	start()
	waitFor("frm_admin> ")
	tmux("send-keys", "Up", "Enter")
	waitFor(l.LocalRoot + "/kept")
}
