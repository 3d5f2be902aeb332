package daemons

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"frm/core/config"
	"frm/core/control"
	"frm/core/mirror"
	"frm/core/site"
)

// Mirrorer runs the site's [[mirror]]s on their schedule (frm mirror from
// the daemon), with the same lock as frm mirror from cron: a run that
// finds another under way skips its turn. Each run is published as a
// "mirror_run" event (or "mirror_fail"), kind "mirror", its name in the
// lfn field, and counted in the metrics.
type Mirrorer struct {
	Site    *site.Site
	Log     *slog.Logger
	OnEvent func(control.Event)
	Now     func() time.Time

	mu    sync.Mutex // guards stats
	stats map[string]*mirrorStats
}

// mirrorStats count one mirror's runs since the daemon started.
type mirrorStats struct {
	files, bytes, failures atomic.Int64
	lastSuccess            atomic.Int64 // Unix seconds; 0: none yet
}

// NewMirrorer returns the component.
func NewMirrorer(s *site.Site, log *slog.Logger) *Mirrorer {
	return &Mirrorer{Site: s, Log: log, Now: time.Now, stats: map[string]*mirrorStats{}}
}

// Scheduled reports whether cfg has a mirror with a schedule.
func Scheduled(cfg *config.Config) bool {
	for _, m := range cfg.Mirrors {
		if m.Schedule != "" {
			return true
		}
	}
	return false
}

func (mr *Mirrorer) statsOf(name string) *mirrorStats {
	mr.mu.Lock()
	defer mr.mu.Unlock()
	st := mr.stats[name]
	if st == nil {
		st = &mirrorStats{}
		mr.stats[name] = st
	}
	return st
}

// Run runs each scheduled mirror when its time comes, until ctx ends. The
// schedule is read again after each run (a reload changes it).
func (mr *Mirrorer) Run(ctx context.Context) error {
	next := map[string]time.Time{}
	for {
		cfg := mr.Site.Config()
		now := mr.Now()
		var due []config.Mirror
		wake := now.Add(time.Minute)
		for _, m := range cfg.Mirrors {
			sc, err := config.ParseSchedule(m.Schedule)
			if m.Schedule == "" || err != nil {
				continue
			}
			t, ok := next[m.Name]
			if !ok {
				t = sc.Next(now)
				if !sc.Daily {
					// An interval starts with a run: a daemon started
					// (or restarted) brings its mirrors up to date.
					t = now
				}
				next[m.Name] = t
			}
			if !t.After(now) {
				due = append(due, m)
				next[m.Name] = sc.Next(now)
				continue
			}
			if t.Before(wake) {
				wake = t
			}
		}
		for _, m := range due {
			mr.runOne(ctx, m)
			if ctx.Err() != nil {
				return nil
			}
		}
		if len(due) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wake.Sub(now)):
		}
	}
}

// runOne runs mirror m once under its lock.
func (mr *Mirrorer) runOne(ctx context.Context, m config.Mirror) {
	st := mr.statsOf(m.Name)
	unlock, err := mirror.Lock(mr.Site.Config(), m.Name)
	if err != nil {
		if errors.Is(err, mirror.ErrLocked) {
			mr.Log.Info("mirror run skipped: another run holds its lock", "mirror", m.Name, "err", err)
			return
		}
		st.failures.Add(1)
		mr.publish(control.Event{Time: mr.Now(), Type: "mirror_fail", Kind: "mirror", LFN: m.Name, Err: err.Error()})
		return
	}
	defer unlock()
	mr.Log.Info("mirror run", "mirror", m.Name, "source", m.Source)
	r := mirror.Run(ctx, mr.Site, m, mirror.Options{Log: mr.Log.With("mirror", m.Name)})
	files := int64(r.New + r.Changed)
	st.files.Add(files)
	st.bytes.Add(r.Bytes)
	ev := control.Event{Time: mr.Now(), Type: "mirror_run", Kind: "mirror", LFN: m.Name, Bytes: r.Bytes, Secs: r.Duration.Seconds()}
	switch {
	case r.Err != nil:
		st.failures.Add(1)
		ev.Type, ev.Err = "mirror_fail", r.Err.Error()
		mr.Log.Warn("mirror run failed", "mirror", m.Name, "err", r.Err)
	case r.Failed > 0:
		st.failures.Add(int64(r.Failed))
		ev.Type, ev.Err = "mirror_fail", fmt.Sprintf("%d files failed, the rest published", r.Failed)
		mr.Log.Warn("mirror run partial", "mirror", m.Name, "new", r.New, "changed", r.Changed, "deleted", r.Deleted, "failed", r.Failed)
	default:
		st.lastSuccess.Store(mr.Now().Unix())
		mr.Log.Info("mirror run done", "mirror", m.Name, "new", r.New, "changed", r.Changed, "deleted", r.Deleted, "bytes", r.Bytes, "took", r.Duration.Round(time.Millisecond))
	}
	mr.publish(ev)
}

func (mr *Mirrorer) publish(ev control.Event) {
	if mr.OnEvent != nil {
		mr.OnEvent(ev)
	}
}

// Stats returns, per mirror, the files and bytes mirrored, the failures
// and the time of the last good run (zero: none yet).
func (mr *Mirrorer) Stats() map[string][4]int64 {
	mr.mu.Lock()
	defer mr.mu.Unlock()
	out := map[string][4]int64{}
	for name, st := range mr.stats {
		out[name] = [4]int64{st.files.Load(), st.bytes.Load(), st.failures.Load(), st.lastSuccess.Load()}
	}
	return out
}
