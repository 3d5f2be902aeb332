// Command faults runs frm's transfer daemon through the faults of a busy
// site and prints what came of the files (issue "Transfers that ride out
// outages and crashes"). Each scenario builds a fresh site in a temporary
// directory, fills its MSS (a local tree behind copy commands, as a tape
// front end is), queues stage requests with `frm pstga` and runs the real
// `frm daemon` binary:
//
//   - flaky: the copy command fails 30 percent of its runs with status 1
//     (N requests, default 300; transfer.retries = 8). Figures: staged
//     whole, corrupt (content differs from the MSS), .fail files.
//
//   - outage: the MSS disappears (its tree renamed away, as an unmounted
//     file system) for -outage (default 60 s) while N requests (default
//     500) are being staged by a slow copy command. Figures: staged whole,
//     .fail files, time.
//
//   - kills: the daemon is killed with SIGKILL -kills times (default 20)
//     at random moments during N (default 200) slow stages, and started
//     again each time. Figures: staged whole, data files that no name
//     refers to (orphans), copy processes still running after the end.
//
//     go run ./bench/faults [-frm bin/frm] [-scenario all|flaky|outage|kills] [-n N] [-outage 60s] [-kills 20]
//
// These are measurements, not tests: they print their figures and exit 0
// unless the harness itself fails.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"frm/core/config"
	"frm/core/sitegen"
)

