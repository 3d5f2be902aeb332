package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"frm/core/config"
	"frm/daemons"
	"frm/serve"
)

const daemonUsage = `Usage: frm daemon [-c cfgfile] [-n name] [-only stage,migrate,purge,scrub,mirror,serve,sites] [-l logfile]
                  [-k N|SIZE] [-d] [-log-format text|json] [-drain DURATION] [-metrics ADDR]

Runs frm's headless services in one process until SIGTERM or SIGINT:
  stage    the transfer daemon: stage, copy-in, migrate and copy-out requests
           from the queue (fed by 'frm pstga' or xrootd's frm_xfragent)
  migrate  the migration scan of mig exports (needs the transfer daemon,
           which then runs too)
  purge    the purge daemon
  scrub    the checksum scrubber: re-reads files with a current stored
           checksum at [scrub] rate and marks those whose data differs
           (in the default set only with [scrub] enabled = true)
  mirror   runs each [[mirror]] on its schedule, as frm mirror would (in
           the default set when a mirror has a schedule; -only mirror,serve
           for a mirror site without an MSS)
  serve    frm serve, the site's HTTP API for its peers (in the default set
           when [serve] listen is set; -only serve needs it)
  sites    frm sites report on [sites] schedule (in the default set when
           the schedule is set), served by frm serve at /v1/sites/report.html
SIGTERM stops taking work and lets running transfers finish within -drain
(default 60s); the rest are cancelled and stay queued for the next start.
SIGHUP re-reads the configuration (kept unchanged if it has errors).

  -l FILE   log to FILE (rotated daily); default stderr (journald-friendly
            when $JOURNAL_STREAM is set)
  -k N|SIZE keep N old log files, or old logs up to SIZE in total (e.g. 500m)
  -d        debug logging
  -metrics ADDR  serve Prometheus metrics on ADDR (e.g. 127.0.0.1:9797);
            off by default; frm serve then serves them at /metrics too
`

func daemonMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := siteFlags("frm daemon")
	only := fs.String("only", "", "")
	logFile := fs.String("l", "", "")
	keep := fs.String("k", "", "")
	debug := fs.Bool("d", false, "")
	logFormat := fs.String("log-format", "text", "")
	drain := fs.Duration("drain", 60*time.Second, "")
	metricsAddr := fs.String("metrics", "", "")
	if code, done := fs.parse(args, daemonUsage, stdout, stderr); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "frm daemon: unexpected argument %q\n\n%s", fs.Arg(0), daemonUsage)
		return 2
	}
	if *logFormat != "text" && *logFormat != "json" {
		fmt.Fprintf(stderr, "frm daemon: -log-format takes text or json, not %q\n", *logFormat)
		return 2
	}
	out := stderr
	if *logFile != "" {
		// xrootd's "-l =FILE" (no instance qualification) is FILE: frm
		// never qualifies the name.
		lw, err := openLog(strings.TrimPrefix(*logFile, "="), *keep)
		if err != nil {
			fmt.Fprintf(stderr, "frm daemon: -l: %v\n", err)
			return 1
		}
		defer lw.Close()
		out = lw
	}
	log, err := daemonLogger(out, stderr, *logFile != "", *debug, *logFormat)
	if err != nil {
		fmt.Fprintf(stderr, "frm daemon: %v\n", err)
		return 2
	}

	path, cfg, err := loadConfig(*fs.cfgPath, *fs.inst, func(m string) { log.Debug(m) }, func(m string) { log.Warn(m) })
	if err != nil {
		log.Error("configuration", "err", err)
		return 4
	}
	var comps []string
	if *only != "" {
		comps = strings.Split(*only, ",")
	}
	runServe := cfg.Serve.Listen != "" && (len(comps) == 0 || slices.Contains(comps, "serve"))
	if slices.Contains(comps, "serve") && cfg.Serve.Listen == "" {
		log.Error("configuration", "err", "-only serve: [serve] listen is not set (the address frm serve listens on, e.g. listen = \"127.0.0.1:8443\"; docs/serve.md)")
		return 4
	}
	if runServe {
		// Refused before anything is opened, created or locked.
		if err := serve.CheckConfig(cfg.Serve); err != nil {
			log.Error("configuration", "err", err)
			return 4
		}
	}
	d, err := daemons.New(cfg, daemons.Options{Only: comps, External: []string{"serve", "sites"}, Log: log, Version: versionString()})
	if err != nil {
		var ce *daemons.ConfigError
		if errors.As(err, &ce) {
			log.Error("configuration", "err", err)
			return 4
		}
		log.Error("cannot start", "err", err)
		return 1
	}
	defer d.Close()
	var metrics http.Handler
	if *metricsAddr != "" {
		metrics = d.MetricsHandler()
	}
	var srv *serve.Server
	if runServe {
		srv, err = serve.New(d.Site, serve.Options{Version: versionString(), Log: log.With("component", "serve"),
			Status: serve.StatusFunc(d.ControlStatus), Metrics: metrics, Wake: d.WakeQueue, Admin: shellAdmin{site: d.Site}})
		if err != nil {
			log.Error("configuration", "err", err)
			return 4
		}
		if _, err := srv.Listen(); err != nil {
			log.Error("cannot start", "err", err)
			return 1
		}
		d.AddComponent("serve", srv.Run)
	}
	if cfg.Sites.Schedule != "" && d.Selected("sites") {
		d.AddComponent("sites", func(ctx context.Context) error {
			return daemons.RunSitesSchedule(ctx, d.Site.Config, log.With("component", "sites"))
		})
	}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	// Registered before anything can send it: SIGHUP's default ends the
	// process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go reloadOnHUP(ctx, hup, d, path, *fs.inst, log, func(applied *config.Config) {
		if srv != nil {
			srv.Reconfigure(applied)
		}
	})
	if *metricsAddr != "" {
		addr, err := d.ServeMetrics(ctx, *metricsAddr)
		if err != nil {
			log.Error("metrics listener", "err", err)
			return 1
		}
		log.Info("metrics", "url", "http://"+addr+"/metrics")
	}
	if err := d.Run(ctx, *drain); err != nil {
		log.Error("daemon stopped with errors", "err", err)
		return 1
	}
	log.Info("frm daemon stopped")
	return 0
}

// reloadOnHUP re-reads the configuration at each signal on hup until ctx
// ends: a file with errors is logged and the running configuration kept;
// its warnings are logged. after receives the configuration the daemon
// applied (for the components built here: frm serve).
func reloadOnHUP(ctx context.Context, hup <-chan os.Signal, d *daemons.Daemon, path, instance string, log *slog.Logger, after func(*config.Config)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			ncfg, err := config.Load(path, instance)
			if err != nil {
				log.Error("reload failed; keeping the running configuration", "err", err)
				continue
			}
			for _, w := range ncfg.Warnings {
				log.Warn(w)
			}
			d.Reload(ncfg)
			after(d.Site.Config())
		}
	}
}
