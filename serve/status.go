package serve

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"frm/core/fedapi"
	"frm/core/names"
	"frm/core/pgqueue"
	"frm/core/site"
	"frm/core/xrdq"
)

// status answers GET /v1/status.
func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	cfg := s.site.Config()
	st := fedapi.Status{Site: cfg.Site, Version: s.opts.Version, Started: s.started.UTC().Truncate(time.Second),
		UptimeSecs: time.Since(s.started).Seconds()}
	if df, err := s.site.Df(ctx, nil, false); err == nil {
		for _, su := range df {
			st.Spaces = append(st.Spaces, fedapi.SpaceStatus{Name: su.Name, Partitions: len(su.Partitions), Total: su.Total, Free: su.Free})
		}
	} else {
		s.log.Warn("status: cannot read the spaces", "err", err)
	}
	st.Queue = s.queueDepths(ctx)
	st.Failures24h, st.OldestUnmigrated = s.fails.count(ctx, s)
	if s.opts.Status != nil {
		ds := s.opts.Status.Status()
		if p := ds.Purge; p != nil && !p.At.IsZero() {
			st.LastPurge = &fedapi.PurgeStatus{At: p.At, Files: p.Files, Bytes: p.Bytes}
		}
		st.Daemon = ds.Transfer != nil
	}
	st.Daemon = st.Daemon || s.transferLockHeld()
	writeJSON(w, r, st)
}

// queueDepths counts the queued requests by kind (nil when the queue
// cannot be read): the shared queue of a PostgreSQL catalog, else the
// queue files.
func (s *Server) queueDepths(ctx context.Context) map[string]int {
	l, err := s.site.ListQueue(ctx, nil)
	var none *site.NoQueuesError
	if err != nil && !errors.As(err, &none) {
		s.log.Warn("status: cannot read the queue", "err", err)
		return nil
	}
	q := map[string]int{}
	for _, k := range []xrdq.Kind{xrdq.Stage, xrdq.Get, xrdq.Migrate, xrdq.Put} {
		q[pgqueue.KindName(k)] = 0
	}
	for _, e := range l.Entries {
		q[e.Kind]++
	}
	return q
}

// transferLockHeld reports whether a transfer daemon serves the queue:
// the lock frm daemon's transfer component and xrootd's frm_xfrd take
// (<qpath>/frm_xfrd.lock, see package daemons) is held. It reads
// /proc/locks rather than opening the file: closing a descriptor of a
// file drops every POSIX lock this process holds on it.
func (s *Server) transferLockHeld() bool {
	var st unix.Stat_t
	if unix.Stat(filepath.Join(filepath.Dir(s.site.Config().QueueDir()), "frm_xfrd.lock"), &st) != nil {
		return false
	}
	want := fmt.Sprintf("%02x:%02x:%d", unix.Major(uint64(st.Dev)), unix.Minor(uint64(st.Dev)), st.Ino)
	b, err := os.ReadFile("/proc/locks")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if slices.Contains(strings.Fields(line), want) && strings.Contains(line, "WRITE") {
			return true
		}
	}
	return false
}

// Failures in the last 24 hours are the fail files (<pfn>.fail, or under
// transfer.fail_dir) modified within them: durable, and what frm admin
// find fail lists. Counting them reads the exports' directories, so the
// count is refreshed at most every failCountEvery, in the background;
// the first status after start waits for it up to failCountWait, and
// says -1 while it is not known.
const (
	failCountEvery = 10 * time.Minute
	failCountWait  = 3 * time.Second
)

type failCounter struct {
	mu      sync.Mutex // guards the fields below
	ctx     context.Context
	n       int
	oldest  *time.Time // the oldest unmigrated file's mtime
	at      time.Time  // when n was counted; zero: never
	running chan struct{}
}

// start gives the counter the server's lifetime.
func (c *failCounter) start(ctx context.Context) {
	c.mu.Lock()
	c.ctx = ctx
	c.mu.Unlock()
}

// count returns the failures of the last 24 hours (-1: not counted yet)
// and the oldest unmigrated file's mtime (nil: none or not known).
func (c *failCounter) count(ctx context.Context, s *Server) (int, *time.Time) {
	c.mu.Lock()
	if c.running == nil && (c.at.IsZero() || time.Since(c.at) > failCountEvery) {
		done := make(chan struct{})
		c.running = done
		base := c.ctx
		if base == nil {
			base = context.Background()
		}
		go func() {
			n, err := s.countFailures(base)
			oldest := s.oldestUnmigrated(base)
			c.mu.Lock()
			if err == nil {
				c.n, c.at, c.oldest = n, time.Now(), oldest
			} else if base.Err() == nil {
				s.log.Warn("status: cannot count the fail files", "err", err)
			}
			c.running = nil
			c.mu.Unlock()
			close(done)
		}()
	}
	wait := c.running
	first := c.at.IsZero()
	c.mu.Unlock()
	if first && wait != nil {
		t := time.NewTimer(failCountWait)
		select {
		case <-wait:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at.IsZero() {
		return -1, nil
	}
	return c.n, c.oldest
}

// oldestUnmigrated finds the mtime of the oldest file of the mig exports
// without a current copy in the MSS (what frm admin find unmigrated
// lists); nil when there is none or they cannot be read.
func (s *Server) oldestUnmigrated(ctx context.Context) *time.Time {
	cfg := s.site.Config()
	var dirs []string
	for _, e := range cfg.Exports {
		if e.Mig {
			dirs = append(dirs, e.Path)
		}
	}
	if len(dirs) == 0 {
		return nil
	}
	var oldest int64
	s.site.Find(ctx, dirs, site.FindOptions{What: site.FindUnmigrated, Recursive: true}, func(f site.Finding) error {
		m := f.Entry.Mtime
		if m == 0 {
			var st unix.Stat_t
			if unix.Stat(f.Entry.PFN, &st) != nil {
				return nil
			}
			m = st.Mtim.Sec
		}
		if oldest == 0 || m < oldest {
			oldest = m
		}
		return nil
	})
	if oldest == 0 {
		return nil
	}
	t := time.Unix(oldest, 0).UTC()
	return &t
}

// countFailures counts the fail files of the exports modified in the
// last 24 hours.
func (s *Server) countFailures(ctx context.Context) (int, error) {
	cfg := s.site.Config()
	var roots []string
	for _, e := range cfg.Exports {
		lfn, err := names.Clean(e.Path)
		if err != nil {
			continue
		}
		roots = append(roots, strings.TrimRight(cfg.Transfer.FailDir, "/")+s.site.PFN(lfn))
	}
	slices.Sort(roots) // a parent before what it holds
	since := time.Now().Add(-24 * time.Hour)
	n := 0
	var done []string
	for _, root := range roots {
		if slices.ContainsFunc(done, func(d string) bool { return within(root, d) }) {
			continue // a nested export, counted with its parent
		}
		done = append(done, root)
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
					return nil
				}
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if d.Type().IsRegular() && strings.HasSuffix(d.Name(), ".fail") {
				if fi, err := d.Info(); err == nil && fi.ModTime().After(since) {
					n++
				}
			}
			return nil
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
