package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestREPLInTmux drives the interactive shell in a real terminal (tmux):
// tab completion, history across sessions, Ctrl-C at the prompt, and an
// empty line leaving.
func TestREPLInTmux(t *testing.T) {
	needTmux(t)
	dir := t.TempDir()
	bin := buildBin(t)
	l := demoSite(t)
	hist := filepath.Join(dir, "history")
	// Each session gets its own server socket: a server still shutting
	// down after kill-server must not be mistaken for the next one.
	tm := newTmux(t, filepath.Join(dir, "tmux1.sock"))
	tmux := func(args ...string) string { t.Helper(); return tm.do(args...) }
	start := func() {
		tmux("new-session", "-d", "-x", "120", "-y", "40", "-e", "FRM_HISTORY="+hist, "-e", "NO_COLOR=1", "-e", "TERM=xterm",
			bin+" admin -c "+l.Config+"; echo EXIT=$?; sleep 30")
	}
	waitFor := func(what string) string {
		t.Helper()
		return tm.waitScreen("", fmt.Sprintf("%q", what), patience, func(s string) bool { return strings.Contains(s, what) })
	}

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
	tm.kill()
	tm = newTmux(t, filepath.Join(dir, "tmux2.sock"))

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
