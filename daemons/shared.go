package daemons

import (
	"context"
	"errors"
	"time"

	"frm/core/control"
	"frm/core/pgqueue"
	"frm/core/qclass"
	"frm/core/xrdq"
)

// Shared is the shared PostgreSQL queue a transfer daemon serves when the
// site's catalog is in PostgreSQL: requests are claimed from it under a
// lease instead of being read from the local queue files. The local queue
// files stay the entry point of this host's requesters (xrootd's
// frm_xfragent, frm pstga): their records are moved into the shared queue
// for this host, then taken out of the files.
type Shared struct {
	Queue *pgqueue.Queue
	// Worker names this daemon as lease owner; Host is this host, which
	// the moved local requests are bound to (their requester waits here).
	Worker, Host string
	// Lease is renewed every third of itself while a transfer runs.
	Lease time.Duration
}

// classifyEvery is how often the shared queue is looked at for requests
// to classify when no notification said one came.
const classifyEvery = 5 * time.Second

// dbTimeout bounds one queue statement of the daemon's own bookkeeping.
const dbTimeout = 30 * time.Second

// releasePrevious gives back the requests a previous run of this worker
// still holds (it crashed): before the first claim, so that only those
// are released.
func (t *Transfer) releasePrevious(ctx context.Context) {
	sh := t.Shared
	rctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	if n, err := sh.Queue.ReleaseOwner(rctx, sh.Worker); err != nil {
		t.Log.Warn("cannot release the requests of a previous run; they wait for their leases to expire", "worker", sh.Worker, "err", err)
	} else if n > 0 {
		t.Log.Info("requests of a previous run queued again", "n", n, "worker", sh.Worker)
	}
}

// runShared does the shared queue's background work until ctx ends:
// wake-ups from other hosts (LISTEN), lease renewal of running transfers,
// and reclaiming the requests of hosts that died.
func (t *Transfer) runShared(ctx context.Context) {
	sh := t.Shared
	classify := make(chan struct{}, 1)
	go pgqueue.Listen(ctx, sh.Queue.Pool(), func(kind string) {
		if _, ok := pgqueue.XrdqKind(kind); ok || kind == "" {
			poke(classify)
			t.Wake()
		}
	})
	// Requests arrive unclassified; classifying asks the MSS for sizes,
	// so it runs beside the claims, on every new request and every few
	// seconds (requests of hosts whose notifications were missed).
	go func() {
		tick := time.NewTicker(classifyEvery)
		defer tick.Stop()
		for {
			t.classifyShared(ctx)
			select {
			case <-ctx.Done():
				return
			case <-classify:
			case <-tick.C:
			}
		}
	}()
	// Reclaiming runs on its own: with the database down its statement
	// waits for its timeout, and renewals must not wait behind it.
	go func() {
		reclaim := time.NewTicker(sh.Lease / 2)
		defer reclaim.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-reclaim.C:
			}
			rctx, cancel := context.WithTimeout(ctx, min(dbTimeout, sh.Lease/2))
			n, failed, err := sh.Queue.ReclaimExpired(rctx)
			cancel()
			switch {
			case err != nil && ctx.Err() == nil:
				t.Log.Warn("cannot reclaim expired leases", "err", err)
			case n+failed > 0:
				t.Log.Info("requests of silent hosts reclaimed", "requeued", n, "failed", failed)
			}
		}
	}()
	renew := time.NewTicker(sh.Lease / 3)
	defer renew.Stop()
	renewed := time.Now() // the last successful renewal
	for {
		select {
		case <-ctx.Done():
			return
		case <-renew.C:
			t.renewLeases(ctx, &renewed)
		}
	}
}

