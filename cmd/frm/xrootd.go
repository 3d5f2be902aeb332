package main

// frm_purged and frm_xfrd: the binary linked or copied under the name of
// one of xrootd's daemons accepts that program's command line (xrootd
// 5.5.3) and does its job, so a site can swap one daemon at a time.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"frm/core/config"
	"frm/core/purge"
	"frm/core/wire"
	"frm/daemons"
)

// The usage lines of xrootd 5.5.3 (printed after a bad option, and by -h).
const (
	purgedUsage = "\nUsage: frm_purged  [-b] [-c <cfgfile>] [-d] [-f] [-k {num|sz{k|m|g}|sig] [-l [=]<fn>] [-n name] [-O free[,hold]] [-s pidfile] [-S site] [-T] [-v] [-z] [<spaces>] [<paths>]\n\n"
	xfrdUsage   = "\nUsage: frm_xfrd  [-b] [-c <cfgfn>] [-d] [-f] [-k {num|sz{k|m|g}|sig] [-l [=]<fn>] [-n name]\n [-s pidfile] [-S site] [-T] [-v] [-z]\n\n"
)

// xrdOpts is the command line of frm_purged or frm_xfrd.
type xrdOpts struct {
	cfg, logFile, keep, inst, free, pidFile, site string
	background, debug, fg, test, verbose, z       bool
	args                                          []string
}

// xrdProg describes one of the programs: its name, its messages' prefix,
// its option letters (getopt: a colon after a letter that takes a value)
// and its usage.
type xrdProg struct {
	name, prefix, optstring, usage string
}

var (
	purgedProg = xrdProg{"frm_purged", "purge_", "bc:dfk:l:n:O:s:S:Tvz", purgedUsage}
	xfrdProg   = xrdProg{"frm_xfrd", "xfr_", "bc:dfk:l:n:s:S:Tvz", xfrdUsage}
)

// emsg writes an xrootd message line: "YYMMDD HH:MM:SS pid <prefix><fn>: msg".
func emsg(w io.Writer, prefix, fn, msg string) {
	fmt.Fprintf(w, "%s %d %s%s: %s\n", time.Now().Format("060102 15:04:05"), os.Getpid(), prefix, fn, msg)
}

// parse reads args as xrootd's getopt loop does: letters may be grouped
// (-Tv), a value is the rest of the word or the next word, the first word
// that is not an option ends the options. help is set by -h; code is the
// exit status when the command ends here (a bad option: 1, with xrootd's
// message and usage on stderr).
func (p xrdProg) parse(args []string, stderr io.Writer) (o xrdOpts, help bool, code int, done bool) {
	o.inst = os.Getenv("XRDNAME")
	bad := func(msg string) (xrdOpts, bool, int, bool) {
		emsg(stderr, p.prefix, "Config", msg)
		fmt.Fprint(stderr, p.usage)
		return o, false, 1, true
	}
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if len(a) < 2 || a[0] != '-' {
			break
		}
		for j := 1; j < len(a); j++ {
			c := a[j]
			if c == 'h' {
				return o, true, 0, true
			}
			k := strings.IndexByte(p.optstring, c)
			if k < 0 || c == ':' {
				return bad(fmt.Sprintf("'%c' option is invalid", c))
			}
			var val string
			if k+1 < len(p.optstring) && p.optstring[k+1] == ':' {
				switch {
				case j+1 < len(a):
					val = a[j+1:]
				case i+1 < len(args) && !strings.HasPrefix(args[i+1], "-"):
					i++
					val = args[i]
				default:
					return bad(fmt.Sprintf("'%c' value not specified.", c))
				}
				j = len(a)
			}
			switch c {
			case 'b':
				o.background = true
			case 'c':
				o.cfg = val
			case 'd':
				o.debug = true
			case 'f':
				o.fg = true
			case 'k':
				o.keep = val
			case 'l':
				o.logFile = val
			case 'n':
				o.inst = val
			case 'O':
				o.free = val
			case 's':
				o.pidFile = val
			case 'S':
				o.site = val
			case 'T':
				o.test = true
			case 'v':
				o.verbose = true
			case 'z':
				o.z = true
			}
		}
	}
	o.args = args[i:]
	return o, false, 0, false
}

// logPath is where -l puts the log, as xrootd does: "=fn" is fn; fn is
// put in a sub-directory named after the instance, when there is one
// (created, as xrootd creates it).
func xrdLogPath(fn, inst string) (string, error) {
	if rest, ok := strings.CutPrefix(fn, "="); ok {
		return rest, nil
	}
	if inst = config.NormalizeInstance(inst); inst == "" {
		return fn, nil
	}
	dir := filepath.Join(filepath.Dir(fn), inst)
	if _, err := os.Stat(filepath.Dir(fn)); err == nil {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
	}
	return filepath.Join(dir, filepath.Base(fn)), nil
}

