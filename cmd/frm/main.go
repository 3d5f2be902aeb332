// Command frm is the File Residency Manager: one binary for the
// frm_admin-compatible shell (frm admin), configuration tools (frm config)
// and a sandbox site (frm demo). Invoked as frm_admin it behaves as
// `frm admin`, so existing scripts keep working; as frm_xfragent,
// frm_purged and frm_xfrd it takes the place of that xrootd program.
package main

import (
	"context"
	"flag"
	"fmt"
	"frm/core/config"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
)

// version is set at build time (-ldflags "-X main.version=..."); when it
// is not, versionString asks the build information.
var version = "dev"

// versionString is frm's version: the one set at build time, else the
// module version go install recorded, else "dev-" and the commit a go
// build in a git checkout recorded (with "-dirty" when the tree had
// changes), else "dev".
func versionString() string {
	if version != "dev" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return version
	}
	return buildVersion(bi)
}

// buildVersion is versionString's reading of bi.
func buildVersion(bi *debug.BuildInfo) string {
	// A tagged module version says it all; a pseudo-version (what Go
	// 1.24+ stamps a build of a checkout with, v0.0.0-date-commit) is
	// told as the commit, as for a development build.
	if v := bi.Main.Version; v != "" && v != "(devel)" && !strings.HasPrefix(v, "v0.0.0-") {
		return v
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return version
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	v := "dev-" + rev
	if modified == "true" {
		v += "-dirty"
	}
	return v
}

func main() {
	os.Exit(run(context.Background(), os.Args, os.Stdin, os.Stdout, os.Stderr))
}

// interruptible returns a context cancelled by SIGINT or SIGTERM, so a long
// one-shot or batch command stops cleanly (exit 130) instead of dying
// mid-write.
func interruptible(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}

// run dispatches on the program name and the first argument, and returns
// the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	prog := filepath.Base(args[0])
	switch prog {
	case "frm_admin":
		return adminMain(ctx, "frm_admin", args[1:], stdin, stdout, stderr)
	case "frm_xfragent", "frm_pstga":
		return agentMain(ctx, prog, args[1:], stdin, stdout, stderr)
	case "frm_purged":
		return purgedMain(ctx, args[1:], stdout, stderr)
	case "frm_xfrd":
		return xfrdMain(ctx, args[1:], stdout, stderr)
	}
	if len(args) < 2 {
		fmt.Fprint(stderr, topUsage())
		return 2
	}
	switch args[1] {
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, topUsage())
		return 0
	}
	if c, ok := findTop(args[1]); ok {
		return c.run(ctx, args[2:], stdin, stdout, stderr)
	}
	fmt.Fprintf(stderr, "frm: unknown command %q\n\n%s", args[1], topUsage())
	return 2
}

// loadConfig finds the configuration (-c, $FRM_CONFIG, /etc/frm/frm.toml)
// and loads it for instance; debug, when not nil, hears about xrootd
// directives frm ignores, and warn about each of the configuration's
// warnings (cfg.Warnings: unknown frm directives, ...): every command
// that loads a configuration shows them.
func loadConfig(flagPath, instance string, debug, warn func(string)) (string, *config.Config, error) {
	path, err := config.Find(flagPath)
	if err != nil {
		return "", nil, err
	}
	cfg, err := config.LoadDebug(path, instance, debug)
	if err != nil {
		return path, nil, err
	}
	for _, w := range cfg.Warnings {
		warn(w)
	}
	return path, cfg, nil
}

// warnTo returns a warn function for loadConfig that writes
// "name: warning: ..." lines to w.
func warnTo(w io.Writer, name string) func(string) {
	return func(msg string) { fmt.Fprintf(w, "%s: warning: %s\n", name, msg) }
}

// siteFlags starts the flag set every site subcommand shares: -c (config),
// -n (instance, default $XRDNAME) and -h; parse reports malformed flags
// and -h with the subcommand's usage text.
func siteFlags(name string) *siteFlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &siteFlagSet{FlagSet: fs, name: name,
		cfgPath: fs.String("c", "", ""), inst: fs.String("n", os.Getenv("XRDNAME"), ""), help: fs.Bool("h", false, "")}
}

// siteFlagSet is the flag set of a site subcommand: -c, -n and -h, and
// whatever the subcommand adds.
type siteFlagSet struct {
	*flag.FlagSet
	name          string
	cfgPath, inst *string
	help          *bool
}

// parse parses args. done says the command ends here with code: 2 after
// a malformed flag (with the usage), 0 after -h (the usage on stdout).
func (f *siteFlagSet) parse(args []string, usage string, stdout, stderr io.Writer) (code int, done bool) {
	if err := f.Parse(args); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n\n%s", f.name, err, usage)
		return 2, true
	}
	if *f.help {
		fmt.Fprint(stdout, usage)
		return 0, true
	}
	return 0, false
}
