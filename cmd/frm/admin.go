package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"golang.org/x/term"

	"frm/core/site"
	"frm/core/wire"
	"frm/shell"
	"frm/shell/lineedit"
)

const adminUsage = `Usage: frm admin [-c cfgfile] [-d] [-h] [-n name] [-v] [-o text|json] [--echo] [help | cmd & opts]

With a command: run it and exit. Without one: read commands from standard
input (batch) when it is not a terminal, else start an interactive shell.

  -c FILE   configuration: TOML or an xrootd config file (default: $FRM_CONFIG,
            then /etc/frm/frm.toml)
  -d        debug: log configuration details and ignored xrootd directives
  -n NAME   instance name (default $XRDNAME)
  -o FMT    output format: text (default) or json (also --json)
  -v        verbose
  --echo    in batch mode, print each command before running it

Exit status: 0 ok, 1 error, 2 usage, 3 partial (some items failed),
4 configuration error, 130 interrupted. See docs/commands.md.
`

func isTerminal(f any) bool {
	if fd, ok := f.(interface{ Fd() uintptr }); ok {
		return term.IsTerminal(int(fd.Fd()))
	}
	return false
}

func adminMain(ctx context.Context, name string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfgPath := fs.String("c", "", "")
	debug := fs.Bool("d", false, "")
	help := fs.Bool("h", false, "")
	inst := fs.String("n", os.Getenv("XRDNAME"), "")
	verbose := fs.Bool("v", false, "")
	outFmt := fs.String("o", "text", "")
	jsonOut := fs.Bool("json", false, "")
	echo := fs.Bool("echo", false, "")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n\n%s", name, err, adminUsage)
		return shell.ExitUsage
	}
	if *help {
		fmt.Fprint(stderr, adminUsage)
		return 0
	}
	if *outFmt != "text" && *outFmt != "json" {
		fmt.Fprintf(stderr, "%s: -o takes text or json, not %q\n", name, *outFmt)
		return shell.ExitUsage
	}
	level := slog.LevelWarn
	if *debug {
		level = slog.LevelDebug
	} else if *verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	sh := &shell.Shell{Name: name, Out: stdout, Err: stderr, JSON: *outFmt == "json" || *jsonOut, Echo: *echo, Term: isTerminal(stderr)}
	sh.Site, sh.SiteErr = openSite(*cfgPath, *inst, log, warnTo(stderr, name))
	if sh.SiteErr != nil && *debug {
		log.Debug("configuration failed", "err", sh.SiteErr)
	}

	words := fs.Args()
	if len(words) > 0 {
		ctx, stop := interruptible(ctx)
		defer stop()
		return sh.RunArgs(ctx, words, stdin)
	}
	if isTerminal(stdin) {
		if sh.SiteErr != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, sh.SiteErr)
		}
		lr, err := lineedit.New(sh, historyFile())
		if err != nil {
			fmt.Fprintf(stderr, "%s: cannot start the line editor: %v\n", name, err)
			return shell.ExitError
		}
		return sh.RunREPL(ctx, lr)
	}
	ctx, stop := interruptible(ctx)
	defer stop()
	return sh.RunBatch(ctx, stdin)
}

func historyFile() string {
	if h := os.Getenv("FRM_HISTORY"); h != "" {
		return h
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".frm_history")
}

// openSite finds and loads the configuration (its warnings to warn) and
// opens the site.
func openSite(cfgPath, instance string, log *slog.Logger, warn func(string)) (*site.Site, error) {
	path, cfg, err := loadConfig(cfgPath, instance, func(msg string) { log.Debug(msg) }, warn)
	if err != nil {
		return nil, err
	}
	log.Debug("configuration loaded", "file", path, "format", cfg.Format)
	return wire.Open(cfg)
}