// ignoredOpts lists the options given that mean nothing to frm (-b, -f,
// -s, -S, -z, -k sig), for a warning.
func (o xrdOpts) ignored() []string {
	var out []string
	for _, x := range []struct {
		on   bool
		what string
	}{{o.background, "-b (frm does not fork; let systemd or the shell run it in the background)"},
		{o.fg, "-f"}, {o.site != "", "-S (no monitoring)"},
		{o.z, "-z (log lines carry their own times)"}, {o.keep == "sig", "-k sig (logs rotate daily)"}} {
		if x.on {
			out = append(out, x.what)
		}
	}
	return out
}

// xrdSetup opens the log (-l, -k) and loads the configuration (-c, -n).
// It returns the logger, the writer the report lines go to, a function
// closing the log, and the exit status when the start failed.
func xrdSetup(p xrdProg, o xrdOpts, stderr io.Writer) (*slog.Logger, io.Writer, *config.Config, func(), int) {
	out := stderr
	closeLog := func() {}
	keep := o.keep
	if keep == "sig" {
		keep = ""
	}
	if o.logFile != "" {
		path, err := xrdLogPath(o.logFile, o.inst)
		var lw *logWriter
		if err == nil {
			lw, err = openLog(path, keep)
		}
		if err != nil {
			emsg(stderr, p.prefix, "Config", fmt.Sprintf("-l: %v", err))
			return nil, nil, nil, nil, 1
		}
		out, closeLog = lw, func() { lw.Close() }
	}
	log, err := daemonLogger(out, stderr, o.logFile != "", o.debug, "text")
	if err != nil {
		closeLog()
		emsg(stderr, p.prefix, "Config", err.Error())
		return nil, nil, nil, nil, 2
	}
	for _, x := range o.ignored() {
		log.Warn(p.name+": option ignored by frm", "option", x)
	}
	_, cfg, err := loadConfig(o.cfg, o.inst, func(m string) { log.Debug(m) }, func(m string) { log.Warn(m) })
	if err != nil {
		emsg(out, p.prefix, "Config", err.Error())
		fmt.Fprintf(out, "------ %s %s@%s initialization failed.\n", p.name, instOrAnon(o.inst), hostName())
		closeLog()
		return nil, nil, nil, nil, 4
	}
	if err := writePidFile(cfg, p.name, o.pidFile); err != nil {
		log.Warn("cannot write the pid file", "err", err)
	}
	return log, out, cfg, closeLog, 0
}

// writePidFile writes the process id where xrootd's daemons write theirs:
// the file -s names, else <all.pidpath or /tmp>/[<instance>/]<program>.pid,
// the digits without a newline. Like xrootd's, it is left behind at exit
// (init scripts check that the process still lives).
func writePidFile(cfg *config.Config, prog, named string) error {
	pid := []byte(strconv.Itoa(os.Getpid()))
	if named != "" {
		return os.WriteFile(named, pid, 0o644)
	}
	dir := cfg.PidPath
	if dir == "" {
		dir = "/tmp"
	}
	if cfg.Instance != "" {
		dir = filepath.Join(dir, cfg.Instance)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, prog+".pid"), pid, 0o644)
}

func instOrAnon(inst string) string {
	if inst = config.NormalizeInstance(inst); inst != "" {
		return inst
	}
	return "anon"
}

func hostName() string {
	h, _ := os.Hostname()
	h, _, _ = strings.Cut(h, ".")
	return h
}

