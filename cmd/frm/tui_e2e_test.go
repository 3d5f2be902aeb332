package main

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTUIInTmux drives `frm tui` in a real terminal (tmux) against a demo
// site with a running daemon: a file whose data is gone is staged from the
// Namespace view (S) from the mass storage system (through a slow copy
// command); it appears in the Queues view with its progress while it is
// copied, then leaves the queue, the file is back, and the Daemons view
// tails the daemon's log (--daemon-log).
func TestTUIInTmux(t *testing.T) {
	needTmux(t)
	dir := t.TempDir()
	bin := buildBin(t)
	site := filepath.Join(dir, "site")
	if out, err := exec.Command(bin, "demo", "-files", "200", site).CombinedOutput(); err != nil {
		t.Fatalf("frm demo: %v\n%s", err, out)
	}
	cfgPath := filepath.Join(site, "frm.toml")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	// The copy waits for a gate, opened once the console has shown the
	// transfer running (a 3 s sleep could end before a loaded machine
	// drew the Queues view).
	gate := filepath.Join(dir, "gate")
	slow := strings.Replace(string(cfg), `backend = "posix"`, `backend = "command"
copy_in = ["/bin/sh", "-c", "while [ ! -e \"$2\" ]; do sleep 0.05; done; cp \"$0\" \"$1\"", "$SRC", "$DST", "`+gate+`"]
copy_out = ["/bin/cp", "$SRC", "$DST"]`, 1)
	if slow == string(cfg) {
		t.Fatal(`no backend = "posix" in the demo configuration`)
	}
	if err := os.WriteFile(cfgPath, []byte(slow), 0o644); err != nil {
		t.Fatal(err)
	}

	// A file of the namespace with a copy in the MSS: delete its data file
	// (its namespace link dangles, its MSS copy stays), to stage it back
	// from the console.
	mss, ns := filepath.Join(site, "mss"), filepath.Join(site, "ns")
	var lfn string
	filepath.WalkDir(mss, func(p string, d fs.DirEntry, err error) error {
		if err != nil || lfn != "" || !d.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(mss, p)
		if fi, err := os.Lstat(filepath.Join(ns, rel)); err == nil && fi.Mode()&os.ModeSymlink != 0 && strings.HasPrefix(rel, "store/") {
			lfn = "/" + rel
		}
		return nil
	})
	if lfn == "" {
		t.Fatal("no migrated file in the demo site")
	}
	pfn := filepath.Join(ns, lfn)
	data, err := os.Readlink(pfn)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(data); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(pfn); err == nil {
		t.Fatalf("%s still resident", lfn)
	}
	want, err := os.ReadFile(filepath.Join(mss, lfn))
	if err != nil {
		t.Fatalf("the MSS copy went: %v", err)
	}

	logPath := filepath.Join(dir, "daemon.log")
	daemon := exec.Command(bin, "daemon", "-c", cfgPath, "-l", logPath)
	var dout bytes.Buffer
	daemon.Stdout, daemon.Stderr = &dout, &dout
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		daemon.Process.Kill()
		daemon.Wait()
		if t.Failed() {
			dlog, _ := os.ReadFile(logPath)
			t.Logf("daemon output:\n%s\ndaemon log:\n%s", dout.String(), dlog)
		}
	})
	waitFor(t, "the daemon's control socket", func() bool {
		m, _ := filepath.Glob(filepath.Join(site, "admin", "*", "frm.sock"))
		m2, _ := filepath.Glob(filepath.Join(site, "admin", "frm.sock"))
		return len(m)+len(m2) > 0
	})

	tm := newTmux(t, filepath.Join(dir, "tmux.sock")) // a server of our own
	tmux := tm.do
	// Wide enough for the whole lfn in the Queues view.
	tmux("new-session", "-d", "-x", "200", "-y", "30", "-e", "TERM=xterm",
		bin+" tui -c "+cfgPath+" --daemon-log "+logPath+" "+path.Dir(lfn)+"; echo EXIT=$?; sleep 30")
	waitScreen := func(what string, d time.Duration, ok func(string) bool) string {
		t.Helper()
		return tm.waitScreen("", what, d, ok)
	}
	waitScreen("the Spaces view", patience, func(s string) bool { return strings.Contains(s, "[1 Spaces]") && strings.Contains(s, "public") })
	// Stage the dangling file from the Namespace view (it starts in the
	// file's directory): filter down to it, S.
	base := path.Base(lfn)
	tmux("send-keys", "2")
	waitScreen("the Namespace view with the file", patience, func(s string) bool {
		return strings.Contains(s, "[2 Namespace]") && strings.Contains(s, base) && strings.Contains(s, "dangling")
	})
	tmux("send-keys", "/")
	tmux("send-keys", "-l", base)
	tmux("send-keys", "Enter")
	tmux("send-keys", "S")
	s := waitScreen("the stage queued", patience, func(s string) bool { return strings.Contains(s, "stage: 1 of 1 file queued as frm-") })
	rid := ""
	for _, f := range strings.Fields(s[strings.Index(s, "queued as frm-"):]) {
		if strings.HasPrefix(f, "frm-") {
			rid = strings.TrimRight(f, ";")
			break
		}
	}
	tmux("send-keys", "3")
	waitScreen("the Queues view with the daemon up", patience, func(s string) bool {
		return strings.Contains(s, "[3 Queues]") && strings.Contains(s, "daemon up")
	})
	row := func(s string) string {
		for _, l := range strings.Split(s, "\n") {
			if strings.Contains(l, lfn) && strings.Contains(l, rid[:9]) { // the rid column is cut to 9 cells and …
				return l
			}
		}
		return ""
	}
	s = waitScreen("the transfer running with its progress", patience, func(s string) bool {
		r := row(s)
		return strings.Contains(r, "stage") && (strings.Contains(r, "running") || strings.Contains(r, "%"))
	})
	t.Logf("while staging:\n%s", row(s))
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s = waitScreen("the transfer gone from the queue", patience, func(s string) bool {
		_, err := os.Stat(pfn)
		return row(s) == "" && err == nil && strings.Contains(s, "running 0")
	})
	t.Logf("after the stage:\n%s", strings.SplitN(s, "\n", 3)[1])
	got, err := os.ReadFile(pfn)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("staged file: %v (%d bytes, want %d)", err, len(got), len(want))
	}

	// The Daemons view shows the daemon, the stage event and the
	// daemon's log line about it.
	tmux("send-keys", "5")
	waitScreen("the Daemons view", patience, func(s string) bool {
		return strings.Contains(s, "frm daemon pid") && strings.Contains(s, "done") && strings.Contains(s, lfn) &&
			strings.Contains(s, "daemon log "+logPath) && strings.Contains(s, "INFO transfer complete component=transfer kind=stage")
	})
	tmux("send-keys", "q")
	waitScreen("frm tui to exit", patience, func(s string) bool { return strings.Contains(s, "EXIT=0") })
}
