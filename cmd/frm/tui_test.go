package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestTUINeedsTerminal: frm tui without a terminal says so in one line on
// standard error and exits 2, writing nothing to standard output (no
// escape codes, no hidden cursor); -h still works.
func TestTUINeedsTerminal(t *testing.T) {
	l := demoSite(t)
	const msg = "frm tui: needs a terminal (standard input and output); use frm admin for scripts\n"
	pipe := func(t *testing.T) (*os.File, *os.File) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close(); w.Close() })
		return r, w
	}
	tests := []struct {
		name   string
		args   []string
		stdio  func(t *testing.T) (io.Reader, io.Writer, func() string) // stdout's content
		status int
		stderr string
		stdout string
	}{
		{name: "buffers", args: []string{"-c", l.Config}, status: 2, stderr: msg,
			stdio: func(t *testing.T) (io.Reader, io.Writer, func() string) {
				var out bytes.Buffer
				return strings.NewReader("q"), &out, out.String
			}},
		{name: "pipes", args: []string{"-c", l.Config}, status: 2, stderr: msg,
			stdio: func(t *testing.T) (io.Reader, io.Writer, func() string) {
				in, _ := pipe(t)
				r, w := pipe(t)
				return in, w, func() string {
					w.Close()
					b, _ := io.ReadAll(r)
					return string(b)
				}
			}},
		{name: "help needs none", args: []string{"-h"}, status: 0, stdout: tuiUsage,
			stdio: func(t *testing.T) (io.Reader, io.Writer, func() string) {
				var out bytes.Buffer
				return nil, &out, out.String
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, out, stdout := tc.stdio(t)
			var errb bytes.Buffer
			st := run(context.Background(), append([]string{"frm", "tui"}, tc.args...), in, out, &errb)
			if st != tc.status || errb.String() != tc.stderr || stdout() != tc.stdout {
				t.Errorf("status %d, stderr %q, stdout %q", st, errb.String(), stdout())
			}
		})
	}

	// The binary, as a script would run it: nothing on standard output.
	if testing.Short() {
		return
	}
	cmd := exec.Command(buildBin(t), "tui", "-c", l.Config)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(""), &out, &errb
	var ee *exec.ExitError
	if err := cmd.Run(); !errors.As(err, &ee) || ee.ExitCode() != 2 || out.Len() != 0 || errb.String() != msg {
		t.Errorf("binary: %v, stdout %q, stderr %q", err, out.String(), errb.String())
	}
}
