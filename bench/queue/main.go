// Command queue measures frm's queue path against its reference in the
// same run (issue "Queues that scale") and prints the figures and ratios:
//
//   - agent: N stage requests (default 20,000) through `frm pstga` and
//     through xrootd's `frm_xfragent`, each fed the same request lines on
//     standard input, into a fresh queue directory; the best of -runs runs
//     of each. Both make every request durable (frm in groups: one fsync
//     per queue file per group; frm_xfragent one per record and header).
//
//     go run ./bench/queue [-frm bin/frm] [-scenario agent] [-n 20000] [-runs 3]
//
// These are measurements, not tests: they print their figures and exit 0
// unless the harness itself fails.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"frm/core/xrdq"
)

func main() {
	frm := flag.String("frm", "bin/frm", "the frm binary")
	scenario := flag.String("scenario", "all", "all or agent")
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
	if *scenario == "all" || *scenario == "agent" {
		agent(bin, *xfragent, *n, *runs)
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
