package daemons

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"time"

	"frm/core/control"
	"frm/core/purge"
	"frm/core/site"
)

// Purger runs a purge cycle every purge wait time: a plan (skipped when
// every space is above its minimum), then its execution.
type Purger struct {
	Site    *site.Site
	Log     *slog.Logger
	OnEvent func(control.Event)
	// OnFreed is called after a cycle that removed files (stages waiting
	// for room try again).
	OnFreed func()
	// leader, with a shared catalog, elects this host to purge a space
	// or not; nil purges every space (one host).
	leader *purgeLeader
	// Report, when set, reports each cycle as frm_purged does (the
	// report lines, with or without the per-file lines); Test only
	// lists what a cycle would purge (frm_purged -T).
	Report *purge.XrdReport
	Test   bool

	// suspended: the last cycle found STOPPURGE (said once per
	// suspension).
	suspended bool

	mu     sync.Mutex // guards last
	last   control.PurgeStatus
	reconf chan struct{}
	wake   chan struct{}
}

// NewPurger returns a purger for the site. Its settings (purge.*) are
// read from the configuration in force at each cycle.
func NewPurger(s *site.Site, log *slog.Logger) *Purger {
	return &Purger{Site: s, Log: log, wake: make(chan struct{}, 1), reconf: make(chan struct{}, 1)}
}

// Reconfigure tells the purger the configuration changed (its wait is
// recomputed; a purge in progress reads the policies in force before each
// space and batch).
func (p *Purger) Reconfigure() { poke(p.reconf) }

// waitTime is the period between cycles (purge.wait_time, 10 minutes
// when unset).
func (p *Purger) waitTime() time.Duration {
	if w := time.Duration(p.Site.Config().Purge.WaitTime); w > 0 {
		return w
	}
	return 10 * time.Minute
}

// Wake starts a cycle now.
func (p *Purger) Wake() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Last returns the last cycle's status.
func (p *Purger) Last() control.PurgeStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

// Run runs cycles until ctx ends; a cycle in progress stops between files.
func (p *Purger) Run(ctx context.Context) error {
	// A purge killed while files waited under their hidden names left
	// them there: put them back now, not at the next purge a space needs.
	purge.Recover(p.Site, func(err error) { p.Log.Error("purge recovery", "err", err) })
	if l := p.leader; l != nil {
		l.refresh(ctx, p.Site.Spaces.All(), p.Log.Info)
		go func() {
			t := time.NewTicker(l.ttl / 3)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					l.resign(rctx)
					cancel()
					return
				case <-t.C:
					l.refresh(ctx, p.Site.Spaces.All(), p.Log.Info)
				}
			}
		}()
	}
	for {
		st := p.Cycle(ctx)
		if st.Files > 0 && p.OnFreed != nil {
			p.OnFreed()
		}
		p.mu.Lock()
		p.last = st
		p.mu.Unlock()
		if !waitPeriod(ctx, time.Now(), p.waitTime, p.wake, p.reconf) {
			return nil
		}
	}
}

// Cycle runs one purge cycle.
func (p *Purger) Cycle(ctx context.Context) control.PurgeStatus {
	st := control.PurgeStatus{At: time.Now()}
	// STOPPURGE suspends whole cycles, not only the removals: no scan
	// either, as frm_purged does (Execute checks again before each file).
	if stop := purge.StopFile(p.Site); fileExists(stop) {
		st.Stopped = true
		if !p.suspended {
			p.suspended = true
			p.Log.Info("purge suspended by stop file", "file", stop)
			if p.Report != nil {
				p.Report.Say("PurgMain", stop+" exists; purging suspended.")
			}
		}
		return st
	}
	p.suspended = false
	opt := purge.Options{Lazy: true, OnError: func(err error) { p.Log.Warn("purge scan", "err", err) }}
	if p.leader != nil {
		opt.Spaces = p.leader.leading()
		st.Leading = opt.Spaces
		if st.Leading == nil {
			st.Leading = []string{}
		}
		if len(opt.Spaces) == 0 {
			st.Skipped = true
			p.Log.Debug("purge cycle skipped; other hosts purge every space")
			return st
		}
	}
	if p.Report != nil {
		opt = p.Report.BuildHooks(opt)
	}
	plan, err := purge.Build(ctx, p.Site, opt)
	if err != nil {
		if ctx.Err() == nil {
			p.Log.Warn("purge plan failed", "err", err)
			st.Errors++
		}
		return st
	}
	need := false
	for _, sp := range plan.Spaces {
		need = need || sp.Needed > 0
	}
	if !need {
		st.Skipped = true
		if p.Report != nil {
			plan.Skipped = true
			p.Report.Scanned(plan)
		}
		p.Log.Debug("purge cycle skipped; all policies met")
		return st
	}
	if p.Report != nil {
		p.Report.Scanned(plan)
		if p.Test {
			for i := range plan.Spaces {
				for _, c := range plan.Spaces[i].Candidates {
					p.Report.File(c)
				}
			}
			p.Report.Ended(plan, purge.TestResult(plan), 0, 0)
			return st
		}
	}
	dirs := 0
	res, err := purge.Execute(ctx, p.Site, plan, purge.ExecOptions{Refresh: true,
		OnDir: func(purge.EmptyDir) { dirs++ },
		OnPurged: func(c purge.Candidate) {
			if p.Report != nil {
				p.Report.File(c)
			}
			if p.OnEvent != nil {
				p.OnEvent(control.Event{Time: time.Now(), Type: "purged", Kind: "purge", LFN: c.LFN, Bytes: c.Size})
			}
		},
		OnError: func(err error) { p.Log.Warn("purge", "err", err) }})
	if errors.Is(err, purge.ErrStopped) {
		st.Stopped = true
		p.Log.Info("purge suspended by stop file", "file", purge.StopFile(p.Site))
		return st
	}
	if err != nil && ctx.Err() == nil {
		p.Log.Warn("purge failed", "err", err)
	}
	st.Files, st.Bytes, st.Errors = res.Files, res.Bytes, res.ErrorCount
	if p.Report != nil {
		p.Report.Ended(plan, res, dirs, dirs)
	}
	p.Log.Info("purge cycle ended", "files", res.Files, "bytes", res.Bytes, "errors", res.ErrorCount)
	return st
}

// fileExists reports whether p exists (a stop file).
func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
