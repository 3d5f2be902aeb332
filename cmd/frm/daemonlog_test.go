package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// journalOf returns the $JOURNAL_STREAM value naming f.
func journalOf(t *testing.T, f *os.File) string {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}

// TestJournalPriorities: under journald (stderr is $JOURNAL_STREAM) each
// line carries its sd-daemon(3) priority, so journalctl -p filters, and no
// time; anywhere else (no variable, another stream, a log file) neither.
func TestJournalPriorities(t *testing.T) {
	dir := t.TempDir()
	other, _ := os.Create(filepath.Join(dir, "other"))
	defer other.Close()
	for _, tc := range []struct {
		name    string
		journal string // "self", "other", "" (unset), or a literal value
		format  string
		toFile  bool
		prefix  bool
	}{
		{"journal text", "self", "text", false, true},
		{"journal json", "self", "json", false, true},
		{"no journal", "", "text", false, false},
		{"stderr redirected elsewhere", "other", "text", false, false},
		{"garbage variable", "x:y", "text", false, false},
		{"log file", "self", "text", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			switch tc.journal {
			case "self":
				t.Setenv("JOURNAL_STREAM", journalOf(t, f))
			case "other":
				t.Setenv("JOURNAL_STREAM", journalOf(t, other))
			default:
				t.Setenv("JOURNAL_STREAM", tc.journal)
			}
			var file bytes.Buffer
			var out io.Writer = f
			if tc.toFile {
				out = &file
			}
			log, err := daemonLogger(out, f, tc.toFile, true, tc.format)
			if err != nil {
				t.Fatal(err)
			}
			sub := log.With("component", "x").WithGroup("g")
			log.Debug("d")
			log.Info("i", "k", "multi\nline")
			sub.Warn("w")
			log.Error("e", "err", errors.New("boom"))
			got := file.String()
			if !tc.toFile {
				b, _ := os.ReadFile(f.Name())
				got = string(b)
			}
			lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
			if len(lines) != 4 {
				t.Fatalf("%d lines:\n%s", len(lines), got)
			}
			for i, p := range []string{"<7>", "<6>", "<4>", "<3>"} {
				if has := strings.HasPrefix(lines[i], p); has != tc.prefix {
					t.Errorf("line %d %q: prefix %s %v, want %v", i, lines[i], p, has, tc.prefix)
				}
				if hasTime := strings.Contains(lines[i], "time"); hasTime == tc.prefix {
					t.Errorf("line %d %q: time shown %v under journald %v", i, lines[i], hasTime, tc.prefix)
				}
			}
		})
	}
}

// TestStartTee: with a log file, the warnings and errors of the start are
// written to stderr too, one line each, until the daemon runs.
func TestStartTee(t *testing.T) {
	var file, stderr bytes.Buffer
	log, err := daemonLogger(&file, &stderr, true, false, "text")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("starting")
	log.Warn("x.cf:3: ignoring unknown frm directive frm.xfr.copymx")
	log.With("component", "transfer").Warn("slow", "n", 2)
	log.Error("cannot start", "err", errors.New("boom"))
	log.Info(daemonRunning, "admin", "/a")
	log.Error("later", "err", errors.New("runtime"))
	want := "frm daemon: warning: x.cf:3: ignoring unknown frm directive frm.xfr.copymx\n" +
		"frm daemon: warning: slow component=transfer n=2\n" +
		"frm daemon: cannot start: boom\n"
	if stderr.String() != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr.String(), want)
	}
	if n := strings.Count(file.String(), "\n"); n != 6 {
		t.Errorf("log file has %d lines:\n%s", n, file.String())
	}

	// Under journald (systemd with -l FILE) those lines carry their
	// priority too.
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	t.Setenv("JOURNAL_STREAM", journalOf(t, f))
	file.Reset()
	log, err = daemonLogger(&file, f, true, false, "text")
	if err != nil {
		t.Fatal(err)
	}
	log.Warn("w")
	log.Error("cannot start", "err", errors.New("boom"))
	if b, _ := os.ReadFile(f.Name()); string(b) != "<4>frm daemon: warning: w\n<3>frm daemon: cannot start: boom\n" {
		t.Errorf("stderr under journald: %q", b)
	}
	if strings.Contains(file.String(), "<") {
		t.Errorf("the log file got priorities: %s", file.String())
	}
}
