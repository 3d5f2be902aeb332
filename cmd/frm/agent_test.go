package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"frm/core/config"
	"frm/core/sitegen"
	"frm/core/xrdq"
)

// agentSite writes a small site's configuration (no files) for frm pstga.
func agentSite(t *testing.T) sitegen.Layout {
	t.Helper()
	l := sitegen.NewLayout(filepath.Join(t.TempDir(), "site"))
	if err := l.WriteConfigs(); err != nil {
		t.Fatal(err)
	}
	return l
}

// queued lists "rid lfn" of every stage request queued at the site.
func queued(t *testing.T, l sitegen.Layout) []string {
	t.Helper()
	cfg, err := config.Load(l.Config, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	err = xrdq.Open(cfg.QueueDir()).List([]xrdq.Kind{xrdq.Stage}, -1, func(r xrdq.Request) error {
		got = append(got, r.ID+" "+r.Path())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func runAgent(t *testing.T, l sitegen.Layout, stdin io.Reader) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	st := run(context.Background(), []string{"frm", "pstga", "-c", l.Config}, stdin, &out, &errb)
	return st, out.String(), errb.String()
}

// TestPstgaLongLineRefusedRestKept: a line longer than the agent's line
// limit is refused with a message naming it, and the lines after it are
// still read and queued (a bufio.Scanner used to stop there, exit 0 and
// say nothing).
func TestPstgaLongLineRefusedRestKept(t *testing.T) {
	l := agentSite(t)
	long := "+ r2 - 0 r /store/" + strings.Repeat("x", 2<<20)
	in := "+ r1 - 0 r /store/a\n" + long + "\n+ r3 - 0 r /store/b\n" + long // the last one without a newline
	st, out, errs := runAgent(t, l, strings.NewReader(in))
	if st != 1 {
		t.Errorf("exit %d, want 1 (stdout %q)", st, out)
	}
	for _, want := range []string{"line 2: ", "line 4: ", "too long"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%.300s", want, errs)
		}
	}
	if len(errs) > 2000 {
		t.Errorf("stderr repeats the long line (%d bytes)", len(errs))
	}
	if got, want := strings.Join(queued(t, l), ","), "r1 /store/a,r3 /store/b"; got != want {
		t.Errorf("queued %q, want %q", got, want)
	}
}

// TestPstgaRefusesNULAndEscapingNames: a line holding a NUL byte is
// refused whole (it used to be queued cut at the NUL, naming another
// file); a name climbing above the root with .. is refused (the daemon
// refuses it later); the other names of the line and the other lines go
// in, and every message names its line.
func TestPstgaRefusesNULAndEscapingNames(t *testing.T) {
	l := agentSite(t)
	in := strings.Join([]string{
		"+ r1 - 0 r /store/nul\x00.dat",
		"+ r2 - 0 r /store/../../etc/passwd /store/ok2 /../x",
		"+ r3 - 0 r /store/ok3",
		"+ r4 - 0 r root://h.ex//store/../../x root://h.ex//store/a/../ok4",
		"+ r5 - 0 r /store/" + strings.Repeat("c", 256),
	}, "\n") + "\n"
	st, _, errs := runAgent(t, l, strings.NewReader(in))
	if st != 1 {
		t.Errorf("exit %d, want 1", st)
	}
	for _, want := range []string{
		`line 1: `, `NUL`,
		`line 2: `, `"/store/../../etc/passwd"`, `"/../x"`, `climbs above the namespace root`,
		`line 4: `, `"root://h.ex//store/../../x"`,
		`line 5: `, `path component too long`,
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	if strings.Contains(errs, "line 3") {
		t.Errorf("line 3 is fine:\n%s", errs)
	}
	got := strings.Join(queued(t, l), ",")
	if want := "r2 /store/ok2,r3 /store/ok3,r4 /store/a/../ok4"; got != want {
		t.Errorf("queued %q, want %q", got, want)
	}
}

type failingReader struct{ data io.Reader }

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.data.Read(p)
	if err == io.EOF {
		return n, errors.New("input/output error")
	}
	return n, err
}

// TestPstgaReadErrorReported: an error reading stdin is reported and the
// exit is non-zero; what was read before it is queued.
func TestPstgaReadErrorReported(t *testing.T) {
	l := agentSite(t)
	st, _, errs := runAgent(t, l, &failingReader{strings.NewReader("+ r1 - 0 r /store/a\n")})
	if st != 1 || !strings.Contains(errs, "input/output error") {
		t.Errorf("exit %d, stderr %q", st, errs)
	}
	if got := strings.Join(queued(t, l), ","); got != "r1 /store/a" {
		t.Errorf("queued %q", got)
	}
}
