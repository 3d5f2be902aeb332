package daemons

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"frm/core/config"
	"frm/core/purge"
	"frm/core/site"
)

// Purger runs a purge cycle every purge wait time: a plan (skipped when
// every space is above its minimum), then its execution.
type Purger struct {
	Site    *site.Site
	Log     *slog.Logger
	OnEvent func(Event)
	// OnFreed is called after a cycle that removed files (stages waiting
	// for room try again).
	OnFreed func()
	// leader, with a shared catalog, elects this host to purge a space
	// or not; nil purges every space (one host).
	leader *purgeLeader

	mu       sync.Mutex // guards waitTime and last
	waitTime time.Duration
	last     PurgeStatus
	wake     chan struct{}
}

// PurgeStatus is what the last cycle did.
type PurgeStatus struct {
	At      time.Time `json:"at"`
	Skipped bool      `json:"skipped"`
	Files   int       `json:"files"`
	Bytes   int64     `json:"bytes"`
	Errors  int       `json:"errors"`
	Stopped bool      `json:"stopped"` // STOPPURGE present
	// Leading lists the spaces this host purges, with a shared catalog
	// (other hosts purge the rest); nil means all.
	Leading []string `json:"leading,omitempty"`
}

// NewPurger returns a purger with the site's settings.
func NewPurger(s *site.Site, log *slog.Logger) *Purger {
	p := &Purger{Site: s, Log: log, wake: make(chan struct{}, 1)}
	p.SetConfig(s.Config)
	return p
}

// SetConfig takes new purge settings (SIGHUP).
func (p *Purger) SetConfig(cfg *config.Config) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.waitTime = time.Duration(cfg.Purge.WaitTime)
	if p.waitTime <= 0 {
		p.waitTime = 10 * time.Minute
	}
}

// Wake starts a cycle now.
func (p *Purger) Wake() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Last returns the last cycle's status.
func (p *Purger) Last() PurgeStatus {
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
		wait := p.waitTime
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		case <-p.wake:
		}
	}
}

// Cycle runs one purge cycle.
func (p *Purger) Cycle(ctx context.Context) PurgeStatus {
	st := PurgeStatus{At: time.Now()}
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
		p.Log.Debug("purge cycle skipped; all policies met")
		return st
	}
	res, err := purge.Execute(ctx, p.Site, plan, purge.ExecOptions{Refresh: true,
		OnPurged: func(c purge.Candidate) {
			if p.OnEvent != nil {
				p.OnEvent(Event{Time: time.Now(), Type: "purged", Kind: "purge", LFN: c.LFN, Bytes: c.Size})
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
	p.Log.Info("purge cycle ended", "files", res.Files, "bytes", res.Bytes, "errors", res.ErrorCount)
	return st
}
