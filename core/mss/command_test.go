package mss_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"frm/core/mss"
	"frm/core/mss/msstest"
)

// The copy commands of the brief: /bin/cp in, a shell wrapper out. The
// shell is the administrator's program; the data arrive as separate
// arguments ($0, $1 of the script), never inside the script text.
var (
	cpIn  = []string{"/bin/cp", "$SRC", "$DST"}
	cpOut = []string{"/bin/sh", "-c", `mkdir -p "$(dirname "$1")" && cp "$0" "$1"`, "$SRC", "$DST"}
	// cpIn2 follows xrootd's convention: exit status 2 for a missing file.
	cpIn2 = []string{"/bin/sh", "-c", `test -e "$0" || { echo "no such file: $0" >&2; exit 2; }; exec cp "$0" "$1"`, "$SRC", "$DST"}
	// mvCmd renames without replacing (ln fails on an existing name).
	mvCmd = []string{"/bin/sh", "-c", `mkdir -p "$(dirname "$1")" && ln -- "$0" "$1" && rm -- "$0"`, "$SRC", "$DST"}
	// mvCmd2 is mvCmd with exit status 2 for a missing source.
	mvCmd2 = []string{"/bin/sh", "-c", `test -e "$0" || exit 2; mkdir -p "$(dirname "$1")" && ln -- "$0" "$1" && rm -- "$0"`, "$SRC", "$DST"}
)

