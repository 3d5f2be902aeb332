// Command queue measures frm's queue path against its reference in the
// same run (issue "Queues that scale") and prints the figures and ratios:
//
//   - agent: N stage requests (default 20,000) through `frm pstga` and
//     through xrootd's `frm_xfragent`, each fed the same request lines on
//     standard input, into a fresh queue directory; the best of -runs runs
//     of each. Both make every request durable (frm in groups: one fsync
//     per queue file per group; frm_xfragent one per record and header).
//
//   - stage: -files files of -size bytes (default 1000 × 1 MiB) in a posix
//     MSS, staged by `frm daemon -only stage` (copy_max 2, adler32 computed
//     on the copy) against `cp -r` of the same tree followed by `sync`;
//     the MSS is read once first so that both read it from the page
//     cache. Also run with 4 × 1 GiB.
//
//   - depth: the cost per staged file with 1k, 10k and 100k requests
//     queued (-depths): the time to stage the first 500 of them (4 KiB
//     files), per file.
//
//   - list: `frm admin queue` (text) with -list requests queued (default
//     100,000) and no daemon running (the queue files are read); best of
//     -runs.
//
//     go run ./bench/queue [-frm bin/frm] [-scenario all|agent|stage|depth|list] [-n 20000] [-runs 3] [-files 1000] [-size 1048576] [-depths 1000,10000,100000]
//
// These are measurements, not tests: they print their figures and exit 0
// unless the harness itself fails.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"frm/core/config"
	"frm/core/control"
	"frm/core/sitegen"
	"frm/core/units"
	"frm/core/xrdq"
)

func main() {
	frm := flag.String("frm", "bin/frm", "the frm binary")
	scenario := flag.String("scenario", "all", "all, agent, stage or depth")
	files := flag.Int("files", 1000, "files (stage)")
	size := flag.Int64("size", 1<<20, "bytes per file (stage)")
	depths := flag.String("depths", "1000,10000,100000", "queue lengths (depth)")
	listN := flag.Int("list", 100000, "requests queued (list)")
	prepare := flag.Bool("prepare", false, "only build a stage site (-files, -size) with its requests queued, print its configuration's path and keep it (for profiling)")
	n := flag.Int("n", 20000, "requests (agent)")
	runs := flag.Int("runs", 3, "runs of each tool; the best is reported")
	xfragent := flag.String("xfragent", "/usr/bin/frm_xfragent", "xrootd's agent")
	flag.Parse()
	bin, err := filepath.Abs(*frm)
	if err != nil {
		fail(err)
	}
	if _, err := os.Stat(bin); err != nil {
		fail(fmt.Errorf("%s: %w (make build)", bin, err))
	}
	if *prepare {
		s := newStageSite(bin, *files, *size, 2)
		fmt.Println(s.l.Config)
		return
	}
	if *scenario == "all" || *scenario == "agent" {
		agent(bin, *xfragent, *n, *runs)
	}
	if *scenario == "all" || *scenario == "stage" {
		stage(bin, *files, *size)
		if *scenario == "all" {
			stage(bin, 4, 1<<30)
		}
	}
	if *scenario == "all" || *scenario == "list" {
		list(bin, *listN, *runs)
	}
	if *scenario == "all" || *scenario == "depth" {
		for _, d := range strings.Split(*depths, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(d))
			if err != nil || n < 600 {
				fail(fmt.Errorf("bad depth %q (at least 600)", d))
			}
			depth(bin, n)
		}
	}
}

// agent times both agents on the same n request lines.
func agent(frm, xfragent string, n, runs int) {
	var in bytes.Buffer
	for i := range n {
		fmt.Fprintf(&in, "+ r%d - %d r /store/run1/file%06d.fits\n", i, i%3, i)
	}
	input := in.Bytes()
	timeOne := func(name string, argv ...string) time.Duration {
		best := time.Duration(0)
		for range runs {
			base, err := os.MkdirTemp("", "frm-bench-queue-")
			if err != nil {
				fail(err)
			}
			cfg := filepath.Join(base, "xrootd.cf")
			conf := "all.adminpath " + filepath.Join(base, "admin") + "\nall.pidpath " + base + "\noss.localroot " + filepath.Join(base, "ns") + "\n"
			if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
				fail(err)
			}
			args := append(append([]string(nil), argv[1:]...), "-c", cfg)
			cmd := exec.Command(argv[0], args...)
			cmd.Env = cleanEnv()
			cmd.Stdin = bytes.NewReader(input)
			var errb bytes.Buffer
			cmd.Stderr = &errb
			start := time.Now()
			err = cmd.Run()
			d := time.Since(start)
			var ee *exec.ExitError
			// xrootd's agent exits 8 at the end of its input.
			if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 8 && strings.HasSuffix(argv[0], "frm_xfragent")) {
				fail(fmt.Errorf("%s: %v\n%s", name, err, errb.String()))
			}
			if got := countRecords(filepath.Join(base, "admin", "frm", "Queues")); got != n {
				fail(fmt.Errorf("%s queued %d requests, want %d", name, got, n))
			}
			os.RemoveAll(base)
			if best == 0 || d < best {
				best = d
			}
		}
		return best
	}
	var xrd time.Duration
	if _, err := os.Stat(xfragent); err == nil {
		xrd = timeOne("frm_xfragent", xfragent)
	} else {
		fmt.Printf("note: %s not installed; the reference is left out\n", xfragent)
	}
	ours := timeOne("frm pstga", frm, "pstga")
	fmt.Printf("agent: %d stage requests, each durable, best of %d runs\n", n, runs)
	if xrd > 0 {
		fmt.Printf("  frm_xfragent  %8.3f s  %8.0f requests/s\n", xrd.Seconds(), float64(n)/xrd.Seconds())
	}
	fmt.Printf("  frm pstga     %8.3f s  %8.0f requests/s\n", ours.Seconds(), float64(n)/ours.Seconds())
	if xrd > 0 {
		fmt.Printf("  ratio         %8.1f× frm_xfragent's rate\n", xrd.Seconds()/ours.Seconds())
	}
}

