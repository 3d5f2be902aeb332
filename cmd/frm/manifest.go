package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"frm/core/fedapi"
	"frm/core/mirror"
)

const manifestUsage = `Usage: frm manifest build [-o FILE] DIR

Write the manifest of the plain directory tree DIR: one JSON line per
regular file or link to one (its name relative to DIR, size, mtime,
adler32), sorted by name, then an end line with the count and the
generation. A distribution served by any web server (nginx, Apache) can
then be mirrored by frm mirror with source = the manifest's https:// URL:
each file is fetched from its name relative to that URL. An frm site can publish a product
the same way (DIR: the product's directory in its namespace): frm mirror
then reads that manifest, one request, instead of having the site list
the product.

  -o FILE  where to write it (default DIR/.frm-manifest.ndjson); "-" for
           standard output. The file is written atomically, and a file
           whose size and mtime the previous manifest gives the same keeps
           its checksum without being read again.

Exit status: 0 done, 1 error, 2 usage. See docs/mirror.md.
`

func manifestMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, manifestUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] != "build" {
		fmt.Fprintf(stderr, "frm manifest: unknown subcommand %q\n\n%s", args[0], manifestUsage)
		return 2
	}
	fs := flag.NewFlagSet("frm manifest build", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	out := fs.String("o", "", "")
	help := fs.Bool("h", false, "")
	if err := fs.Parse(args[1:]); err != nil {
		fmt.Fprintf(stderr, "frm manifest build: %v\n\n%s", err, manifestUsage)
		return 2
	}
	if *help {
		fmt.Fprint(stdout, manifestUsage)
		return 0
	}
	if fs.NArg() != 1 {
		fmt.Fprintf(stderr, "frm manifest build: want one directory\n\n%s", manifestUsage)
		return 2
	}
	dir := fs.Arg(0)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		fmt.Fprintf(stderr, "frm manifest build: %s is not a directory\n", dir)
		return 1
	}
	if *out == "" {
		*out = filepath.Join(dir, fedapi.ManifestFile)
	}
	ctx, cancel := interruptible(ctx)
	defer cancel()
	o := mirror.BuildOptions{}
	if *out != "-" {
		o.Previous = *out
	}
	entries, err := mirror.Build(ctx, dir, o)
	if err != nil {
		fmt.Fprintf(stderr, "frm manifest build: %v\n", err)
		return 1
	}
	if *out == "-" {
		if _, err := fedapi.WriteManifest(stdout, entries); err != nil {
			fmt.Fprintf(stderr, "frm manifest build: %v\n", err)
			return 1
		}
		return 0
	}
	if _, err := mirror.WriteBuilt(*out, entries); err != nil {
		fmt.Fprintf(stderr, "frm manifest build: %v\n", err)
		return 1
	}
	return 0
}