// renewLeases extends the leases of every running shared request. A
// request whose lease is lost (cancelled, or taken over after this host
// was silent too long) has its transfer stopped: another host runs it,
// and this one must not complete it. When the database has been
// unreachable for a whole lease, every lease is as good as lost (the
// other hosts may have reclaimed them already): all shared transfers stop
// rather than run twice.
func (t *Transfer) renewLeases(ctx context.Context, renewed *time.Time) {
	t.mu.Lock()
	var held []pgqueue.Request
	byID := map[int64]*job{}
	for _, j := range t.running {
		if j.lost.Load() {
			continue // already stopped: said once
		}
		for _, r := range j.recs {
			if r.pg != nil {
				held = append(held, *r.pg)
				byID[r.pg.ID] = j
			}
		}
	}
	t.mu.Unlock()
	if len(held) == 0 {
		*renewed = time.Now()
		return
	}
	rctx, cancel := context.WithTimeout(ctx, min(dbTimeout, t.Shared.Lease/3))
	lost, err := t.Shared.Queue.Renew(rctx, t.Shared.Lease, held...)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		if time.Since(*renewed) < t.Shared.Lease {
			if !t.renewFailing {
				t.Log.Warn("cannot renew leases; transfers go on and renew again", "held", len(held), "err", err)
			}
			t.renewFailing = true
			return
		}
		t.Log.Error("leases not renewed for a whole lease; stopping the shared transfers (other hosts take them over)", "held", len(held), "err", err)
		for _, r := range held {
			lost = append(lost, r.ID)
		}
	} else {
		if t.renewFailing {
			t.Log.Info("leases renewed again")
		}
		t.renewFailing = false
		*renewed = time.Now()
	}
	for _, id := range lost {
		j := byID[id]
		t.Log.Warn("lease lost; stopping the transfer (cancelled, or another host took it over)", "lfn", j.x.LFN, "id", id)
		j.lost.Store(true)
		if j.cancel != nil {
			j.cancel()
		}
	}
}

// importLocal moves the records of the local queue files into the
// shared queue, bound to this host. A record leaves its file only after
// the database has it, so a crash in between leaves it in both: moved
// again, it merges with itself.
func (t *Transfer) importLocal(ctx context.Context) {
	for _, k := range pgqueue.XrdqKinds {
		for p := 0; p <= xrdq.MaxPriority; p++ {
			q := t.Queue.Queue(k, p)
			var recs []xrdq.Request
			if err := q.Walk(func(r xrdq.Request) error { recs = append(recs, r); return nil }); err != nil {
				t.Log.Warn("cannot read queue", "queue", q.Path(), "err", err)
				continue
			}
			for _, r := range recs {
				nr, ok := pgqueue.FromXrdq(r)
				if !ok {
					continue
				}
				nr.Host = t.Shared.Host
				rctx, cancel := context.WithTimeout(ctx, dbTimeout)
				_, err := t.Shared.Queue.Add(rctx, nr)
				cancel()
				if err != nil {
					t.Log.Warn("cannot move a local request to the shared queue; it stays in its file", "queue", q.Path(), "lfn", nr.LFN, "err", err)
					t.lookLocal.Store(true) // try again at the next look at the queue
					return
				}
				if _, _, err := t.Queue.Take(k, p, func(q xrdq.Request) bool { return q.Offset == r.Offset && q.ID == r.ID }); err != nil {
					t.Log.Warn("cannot remove a moved request from its queue file", "queue", q.Path(), "err", err)
				}
			}
		}
	}
}

// fillShared claims requests while slots are free and starts them, class
// by class as schedule does: each class within its own slots, then into
// the slots idle lending classes lend (a class whose claim came back short
// has nothing more to run). Without configured classes the claims are
// xrootd's two directions, as before classes existed.
func (t *Transfer) fillShared(ctx context.Context) {
	if t.lookLocal.Swap(false) {
		t.importLocal(ctx)
	}
	stopped := t.stoppedKinds()
	t.mu.Lock()
	n := len(t.classes.Classes)
	t.mu.Unlock()
	ok := true
	for c := 0; c < n && ok; c++ {
		ok = t.claimFor(ctx, c, stopped, false)
	}
	for c := 0; c < n && ok; c++ {
		ok = t.claimFor(ctx, c, stopped, true)
	}
	t.schedule(ctx) // internal migrations use the slots left (the local index is empty)
}

