package main

import (
	"fmt"
	"io"

	"frm/core/config"
)

const configUsage = `Usage: frm config show [-c FILE] [-n NAME] [-d]
       frm config check [-c FILE] [-n NAME] [-d]
       frm config convert [-n NAME] [-d] XROOTD-CONFIG

show     print the effective configuration as TOML: every default resolved to
         the value in use (catalog.lease 1m, catalog.max_conns max(4, CPUs), ...)
check    load the configuration and report its problems: exit 0 when it has
         none, 1 when it loads with warnings (e.g. an unknown frm.* directive,
         which would be ignored), 4 when it does not load
convert  read an xrootd configuration file and print it as frm TOML (refuses a
         TOML file and a file with no xrootd directive)
  -d     also list the xrootd directives and options frm ignores (valid
         xrootd, not mistakes)
Warnings go to stderr. Secrets (S3 secret key, database password) are
printed as REDACTED.
`

// configSubs are the frm config subcommands.
var configSubs = map[string]func(fs *siteFlagSet, debug bool, stdout, stderr io.Writer) int{
	"show": configShow, "check": configCheck, "convert": configConvert,
}

func configMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, configUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	run, ok := configSubs[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "frm config: unknown subcommand %q\n\n%s", args[0], configUsage)
		return 2
	}
	fs := siteFlags("frm config " + args[0])
	debug := fs.Bool("d", false, "")
	if code, done := fs.parse(args[1:], configUsage, stdout, stderr); done {
		return code
	}
	return run(fs, *debug, stdout, stderr)
}

// debugTo returns the debug callback of -d: lines on w, or nothing.
func debugTo(w io.Writer, on bool) func(string) {
	if !on {
		return nil
	}
	return func(msg string) { fmt.Fprintf(w, "frm config: %s\n", msg) }
}

func configShow(fs *siteFlagSet, debug bool, stdout, stderr io.Writer) int {
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "frm config show: unexpected argument %q (the file is -c FILE)\n", fs.Arg(0))
		return 2
	}
	_, cfg, err := loadConfig(*fs.cfgPath, *fs.inst, debugTo(stderr, debug), warnTo(stderr, "frm config"))
	if err != nil {
		fmt.Fprintf(stderr, "frm config: %v\n", err)
		return 4
	}
	return writeConfig(cfg.Effective(), stdout, stderr)
}

func configCheck(fs *siteFlagSet, debug bool, stdout, stderr io.Writer) int {
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "frm config check: unexpected argument %q (the file is -c FILE)\n", fs.Arg(0))
		return 2
	}
	path, cfg, err := loadConfig(*fs.cfgPath, *fs.inst, debugTo(stderr, debug), warnTo(stderr, "frm config"))
	if err != nil {
		fmt.Fprintf(stderr, "frm config: %v\n", err)
		return 4
	}
	if n := len(cfg.Warnings); n > 0 {
		fmt.Fprintf(stdout, "%s: %s configuration with %s\n", path, cfg.Format, plural(n, "warning"))
		return 1
	}
	fmt.Fprintf(stdout, "%s: %s configuration, no problems found\n", path, cfg.Format)
	return 0
}

func configConvert(fs *siteFlagSet, debug bool, stdout, stderr io.Writer) int {
	if fs.NArg() != 1 {
		fmt.Fprint(stderr, "frm config convert: give one xrootd config file\n")
		return 2
	}
	cfg, err := config.ConvertXrootdDebug(fs.Arg(0), *fs.inst, debugTo(stderr, debug))
	if err != nil {
		fmt.Fprintf(stderr, "frm config: %v\n", err)
		return 4
	}
	for _, w := range cfg.Warnings {
		warnTo(stderr, "frm config")(w)
	}
	return writeConfig(cfg, stdout, stderr)
}

func writeConfig(cfg *config.Config, stdout, stderr io.Writer) int {
	if err := cfg.WriteTOML(stdout); err != nil {
		fmt.Fprintf(stderr, "frm config: %v\n", err)
		return 1
	}
	return 0
}

// plural is "1 warning", "2 warnings".
func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