func main() {
	frm := flag.String("frm", "bin/frm", "the frm binary")
	scenario := flag.String("scenario", "all", "all, flaky, outage or kills")
	n := flag.Int("n", 0, "requests (default per scenario: 300, 500, 200)")
	outage := flag.Duration("outage", 60*time.Second, "how long the MSS is gone (outage)")
	kills := flag.Int("kills", 20, "SIGKILLs of the daemon (kills)")
	keep := flag.Bool("keep", false, "keep the sites (their paths are printed)")
	flag.Parse()
	bin, err := filepath.Abs(*frm)
	if err != nil {
		fail(err)
	}
	if _, err := os.Stat(bin); err != nil {
		fail(fmt.Errorf("%s: %w (make build)", bin, err))
	}
	pick := func(def int) int {
		if *n > 0 {
			return *n
		}
		return def
	}
	run := map[string]func(*site) error{
		"flaky":  func(s *site) error { return flaky(s, pick(300)) },
		"outage": func(s *site) error { return outageRun(s, pick(500), *outage) },
		"kills":  func(s *site) error { return killRun(s, pick(200), *kills) },
	}
	order := []string{"flaky", "outage", "kills"}
	if *scenario != "all" {
		if run[*scenario] == nil {
			fail(fmt.Errorf("unknown scenario %q", *scenario))
		}
		order = []string{*scenario}
	}
	for _, name := range order {
		dir, err := os.MkdirTemp("", "frm-faults-"+name+"-")
		if err != nil {
			fail(err)
		}
		s := &site{bin: bin, dir: dir}
		if err := run[name](s); err != nil {
			fail(fmt.Errorf("%s: %w", name, err))
		}
		if *keep {
			fmt.Printf("  (site kept in %s)\n", dir)
		} else {
			os.RemoveAll(dir)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "faults:", err)
	os.Exit(1)
}

type site struct {
	bin, dir string
	l        sitegen.Layout
	cfg      *config.Config
	lfns     []string
	content  map[string][]byte
	daemon   *exec.Cmd
}

// build writes the site: copy commands (the script given) on a local MSS
// tree, n files of 64 KiB in the MSS, stage requests queued.
func (s *site) build(n int, copyScript string, mutate func(*config.Config)) error {
	s.l = sitegen.NewLayout(s.dir)
	if err := s.l.WriteConfigs(); err != nil {
		return err
	}
	cfg, err := config.Load(s.l.Config, "")
	if err != nil {
		return err
	}
	script := filepath.Join(s.dir, "copy.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"+copyScript), 0o755); err != nil {
		return err
	}
	cfg.MSS.Backend = "command"
	cfg.MSS.CopyIn = []string{script, "$SRC", "$DST"}
	cfg.MSS.CopyOut = []string{script, "$SRC", "$DST"}
	cfg.Transfer.CopyMax = 4
	cfg.Transfer.QCheck = config.Duration(5 * time.Second)
	if mutate != nil {
		mutate(cfg)
	}
	var b bytes.Buffer
	if err := cfg.WriteTOML(&b); err != nil {
		return err
	}
	if err := os.WriteFile(s.l.Config, b.Bytes(), 0o644); err != nil {
		return err
	}
	if s.cfg, err = config.Load(s.l.Config, ""); err != nil {
		return err
	}
	s.content = map[string][]byte{}
	var lines strings.Builder
	for i := 0; i < n; i++ {
		lfn := fmt.Sprintf("/store/bench/d%02d/f%05d.fits", i%20, i)
		data := make([]byte, 64<<10)
		for j := range data {
			data[j] = byte(rand.N(256))
		}
		rfn := filepath.Join(s.l.RemoteRoot, lfn)
		if err := os.MkdirAll(filepath.Dir(rfn), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(rfn, data, 0o644); err != nil {
			return err
		}
		s.lfns = append(s.lfns, lfn)
		s.content[lfn] = data
		fmt.Fprintf(&lines, "+ r%05d - 1 r %s\n", i, lfn)
	}
	cmd := exec.Command(s.bin, "pstga", "-c", s.l.Config)
	cmd.Stdin = strings.NewReader(lines.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("frm pstga: %w: %s", err, out)
	}
	return nil
}

func (s *site) start() error {
	s.daemon = exec.Command(s.bin, "daemon", "-c", s.l.Config, "-only", "stage", "-l", filepath.Join(s.dir, "daemon.log"))
	return s.daemon.Start()
}

func (s *site) stop(sig syscall.Signal) {
	if s.daemon == nil {
		return
	}
	s.daemon.Process.Signal(sig)
	s.daemon.Wait()
	s.daemon = nil
}

// counts says what became of the files.
type counts struct {
	whole, corrupt, failed, pending int
}

func (s *site) count() counts {
	var c counts
	for _, lfn := range s.lfns {
		pfn := filepath.Join(s.cfg.LocalRoot, lfn)
		if _, err := os.Stat(pfn + ".fail"); err == nil {
			c.failed++
			continue
		}
		b, err := os.ReadFile(pfn)
		switch {
		case err != nil:
			c.pending++
		case bytes.Equal(b, s.content[lfn]):
			c.whole++
		default:
			c.corrupt++
		}
	}
	return c
}

// wait returns once no file is pending, or at the deadline.
func (s *site) wait(deadline time.Duration) (counts, time.Duration) {
	start := time.Now()
	for {
		c := s.count()
		if c.pending == 0 || time.Since(start) > deadline {
			return c, time.Since(start)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func flaky(s *site, n int) error {
	// One run in ten... three: a byte of /dev/urandom below 77 of 256.
	script := `r=$(od -An -N1 -tu1 /dev/urandom | tr -d ' ')
if [ "$r" -lt 77 ]; then echo "tape front end busy" >&2; exit 1; fi
mkdir -p "$(dirname "$2")" && cp "$1" "$2"
`
	if err := s.build(n, script, func(c *config.Config) { c.Transfer.Retries = 8 }); err != nil {
		return err
	}
	if err := s.start(); err != nil {
		return err
	}
	c, took := s.wait(10 * time.Minute)
	s.stop(syscall.SIGTERM)
	fmt.Printf("flaky copy command (30%% of runs exit 1), %d requests, transfer.retries 8: %d staged whole, %d corrupt, %d .fail, %d not done, in %.1f s\n",
		n, c.whole, c.corrupt, c.failed, c.pending, took.Seconds())
	return nil
}

func outageRun(s *site, n int, gone time.Duration) error {
	script := `sleep 0.1
mkdir -p "$(dirname "$2")" && cp "$1" "$2"
`
	if err := s.build(n, script, nil); err != nil {
		return err
	}
	if err := s.start(); err != nil {
		return err
	}
	start := time.Now()
	time.Sleep(2 * time.Second)
	before := s.count()
	root := s.l.RemoteRoot
	if err := os.Rename(root, root+".unmounted"); err != nil {
		return err
	}
	time.Sleep(gone)
	during := s.count()
	if err := os.Rename(root+".unmounted", root); err != nil {
		return err
	}
	c, _ := s.wait(10 * time.Minute)
	took := time.Since(start)
	s.stop(syscall.SIGTERM)
	fmt.Printf("MSS outage of %s during %d stages (slow copy command, 4 slots): %d staged before it, %d during it (%d .fail meanwhile); at the end %d staged whole, %d corrupt, %d .fail, %d not done, in %.1f s\n",
		gone, n, before.whole, during.whole-before.whole, during.failed, c.whole, c.corrupt, c.failed, c.pending, took.Seconds())
	return nil
}

func killRun(s *site, n int, kills int) error {
	// Slow, and in pieces, as a tape copy is: the file grows for about a
	// second, written by a child of the script (which the parent-death
	// signal of the script does not reach).
	script := `mkdir -p "$(dirname "$2")" || exit 1
( i=0; while [ $i -lt 8 ]; do dd if="$1" bs=8192 skip=$i count=1 2>/dev/null; sleep 0.12; i=$((i+1)); done ) > "$2"
`
	if err := s.build(n, script, nil); err != nil {
		return err
	}
	start := time.Now()
	for k := 0; k < kills; k++ {
		if err := s.start(); err != nil {
			return err
		}
		time.Sleep(time.Duration(500+rand.N(2000)) * time.Millisecond)
		s.stop(syscall.SIGKILL)
	}
	if err := s.start(); err != nil {
		return err
	}
	c, _ := s.wait(20 * time.Minute)
	took := time.Since(start)
	s.stop(syscall.SIGTERM)
	orphans, err := s.orphans()
	if err != nil {
		return err
	}
	procs, err := s.copyProcs()
	if err != nil {
		return err
	}
	fmt.Printf("%d SIGKILLs of the daemon during %d slow stages: %d staged whole, %d corrupt, %d .fail, %d not done, in %.1f s; afterwards %d orphan data files, %d copy processes still running\n",
		kills, n, c.whole, c.corrupt, c.failed, c.pending, took.Seconds(), len(orphans), procs)
	for _, o := range orphans {
		fmt.Printf("  orphan: %s\n", o)
	}
	return nil
}

// orphans lists the data files in the partitions that no namespace link
// refers to.
func (s *site) orphans() ([]string, error) {
	linked := map[string]bool{}
	err := filepath.WalkDir(s.cfg.LocalRoot, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&os.ModeSymlink != 0 {
			if t, err := os.Readlink(p); err == nil {
				linked[t] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, sp := range s.cfg.Spaces {
		for _, part := range sp.Partitions {
			dir := filepath.Join(part.Path, sp.Name)
			filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err == nil && d.Type().IsRegular() && strings.HasSuffix(p, "%") && !linked[p] {
					out = append(out, p)
				}
				return nil
			})
		}
	}
	return out, nil
}

// copyProcs counts the processes still running the site's copy script
// (or its children, which read from the MSS tree).
func (s *site) copyProcs() (int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		cmd := string(bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
		if strings.Contains(cmd, s.dir) && !strings.Contains(cmd, " daemon ") {
			n++
		}
	}
	return n, nil
}
