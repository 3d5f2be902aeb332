package site

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"frm/core/catalog"
	"frm/core/xrdq"
)

// Transfer requests from the administrator: the same queue records
// frm_xfragent writes for "+" (prestage) and "&" (migrate) lines (built by
// xrdq.BuildRequest), so frm's daemon and xrootd's frm_xfrd serve them
// alike. The caller wakes the daemon afterwards (package daemons sits
// above this one).

// RequestOptions shape queued requests.
type RequestOptions struct {
	// Priority is 0 (default) to 2; higher is served first.
	Priority int
	// RID is the request id; "" makes a unique one ("frm-…").
	RID string
	// TID is the requester recorded in the queue ("" is "frm").
	TID string
	// OnError receives per-file refusals (not a file, not exported for
	// this transfer, …); the other files are still queued.
	OnError func(error)
}

// RequestSkip is a file not queued because there was nothing to do.
type RequestSkip struct {
	LFN, Why string
}

// RequestResult says what a Stage or MigrateNow queued.
type RequestResult struct {
	RID    string
	Queued int
	// LFNs are the files queued (cleaned).
	LFNs    []string
	Skipped []RequestSkip
	Errors  int
}

var ridSeq atomic.Uint64

// newRID returns a request id unique on this host: pid, time and a
// counter (xrootd's own ids are free-form text up to 39 bytes).
func newRID(now time.Time) string {
	return "frm-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(now.Unix(), 36) + "-" + strconv.FormatUint(ridSeq.Add(1), 36)
}

// Stage queues a prestage request for each lfn (frm_xfragent "+"). Files
// whose data is already on disk are skipped (the daemon would skip them
// too; the administrator learns it now). Files not under a "stage"
// export are refused, as xrootd would not stage them. A file need not
// exist locally: bringing back a purged file is what a stage is for.
func (s *Site) Stage(ctx context.Context, lfns []string, o RequestOptions) (RequestResult, error) {
	return s.request(ctx, '+', lfns, o, func(lfn string) (string, error) {
		if !s.Export(lfn).Stage {
			return "", opErr("stage", lfn, errors.New("not under an export with the stage option"))
		}
		e, err := s.Catalog.Lookup(ctx, lfn, catalog.WantLink)
		switch {
		case errors.Is(err, catalog.ErrNotExist):
			return "", nil
		case err != nil:
			return "", opErr("stage", lfn, err)
		case e.Type == catalog.Dir:
			return "", opErr("stage", lfn, errors.New("is a directory"))
		case !e.Dangling:
			return "already on disk", nil
		}
		return "", nil
	})
}

// MigrateNow queues a migrate request for each lfn (frm_xfragent "&"), so
// that it is copied to the MSS without waiting for the migration scan.
// The file must be on disk under a "mig" export; files whose copy is
// current are skipped.
func (s *Site) MigrateNow(ctx context.Context, lfns []string, o RequestOptions) (RequestResult, error) {
	return s.request(ctx, '&', lfns, o, func(lfn string) (string, error) {
		if !s.Export(lfn).Mig {
			return "", opErr("migrate", lfn, errors.New("not under an export with the mig option"))
		}
		e, err := s.Catalog.Lookup(ctx, lfn, catalog.WantStat|catalog.WantLink|catalog.WantCopy)
		switch {
		case err != nil:
			return "", opErr("migrate", lfn, err)
		case e.Type != catalog.File:
			return "", opErr("migrate", lfn, errors.New("not a file"))
		case e.Dangling:
			return "", opErr("migrate", lfn, errors.New("its data file is missing"))
		case e.Migrated():
			return "already migrated", nil
		}
		return "", nil
	})
}

// request checks each lfn with check (a skip reason, or an error) and
// queues the rest as records of operation op.
func (s *Site) request(ctx context.Context, op byte, lfns []string, o RequestOptions, check func(lfn string) (string, error)) (RequestResult, error) {
	now := s.Now()
	r := RequestResult{RID: o.RID}
	if r.RID == "" {
		r.RID = newRID(now)
	}
	if o.Priority < 0 || o.Priority > xrdq.MaxPriority {
		return r, fmt.Errorf("priority %d: give 0 to %d", o.Priority, xrdq.MaxPriority)
	}
	tid := o.TID
	if tid == "" {
		tid = "frm"
	}
	fail := func(err error) {
		r.Errors++
		if o.OnError != nil {
			o.OnError(err)
		}
	}
	var ok []string
	for _, l := range lfns {
		if err := ctx.Err(); err != nil {
			return r, err
		}
		lfn, err := s.Clean(l)
		if err != nil {
			fail(opErr("queue", l, err))
			continue
		}
		why, err := check(lfn)
		switch {
		case err != nil:
			fail(err)
		case why != "":
			r.Skipped = append(r.Skipped, RequestSkip{LFN: lfn, Why: why})
		default:
			ok = append(ok, lfn)
		}
	}
	if len(ok) == 0 {
		return r, nil
	}
	// Create the queue files as frm_xfragent does, so that the first
	// request on a new site does not fail.
	qdir := s.Config().QueueDir()
	if err := s.Config().MkdirAdmin(true); err != nil {
		return r, fmt.Errorf("queue directory: %w", err)
	}
	d := xrdq.Open(qdir)
	if err := d.Init(); err != nil {
		return r, fmt.Errorf("queue %s: %w", qdir, err)
	}
	// One group commit for them all (as frm pstga does): every request is
	// durable when this returns, at the cost of one fsync per queue file.
	cmd := xrdq.AgentCmd{Type: xrdq.CmdAdd, Op: op, TID: tid, ReqID: r.RID, Notify: "-", Prty: o.Priority}
	reqs := make([]xrdq.Request, len(ok))
	for i, lfn := range ok {
		reqs[i] = xrdq.BuildRequest(cmd, lfn, s.Config().Instance, now)
	}
	committed, err := d.AddBatch(reqs)
	for i, lfn := range ok {
		if !committed[i] {
			fail(opErr("queue", lfn, fmt.Errorf("not queued: %w", err)))
			continue
		}
		r.Queued++
		r.LFNs = append(r.LFNs, lfn)
	}
	return r, nil
}

// SetPriority gives the queued requests with request id rid priority prty
// (0..2, 2 served first) and returns how many records or rows changed: in
// the local queue files (xrdq.Dir.SetPriority, under xrootd's queue
// locks) and, with a PostgreSQL catalog, in the shared queue, where
// requests wait once a daemon has moved them there. Running requests
// keep theirs.
func (s *Site) SetPriority(ctx context.Context, rid string, prty int) (int, error) {
	if prty < 0 || prty > xrdq.MaxPriority {
		return 0, fmt.Errorf("priority %d out of range 0..%d", prty, xrdq.MaxPriority)
	}
	n, err := xrdq.Open(s.Config().QueueDir()).SetPriority(xrdq.ListOrder, rid, prty)
	if err != nil {
		return n, fmt.Errorf("priority of %s in the queue files: %w", rid, err)
	}
	if sh, ok := s.Shared(); ok {
		m, err := sh.SharedQueue().SetPriority(ctx, rid, prty)
		n += m
		if err != nil {
			return n, fmt.Errorf("priority of %s in the shared queue: %w", rid, err)
		}
	}
	return n, nil
}