// stageSite is a site with a posix MSS holding files of the given size,
// and stage requests for them queued (not yet served).
type stageSite struct {
	dir  string
	l    sitegen.Layout
	cfg  *config.Config
	lfns []string
	size int64
}

func newStageSite(frm string, files int, size int64, copyMax int) *stageSite {
	dir, err := os.MkdirTemp("", "frm-bench-stage-")
	if err != nil {
		fail(err)
	}
	s := &stageSite{dir: dir, l: sitegen.NewLayout(dir), size: size}
	if err := s.l.WriteConfigs(); err != nil {
		fail(err)
	}
	cfg, err := config.Load(s.l.Config, "")
	if err != nil {
		fail(err)
	}
	cfg.MSS.Backend = "posix"
	cfg.Transfer.CopyMax = copyMax
	cfg.Transfer.QCheck = config.Duration(5 * time.Second)
	var b bytes.Buffer
	if err := cfg.WriteTOML(&b); err != nil {
		fail(err)
	}
	if err := os.WriteFile(s.l.Config, b.Bytes(), 0o644); err != nil {
		fail(err)
	}
	if s.cfg, err = config.Load(s.l.Config, ""); err != nil {
		fail(err)
	}
	buf := make([]byte, min(size, 1<<20))
	var lines strings.Builder
	for i := range files {
		lfn := fmt.Sprintf("/store/bench/d%02d/f%06d.fits", i%50, i)
		rfn := filepath.Join(s.l.RemoteRoot, lfn)
		if err := os.MkdirAll(filepath.Dir(rfn), 0o755); err != nil {
			fail(err)
		}
		f, err := os.Create(rfn)
		if err != nil {
			fail(err)
		}
		for left := size; left > 0; left -= int64(len(buf)) {
			rand.Read(buf)
			if _, err := f.Write(buf[:min(left, int64(len(buf)))]); err != nil {
				fail(err)
			}
		}
		f.Close()
		s.lfns = append(s.lfns, lfn)
		fmt.Fprintf(&lines, "+ r%06d - 1 r %s\n", i, lfn)
	}
	exec.Command("sync").Run()
	cmd := exec.Command(frm, "pstga", "-c", s.l.Config)
	cmd.Env = cleanEnv()
	cmd.Stdin = strings.NewReader(lines.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		fail(fmt.Errorf("frm pstga: %w: %s", err, out))
	}
	return s
}

// warm reads the MSS tree so that it is in the page cache.
func (s *stageSite) warm() {
	filepath.WalkDir(s.l.RemoteRoot, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if b, err := os.ReadFile(p); err == nil {
				_ = b
			}
		}
		return nil
	})
}

// serve runs the daemon until the first want files are staged whole and
// returns the time from its start.
func (s *stageSite) serve(frm string, want int) time.Duration {
	total, _ := s.serveMarks(frm, want, 0)
	return total
}

// serveMarks is serve, also returning the time between the mark-th and
// the want-th completion (0 when mark is 0).
func (s *stageSite) serveMarks(frm string, want, mark int) (time.Duration, time.Duration) {
	var markAt time.Time
	d := exec.Command(frm, "daemon", "-c", s.l.Config, "-only", "stage", "-l", filepath.Join(s.dir, "daemon.log"))
	d.Env = cleanEnv()
	start := time.Now()
	if err := d.Start(); err != nil {
		fail(err)
	}
	defer func() { d.Process.Signal(os.Interrupt); d.Wait() }()
	// Completions are counted from the daemon's event stream (a "done"
	// event is sent once the request is taken and its requester told).
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	c := control.New(s.cfg.AdminDir())
	staged := 0
	seen := map[string]bool{} // a reconnection replays recent events
	for staged < want {
		err := c.Events(ctx, func(ev control.Event) {
			if ev.Type == "done" && !seen[ev.LFN] {
				seen[ev.LFN] = true
				staged++
				if staged == mark {
					markAt = time.Now()
				}
				if staged >= want {
					cancel()
				}
			}
		})
		if staged >= want {
			break
		}
		if ctx.Err() != nil {
			fail(fmt.Errorf("only %d of %d files staged in 30 minutes (see %s)", staged, want, s.dir))
		}
		if !control.IsNotRunning(err) {
			fail(fmt.Errorf("event stream: %v (see %s)", err, s.dir))
		}
		time.Sleep(10 * time.Millisecond) // the daemon is starting
	}
	total := time.Since(start)
	if mark == 0 {
		return total, 0
	}
	return total, time.Since(markAt)
}