// claimFor claims requests of class c while it has slots (its own, or
// with borrow the ones lent) and starts them; a claimed request for an
// lfn already being transferred rides along without a slot, so it claims
// again until full or empty. It reports false when the claim failed.
func (t *Transfer) claimFor(ctx context.Context, c int, stopped map[xrdq.Kind]bool, borrow bool) bool {
	for {
		t.mu.Lock()
		if c >= len(t.classes.Classes) {
			t.mu.Unlock()
			return true // a reload removed classes
		}
		classes := t.classes
		cl := classes.Classes[c]
		total, running := 0, 0
		for i, x := range classes.Classes {
			total += x.Slots
			running += t.cls[i].running
		}
		free := min(cl.Slots-t.cls[c].running, total-running)
		if borrow {
			free = min(t.borrowableLocked(), total-running)
		}
		var kinds []string
		trial := false
		for _, k := range pgqueue.XrdqKinds {
			paused, trialOnly := t.pausedLocked(kindDir(k))
			if stopped[k] || paused || classes.Implicit && !cl.Serves(pgqueue.KindName(k)) {
				continue
			}
			trial = trial || trialOnly
			kinds = append(kinds, pgqueue.KindName(k))
		}
		if trial {
			free = min(free, 1) // the trial of a paused direction
		}
		t.mu.Unlock()
		if free <= 0 || len(kinds) == 0 {
			return true
		}
		rctx, cancel := context.WithTimeout(ctx, dbTimeout)
		var reqs []pgqueue.Request
		var err error
		switch {
		case classes.Implicit:
			reqs, err = t.Shared.Queue.Claim(rctx, t.Shared.Worker, kinds, free, t.Shared.Lease)
		default:
			reqs, err = t.Shared.Queue.ClaimClass(rctx, t.Shared.Worker, kinds, cl.Name, free, t.Shared.Lease)
			if err == nil && c == 0 && len(reqs) < free {
				var more []pgqueue.Request
				more, err = t.Shared.Queue.ClaimUnknownClass(rctx, t.Shared.Worker, kinds, classes.Names(), free-len(reqs), t.Shared.Lease)
				reqs = append(reqs, more...)
			}
		}
		cancel()
		if err != nil {
			if ctx.Err() == nil && !t.claimFailing {
				t.Log.Warn("cannot claim requests from the shared queue; trying again at every look at the queue", "err", err)
			}
			t.claimFailing = true
			t.startClaimed(ctx, c, reqs)
			return false
		}
		if t.claimFailing {
			t.Log.Info("requests are claimed from the shared queue again")
			t.claimFailing = false
		}
		if len(reqs) == 0 {
			return true
		}
		t.startClaimed(ctx, c, reqs)
	}
}

// startClaimed starts a job in class c for each claimed request, merging
// those for an lfn already running into its job.
func (t *Transfer) startClaimed(ctx context.Context, c int, reqs []pgqueue.Request) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c >= len(t.classes.Classes) {
		c = 0
	}
	for i := range reqs {
		r := &reqs[i]
		k, _ := pgqueue.XrdqKind(r.Kind) // claims ask for these kinds only
		x := r.Xrdq()
		ref := recRef{kind: k, prty: int(x.Priority), req: x, pg: r}
		jx := toJob(ref)
		key := jobKey(jx.Kind, jx.LFN)
		if j := t.running[key]; j != nil {
			j.recs = append(j.recs, ref)
			t.emit(control.Event{Type: "merged", Kind: jx.Kind.String(), LFN: jx.LFN, RID: jx.RID, Class: j.x.Class})
			continue
		}
		t.start(ctx, c, &job{key: key, x: jx, recs: []recRef{ref}})
	}
}

