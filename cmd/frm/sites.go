package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"frm/core/config"
	"frm/core/fedapi"
	"frm/core/site"
	"frm/core/sites"
	"frm/serve"
	"frm/shell"
)

const sitesUsage = `Usage: frm sites [-c cfgfile] [-n name] [--sites FILE] [--state-dir DIR] <command> [options]

The manager's view of a federation of frm sites (docs/sites.md): probes the
sites listed in a data file (sites.toml) through their frm serve, never two
probes or jobs against one site at once (a lock per site on this host,
also across overlapping runs), and reports on them.

Commands:
  status [--parallel N] [--tag T] [--site S] [-o text|json]
        probe every site (/v1/status) and print one line per site: state
        (OK, WARNING, CRITICAL, UNKNOWN and why), version, spaces and usage,
        queued requests, failures in 24h, oldest unmigrated file, last seen
  report [-o text|json|html] [--out FILE] [--parallel N]
        probe every site, compare with the previous run, keep the run (the
        last 30 in the state directory) and print or write the report
  run [--tag T] [--site S] [--json] [--timeout D] -- ADMIN-COMMAND...
        run one frm admin command at every chosen site (POST /v1/admin) and
        collect each site's output; read-only commands need a read token,
        commands that change state an admin token

  --sites FILE     the sites data file (default: [sites] file)
  --state-dir DIR  runs, latest report, locks (default: [sites] state_dir,
                   else $XDG_STATE_HOME/frm/sites)
  --tag T, --site S  choose sites (repeat or separate with commas)

Exit status of status and report, as a Nagios plugin's: 0 OK, 1 WARNING,
2 CRITICAL, 3 UNKNOWN: the worst site's (CRITICAL before UNKNOWN); 3 also
when frm sites cannot run (usage, sites file). run: 0 when every site ran
the command with status 0, else the highest status (1 for a site that ran
nothing).
`

// listFlag is a flag that may be repeated or take a comma-separated list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error {
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

func sitesMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "frm sites"
	fs := siteFlags(name)
	sitesFile := fs.String("sites", "", "")
	stateDir := fs.String("state-dir", "", "")
	parallel := fs.Int("parallel", 0, "")
	outFmt := fs.String("o", "text", "")
	outFile := fs.String("out", "", "")
	jsonOut := fs.Bool("json", false, "")
	timeout := fs.Duration("timeout", serve.AdminTimeout, "")
	var tags, names listFlag
	fs.Var(&tags, "tag", "")
	fs.Var(&names, "site", "")
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "%s: %s\n\n%s", name, fmt.Sprintf(format, a...), sitesUsage)
		return 3
	}
	if code, done := fs.parse(args, sitesUsage, stdout, stderr); done {
		if code != 0 {
			return 3
		}
		return 0
	}
	if fs.NArg() == 0 {
		return usageErr("a command is needed: status, report or run")
	}
	sub := fs.Arg(0)
	if code, done := fs.parse(fs.Args()[1:], sitesUsage, stdout, stderr); done {
		if code != 0 {
			return 3
		}
		return 0
	}
	rest := fs.Args()
	if *jsonOut {
		*outFmt = "json"
	}
	switch sub {
	case "status":
		if *outFmt != "text" && *outFmt != "json" {
			return usageErr("status -o takes text or json, not %q", *outFmt)
		}
	case "report":
		if *outFmt != "text" && *outFmt != "json" && *outFmt != "html" {
			return usageErr("report -o takes text, json or html, not %q", *outFmt)
		}
		if len(tags) > 0 || len(names) > 0 {
			return usageErr("report covers every site of the file (no --tag or --site)")
		}
	case "run":
		if len(rest) == 0 {
			return usageErr("run needs an admin command after --")
		}
	default:
		return usageErr("unknown command %q (status, report or run)", sub)
	}
	if sub != "run" && len(rest) > 0 {
		return usageErr("unexpected argument %q", rest[0])
	}

	// The configuration is optional with --sites.
	var cfg *config.Config
	if *fs.cfgPath != "" || *sitesFile == "" {
		_, c, err := loadConfig(*fs.cfgPath, *fs.inst, func(string) {}, warnTo(stderr, name))
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			return 3
		}
		cfg = c
	}
	path := *sitesFile
	if path == "" {
		path = cfg.Sites.File
	}
	if path == "" {
		fmt.Fprintf(stderr, "%s: no sites file: give --sites FILE or set [sites] file in %s\n", name, cfg.Source)
		return 3
	}
	file, err := sites.Load(path)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 3
	}
	dir := *stateDir
	if dir == "" {
		dir = defaultSitesStateDir(cfg)
	}
	run := &sites.Run{File: file, StateDir: dir, Parallel: *parallel}
	chosen, err := file.Select(tags, names)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 3
	}
	if len(chosen) == 0 {
		fmt.Fprintf(stderr, "%s: no site has tag %s\n", name, strings.Join(tags, " or "))
		return 3
	}

	switch sub {
	case "status":
		res := run.Status(ctx, chosen)
		rep := sites.NewReport(time.Now(), res, nil, file.Thresholds)
		rep.History = nil
		if *outFmt == "json" {
			b, _ := sites.RenderJSON(rep)
			stdout.Write(b)
		} else {
			fmt.Fprintln(stdout, rep.Summary())
			fmt.Fprint(stdout, sites.Table(res, rep.Generated))
		}
		return int(rep.State)
	case "report":
		rep, err := run.Report(ctx)
		if rep == nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			return 3
		}
		if err != nil {
			fmt.Fprintf(stderr, "%s: warning: %v\n", name, err)
		}
		render := map[string]func(*sites.Report) ([]byte, error){"text": sites.RenderText, "json": sites.RenderJSON, "html": sites.RenderHTML}[*outFmt]
		b, err := render(rep)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			return 3
		}
		if *outFile != "" {
			if err := sites.WriteFileAtomic(*outFile, b); err != nil {
				fmt.Fprintf(stderr, "%s: --out: %v\n", name, err)
				return 3
			}
			fmt.Fprintln(stdout, rep.Summary())
		} else {
			stdout.Write(b)
		}
		return int(rep.State)
	}
	// run
	jobs := run.Jobs(ctx, chosen, rest, *outFmt == "json", *timeout)
	return printJobs(stdout, rest, jobs, *outFmt == "json")
}

