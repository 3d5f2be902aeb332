package main

// frm_purged and frm_xfrd against xrootd 5.5.3's own, on identical sites.

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"frm/core/config"
	"frm/core/meta"
	"frm/core/sitegen"
)

// requireXrootdTool skips the test when xrootd's program is absent (a
// failure with FRM_REQUIRE_XROOTD=1).
func requireXrootdTool(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("FRM_REQUIRE_XROOTD") == "1" {
			t.Fatalf("%s is required (FRM_REQUIRE_XROOTD=1) but absent: %v", path, err)
		}
		t.Skipf("%s not installed (Debian/Ubuntu: apt-get install xrootd-server)", path)
	}
}

// frmAs builds frm and links it as each of names; it returns the
// directory holding the links.
func frmAs(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	bin := buildFrm(t, dir)
	for _, n := range names {
		if err := os.Symlink(bin, filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// xrdPrefix is an xrootd message's "YYMMDD HH:MM:SS pid " prefix.
var xrdPrefix = regexp.MustCompile(`^\d{6} \d\d:\d\d:\d\d \d+ `)

func TestXrdDaemonOptionErrors(t *testing.T) {
	requireXrootdTool(t, "/usr/bin/frm_purged")
	requireXrootdTool(t, "/usr/bin/frm_xfrd")
	bin := frmAs(t, "frm_purged", "frm_xfrd")
	for _, c := range []struct {
		prog string
		args []string
	}{
		{"frm_purged", []string{"-Q"}}, {"frm_purged", []string{"-c"}}, {"frm_purged", []string{"-h"}},
		{"frm_purged", []string{"-Tv", "-x"}}, {"frm_purged", []string{"-O", "1x"}},
		{"frm_purged", []string{"-O", "10%,1h"}}, {"frm_purged", []string{"-O"}}, {"frm_purged", []string{"-l"}},
		{"frm_xfrd", []string{"-Q"}}, {"frm_xfrd", []string{"-O", "100%"}}, {"frm_xfrd", []string{"-c"}},
		{"frm_xfrd", []string{"-h"}}, {"frm_xfrd", []string{"-n"}},
	} {
		xr := runTool(t, append([]string{"/usr/bin/" + c.prog}, c.args...)...)
		fr := runTool(t, append([]string{filepath.Join(bin, c.prog)}, c.args...)...)
		norm := func(s string) string {
			var out []string
			for _, l := range strings.Split(s, "\n") {
				out = append(out, xrdPrefix.ReplaceAllString(l, "PREFIX "))
			}
			return strings.Join(out, "\n")
		}
		if xr.code != fr.code || norm(xr.stderr) != norm(fr.stderr) || xr.stdout != fr.stdout {
			t.Errorf("%s %v:\nxrootd (exit %d):\n%s\nfrm (exit %d):\n%s", c.prog, c.args, xr.code, xr.stderr, fr.code, fr.stderr)
		}
	}
}

// purgeSites generates two identical demo sites (same seed, same time,
// paths of the same length) and shapes them alike: every data file
// accessed days ago at a distinct time, and a few files pinned, recently
// read or not migrated.
func purgeSites(t *testing.T) [2]string {
	t.Helper()
	ctx := context.Background()
	now := time.Now().Truncate(time.Second)
	base := workDir(t)
	var dirs [2]string
	for i, name := range []string{"site-a", "site-b"} {
		dirs[i] = filepath.Join(base, name)
		if _, _, err := sitegen.Demo(ctx, dirs[i], sitegen.DemoOptions{Files: 300, Seed: 19, Now: now}); err != nil {
			if strings.Contains(err.Error(), "not supported") {
				t.Skip("no user xattrs on this filesystem")
			}
			t.Fatal(err)
		}
		var files []string
		filepath.WalkDir(filepath.Join(dirs[i], "ns"), func(p string, d fs.DirEntry, err error) error {
			if err == nil && (strings.HasSuffix(p, ".fits") || strings.HasSuffix(p, ".tar")) {
				files = append(files, p)
			}
			return nil
		})
		sort.Strings(files)
		for j, p := range files {
			st, err := os.Stat(p)
			if err != nil {
				continue // dangling
			}
			at := now.Add(-5*24*time.Hour - time.Duration(j)*7*time.Minute)
			switch j % 17 {
			case 3:
				at = now.Add(-time.Minute) // within the hold
			case 5:
				meta.SetPin(p, meta.Pin{Flags: meta.PinForever})
			case 7:
				meta.SetPin(p, meta.Pin{Flags: meta.PinKeep, Time: now.Add(48 * time.Hour).Unix()})
			case 9:
				meta.SetPin(p, meta.Pin{Flags: meta.PinKeep, Time: now.Add(-48 * time.Hour).Unix()})
			case 11:
				meta.SetPin(p, meta.Pin{Flags: meta.PinIdle, Time: 86400})
			}
			if err := os.Chtimes(p, at, st.ModTime()); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dirs
}

// purgedLines normalises frm_purged's report: the site directory, the
// message prefixes, the disk figures (host dependent), sorted (the order
// of files among spaces and of the scan is not compared here).
func purgedLines(out, dir string) []string {
	out = strings.ReplaceAll(out, dir, "$SITE")
	figures := regexp.MustCompile(`free \S+ \(\d+%\)|; \S+ needed|freed \S+ deficit|freed need met|min \S+ max \S+ free`)
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		l = xrdPrefix.ReplaceAllString(l, "")
		l = figures.ReplaceAllStringFunc(l, func(s string) string { return regexp.MustCompile(`\d[\d.]*[KMGT]?`).ReplaceAllString(s, "N") })
		if l != "" {
			lines = append(lines, l)
		}
	}
	sort.Strings(lines)
	return lines
}

// residents lists the namespace entries of a site, and how many data
// files each space directory holds (the data files' names differ between
// two generated sites).
func residents(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(filepath.Join(dir, "ns"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, strings.TrimPrefix(p, dir))
		}
		return nil
	})
	data := map[string]int{}
	filepath.WalkDir(filepath.Join(dir, "spaces"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			data[strings.TrimPrefix(filepath.Dir(filepath.Dir(p)), dir)]++
		}
		return nil
	})
	for d, n := range data {
		out = append(out, fmt.Sprintf("%s: %d data files", d, n))
	}
	sort.Strings(out)
	return out
}

func TestXrdPurgedConformance(t *testing.T) {
	requireXrootdTool(t, "/usr/bin/frm_purged")
	if testing.Short() {
		t.Skip("runs xrootd's frm_purged on two generated sites")
	}
	bin := frmAs(t, "frm_purged")
	dirs := purgeSites(t)
	run := func(prog, dir string, args ...string) runResult {
		argv := append([]string{prog, "-c", filepath.Join(dir, "xrootd.cf")}, args...)
		r := runTool(t, argv...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d\n%s", argv, r.code, r.stderr)
		}
		return r
	}
	for _, mode := range []struct {
		name string
		args []string
	}{
		{"test", []string{"-O", "100%,3600", "-T", "-v"}},
		{"test-quiet", []string{"-O", "100%,3600", "-T"}},
		{"real", []string{"-O", "100%,3600", "-v"}},
	} {
		xr := run("/usr/bin/frm_purged", dirs[0], mode.args...)
		fr := run(filepath.Join(bin, "frm_purged"), dirs[1], mode.args...)
		for _, s := range []struct {
			what   string
			xr, fr string
		}{{"stdout", xr.stdout, fr.stdout}, {"stderr", xr.stderr, fr.stderr}} {
			xl, fl := purgedLines(s.xr, dirs[0]), purgedLines(s.fr, dirs[1])
			if onlyX, onlyF := diffLines(xl, fl); len(onlyX)+len(onlyF) > 0 {
				t.Errorf("%s mode, %s differs:\n%s", mode.name, s.what, showDiff(onlyX, onlyF))
			}
		}
		if a, b := residents(t, dirs[0]), residents(t, dirs[1]); strings.Join(a, "\n") != strings.Join(b, "\n") {
			onlyX, onlyF := diffLines(a, b)
			t.Errorf("%s mode: the sites differ after the purge:\n%s", mode.name, showDiff(onlyX, onlyF))
		}
		// The spaces come in xrootd's order (the lines above are
		// compared sorted).
		order := func(out string) string {
			var names []string
			for _, l := range strings.Split(out, "\n") {
				if m := regexp.MustCompile(`^\+\+\+\+\+\+ (\S+) used |^=====> policy (\S+) `).FindStringSubmatch(l); m != nil {
					names = append(names, m[1]+m[2])
				}
			}
			return strings.Join(names, " ")
		}
		if xo, fo := order(xr.stderr+xr.stdout), order(fr.stderr+fr.stdout); xo != fo {
			t.Errorf("%s mode: spaces in the order %q, xrootd's %q", mode.name, fo, xo)
		}
	}
}

// TestXrdXfragentFeedsFrmXfrd: xrootd's frm_xfragent queues stage
// requests in the queue files; our frm_xfrd stages every one whole, and
// leaves the queue files byte for byte as xrootd's own frm_xfrd leaves
// them on a twin site fed the same queue files (every processed record
// zeroed and put on the free chain in the order processed, the header's
// Last left on the final record). Both run with copymax 1, so that
// xrootd's order of processing, and so its free chain, is fixed.
func TestXrdXfragentFeedsFrmXfrd(t *testing.T) {
	requireXrootdTool(t, "/usr/bin/frm_xfragent")
	requireXrootdTool(t, "/usr/bin/frm_xfrd")
	requireXrootdTool(t, "/usr/bin/frm_admin")
	if testing.Short() {
		t.Skip("runs a daemon")
	}
	bin := frmAs(t, "frm_xfrd")
	work := workDir(t)
	const n = 20
	want := map[string][]byte{}
	var in strings.Builder
	for i := 0; i < n; i++ {
		lfn := fmt.Sprintf("/store/h19/f%02d.dat", i)
		want[lfn] = []byte(strings.Repeat(fmt.Sprintf("%d", i), 1000*(i+1)))
		fmt.Fprintf(&in, "+ req%d - %d r %s\n", i, i%3, lfn)
	}
	// Two identical sites: ours and xrootd's. Nothing in them needs
	// migration, so that only the agent's requests pass through.
	var dirs [2]string
	for k, name := range []string{"frm", "xrootd"} {
		dir := filepath.Join(work, name)
		if _, _, err := sitegen.Demo(context.Background(), dir, sitegen.DemoOptions{Files: 50, Seed: 7}); err != nil {
			if strings.Contains(err.Error(), "not supported") {
				t.Skip("no user xattrs on this filesystem")
			}
			t.Fatal(err)
		}
		cf := filepath.Join(dir, "xrootd.cf")
		f, err := os.OpenFile(cf, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(f, "frm.xfr.copymax 1")
		// No migrations: nomig on every export, so that the daemons
		// queue nothing of their own.
		f.Close()
		b, _ := os.ReadFile(cf)
		os.WriteFile(cf, []byte(strings.ReplaceAll(string(b), " mig stage", " nomig stage")), 0o644)
		for lfn, data := range want {
			src := filepath.Join(dir, "mss", lfn)
			os.MkdirAll(filepath.Dir(src), 0o755)
			if err := os.WriteFile(src, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		dirs[k] = dir
	}
	ours, theirs := dirs[0], dirs[1]
	agent := exec.Command("/usr/bin/frm_xfragent", "-c", filepath.Join(ours, "xrootd.cf"))
	agent.Env = toolEnv()
	agent.Stdin = strings.NewReader(in.String())
	if out, err := agent.CombinedOutput(); err != nil && agent.ProcessState.ExitCode() != 8 {
		t.Fatalf("frm_xfragent: %v\n%s", err, out)
	}
	if r := runTool(t, "/usr/bin/frm_admin", "-c", filepath.Join(ours, "xrootd.cf"), "query", "xfrq", "stage", "lfn"); !strings.Contains(r.stderr+r.stdout, "/store/h19/f00.dat") {
		t.Fatalf("frm_xfragent queued nothing:\n%s%s", r.stdout, r.stderr)
	}
	// The same queue files at xrootd's site (they hold lfns only).
	qdir := func(dir string) string { return filepath.Join(dir, "admin", "frm", "Queues") }
	queued, _ := filepath.Glob(filepath.Join(qdir(ours), "pstgQ.[0-2]"))
	if len(queued) != 3 {
		t.Fatalf("queue files: %v", queued)
	}
	for _, q := range queued {
		b, err := os.ReadFile(q)
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(qdir(theirs), 0o700)
		if err := os.WriteFile(filepath.Join(qdir(theirs), filepath.Base(q)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	start := func(prog, dir string) (*exec.Cmd, *lockedBuffer) {
		d := exec.Command(prog, "-c", filepath.Join(dir, "xrootd.cf"))
		d.Env = toolEnv()
		log := &lockedBuffer{}
		d.Stdout, d.Stderr = log, log
		if err := d.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			d.Process.Signal(syscall.SIGTERM)
			d.Wait()
		})
		return d, log
	}
	_, ourLog := start(filepath.Join(bin, "frm_xfrd"), ours)
	_, theirLog := start("/usr/bin/frm_xfrd", theirs)

	deadline := time.Now().Add(60 * time.Second)
	for {
		done := 0
		for lfn, data := range want {
			if got, err := os.ReadFile(filepath.Join(ours, "ns", lfn)); err == nil && string(got) == string(data) {
				done++
			}
		}
		if done == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d files staged after 60s; frm_xfrd's log:\n%s", done, n, ourLog.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Both daemons end with every request processed (xrootd's may fail
	// some copies; a failed request leaves its queue file as a staged
	// one does): the chain empty and every record zero but for its Next
	// (xrootd unlinks a request when it takes it and frees the record
	// when the copy ends). Then the files must be the same bytes.
	empty := func(dir string) bool {
		for _, q := range queued {
			b, err := os.ReadFile(filepath.Join(qdir(dir), filepath.Base(q)))
			if err != nil || len(b) < 4096 || b[0]|b[1]|b[2]|b[3] != 0 {
				return false
			}
			for off := 4096; off+4096 <= len(b); off += 4096 {
				for i, c := range b[off : off+4096] {
					if c != 0 && (i < 4076 || i >= 4080) {
						return false
					}
				}
			}
		}
		return true
	}
	waitFor(t, "xrootd's frm_xfrd to process every request", func() bool { return empty(theirs) })
	waitFor(t, "our queue files to be reclaimed", func() bool { return empty(ours) })
	for _, q := range queued {
		a, _ := os.ReadFile(filepath.Join(qdir(ours), filepath.Base(q)))
		b, _ := os.ReadFile(filepath.Join(qdir(theirs), filepath.Base(q)))
		if string(a) != string(b) {
			t.Errorf("%s differs from xrootd's:\nours:   %s\nxrootd: %s\nxrootd's log:\n%s", filepath.Base(q), queueShape(a), queueShape(b), theirLog.String())
		}
	}
	// The queue as xrootd's frm_admin reads it: nothing left.
	r := runTool(t, "/usr/bin/frm_admin", "-c", filepath.Join(ours, "xrootd.cf"), "query", "xfrq", "stage", "lfn")
	if strings.Contains(r.stdout+r.stderr, "/store/h19/") {
		t.Errorf("requests left:\n%s%s", r.stdout, r.stderr)
	}
}

// queueShape describes a queue file for a failure message: its size, its
// header, and each record that is not all zero past its Next field.
func queueShape(b []byte) string {
	const rec = 4096
	if len(b) < 12 {
		return fmt.Sprintf("%d bytes", len(b))
	}
	ne := func(o int) int32 {
		return int32(uint32(b[o]) | uint32(b[o+1])<<8 | uint32(b[o+2])<<16 | uint32(b[o+3])<<24)
	}
	s := fmt.Sprintf("%d bytes, first %d last %d free %d;", len(b), ne(0), ne(4), ne(8))
	for off := rec; off+rec <= len(b); off += rec {
		nonzero := 0
		for i, c := range b[off : off+rec] {
			if c != 0 && i != 4076 && i != 4077 && i != 4078 && i != 4079 {
				nonzero++
			}
		}
		s += fmt.Sprintf(" [%d next %d%s]", off, ne(off+4076), map[bool]string{true: fmt.Sprintf(" +%d bytes", nonzero), false: ""}[nonzero > 0])
	}
	return s
}

// TestXrdPurgedDaemon: frm_purged without -O is a daemon, as xrootd's is:
// on identical sites (purge.waittime 1 s, a policy that always wants
// space: 900g free, more than the test's file system has), STOPPURGE suspends both (nothing removed over three periods),
// and once it is removed both purge the same files in their next cycle
// and report it in the same lines; SIGTERM ends ours cleanly (exit 0).
func TestXrdPurgedDaemon(t *testing.T) {
	requireXrootdTool(t, "/usr/bin/frm_purged")
	if testing.Short() {
		t.Skip("runs xrootd's frm_purged and frm's as daemons")
	}
	bin := frmAs(t, "frm_purged")
	dirs := purgeSites(t)
	type running struct {
		cmd  *exec.Cmd
		out  *lockedBuffer
		stop string // the STOPPURGE file
	}
	var runs [2]running
	for i, prog := range []string{"/usr/bin/frm_purged", filepath.Join(bin, "frm_purged")} {
		cf := filepath.Join(dirs[i], "xrootd.cf")
		b, err := os.ReadFile(cf)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Replace(string(b), "frm.purge.policy * 5% 10% hold 1h", "frm.purge.policy * 900g 1000g hold 3600", 1)
		pidDir := filepath.Join(dirs[i], "run")
		os.MkdirAll(pidDir, 0o755)
		text += "frm.purge.waittime 1\nall.pidpath " + pidDir + "\n"
		if err := os.WriteFile(cf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(cf, "")
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(cfg.AdminDir(), 0o755)
		stop := filepath.Join(cfg.AdminDir(), "STOPPURGE")
		if err := os.WriteFile(stop, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(prog, "-c", cf)
		cmd.Env = toolEnv()
		out := &lockedBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		runs[i] = running{cmd, out, stop}
	}
	// Both write their pid where all.pidpath says, as xrootd's daemons do.
	for i := range runs {
		pidFile := filepath.Join(dirs[i], "run", "frm_purged.pid")
		waitFor(t, "the pid file", func() bool {
			b, err := os.ReadFile(pidFile)
			return err == nil && string(b) == strconv.Itoa(runs[i].cmd.Process.Pid)
		})
	}
	before := [2][]string{residents(t, dirs[0]), residents(t, dirs[1])}
	time.Sleep(3500 * time.Millisecond) // three periods under STOPPURGE
	for i := range runs {
		if got := residents(t, dirs[i]); strings.Join(got, "\n") != strings.Join(before[i], "\n") {
			t.Errorf("%s purged under STOPPURGE:\n%s", []string{"xrootd", "frm"}[i], runs[i].out.String())
		}
	}
	for i := range runs {
		os.Remove(runs[i].stop)
	}
	for i := range runs {
		waitFor(t, []string{"xrootd", "frm"}[i]+"'s purge cycle", func() bool {
			return strings.Contains(runs[i].out.String(), "Purge cycle ended.")
		})
	}
	// Let a cycle that began before the other one's end finish too.
	time.Sleep(1500 * time.Millisecond)
	if a, b := residents(t, dirs[0]), residents(t, dirs[1]); strings.Join(a, "\n") != strings.Join(b, "\n") {
		onlyX, onlyF := diffLines(a, b)
		t.Errorf("the sites differ after the daemons' purge:\n%s", showDiff(onlyX, onlyF))
	}
	if a, b := residents(t, dirs[1]), before[1]; strings.Join(a, "\n") == strings.Join(b, "\n") {
		t.Error("frm's frm_purged removed nothing")
	}
	// The report lines of the first cycle, as in the one-shot test.
	first := func(out, dir string) []string {
		if i := strings.Index(out, "Purge cycle ended."); i >= 0 {
			out = out[:i+len("Purge cycle ended.")]
		}
		var keep []string
		for _, l := range purgedLines(out, dir) {
			if strings.HasPrefix(l, "Purged ") || spaceLine.MatchString(l) {
				keep = append(keep, l)
			}
		}
		return keep
	}
	if onlyX, onlyF := diffLines(first(runs[0].out.String(), dirs[0]), first(runs[1].out.String(), dirs[1])); len(onlyX)+len(onlyF) > 0 {
		t.Errorf("the first cycle's report differs:\n%s", showDiff(onlyX, onlyF))
	}
	runs[1].cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- runs[1].cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("frm's frm_purged after SIGTERM: %v\n%s", err, runs[1].out.String())
		}
	case <-time.After(patience):
		t.Error("frm's frm_purged did not end after SIGTERM")
	}
}

// spaceLine is a purge cycle's line about one space.
var spaceLine = regexp.MustCompile(`^\+\+\+\+\+\+ \S+ used `)

// TestXrdPidFileOption: -s names the pid file, as for xrootd's daemons.
func TestXrdPidFileOption(t *testing.T) {
	if testing.Short() {
		t.Skip("builds frm")
	}
	bin := frmAs(t, "frm_purged")
	dir := filepath.Join(workDir(t), "site")
	if _, _, err := sitegen.Demo(context.Background(), dir, sitegen.DemoOptions{Files: 10, Seed: 1}); err != nil {
		if strings.Contains(err.Error(), "not supported") {
			t.Skip("no user xattrs on this filesystem")
		}
		t.Fatal(err)
	}
	pidFile := filepath.Join(t.TempDir(), "purged.pid")
	r := runTool(t, filepath.Join(bin, "frm_purged"), "-c", filepath.Join(dir, "xrootd.cf"), "-O", "100%,3600", "-T", "-s", pidFile)
	b, err := os.ReadFile(pidFile)
	if r.code != 0 || err != nil || !regexp.MustCompile(`^[0-9]+$`).Match(b) {
		t.Errorf("exit %d, pid file %q %v\n%s", r.code, b, err, r.stderr)
	}
}
