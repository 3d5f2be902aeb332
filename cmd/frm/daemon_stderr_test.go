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

// runDaemon runs the frm binary's daemon with args and extra environment
// until it exits (bounded), and returns its exit status and stderr.
func runDaemon(t *testing.T, bin string, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"daemon"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
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
		t.Fatalf("daemon %q did not exit:\n%s", args, stderr.String())
	}
	return cmd.ProcessState.ExitCode(), stderr.String()
}

// TestDaemonStartErrorsOnStderr: frm daemon -l FILE used to print nothing
// and exit non-zero when it could not start (a missing configuration,
// another daemon running): the error was in the log file alone. Errors
// (and warnings) before the daemon runs now go to stderr too; a log in a
// directory that does not exist is refused rather than the directories
// created; a configuration with nothing in it, or without the MSS the
// transfer daemon needs, is refused before anything is created or locked.
func TestDaemonStartErrorsOnStderr(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts processes")
	}
	bin := buildBin(t)
	dir := t.TempDir()
	adm := filepath.Join(dir, "adm") // $XRDADMINPATH of configurations without admin_path
	env := []string{"XRDADMINPATH=" + adm, "JOURNAL_STREAM="}
	empty := filepath.Join(dir, "empty.toml")
	os.WriteFile(empty, []byte("# nothing yet\n"), 0o644)
	nomss := filepath.Join(dir, "nomss.toml")
	os.WriteFile(nomss, []byte("site = \"x\"\n[[export]]\npath = \"/a\"\n"), 0o644)
	log := filepath.Join(dir, "d.log")

	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		stderr  []string
		notErr  []string
		inLog   bool
		created []string // must not exist afterwards
	}{
		{"missing config", []string{"-c", filepath.Join(dir, "none.toml"), "-l", log}, 4,
			[]string{"frm daemon: configuration: no configuration file found; tried " + filepath.Join(dir, "none.toml")}, nil, true, nil},
		{"log directory missing", []string{"-c", nomss, "-l", filepath.Join(dir, "no", "such", "d.log")}, 1,
			[]string{"frm daemon: -l: " + filepath.Join(dir, "no", "such", "d.log") + ": directory " + filepath.Join(dir, "no", "such") + " does not exist"}, nil, false,
			[]string{filepath.Join(dir, "no")}},
		{"empty config", []string{"-c", empty, "-l", log}, 4,
			[]string{"frm daemon: configuration: " + empty + ": empty configuration: no [[export]] or [[space]] tables"}, nil, true, []string{adm}},
		{"no MSS", []string{"-c", nomss, "-l", log}, 4,
			[]string{"frm daemon: configuration: mss: no MSS configured"}, []string{"mss: mss:"}, true, []string{adm}},
		{"no MSS, stderr only", []string{"-c", nomss}, 4,
			[]string{"level=ERROR msg=configuration err=\"mss: no MSS configured"}, nil, false, []string{adm}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(log)
			code, errs := runDaemon(t, bin, env, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s", code, tc.code, errs)
			}
			for _, s := range tc.stderr {
				if !strings.Contains(errs, s) {
					t.Errorf("stderr lacks %q:\n%s", s, errs)
				}
			}
			for _, s := range tc.notErr {
				if strings.Contains(errs, s) {
					t.Errorf("stderr has %q:\n%s", s, errs)
				}
			}
			if tc.inLog {
				if b, _ := os.ReadFile(log); !strings.Contains(string(b), "level=ERROR") {
					t.Errorf("log file:\n%s", b)
				}
			}
			for _, p := range tc.created {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("%s was created", p)
				}
			}
		})
	}

	// A running daemon: its start's warnings on stderr (and in its log,
	// given as xrootd's -l =FILE), admin directories an old frm pstga left
	// open tightened; a second daemon on the instance says why it stops.
	l := agentSite(t)
	appendFile(t, l.XrdConfig, "\nfrm.xfr.copymx 4\n")
	qdir := filepath.Join(l.AdminPath, "frm", "Queues")
	os.MkdirAll(qdir, 0o755)
	os.Chmod(qdir, 0o755)
	os.Chmod(filepath.Dir(qdir), 0o755)
	log1 := filepath.Join(dir, "d1.log")
	d := exec.Command(bin, "daemon", "-c", l.XrdConfig, "-l", "="+log1, "-drain", "1s")
	d.Env = append(os.Environ(), env...)
	var errs1 bytes.Buffer
	d.Stderr = &errs1
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(l.AdminPath, "frm", "frm.sock")
	waitFor(t, "the daemon's control socket", func() bool { _, err := os.Stat(sock); return err == nil })
	code, errs2 := runDaemon(t, bin, env, "-c", l.Config, "-l", filepath.Join(dir, "d2.log"))
	if code != 1 || !strings.Contains(errs2, "frm daemon: cannot start: another frm daemon runs for this instance") {
		t.Errorf("second daemon: exit %d, stderr:\n%s", code, errs2)
	}
	d.Process.Signal(syscall.SIGTERM)
	if err := d.Wait(); err != nil {
		t.Errorf("first daemon: %v\n%s", err, errs1.String())
	}
	if s := errs1.String(); !strings.Contains(s, "frm daemon: warning: "+l.XrdConfig) || !strings.Contains(s, "ignoring unknown frm directive frm.xfr.copymx") ||
		!strings.Contains(s, "frm daemon: warning: tightened the permissions") || strings.Contains(s, "level=") {
		t.Errorf("first daemon's stderr:\n%s", s)
	}
	b, _ := os.ReadFile(log1)
	if !strings.Contains(string(b), "frm.xfr.copymx") || !strings.Contains(string(b), "tightened the permissions") || !strings.Contains(string(b), "frm daemon stopped") {
		t.Errorf("first daemon's log:\n%s", b)
	}
	for _, p := range []string{qdir, filepath.Dir(qdir)} {
		if st, _ := os.Stat(p); st.Mode().Perm() != 0o700 {
			t.Errorf("%s: %04o after the daemon's start", p, st.Mode().Perm())
		}
	}
}

// TestDaemonUnderJournald: a real daemon whose stderr is $JOURNAL_STREAM
// writes its lines with sd-daemon(3) priorities.
func TestDaemonUnderJournald(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts processes")
	}
	bin := buildBin(t)
	l := agentSite(t)
	f, err := os.Create(filepath.Join(t.TempDir(), "journal"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := exec.Command(bin, "daemon", "-c", l.Config, "-drain", "1s")
	d.Env = append(os.Environ(), "JOURNAL_STREAM="+journalOf(t, f))
	d.Stderr = f
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(l.AdminPath, "frm", "frm.sock")
	waitFor(t, "the daemon's control socket", func() bool { _, err := os.Stat(sock); return err == nil })
	d.Process.Signal(syscall.SIGTERM)
	if err := d.Wait(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(f.Name())
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	running := false
	for _, line := range lines {
		if len(line) < 3 || line[0] != '<' || line[2] != '>' || !strings.Contains("34567", line[1:2]) {
			t.Errorf("line without a priority: %q", line)
		}
		running = running || strings.HasPrefix(line, "<6>level=INFO msg=\"frm daemon running\"")
	}
	if !running {
		t.Errorf("no <6> running line:\n%s", b)
	}
}
