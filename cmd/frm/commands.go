package main

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// topCommand is one subcommand of frm. topCommands is the table run
// dispatches on, and that the usage text, the completion scripts and the
// man pages are made from; the admin language's commands come from
// shell.Commands.
type topCommand struct {
	name    string
	aliases []string // other names run accepts ("agent" for pstga)
	summary string   // one line, for the usage text and frm(1)
	usage   string   // the -h text
	flags   []topFlag
	subs    []string // first-word subcommands (config show|check|convert)
	// args says what the positional arguments are, for completion:
	// "file", "dir" or "" (none).
	args string
	run  func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

// topFlag is one option of a subcommand. value is "" for a switch, else
// what it takes: "file", "dir", or a word such as "NAME", or the choices
// joined by "|" ("text|json").
type topFlag struct {
	name, value string
}

// choices are the words a flag's value may be (nil: anything).
func (f topFlag) choices() []string {
	if !strings.Contains(f.value, "|") {
		return nil
	}
	return strings.Split(f.value, "|")
}

var (
	siteFlagList = []topFlag{{"-c", "file"}, {"-n", "NAME"}, {"-h", ""}}
	topCommands  []topCommand
)

func init() {
	topCommands = []topCommand{
		{name: "admin", summary: "the frm_admin command language: one-shot, batch on stdin, or a REPL", usage: adminUsage,
			flags: []topFlag{{"-c", "file"}, {"-d", ""}, {"-h", ""}, {"-n", "NAME"}, {"-v", ""}, {"-o", "text|json"}, {"--json", ""}, {"--echo", ""}},
			run: func(ctx context.Context, a []string, in io.Reader, out, errw io.Writer) int {
				return adminMain(ctx, "frm_admin", a, in, out, errw)
			}},
		{name: "tui", summary: "the full-screen console: spaces, namespace, queues, actions", usage: tuiUsage, args: "dir",
			flags: append(siteFlagList[:3:3], topFlag{"--read-only", ""}, topFlag{"--daemon-log", "file"}),
			run:   tuiMain},
		{name: "config", summary: "show or check the effective configuration, convert an xrootd config to TOML", usage: configUsage,
			subs: []string{"show", "check", "convert"}, args: "file", flags: append(siteFlagList[:3:3], topFlag{"-d", ""}),
			run: func(_ context.Context, a []string, _ io.Reader, out, errw io.Writer) int {
				return configMain(a, out, errw)
			}},
		{name: "daemon", summary: "run the transfer, migration and purge daemons (and frm serve)", usage: daemonUsage,
			flags: append(siteFlagList[:3:3], topFlag{"-only", "stage|migrate|purge|scrub|mirror|serve|sites"}, topFlag{"-l", "file"}, topFlag{"-k", "N"},
				topFlag{"-d", ""}, topFlag{"-log-format", "text|json"}, topFlag{"-drain", "DURATION"}, topFlag{"-metrics", "ADDR"}),
			run: func(ctx context.Context, a []string, _ io.Reader, out, errw io.Writer) int {
				return daemonMain(ctx, a, out, errw)
			}},
		{name: "sites", summary: "probe the sites of a federation, run admin commands at them, report (text, JSON, HTML)", usage: sitesUsage,
			subs: []string{"status", "report", "run"},
			flags: append(siteFlagList[:3:3], topFlag{"--sites", "file"}, topFlag{"--state-dir", "dir"}, topFlag{"--parallel", "N"},
				topFlag{"--tag", "TAG"}, topFlag{"--site", "NAME"}, topFlag{"-o", "text|json|html"}, topFlag{"--out", "file"},
				topFlag{"--json", ""}, topFlag{"--timeout", "DURATION"}),
			run: func(ctx context.Context, a []string, _ io.Reader, out, errw io.Writer) int {
				return sitesMain(ctx, a, out, errw)
			}},
		{name: "pstga", aliases: []string{"agent"}, summary: "the request agent: xrootd's frm_xfragent protocol on stdin", usage: agentUsage,
			flags: siteFlagList,
			run: func(ctx context.Context, a []string, in io.Reader, out, errw io.Writer) int {
				return agentMain(ctx, "frm pstga", a, in, out, errw)
			}},
		{name: "db", summary: "create, migrate and inspect the PostgreSQL catalog", usage: dbUsage,
			subs: []string{"init", "migrate", "status"}, flags: siteFlagList,
			run: func(ctx context.Context, a []string, _ io.Reader, out, errw io.Writer) int {
				return dbMain(ctx, a, out, errw)
			}},
		{name: "catalog", summary: "import the embedded site (files, queue files) into the PostgreSQL catalog", usage: catalogUsage,
			subs: []string{"import"}, flags: siteFlagList,
			run: func(ctx context.Context, a []string, _ io.Reader, out, errw io.Writer) int {
				return catalogMain(ctx, a, out, errw)
			}},
		{name: "mirror", summary: "keep mirrors of a distribution's products up to date (from cron or the daemon)", usage: mirrorUsage,
			flags: append(siteFlagList[:3:3], topFlag{"--dry-run", ""}, topFlag{"--delete", ""}, topFlag{"--force", ""}, topFlag{"-v", ""}, topFlag{"-o", "text|json"}),
			run: func(ctx context.Context, a []string, _ io.Reader, out, errw io.Writer) int {
				return mirrorMain(ctx, a, out, errw)
			}},
		{name: "manifest", summary: "write the manifest of a plain directory tree (a static distribution for frm mirror)", usage: manifestUsage,
			subs: []string{"build"}, args: "dir", flags: []topFlag{{"-o", "file"}, {"-h", ""}},
			run: func(ctx context.Context, a []string, _ io.Reader, out, errw io.Writer) int {
				return manifestMain(ctx, a, out, errw)
			}},
		{name: "demo", summary: "create a sandbox site to try frm on", usage: demoUsage, args: "dir",
			flags: []topFlag{{"-files", "N"}, {"-seed", "S"}, {"-h", ""}},
			run: func(ctx context.Context, a []string, _ io.Reader, out, errw io.Writer) int {
				return demoMain(ctx, a, out, errw)
			}},
		{name: "completion", summary: "print the shell completion script for bash, zsh or fish", usage: completionUsage,
			subs: []string{"bash", "zsh", "fish"},
			run: func(_ context.Context, a []string, _ io.Reader, out, errw io.Writer) int {
				return completionMain(a, out, errw)
			}},
		{name: "man", summary: "write the man pages (frm.1, frm-admin.1, ...) into a directory, or print one", usage: manUsage, args: "dir",
			run: func(_ context.Context, a []string, _ io.Reader, out, errw io.Writer) int {
				return manMain(a, out, errw)
			}},
		{name: "version", aliases: []string{"-version", "--version"}, summary: "print the version", usage: "Usage: frm version\n\nPrints frm's version.\n",
			run: func(_ context.Context, _ []string, _ io.Reader, out, _ io.Writer) int {
				fmt.Fprintln(out, "frm", versionString())
				return 0
			}},
	}
}

// findTop returns the subcommand called name (or one of its aliases).
func findTop(name string) (*topCommand, bool) {
	for i := range topCommands {
		c := &topCommands[i]
		if c.name == name {
			return c, true
		}
		for _, a := range c.aliases {
			if a == name {
				return c, true
			}
		}
	}
	return nil, false
}

// topUsage is frm's usage text, made from topCommands.
func topUsage() string {
	var b strings.Builder
	b.WriteString("Usage: frm <command> [options]\n\nCommands:\n")
	for _, c := range topCommands {
		fmt.Fprintf(&b, "  %-10s %s\n", c.name, c.summary)
	}
	b.WriteString(`
Run 'frm <command> -h' for a command's options. Invoked as frm_admin, frm
behaves as 'frm admin'; as frm_xfragent, as 'frm pstga'. Docs: docs/commands.md, docs/config.md.
`)
	return b.String()
}