func newCommand(t *testing.T, o mss.CommandOptions) *mss.Command {
	t.Helper()
	b, err := mss.NewCommand(o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCommandConformance: cp as copy command, with the MSS tree visible
// locally (RemoteRoot), so Stat and Remove work.
func TestCommandConformance(t *testing.T) {
	root := filepath.Join(t.TempDir(), "mss")
	os.MkdirAll(root, 0o755)
	b := newCommand(t, mss.CommandOptions{CopyIn: cpIn, CopyOut: cpOut, Rename: mvCmd, RemoteRoot: root, Timeout: time.Minute})
	msstest.Run(t, b, func(lfn string) string { return root + lfn })
}

// TestCommandConformanceOpaque: the same without a local view of the MSS:
// Stat of a missing name is ErrNoStat, Remove is not supported, and the
// copy-in command reports a missing file with exit status 2.
func TestCommandConformanceOpaque(t *testing.T) {
	root := filepath.Join(t.TempDir(), "mss")
	b := newCommand(t, mss.CommandOptions{CopyIn: cpIn2, CopyOut: cpOut, Rename: mvCmd2})
	msstest.Run(t, b, func(lfn string) string { return root + lfn })
	if _, err := b.Stat(context.Background(), root+"/none"); !errors.Is(err, mss.ErrNoStat) || mss.IsNotExist(err) {
		t.Errorf("Stat without a local view: %v, want ErrNoStat", err)
	}
	if err := b.Remove(context.Background(), root+"/none"); !errors.Is(err, mss.ErrNotSupported) || !mss.IsPermanent(err) {
		t.Errorf("Remove without a local view: %v, want permanent ErrNotSupported", err)
	}
}

// recorder writes a script that stores its arguments, NUL separated, in
// out (given as its first argument) and copies $SRC to $DST when asked.
func recorder(t *testing.T) (script string) {
	t.Helper()
	script = filepath.Join(t.TempDir(), "record.sh")
	body := `#!/bin/sh
out=$1; shift
: > "$out"
for a in "$@"; do printf '%s\0' "$a" >> "$out"; done
`
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return script
}

func readArgv(t *testing.T, out string) []string {
	t.Helper()
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}

// TestCommandArgv: every variable reaches the program as one literal
// argument, whatever the lfn and the CGI contain.
func TestCommandArgv(t *testing.T) {
	rec := recorder(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "argv")
	lfn := `/stg/a b;c 'q' "d" $(touch pwned) ` + "`id`" + ` $SRC \$x *`
	req := mss.Request{
		LFN: lfn, RFN: "/mss" + lfn, PFN: "/ns" + lfn, RID: "rq1", TID: "tidX",
		Priority: 9, Mode: 'w', CGI: "foo=FOO VAL;x&oss.cgroup=pub&SRC=hijack",
	}
	vars := []string{"$SRC", "$DST", "$LFN", "$PFN", "$RFN", "$RID", "$TID", "$PRTY", "$FMODE", "$OFLAG", "$OPTS", "$CGI", "$foo", "$oss.cgroup", "$nope", `\$SRC`, "x=$LFN="}
	argv := append([]string{"/bin/sh", rec, out}, vars...)
	b := newCommand(t, mss.CommandOptions{CopyIn: argv, CopyOut: argv})

	dst := filepath.Join(dir, "sub", "dst")
	// The recorder does not create dst: Fetch must fail and say so.
	if _, err := b.Fetch(context.Background(), req, dst, ""); err == nil || !strings.Contains(err.Error(), "left no file") {
		t.Errorf("Fetch with a command that leaves no file: %v", err)
	}
	want := []string{"/mss" + lfn, dst, lfn, dst, "/mss" + lfn, "rq1", "tidX", "9", "11", "w", "0",
		"&foo=FOO VAL;x&oss.cgroup=pub&SRC=hijack", "FOO VAL;x", "pub", "$nope", "$SRC", "x=" + lfn + "="}
	if got := readArgv(t, out); strings.Join(got, "\x00") != strings.Join(want, "\x00") {
		t.Errorf("Fetch argv\n got %q\nwant %q", got, want)
	}

	src := filepath.Join(dir, "src")
	os.WriteFile(src, []byte("data"), 0o644)
	if _, err := b.Store(context.Background(), req, src, ""); err != nil {
		t.Fatal(err)
	}
	want[0], want[1], want[3] = src, "/mss"+lfn, "/ns"+lfn
	if got := readArgv(t, out); strings.Join(got, "\x00") != strings.Join(want, "\x00") {
		t.Errorf("Store argv\n got %q\nwant %q", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
		t.Error("the lfn was executed")
	}
}

// TestCommandScriptNotInjectable: CGI keys named like the positional
// parameters of an sh -c script do not change the script text.
func TestCommandScriptNotInjectable(t *testing.T) {
	root := t.TempDir()
	b := newCommand(t, mss.CommandOptions{CopyOut: cpOut})
	src := filepath.Join(root, "src")
	os.WriteFile(src, []byte("data"), 0o644)
	rfn := filepath.Join(root, "mss", "out")
	req := mss.Request{RFN: rfn, CGI: "0=;touch${IFS}" + root + "/pwned;&1=x&dirname=evil"}
	if _, err := b.Store(context.Background(), req, src, ""); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(rfn); string(got) != "data" {
		t.Errorf("copy = %q", got)
	}
	if _, err := os.Stat(filepath.Join(root, "pwned")); err == nil {
		t.Error("CGI data was executed")
	}
}

func script(t *testing.T, body string) []string {
	t.Helper()
	return []string{"/bin/sh", "-c", body, "$SRC", "$DST"}
}

// TestCommandExitStatus: the exit status decides the error class; the
// command's stderr is in the message. Any non-zero status but 2 and the
// configured permanent ones is a passing fault (a tape front end failing
// briefly); a program that cannot start is an outage of the MSS.
func TestCommandExitStatus(t *testing.T) {
	for _, tc := range []struct {
		name     string
		argv     []string
		timeout  time.Duration
		class    func(error) bool
		contains string
	}{
		{"status 1", script(t, "echo cp: failure reason >&2; exit 1"), 0, mss.IsTransient, "ended with status 1: cp: failure reason"},
		{"status 2", script(t, "echo gone >&2; exit 2"), 0, mss.IsNotExist, "status 2 (file not found): gone"},
		{"status 3", script(t, "exit 3"), 0, mss.IsTransient, "ended with status 3"},
		{"permanent status", script(t, "exit 14"), 0, mss.IsPermanent, "ended with status 14 (a permanent failure"},
		{"signal", script(t, "kill -9 $$"), 0, mss.IsTransient, "killed by signal 9"},
		{"sigterm", script(t, "kill -TERM $$"), 0, mss.IsTransient, "killed by signal 15"},
		{"timeout", script(t, "sleep 30"), 200 * time.Millisecond, mss.IsTransient, "timed out after 200ms"},
		{"no program", []string{"/nonexistent/copy", "$SRC"}, 0, mss.IsOutage, "/nonexistent/copy"},
		{"not executable", []string{"/etc/passwd"}, 0, mss.IsOutage, "permission denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			b := newCommand(t, mss.CommandOptions{CopyIn: tc.argv, CopyOut: tc.argv, Timeout: tc.timeout, PermanentStatus: []int{14, 15}})
			dst := filepath.Join(dir, "dst")
			os.WriteFile(dst, []byte("stale"), 0o644)
			start := time.Now()
			_, err := b.Fetch(context.Background(), mss.Request{RFN: "/mss/x"}, dst, "adler32")
			if !tc.class(err) || err == nil || !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("Fetch: err = %v, want class %s containing %q", err, tc.name, tc.contains)
			}
			if time.Since(start) > 10*time.Second {
				t.Errorf("Fetch took %v", time.Since(start))
			}
			if _, err := os.Stat(dst); err == nil {
				t.Error("dst left after a failed Fetch")
			}
			src := filepath.Join(dir, "src")
			os.WriteFile(src, []byte("data"), 0o644)
			if _, err := b.Store(context.Background(), mss.Request{RFN: "/mss/x"}, src, ""); !tc.class(err) {
				t.Errorf("Store: err = %v", err)
			}
		})
	}
}

// TestCommandProbe: a missing or non-executable program, or a local
// remote root that is gone, is an outage; a working set-up probes fine.
func TestCommandProbe(t *testing.T) {
	dir := t.TempDir()
	ok := newCommand(t, mss.CommandOptions{CopyIn: []string{"/bin/cp", "$SRC", "$DST"}, RemoteRoot: dir})
	if err := ok.Probe(context.Background()); err != nil {
		t.Errorf("probe of a working command: %v", err)
	}
	for _, o := range []mss.CommandOptions{
		{CopyIn: []string{"/nonexistent/copy"}},
		{CopyIn: []string{"/bin/cp"}, CopyOut: []string{"/etc/passwd"}},
		{CopyIn: []string{"/bin/cp"}, RemoteRoot: filepath.Join(dir, "unmounted")},
	} {
		if err := newCommand(t, o).Probe(context.Background()); !mss.IsOutage(err) {
			t.Errorf("probe of %+v = %v, want an outage", o, err)
		}
	}
}

// TestCommandStderrBounded: only the last 4 KiB of stderr are kept.
func TestCommandStderrBounded(t *testing.T) {
	b := newCommand(t, mss.CommandOptions{CopyIn: script(t, `i=0; while [ $i -lt 2000 ]; do echo "line $i" >&2; i=$((i+1)); done; echo LAST >&2; exit 1`)})
	_, err := b.Fetch(context.Background(), mss.Request{RFN: "/x"}, filepath.Join(t.TempDir(), "d"), "")
	if err == nil || len(err.Error()) > 4096+200 || !strings.HasSuffix(err.Error(), "LAST") || strings.Contains(err.Error(), "line 0\n") {
		t.Errorf("error of %d bytes: %.200q…", len(err.Error()), err)
	}
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// waitDead waits up to 30 s for pid to disappear (it may be a zombie
// reaped by init for a moment).
func waitDead(pid int) bool {
	for range 600 {
		if !alive(pid) {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// TestCommandKillsGroup: a timeout or a cancellation kills the whole
// process group, background children included, and returns promptly.
func TestCommandKillsGroup(t *testing.T) {
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		cancel  bool
		check   func(error) bool
	}{
		// The timeout leaves the script time to start its child however
		// loaded the machine (300 ms did not always); the cancellation
		// comes once the child's pid is written.
		{"timeout", 3 * time.Second, false, mss.IsTransient},
		{"cancel", 0, true, func(err error) bool {
			return errors.Is(err, context.Canceled) && !mss.IsTransient(err) && !mss.IsPermanent(err)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			pidFile := filepath.Join(dir, "child.pid")
			argv := script(t, `sleep 60 & echo $! > "`+pidFile+`.tmp"; mv "`+pidFile+`.tmp" "`+pidFile+`"; sleep 60; cp "$0" "$1"`)
			b := newCommand(t, mss.CommandOptions{CopyIn: argv, Timeout: tc.timeout})
			ctx := context.Background()
			if tc.cancel {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				defer cancel()
				go func() {
					for ctx.Err() == nil {
						if _, err := os.Stat(pidFile); err == nil {
							cancel()
							return
						}
						time.Sleep(10 * time.Millisecond)
					}
				}()
			}
			dst := filepath.Join(dir, "dst")
			start := time.Now()
			_, err := b.Fetch(ctx, mss.Request{RFN: "/x"}, dst, "")
			// The script sleeps a minute: well under that means it was
			// stopped, generously for a loaded machine.
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("returned after %v", d)
			}
			if !tc.check(err) {
				t.Errorf("err = %v", err)
			}
			raw, rerr := os.ReadFile(pidFile)
			pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
			if rerr != nil || pid <= 0 {
				t.Fatalf("no child pid: %v", rerr)
			}
			if !waitDead(pid) {
				t.Errorf("background child %d survived", pid)
				syscall.Kill(pid, syscall.SIGKILL)
			}
		})
	}
}

// TestCommandNoSigkillRace: a command that closes its output and then
// takes a while to exit is waited for (xrootd 5.5.3 would SIGKILL it and
// report a good copy as failed).
func TestCommandNoSigkillRace(t *testing.T) {
	dir := t.TempDir()
	b := newCommand(t, mss.CommandOptions{CopyIn: script(t, `exec >/dev/null 2>&1; cp "$0" "$1"; sleep 0.3; exit 0`)})
	src := filepath.Join(dir, "src")
	os.WriteFile(src, []byte("payload"), 0o644)
	res, err := b.Fetch(context.Background(), mss.Request{RFN: src}, filepath.Join(dir, "dst"), "adler32")
	if err != nil || res.Bytes != 7 || res.Checksum == nil {
		t.Errorf("Fetch = %+v, %v", res, err)
	}
}

// TestCommandStoreModified: a source changed during the copy fails the
// store with ErrModified (Transient).
func TestCommandStoreModified(t *testing.T) {
	dir := t.TempDir()
	b := newCommand(t, mss.CommandOptions{CopyOut: script(t, `cp "$0" "$1"; echo more >> "$0"`)})
	src := filepath.Join(dir, "src")
	os.WriteFile(src, []byte("data"), 0o644)
	_, err := b.Store(context.Background(), mss.Request{RFN: filepath.Join(dir, "out")}, src, "adler32")
	if !errors.Is(err, mss.ErrModified) || !mss.IsTransient(err) {
		t.Errorf("err = %v, want a transient ErrModified", err)
	}
}

// TestCommandURL: URL rfns use the URL commands, and fail permanently
// without them.
func TestCommandURL(t *testing.T) {
	dir := t.TempDir()
	rec := recorder(t)
	out := filepath.Join(dir, "argv")
	b := newCommand(t, mss.CommandOptions{CopyIn: cpIn})
	url := "root://mss.example.org//store/x.dat"
	if _, err := b.Fetch(context.Background(), mss.Request{RFN: url}, filepath.Join(dir, "d"), ""); !errors.Is(err, mss.ErrNotSupported) || !mss.IsPermanent(err) {
		t.Errorf("URL fetch without copy_in_url: %v", err)
	}
	if _, err := b.Store(context.Background(), mss.Request{RFN: "/x"}, "/etc/passwd", ""); !errors.Is(err, mss.ErrNotSupported) {
		t.Errorf("store without copy_out: %v", err)
	}
	b = newCommand(t, mss.CommandOptions{CopyIn: cpIn, CopyInURL: []string{"/bin/sh", rec, out, "url", "$SRC"}})
	b.Fetch(context.Background(), mss.Request{RFN: url}, filepath.Join(dir, "d"), "")
	if got := readArgv(t, out); len(got) != 2 || got[0] != "url" || got[1] != url {
		t.Errorf("URL command argv = %q", got)
	}
}

// TestCommandFetchChecksum: the checksum of a command fetch is that of
// the file it left.
func TestCommandFetchChecksum(t *testing.T) {
	dir := t.TempDir()
	b := newCommand(t, mss.CommandOptions{CopyIn: cpIn})
	src := filepath.Join(dir, "src")
	os.WriteFile(src, []byte("hello world\n"), 0o644)
	dst := filepath.Join(dir, "deep", "er", "dst")
	res, err := b.Fetch(context.Background(), mss.Request{RFN: src}, dst, "crc32")
	// xrootd's crc32 is POSIX cksum: `printf 'hello world\n' | cksum`.
	if err != nil || res.Checksum == nil || *res.Checksum != (mss.Checksum{Alg: "crc32", Hex: "de86ec5d"}) || res.Bytes != 12 {
		t.Errorf("Fetch = %+v %v, %v", res, res.Checksum, err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, []byte("hello world\n")) {
		t.Errorf("dst = %q", got)
	}
}

func TestNewCommandErrors(t *testing.T) {
	for _, o := range []mss.CommandOptions{{}, {CopyIn: []string{""}}} {
		if _, err := mss.NewCommand(o); !mss.IsPermanent(err) {
			t.Errorf("NewCommand(%+v) = %v, want a permanent error", o, err)
		}
	}
}

// TestCommandViewGone: with the local view of the MSS gone (unmounted), a
// failing copy and a Stat are outages, not a missing file or a passing
// fault that would end in a .fail once retried.
func TestCommandViewGone(t *testing.T) {
	root := filepath.Join(t.TempDir(), "mss")
	os.MkdirAll(filepath.Join(root, "d"), 0o755)
	os.WriteFile(filepath.Join(root, "d", "f"), []byte("x"), 0o644)
	b := newCommand(t, mss.CommandOptions{CopyIn: cpIn, CopyOut: cpOut, RemoteRoot: root})
	ctx := context.Background()
	if _, err := b.Stat(ctx, root+"/d/none"); !mss.IsNotExist(err) {
		t.Fatalf("Stat of a missing file with the view there: %v", err)
	}
	os.Rename(root, root+".unmounted")
	if _, err := b.Stat(ctx, root+"/d/f"); !mss.IsOutage(err) {
		t.Errorf("Stat: %v", err)
	}
	if _, err := b.Fetch(ctx, mss.Request{RFN: root + "/d/f"}, filepath.Join(t.TempDir(), "dst"), ""); !mss.IsOutage(err) {
		t.Errorf("Fetch: %v", err)
	}
	src := filepath.Join(t.TempDir(), "src")
	os.WriteFile(src, []byte("x"), 0o644)
	if _, err := b.Store(ctx, mss.Request{RFN: root + "/d/g"}, src, ""); !mss.IsOutage(err) {
		t.Errorf("Store: %v", err)
	}
}