// stage compares staging with cp -r + sync of the same files.
func stage(frm string, files int, size int64) {
	s := newStageSite(frm, files, size, 2)
	defer os.RemoveAll(s.dir)
	s.warm()
	dst := filepath.Join(s.dir, "cp-copy")
	start := time.Now()
	if out, err := exec.Command("cp", "-r", s.l.RemoteRoot, dst).CombinedOutput(); err != nil {
		fail(fmt.Errorf("cp: %v %s", err, out))
	}
	exec.Command("sync").Run()
	cp := time.Since(start)
	os.RemoveAll(dst)
	exec.Command("sync").Run()
	s.warm()
	frmTime := s.serve(frm, files)
	exec.Command("sync").Run()
	mb := float64(int64(files)*size) / (1 << 20)
	fmt.Printf("stage: %d × %s, posix MSS, copy_max 2, adler32\n", files, units.Bytes(size))
	fmt.Printf("  cp -r + sync  %8.3f s  %8.1f MiB/s\n", cp.Seconds(), mb/cp.Seconds())
	fmt.Printf("  frm daemon    %8.3f s  %8.1f MiB/s  %6.1f files/s\n", frmTime.Seconds(), mb/frmTime.Seconds(), float64(files)/frmTime.Seconds())
	fmt.Printf("  ratio         %8.2f× cp's rate\n", cp.Seconds()/frmTime.Seconds())
}

// depth stages 600 of n queued 4 KiB files and reports the cost per file
// of the last 500 (the first 100 absorb the daemon's start, which reads
// the whole queue once).
func depth(frm string, n int) {
	s := newStageSite(frm, n, 4096, 2)
	defer os.RemoveAll(s.dir)
	s.warm()
	const first, measured = 100, 500
	total, d := s.serveMarks(frm, first+measured, first)
	fmt.Printf("depth: %7d requests queued: %d staged in %6.3f s from the start; the last %d at %6.3f ms per file\n",
		n, first+measured, total.Seconds(), measured, d.Seconds()*1000/measured)
}

// list times frm admin queue over n queued requests.
func list(frm string, n, runs int) {
	dir, err := os.MkdirTemp("", "frm-bench-list-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	l := sitegen.NewLayout(dir)
	if err := l.WriteConfigs(); err != nil {
		fail(err)
	}
	var in bytes.Buffer
	for i := range n {
		fmt.Fprintf(&in, "+ r%d - %d r /store/list/f%07d\n", i, i%3, i)
	}
	cmd := exec.Command(frm, "pstga", "-c", l.Config)
	cmd.Env, cmd.Stdin = cleanEnv(), &in
	if out, err := cmd.CombinedOutput(); err != nil {
		fail(fmt.Errorf("frm pstga: %v %s", err, out))
	}
	best := time.Duration(0)
	for range runs {
		cmd := exec.Command(frm, "admin", "-c", l.Config, "queue")
		cmd.Env = cleanEnv()
		var out bytes.Buffer
		cmd.Stdout = &out
		start := time.Now()
		if err := cmd.Run(); err != nil {
			fail(fmt.Errorf("frm admin queue: %v", err))
		}
		d := time.Since(start)
		if lines := bytes.Count(out.Bytes(), []byte("\n")); lines != n+1 {
			fail(fmt.Errorf("frm admin queue printed %d lines, want %d", lines, n+1))
		}
		if best == 0 || d < best {
			best = d
		}
	}
	fmt.Printf("list: frm admin queue with %d requests queued (queue files, no daemon): %.3f s (best of %d)\n", n, best.Seconds(), runs)
}

// countRecords counts the live stage requests in the queue directory.
func countRecords(dir string) int {
	n := 0
	xrdq.Open(dir).List([]xrdq.Kind{xrdq.Stage}, -1, func(xrdq.Request) error { n++; return nil })
	return n
}

func cleanEnv() []string {
	var env []string
	for _, e := range os.Environ() {
		k, _, _ := strings.Cut(e, "=")
		switch k {
		case "XRDCONFIGFN", "XRDNAME", "XRDADMINPATH", "FRM_CONFIG":
			continue
		}
		env = append(env, e)
	}
	return env
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/queue:", err)
	os.Exit(1)
}
