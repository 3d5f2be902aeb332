// Command gen creates a benchmark namespace for bench/run.sh: a site in
// DIR (frm.toml and the equivalent xrootd.cf) whose /store holds N empty
// files with FRM attributes (sitegen.Flat: 1 in 10 without a copy time,
// 2 in 10 modified since their copy, 1 in 50 pinned forever).
//
//	go run ./bench/gen -n 100000 DIR
//
// DIR must not exist. It prints the counts as shell assignments
// (files=... unmigrated=... pinned=...), so run.sh can check the outputs.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"frm/core/sitegen"
)

func main() {
	n := flag.Int("n", 100000, "number of files")
	perDir := flag.Int("per-dir", 1000, "files per directory")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: gen [-n N] [-per-dir K] DIR")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 || *n <= 0 {
		flag.Usage()
		os.Exit(2)
	}
	dir, err := filepath.Abs(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	if _, err := os.Lstat(dir); err == nil {
		fmt.Fprintf(os.Stderr, "gen: %s exists; give a new directory\n", dir)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	c, err := sitegen.Flat(ctx, sitegen.NewLayout(dir), *n, *perDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "gen: %d files in %s (%v)\n", c.Files, dir, time.Since(start).Round(time.Millisecond))
	fmt.Printf("files=%d unmigrated=%d nocopy=%d pinned=%d\n", c.Files, c.Unmigrated, c.NoCopy, c.Pinned)
}