// classifyShared puts the shared queue's unclassified requests in their
// classes (sizing them as the local index does), a batch at a time,
// until none is left. Every host's daemon does it: the rules are the
// site's, so two hosts classifying one request agree.
func (t *Transfer) classifyShared(ctx context.Context) {
	for ctx.Err() == nil {
		t.mu.Lock()
		classes := t.classes
		t.mu.Unlock()
		if classes.Implicit {
			return
		}
		rctx, cancel := context.WithTimeout(ctx, dbTimeout)
		reqs, err := t.Shared.Queue.Unclassified(rctx, sizeBatch)
		cancel()
		if err != nil || len(reqs) == 0 {
			if err != nil && ctx.Err() == nil {
				t.Log.Debug("cannot read the unclassified requests", "err", err)
			}
			return
		}
		var askMSS []string
		var askIdx []int
		sizes := make([]int64, len(reqs))
		crs := make([]qclass.Request, len(reqs))
		for i, r := range reqs {
			cr := qclass.Request{Kind: r.Kind, LFN: r.LFN, Requester: r.Requester, CGI: r.Xrdq().CGI()}
			crs[i] = cr
			sizes[i] = -1
			if !classes.NeedsSize(cr) {
				continue
			}
			if k, ok := pgqueue.XrdqKind(r.Kind); ok && kindDir(k) == 1 {
				if n, ok := t.localSize(r.LFN); ok {
					sizes[i] = n
				}
				continue
			}
			askMSS = append(askMSS, r.LFN)
			askIdx = append(askIdx, i)
		}
		for j, n := range t.mssSizes(ctx, askMSS) {
			if n == sizeAgain {
				return // the MSS is unavailable: classify later
			}
			sizes[askIdx[j]] = n
		}
		ids := make([]int64, len(reqs))
		names := make([]string, len(reqs))
		for i, r := range reqs {
			ids[i] = r.ID
			names[i] = classes.Classes[classes.Classify(crs[i], func() (int64, bool) { return sizes[i], sizes[i] >= 0 })].Name
		}
		rctx, cancel = context.WithTimeout(ctx, dbTimeout)
		err = t.Shared.Queue.SetClass(rctx, ids, names)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				t.Log.Warn("cannot record the classes of shared requests; trying again", "err", err)
			}
			return
		}
		t.Wake()
	}
}

// finishShared records the end of a job's shared requests: completed or
// failed for good, or given back to the queue when the transfer was
// interrupted by a drain. It reports whether the requesters should be
// notified (the outcome is final and this host still held the lease).
func (t *Transfer) finishShared(r recRef, out outcomeView, interrupted, lost bool) bool {
	ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
	defer cancel()
	var err error
	switch {
	case lost:
		return false // another host has it now (or it was cancelled)
	case interrupted:
		err = t.Shared.Queue.Requeue(ctx, *r.pg, "interrupted by shutdown", 0)
	case out.err != nil:
		err = t.Shared.Queue.Fail(ctx, *r.pg, out.err.Error())
	default:
		err = t.Shared.Queue.Complete(ctx, *r.pg, pgqueue.Outcome{OK: true, Bytes: out.bytes})
	}
	switch {
	case errors.Is(err, pgqueue.ErrLeaseLost):
		t.Log.Warn("request was cancelled or taken over while it ran; its outcome is not recorded here", "lfn", r.pg.LFN, "id", r.pg.ID)
		return false
	case err != nil:
		// The lease runs out and another host does the request again:
		// at worst a transfer twice, never a request lost.
		t.Log.Warn("cannot record a request's outcome; it will run again when its lease expires", "lfn", r.pg.LFN, "id", r.pg.ID, "err", err)
		return false
	}
	return !interrupted
}

// requeueShared gives a shared request back to the queue after an outage
// of the MSS, after a delay so this host does not take it straight back.
func (t *Transfer) requeueShared(r recRef, why string) {
	ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
	defer cancel()
	if err := t.Shared.Queue.Requeue(ctx, *r.pg, why, defaultPauseBackoff.Base); err != nil && !errors.Is(err, pgqueue.ErrLeaseLost) {
		t.Log.Warn("cannot give a request back to the shared queue; it runs again when its lease expires", "lfn", r.pg.LFN, "id", r.pg.ID, "err", err)
	}
}

// outcomeView is what finishShared needs of a transfer's outcome.
type outcomeView struct {
	err   error
	bytes int64
}
