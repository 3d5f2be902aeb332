package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"frm/core/sites"
	"frm/tui"
)

const tuiUsage = `Usage: frm tui [-c cfgfile] [-n name] [--read-only] [--daemon-log FILE] [-h] [dir]

The full-screen console: spaces, the namespace, transfer queues, audits and
daemons of a site. Keys: 1-5 or Tab switch views, ? shows the keys of the
view, : runs an frm admin command line, q quits. NO_COLOR=1 turns colours
off. It needs a terminal: without one (standard input and output) it says
so and exits with status 2. See docs/tui.md.

  -c FILE      configuration (default: $FRM_CONFIG, then /etc/frm/frm.toml)
  -n NAME      instance name (default $XRDNAME)
  --read-only  hide every action (pin, mark, relocate, remove, stage, migrate,
               cancel, priority, wake, audit fixes, stop files, the palette)
  --daemon-log FILE  the daemon's log file (its -l), tailed in the Daemons
               view (default: tui.daemon_log of the configuration)
  dir          the directory the Namespace view starts in (default /)
`

// tuiMain runs `frm tui`.
func tuiMain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := siteFlags("frm tui")
	readOnly := fs.Bool("read-only", false, "")
	daemonLog := fs.String("daemon-log", "", "")
	if code, done := fs.parse(args, tuiUsage, stdout, stderr); done {
		return code
	}
	if fs.NArg() > 1 {
		fmt.Fprintf(stderr, "frm tui: one directory at most\n\n%s", tuiUsage)
		return 2
	}
	if stdin == nil {
		stdin = os.Stdin
	}
	if !isTerminal(stdin) || !isTerminal(stdout) {
		// Before bubbletea starts: it would write escape codes into a
		// pipe, fail to read keys, and leave the cursor hidden.
		fmt.Fprintln(stderr, "frm tui: needs a terminal (standard input and output); use frm admin for scripts")
		return 2
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// The warnings stay on the terminal under the console's alternate
	// screen, and are there when it quits.
	s, err := openSite(*fs.cfgPath, *fs.inst, log, warnTo(stderr, "frm tui"))
	if err != nil {
		fmt.Fprintf(stderr, "frm tui: %v\n", err)
		return 4
	}
	if os.Getenv("NO_COLOR") != "" {
		lipgloss.SetColorProfile(termenv.Ascii)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	logPath := s.Config().TUI.DaemonLog
	if *daemonLog != "" {
		if logPath, err = filepath.Abs(*daemonLog); err != nil {
			fmt.Fprintf(stderr, "frm tui: --daemon-log: %v\n", err)
			return 2
		}
	}
	var sitesRun *sites.Run
	if cfg := s.Config(); cfg.Sites.File != "" {
		// The Sites view, under the same state directory (and locks) as
		// frm sites and the daemon's schedule.
		f, err := sites.Load(cfg.Sites.File)
		if err != nil {
			fmt.Fprintf(stderr, "frm tui: warning: no Sites view: %v\n", err)
		} else {
			sitesRun = &sites.Run{File: f, StateDir: cfg.SitesStateDir()}
		}
	}
	app := tui.New(tui.Options{Backend: &tui.SiteBackend{Site: s, DaemonLog: logPath}, ReadOnly: *readOnly, Dir: fs.Arg(0), Ctx: ctx, Keys: s.Config().TUI.Keys,
		Sites: sitesRun})
	opts := []tea.ProgramOption{tea.WithAltScreen(), tea.WithContext(ctx), tea.WithOutput(stdout), tea.WithInput(stdin)}
	if _, err := tea.NewProgram(app, opts...).Run(); err != nil && ctx.Err() == nil {
		fmt.Fprintf(stderr, "frm tui: %v\n", err)
		return 1
	}
	return 0
}