// defaultSitesStateDir is [sites] state_dir, or <admin dir>/sites when a
// configuration names a sites file, else the user's
// $XDG_STATE_HOME/frm/sites (~/.local/state/frm/sites).
func defaultSitesStateDir(cfg *config.Config) string {
	if cfg != nil && (cfg.Sites.StateDir != "" || cfg.Sites.File != "") {
		return cfg.SitesStateDir()
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "frm", "sites")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "state", "frm", "sites")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("frm-sites-%d", os.Getuid()))
}

// printJobs writes every site's output: text with a header per site, or
// one JSON document (each site's JSON output embedded as it came).
func printJobs(w io.Writer, args []string, jobs []sites.JobResult, jsonOut bool) int {
	status := 0
	for _, j := range jobs {
		status = max(status, j.Exit())
	}
	if jsonOut {
		type siteOut struct {
			Site     string          `json:"site"`
			Exit     int             `json:"exit"`
			ReadOnly bool            `json:"read_only,omitempty"`
			Output   json.RawMessage `json:"output,omitempty"`
			Stderr   string          `json:"stderr,omitempty"`
			Error    string          `json:"error,omitempty"`
			Refused  bool            `json:"refused,omitempty"`
		}
		doc := struct {
			Version int       `json:"version"`
			Command []string  `json:"command"`
			Exit    int       `json:"exit"`
			Sites   []siteOut `json:"sites"`
		}{1, args, status, nil}
		for _, j := range jobs {
			o := siteOut{Site: j.Site, Exit: j.Exit(), Error: j.Error, Refused: j.Refused}
			if r := j.Reply; r != nil {
				o.ReadOnly, o.Stderr = r.ReadOnly, r.Stderr
				out := bytes.TrimSpace([]byte(r.Stdout))
				if json.Valid(out) {
					o.Output = out
				} else if len(out) > 0 {
					o.Output, _ = json.Marshal(r.Stdout)
				}
			}
			doc.Sites = append(doc.Sites, o)
		}
		b, _ := json.MarshalIndent(doc, "", "  ")
		w.Write(append(b, '\n'))
		return status
	}
	for _, j := range jobs {
		if j.Reply == nil {
			fmt.Fprintf(w, "=== %s: not run: %s\n", j.Site, j.Error)
			continue
		}
		fmt.Fprintf(w, "=== %s: exit %d\n", j.Site, j.Reply.Exit)
		io.WriteString(w, j.Reply.Stdout)
		if j.Reply.Stdout != "" && !strings.HasSuffix(j.Reply.Stdout, "\n") {
			io.WriteString(w, "\n")
		}
		for _, l := range strings.SplitAfter(strings.TrimRight(j.Reply.Stderr, "\n"), "\n") {
			if l != "" {
				fmt.Fprintf(w, "  stderr: %s", l)
				if !strings.HasSuffix(l, "\n") {
					io.WriteString(w, "\n")
				}
			}
		}
	}
	return status
}

// shellAdmin runs frm admin commands for frm serve's POST /v1/admin, in
// the daemon, on its site: the command language's one table says what
// only reads.
type shellAdmin struct {
	site *site.Site
}

func (a shellAdmin) ReadOnly(args []string) (bool, error) { return shell.ReadOnly(args) }

// maxAdminOutput bounds what one remote command's output may hold.
const maxAdminOutput = 64 << 20

func (a shellAdmin) Run(ctx context.Context, args []string, jsonOut bool) fedapi.AdminReply {
	out := &cappedBuffer{max: maxAdminOutput}
	errb := &cappedBuffer{max: 1 << 20}
	sh := &shell.Shell{Name: "frm_admin", Out: out, Err: errb, JSON: jsonOut, Site: a.site}
	if a.site == nil {
		sh.SiteErr = fmt.Errorf("no site")
	}
	code := sh.RunArgs(ctx, args, strings.NewReader(""))
	if out.cut {
		fmt.Fprintf(errb, "frm_admin: output cut at %d bytes\n", maxAdminOutput)
	}
	return fedapi.AdminReply{Exit: code, Stdout: out.String(), Stderr: errb.String()}
}

// cappedBuffer keeps the first max bytes written to it.
type cappedBuffer struct {
	bytes.Buffer
	max int
	cut bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); len(p) > room {
		b.cut = true
		b.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.Buffer.Write(p)
}
