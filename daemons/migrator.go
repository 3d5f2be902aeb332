package daemons

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"frm/core/catalog"
	"frm/core/site"
	"frm/core/xfer"
)

// Migrator scans the mig exports and hands files modified since their last
// copy, and idle for migrate.idle_hold, to the transfer daemon, every
// migrate.wait_time (both read from the configuration in force at each
// scan, so a reload changes them for the next one).
type Migrator struct {
	Site     *site.Site
	Transfer *Transfer
	Log      *slog.Logger
	Now      func() time.Time

	seq atomic.Int64
	// noCopy remembers files reported without a copy time, so the log
	// says it once a day, as frm_xfrd.
	mu     sync.Mutex
	noCopy map[string]time.Time

	wake, reconf chan struct{}
}

// NewMigrator returns a migrator for the site.
func NewMigrator(s *site.Site, t *Transfer, log *slog.Logger) *Migrator {
	return &Migrator{Site: s, Transfer: t, Log: log, Now: time.Now, noCopy: map[string]time.Time{}, wake: make(chan struct{}, 1), reconf: make(chan struct{}, 1)}
}

// timing is the idle hold and the scan period in force (the period is
// at least the hold, and an hour when unset).
func (m *Migrator) timing() (idle, wait time.Duration) {
	c := m.Site.Config().Migrate
	idle, wait = time.Duration(c.IdleHold), time.Duration(c.WaitTime)
	if wait < idle {
		wait = idle
	}
	if wait <= 0 {
		wait = time.Hour
	}
	return idle, wait
}

// Wake starts a scan now.
func (m *Migrator) Wake() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Reconfigure tells the migrator the configuration changed (its wait is
// recomputed).
func (m *Migrator) Reconfigure() { poke(m.reconf) }

// Run scans every migrate.wait_time until ctx ends.
func (m *Migrator) Run(ctx context.Context) error {
	for {
		n, err := m.Scan(ctx)
		if err != nil && ctx.Err() == nil {
			m.Log.Warn("migration scan failed", "err", err)
		} else if ctx.Err() == nil {
			m.Log.Info("migration scan", "selected", n)
		}
		if !waitPeriod(ctx, time.Now(), m.waitTime, m.wake, m.reconf) {
			return nil
		}
	}
}

func (m *Migrator) waitTime() time.Duration { _, w := m.timing(); return w }

// migExports are the export roots with mig set, outermost first; nested
// ones are covered by their parent's walk.
func (m *Migrator) migExports() []string {
	var roots []string
	for _, e := range m.Site.Config().Exports {
		if e.Mig {
			roots = append(roots, strings.TrimRight(e.Path, "/"))
		}
	}
	sort.Strings(roots)
	var out []string
	for _, r := range roots {
		if len(out) > 0 && (r == out[len(out)-1] || strings.HasPrefix(r, out[len(out)-1]+"/")) {
			continue
		}
		if r == "" {
			r = "/"
		}
		out = append(out, r)
	}
	return out
}

// Scan selects the files to migrate and submits them; it returns how many
// it submitted.
func (m *Migrator) Scan(ctx context.Context) (int, error) {
	now := m.Now()
	idleHold, _ := m.timing()
	n := 0
	for _, root := range m.migExports() {
		o := catalog.WalkOptions{Want: catalog.WantStat | catalog.WantCopy | catalog.WantLink, Recursive: true,
			OnError: func(pfn string, err error) { m.Log.Warn("cannot read directory", "dir", pfn, "err", err) }}
		err := m.Site.Catalog.Walk(ctx, root, o, func(e *catalog.Entry) error {
			if e.Type != catalog.File || e.Dangling || !m.Site.Export(e.LFN).Mig {
				return nil
			}
			switch {
			case !e.HasCopy:
				m.complainNoCopy(e.PFN, now)
				return nil
			case e.CopyTime == 0: // migration deferred (mstore placeholder)
				return nil
			case e.CopyTime >= e.Mtime:
				return nil
			case now.Sub(time.Unix(e.Mtime, 0)) < idleHold:
				return nil
			}
			j := xfer.Job{Kind: xfer.Migrate, LFN: e.LFN, Lock: true, RID: fmt.Sprintf("Internal%d", m.seq.Add(1)), TID: "frm"}
			if m.Transfer.Submit(j) {
				n++
			}
			return nil
		})
		if err != nil {
			return n, fmt.Errorf("scan %s: %w", root, err)
		}
	}
	return n, nil
}

func (m *Migrator) complainNoCopy(pfn string, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t, ok := m.noCopy[pfn]; ok && now.Sub(t) < 24*time.Hour {
		return
	}
	m.noCopy[pfn] = now
	m.Log.Info("no copy time xattr; not migrated (set one with 'frm admin mark')", "pfn", pfn)
}