// purgedMain is frm_purged: one purge cycle with -O (then exit 0), else
// a purge every purge.wait_time until SIGTERM (frm daemon -only purge).
func purgedMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	p := purgedProg
	o, help, code, done := p.parse(args, stderr)
	if help {
		fmt.Fprint(stderr, p.usage)
		return 0
	}
	if done {
		return code
	}
	var po purge.Options
	if o.free != "" {
		free, holdS, hasHold := strings.Cut(o.free, ",")
		w, err := purge.ParseWatermark(free)
		if err != nil {
			emsg(stderr, p.prefix, "a2x", "free value "+free+" is not a number")
			fmt.Fprint(stderr, p.usage)
			return 1
		}
		po.Override = &w
		if hasHold {
			secs, err := strconv.ParseInt(holdS, 10, 64)
			if err != nil || secs < 0 {
				emsg(stderr, p.prefix, "a2x", "hold value "+holdS+" is not a number")
				fmt.Fprint(stderr, p.usage)
				return 1
			}
			hold := time.Duration(secs) * time.Second
			po.HoldOverride = &hold
		}
	}
	log, out, cfg, closeLog, code := xrdSetup(p, o, stderr)
	if code != 0 {
		return code
	}
	defer closeLog()
	fail := func(msg string) int {
		emsg(out, p.prefix, "Config", msg)
		fmt.Fprintf(out, "------ %s %s@%s initialization failed.\n", p.name, instOrAnon(o.inst), hostName())
		return 4
	}
	for _, a := range o.args {
		if strings.HasPrefix(a, "/") {
			po.Paths = append(po.Paths, a)
			continue
		}
		if a != "public" && !slices.ContainsFunc(cfg.Spaces, func(s config.Space) bool { return s.Name == a }) {
			return fail("Space " + a + " not defined.")
		}
		po.Spaces = append(po.Spaces, a)
	}
	rep := &purge.XrdReport{W: out, Verbose: o.verbose, Test: o.test, Order: purge.XrdSpaceOrder(cfg)}
	if o.free == "" {
		if len(po.Spaces) > 0 || len(po.Paths) > 0 {
			log.Warn("frm_purged: spaces and paths restrict a single cycle (-O) only; the daemon purges every space")
		}
		return purgedDaemon(ctx, cfg, log, rep, o.test)
	}

	s, err := wire.Open(cfg)
	if err != nil {
		return fail(err.Error())
	}
	defer s.Close()
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	rep.Defer()
	po = rep.BuildHooks(po)
	po.Lazy = true
	plan, err := purge.Build(ctx, s, po)
	hold := cfg.Purge.DirHold.Std()
	if hold <= 0 {
		hold = 40 * time.Hour
	}
	if err == nil && o.verbose && !plan.Skipped {
		rep.Config(plan, s.PFN, hold)
	}
	rep.Flush()
	if errors.Is(err, purge.ErrNotPurgeable) {
		return fail(err.Error())
	}
	if err != nil {
		emsg(out, p.prefix, "Purge", err.Error())
		return 1
	}
	rep.Scanned(plan)
	if plan.Skipped {
		return 0
	}
	if o.test {
		for i := range plan.Spaces {
			for _, c := range plan.Spaces[i].Candidates {
				rep.File(c)
			}
		}
		found, _ := purge.EmptyDirs(ctx, s, plan.Roots, plan.Now.Add(-hold).Unix(), false, func(purge.EmptyDir) {}, func(error) {})
		rep.Ended(plan, purge.TestResult(plan), found, 0)
		return 0
	}
	dirs := 0
	res, err := purge.Execute(ctx, s, plan, purge.ExecOptions{
		OnPurged: rep.File,
		OnDir:    func(purge.EmptyDir) { dirs++ },
		OnError:  func(err error) { emsg(out, p.prefix, "Purge", err.Error()) },
	})
	if err != nil {
		emsg(out, p.prefix, "Purge", err.Error())
	}
	rep.Ended(plan, res, dirs, dirs)
	return 0
}

// purgedDaemon runs frm_purged without -O: frm daemon -only purge, its
// cycles reported as frm_purged reports them.
func purgedDaemon(ctx context.Context, cfg *config.Config, log *slog.Logger, rep *purge.XrdReport, test bool) int {
	d, err := daemons.New(cfg, daemons.Options{Only: []string{"purge"}, Log: log, Version: versionString(),
		As: daemons.AsPurged, PurgeReport: rep, PurgeTest: test})
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	defer d.Close()
	return runXrdDaemon(ctx, d, log)
}

// xfrdMain is frm_xfrd: frm daemon -only stage,migrate on the same
// configuration, until SIGTERM.
func xfrdMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	p := xfrdProg
	o, help, code, done := p.parse(args, stderr)
	if help {
		fmt.Fprint(stderr, p.usage)
		return 0
	}
	if done {
		return code
	}
	log, out, cfg, closeLog, code := xrdSetup(p, o, stderr)
	if code != 0 {
		return code
	}
	defer closeLog()
	if len(o.args) > 0 {
		// xrootd takes them for spaces and refuses any: they mean nothing.
		emsg(out, p.prefix, "Config", "Space "+o.args[0]+" not defined.")
		fmt.Fprintf(out, "------ %s %s@%s initialization failed.\n", p.name, instOrAnon(o.inst), hostName())
		return 4
	}
	if o.test {
		log.Warn("frm_xfrd: option ignored by frm", "option", "-T")
	}
	if m := cfg.MSS; cfg.Format == config.FormatXrootd && len(m.CopyIn)+len(m.CopyOut)+len(m.CopyInURL)+len(m.CopyOutURL) == 0 {
		// frm would copy with the posix tree at oss.remoteroot; xrootd's
		// frm_xfrd refuses, and so does frm_xfrd.
		emsg(out, p.prefix, "Config", "No copy commands specified; execution is meaningless!")
		fmt.Fprintf(out, "------ %s %s@%s initialization failed.\n", p.name, instOrAnon(o.inst), hostName())
		return 4
	}
	d, err := daemons.New(cfg, daemons.Options{Only: []string{"stage", "migrate"}, Log: log, Version: versionString(), As: daemons.AsXfrd})
	if err != nil {
		var ce *daemons.ConfigError
		if errors.As(err, &ce) {
			emsg(out, p.prefix, "Config", err.Error())
			fmt.Fprintf(out, "------ %s %s@%s initialization failed.\n", p.name, instOrAnon(o.inst), hostName())
			return 4
		}
		log.Error("cannot start", "err", err)
		return 1
	}
	defer d.Close()
	return runXrdDaemon(ctx, d, log)
}

// runXrdDaemon runs d until SIGTERM or SIGINT (SIGHUP is ignored: xrootd's
// daemons do not reload).
func runXrdDaemon(ctx context.Context, d *daemons.Daemon, log *slog.Logger) int {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	signal.Ignore(syscall.SIGHUP)
	if err := d.Run(ctx, 60*time.Second); err != nil {
		log.Error("daemon stopped with errors", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}
