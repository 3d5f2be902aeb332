package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"frm/core/sitegen"
)

const demoUsage = `Usage: frm demo [-files N] [-seed S] [DIR]

Creates a self-contained sandbox site in DIR (default ./frm-demo): an frm
config (DIR/frm.toml) and the equivalent xrootd config (DIR/xrootd.cf),
three spaces of two partitions each, a posix directory playing the MSS, and
a few thousand HMI and AIA files in every residency state. DIR must not
exist or be empty.
`

func demoMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("frm demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	files := fs.Int("files", 3000, "")
	seed := fs.Int64("seed", 1, "")
	help := fs.Bool("h", false, "")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "frm demo: %v\n\n%s", err, demoUsage)
		return 2
	}
	if *help {
		fmt.Fprint(stdout, demoUsage)
		return 0
	}
	dir := "frm-demo"
	if fs.NArg() > 1 {
		fmt.Fprint(stderr, demoUsage)
		return 2
	}
	if fs.NArg() == 1 {
		dir = fs.Arg(0)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		fmt.Fprintf(stderr, "frm demo: %v\n", err)
		return 1
	}
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		fmt.Fprintf(stderr, "frm demo: %s exists and is not empty; give a new directory\n", dir)
		return 1
	}
	l, sum, err := sitegen.Demo(ctx, dir, sitegen.DemoOptions{Files: *files, Seed: *seed})
	if err != nil {
		fmt.Fprintf(stderr, "frm demo: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, `Demo site created in %s
  %d files (%d bytes): %d migrated, %d need migration, %d without copy time,
  %d pinned, %d failed transfer, %d dangling link, %d legacy lock file.

Try:
  frm admin -c %s            # the interactive shell (Tab completes)
    df -count
    find -r unmigrated /store
    find -r pinned /store
    ls -l /store/hmi/M_45s/
    audit -r names /store
    audit space fast
    pin -k 7d /store/aia/lev1/<day>/*
  frm admin -c %s -o json find -r unmigrated /store | jq .summary
The same site is described for xrootd in %s.
`, dir, sum.Files, sum.Bytes, sum.Migrated, sum.NeedsMigration, sum.NoCopyTime, sum.Pinned, sum.Failed, sum.Dangling, sum.Legacy,
		l.Config, l.Config, l.XrdConfig)
	return 0
}
