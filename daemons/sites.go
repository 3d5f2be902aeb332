package daemons

import (
	"context"
	"log/slog"
	"time"

	"frm/core/config"
	"frm/core/sites"
)

// RunSitesSchedule is frm daemon's sites component: it runs frm sites
// report on [sites] schedule (an interval, or a daily time) until ctx
// ends (an interval's first run at once, at the start), keeping the runs and the latest report in [sites] state_dir,
// which frm serve serves at /v1/sites/report.html and .json. The
// configuration is read again at every run (SIGHUP changes the file, the
// directory and the schedule); a run that fails is logged and the next
// one comes on schedule.
func RunSitesSchedule(ctx context.Context, cfg func() *config.Config, log *slog.Logger) error {
	for first := true; ; first = false {
		c := cfg()
		sched, err := config.ParseSchedule(c.Sites.Schedule)
		if err != nil {
			// Validated at load: only a reload to no schedule gets here.
			sched = config.Schedule{Every: time.Hour}
		}
		next := sched.Next(time.Now())
		if first && !sched.Daily {
			next = time.Now()
		}
		log.Info("next sites report", "at", next.Format(time.RFC3339))
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		c = cfg()
		if c.Sites.Schedule == "" || c.Sites.File == "" {
			continue
		}
		SitesReportOnce(ctx, c, log)
	}
}

// SitesReportOnce runs one report of the configured sites and logs its
// outcome.
func SitesReportOnce(ctx context.Context, c *config.Config, log *slog.Logger) {
	f, err := sites.Load(c.Sites.File)
	if err != nil {
		log.Error("sites report", "err", err)
		return
	}
	start := time.Now()
	run := &sites.Run{File: f, StateDir: c.SitesStateDir()}
	rep, err := run.Report(ctx)
	if rep == nil {
		log.Error("sites report", "err", err)
		return
	}
	if err != nil {
		log.Warn("sites report not kept", "err", err)
	}
	lvl := slog.LevelInfo
	if rep.State != sites.OK {
		lvl = slog.LevelWarn
	}
	log.Log(ctx, lvl, "sites report", "state", rep.State.String(), "ok", rep.Counts.OK, "warning", rep.Counts.Warning,
		"critical", rep.Counts.Critical, "unknown", rep.Counts.Unknown, "changes", len(rep.Changes), "took", time.Since(start).Round(time.Millisecond))
	for _, ch := range rep.Changes {
		log.Info("sites change", "site", ch.Site, "kind", ch.Kind, "change", ch.Text)
	}
}
