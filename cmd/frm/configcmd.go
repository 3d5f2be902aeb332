package main

import (
	"fmt"
	"io"

	"frm/core/config"
)

const configUsage = `Usage: frm config show [-c FILE] [-n NAME]
       frm config convert [-n NAME] XROOTD-CONFIG

show     print the effective configuration (defaults applied) as TOML
convert  read an xrootd configuration file and print it as frm TOML
Secrets (S3 secret key, database password) are printed as REDACTED.
`

func configMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, configUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	fs := siteFlags("frm config " + args[0])
	if code, done := fs.parse(args[1:], configUsage, stdout, stderr); done {
		return code
	}
	var cfg *config.Config
	var err error
	switch args[0] {
	case "show":
		_, cfg, err = loadConfig(*fs.cfgPath, *fs.inst, nil)
	case "convert":
		if fs.NArg() != 1 {
			fmt.Fprint(stderr, "frm config convert: give one xrootd config file\n")
			return 2
		}
		cfg, err = config.ConvertXrootd(fs.Arg(0), *fs.inst)
	default:
		fmt.Fprintf(stderr, "frm config: unknown subcommand %q\n\n%s", args[0], configUsage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "frm config: %v\n", err)
		return 4
	}
	if err := cfg.WriteTOML(stdout); err != nil {
		fmt.Fprintf(stderr, "frm config: %v\n", err)
		return 1
	}
	return 0
}
