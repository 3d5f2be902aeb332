// Package pgqueue is the request queue every host of a site shares, kept
// in the PostgreSQL table requests (schema in frm/sql, migrations 002 and
// 003).
//
// Life of a request:
//
//	Add ──► queued ──Claim──► running ──Complete/Fail──► transfer_history
//	          ▲                  │
//	          └──Requeue─────────┤  (retry later; attempt kept in history)
//	          └──ReclaimExpired──┘  (lease expired: its worker died)
//	Cancel: queued/running ──► cancelled
//
// Claims take rows with SELECT ... FOR UPDATE SKIP LOCKED, so concurrent
// workers (goroutines, processes, hosts) never wait for each other and
// never take the same row. A claimed row carries its worker (lease_owner),
// a lease expiry and the attempt number (attempts, incremented by every
// claim). The attempt number is the fencing token: Renew, Complete, Fail
// and Requeue succeed only for the worker and attempt that hold the row,
// so after a lease expired and another worker claimed the request, the
// first worker's late Complete fails with ErrLeaseLost and the request
// completes exactly once. Complete deletes the row and writes its
// transfer_history row in one statement; a unique index on
// transfer_history (request_id) WHERE final makes a second final outcome
// impossible whatever the callers do.
//
// Host affinity: a request carries the host that must run it (requests
// .host, "" for any host). Add fills it from the catalog (files.host of
// the request's lfn) when the caller leaves it empty, so a request for a
// file on another host's partition waits for that host; Claim takes only
// requests of its own host or of none.
//
// Duplicates merge: while a request for (site, kind, lfn) is live (queued
// or running), Add appends the new notify target to it (and raises its
// priority) instead of inserting a second row (dCache#7809).
//
// Every Add, Requeue and ReclaimExpired that makes work claimable sends
// NOTIFY frm_requests with the kind as payload; Listen delivers them.
package pgqueue

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"frm/core/catalog/pgcat"
)

// Channel is the LISTEN/NOTIFY channel of the queue: a request became
// claimable (added, requeued, reclaimed); the payload is its kind.
// Workers listen to it.
const Channel = "frm_requests"

// StateChannel tells watchers (queue --watch, the TUI) that requests
// finished or were cancelled; the payload is the kind. Claims do not
// notify (that would tax every claim for the watchers' sake): a claim
// follows an Add, a completion or a requeue, each of which notifies, so
// a watcher that reloads shortly after a notification sees it. Workers
// do not listen to it, so completions do not wake them.
const StateChannel = "frm_queue_state"

// Request states.
const (
	Queued    = "queued"
	Running   = "running"
	Done      = "done"
	Failed    = "failed"
	Cancelled = "cancelled"
)

// ErrLeaseLost is returned by Complete, Fail and Requeue (and reported by
// Renew) when the worker no longer holds the request: its lease expired
// and was reclaimed (and maybe claimed by another worker), or the request
// was cancelled.
var ErrLeaseLost = errors.New("pgqueue: lease lost (expired, reclaimed or cancelled)")

// Options configures a Queue.
type Options struct {
	Site string // requests.site: one database may hold several sites
	Host string // this host (catalog.HostName); Claim takes requests of this host or of none
	// MaxAttempts, when > 0, fails a request for good once its lease has
	// expired that many times (a request that kills its worker is not
	// retried forever).
	MaxAttempts int
	Retry       pgcat.Retry
}

// Queue is the shared request queue.
type Queue struct {
	pool *pgxpool.Pool
	opt  Options
}

// New returns the queue over pool, whose schema must be migrated.
func New(pool *pgxpool.Pool, opt Options) *Queue { return &Queue{pool: pool, opt: opt} }

// Pool returns the connection pool.
func (q *Queue) Pool() *pgxpool.Pool { return q.pool }

// Request is one row of requests.
type Request struct {
	ID        int64
	Kind      string // stage, migrate, get, put, ...
	Priority  int
	LFN       string
	RID       string
	Requester string
	// Notify holds the notification targets: one per merged requester
	// (stored newline-separated).
	Notify       []string
	Options      []byte // JSON object
	Host         string // host that must run it, "" for any
	State        string
	Attempts     int    // claims so far; the current attempt when running
	LeaseOwner   string // worker holding it ("" when not running)
	LeaseExpires time.Time
	ClaimedAt    time.Time
	NotBefore    time.Time
	Error        string // last failure
	Created      time.Time
	Updated      time.Time
	// Class is the request class a daemon put it in ("" not yet, or no
	// classes configured).
	Class string
}

// NewRequest is what Add queues.
type NewRequest struct {
	Kind      string
	Priority  int
	LFN       string
	RID       string
	Requester string
	Notify    string // one target; "" or "-" for none
	Options   []byte // JSON object; nil for {}
	// Host must run the request; "" takes the host of the file in the
	// catalog (files.host), or any host when the file is not there.
	Host string
	// Created, when not zero, is kept as the request's creation time
	// (imports keep the time the request was first made).
	Created time.Time
}

// Added tells what Add did.
type Added struct {
	ID     int64
	Merged bool // a live request for the same kind and lfn took it
}

const cols = `id, kind, priority, lfn, rid, requester, notify, options, host, state, attempts,
	lease_owner, lease_expires, claimed_at, not_before, error, created_at, updated_at, class`

func scanRequest(r pgx.Row) (Request, error) {
	var x Request
	var notify string
	var owner, class *string
	var exp, claimed, nb *time.Time
	var prty int16
	err := r.Scan(&x.ID, &x.Kind, &prty, &x.LFN, &x.RID, &x.Requester, &notify, &x.Options, &x.Host, &x.State,
		&x.Attempts, &owner, &exp, &claimed, &nb, &x.Error, &x.Created, &x.Updated, &class)
	if err != nil {
		return x, err
	}
	if class != nil {
		x.Class = *class
	}
	x.Priority = int(prty)
	x.Notify = splitNotify(notify)
	if owner != nil {
		x.LeaseOwner = *owner
	}
	if exp != nil {
		x.LeaseExpires = *exp
	}
	if claimed != nil {
		x.ClaimedAt = *claimed
	}
	if nb != nil {
		x.NotBefore = *nb
	}
	return x, nil
}

func splitNotify(s string) []string {
	if s == "" || s == "-" {
		return nil
	}
	return strings.Split(s, "\n")
}

func collect(rows pgx.Rows) ([]Request, error) {
	defer rows.Close()
	var out []Request
	for rows.Next() {
		x, err := scanRequest(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// addSQL inserts a request, or merges it into the live one for the same
// (site, kind, lfn): the notify target is appended unless already there
// (or none), the priority raised. xmax = 0 tells an insert from a merge.
const addSQL = `WITH ins AS (
	INSERT INTO requests AS r (site, kind, priority, lfn, rid, requester, notify, options, host, created_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8,
		COALESCE(NULLIF($9, ''), (SELECT f.host FROM files f WHERE f.site = $1 AND f.lfn = $4), ''),
		COALESCE($10, now()))
	ON CONFLICT (site, kind, lfn) WHERE state IN ('queued', 'running') DO UPDATE SET
		notify = CASE
			WHEN EXCLUDED.notify IN ('', '-')
				OR strpos(E'\n' || r.notify || E'\n', E'\n' || EXCLUDED.notify || E'\n') > 0 THEN r.notify
			WHEN r.notify IN ('', '-') THEN EXCLUDED.notify
			ELSE r.notify || E'\n' || EXCLUDED.notify END,
		priority = GREATEST(r.priority, EXCLUDED.priority),
		updated_at = now()
	RETURNING id, xmax <> 0 AS merged)
SELECT ins.id, ins.merged FROM ins, pg_notify('` + Channel + `', $2)`

// Add queues a request, merging it into a live request for the same kind
// and lfn (see the package doc), and wakes the listeners.
func (q *Queue) Add(ctx context.Context, r NewRequest) (Added, error) {
	if r.Kind == "" || r.LFN == "" {
		return Added{}, errors.New("pgqueue: a request needs a kind and an lfn")
	}
	if strings.ContainsRune(r.Notify, '\n') {
		return Added{}, errors.New("pgqueue: a notify target cannot hold a newline")
	}
	opts := r.Options
	if opts == nil {
		opts = []byte("{}")
	}
	var created *time.Time
	if !r.Created.IsZero() {
		created = &r.Created
	}
	var a Added
	err := q.opt.Retry.Do(ctx, func(ctx context.Context) error {
		return q.pool.QueryRow(ctx, addSQL, q.opt.Site, r.Kind, int16(r.Priority), r.LFN, r.RID, r.Requester,
			r.Notify, opts, r.Host, created).Scan(&a.ID, &a.Merged)
	})
	return a, err
}

// claimSQLFmt takes the limit as a literal (claimSQL): with LIMIT $n the
// generic plan of the prepared statement cannot know that only a few rows
// are wanted and claims run at half the rate.
var claimSQLFmt = `WITH c AS (
	SELECT id FROM requests
	WHERE site = $1 AND state = 'queued' AND kind = ANY($2) AND host IN ('', $3)
		AND (not_before IS NULL OR not_before <= now())%s
	ORDER BY priority DESC, created_at, id
	LIMIT %d
	FOR UPDATE SKIP LOCKED)
UPDATE requests r SET state = 'running', lease_owner = $4, lease_expires = now() + $5 * interval '1 microsecond',
	claimed_at = now(), attempts = r.attempts + 1, updated_at = now()
FROM c WHERE r.id = c.id
RETURNING ` + prefixed("r.", cols)

func claimSQL(n int) string { return fmt.Sprintf(claimSQLFmt, "", n) }

// Class conditions of a claim ($6): the class's own requests, or those of
// a class no host here knows.
const (
	claimOfClass   = "\n\t\tAND class = $6"
	claimOfUnknown = "\n\t\tAND class IS NOT NULL AND NOT class = ANY($6)"
)

func prefixed(p, list string) string {
	fs := strings.Split(list, ",")
	for i, f := range fs {
		fs[i] = p + strings.TrimSpace(f)
	}
	return strings.Join(fs, ", ")
}

// Claim takes up to n queued requests of the given kinds for worker, highest
// priority first, then oldest, under a lease of the given length. Only
// requests of this host or of no host are taken. Rows other workers are
// claiming at the same moment are skipped, never waited for. The worker
// must Renew the lease while it works and finish with Complete, Fail or
// Requeue.
func (q *Queue) Claim(ctx context.Context, worker string, kinds []string, n int, lease time.Duration) ([]Request, error) {
	return q.claim(ctx, claimSQL(n), nil, worker, kinds, n, lease)
}

// ClaimClass claims as Claim does, only requests of the given class.
func (q *Queue) ClaimClass(ctx context.Context, worker string, kinds []string, class string, n int, lease time.Duration) ([]Request, error) {
	return q.claim(ctx, fmt.Sprintf(claimSQLFmt, claimOfClass, n), class, worker, kinds, n, lease)
}

// ClaimUnknownClass claims as Claim does, only classified requests whose
// class is none of known (hosts whose classes differ: such requests go to
// the first class, as those no rule matches).
func (q *Queue) ClaimUnknownClass(ctx context.Context, worker string, kinds []string, known []string, n int, lease time.Duration) ([]Request, error) {
	return q.claim(ctx, fmt.Sprintf(claimSQLFmt, claimOfUnknown, n), known, worker, kinds, n, lease)
}

func (q *Queue) claim(ctx context.Context, sql string, class any, worker string, kinds []string, n int, lease time.Duration) ([]Request, error) {
	if worker == "" || len(kinds) == 0 || n <= 0 || lease <= 0 {
		return nil, errors.New("pgqueue: Claim needs a worker, kinds, n > 0 and a lease")
	}
	args := []any{q.opt.Site, kinds, q.opt.Host, worker, lease.Microseconds()}
	if class != nil {
		args = append(args, class)
	}
	var out []Request
	err := q.opt.Retry.Do(ctx, func(ctx context.Context) error {
		rows, err := q.pool.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		out, err = collect(rows)
		return err
	})
	sortClaimed(out)
	return out, err
}

// sortClaimed puts claimed requests in claim order (RETURNING has none).
func sortClaimed(out []Request) {
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Priority != b.Priority {
			return a.Priority > b.Priority
		}
		if !a.Created.Equal(b.Created) {
			return a.Created.Before(b.Created)
		}
		return a.ID < b.ID
	})
}

// Renew extends the leases of the given claimed requests to lease from
// now and returns the ids of those the worker no longer holds (reclaimed,
// taken by another worker, or cancelled): their work must stop.
func (q *Queue) Renew(ctx context.Context, lease time.Duration, held ...Request) (lost []int64, err error) {
	if len(held) == 0 {
		return nil, nil
	}
	ids := make([]int64, len(held))
	att := make([]int32, len(held))
	owners := make([]string, len(held))
	for i, r := range held {
		ids[i], att[i], owners[i] = r.ID, int32(r.Attempts), r.LeaseOwner
	}
	kept := map[int64]bool{}
	err = q.opt.Retry.Do(ctx, func(ctx context.Context) error {
		clear(kept)
		rows, err := q.pool.Query(ctx, `UPDATE requests r SET lease_expires = now() + $4 * interval '1 microsecond', updated_at = now()
			FROM unnest($1::bigint[], $2::int[], $3::text[]) AS h(id, attempt, owner)
			WHERE r.id = h.id AND r.attempts = h.attempt AND r.lease_owner = h.owner
			RETURNING r.id`, ids, att, owners, lease.Microseconds())
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return err
			}
			kept[id] = true
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if !kept[id] {
			lost = append(lost, id)
		}
	}
	return lost, nil
}

// Outcome is how an attempt ended.
type Outcome struct {
	OK    bool
	Bytes int64
	Error string
}

// finishSQL removes the request the worker holds and records the
// attempt in transfer_history, in one statement (one transaction).
//
// Holding a request is lease_owner and attempts matching: lease_owner is
// set only while a request is running (Requeue, ReclaimExpired and Cancel
// clear it), so state = 'running' is implied. It is deliberately not
// written: it matches the predicate of the partial index
// requests_lease_idx, which the planner then prefers to the primary key
// and scans whole (every running row) for each completion.
const finishSQL = `WITH d AS (
	DELETE FROM requests
	WHERE id = $1 AND lease_owner = $2 AND attempts = $3
	RETURNING site, id, kind, lfn, claimed_at)
INSERT INTO transfer_history (site, request_id, kind, lfn, host, bytes, started_at, ok, error, final)
SELECT site, id, kind, lfn, $4, $5, COALESCE(claimed_at, now()), $6, $7, true FROM d, pg_notify('frm_queue_state', d.kind)`

// Complete finishes a claimed request: its row leaves requests and its
// outcome (successful or not) becomes a final transfer_history row, in
// one transaction. It fails with ErrLeaseLost when the worker no longer
// holds the request; then nothing changes.
func (q *Queue) Complete(ctx context.Context, r Request, o Outcome) error {
	return q.opt.Retry.Do(ctx, func(ctx context.Context) error {
		tag, err := q.pool.Exec(ctx, finishSQL, r.ID, r.LeaseOwner, r.Attempts, q.opt.Host, o.Bytes, o.OK, o.Error)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrLeaseLost
		}
		return nil
	})
}

// CompleteAndClaim completes r (as Complete) and claims up to n more
// requests (as Claim) in one round trip and one transaction: a worker
// that works through the queue one request at a time pays one commit per
// request instead of two. The claims are returned even when the
// completion failed with ErrLeaseLost.
func (q *Queue) CompleteAndClaim(ctx context.Context, r Request, o Outcome, worker string, kinds []string, n int, lease time.Duration) ([]Request, error) {
	if worker == "" || len(kinds) == 0 || n <= 0 || lease <= 0 {
		return nil, errors.New("pgqueue: CompleteAndClaim needs a worker, kinds, n > 0 and a lease")
	}
	var out []Request
	var lost bool
	err := q.opt.Retry.Do(ctx, func(ctx context.Context) error {
		// A batch is one implicit transaction (one Sync).
		b := &pgx.Batch{}
		b.Queue(finishSQL, r.ID, r.LeaseOwner, r.Attempts, q.opt.Host, o.Bytes, o.OK, o.Error)
		b.Queue(claimSQL(n), q.opt.Site, kinds, q.opt.Host, worker, lease.Microseconds())
		br := q.pool.SendBatch(ctx, b)
		defer br.Close()
		tag, err := br.Exec()
		if err != nil {
			return err
		}
		lost = tag.RowsAffected() == 0
		rows, err := br.Query()
		if err != nil {
			return err
		}
		if out, err = collect(rows); err != nil {
			return err
		}
		return br.Close()
	})
	if err != nil {
		return nil, err
	}
	sortClaimed(out)
	if lost {
		return out, ErrLeaseLost
	}
	return out, nil
}

// Fail finishes a claimed request for good with an error (Complete with
// a failed outcome).
func (q *Queue) Fail(ctx context.Context, r Request, reason string) error {
	return q.Complete(ctx, r, Outcome{OK: false, Error: reason})
}

// Requeue gives a claimed request back to the queue after a failed
// attempt, claimable again after delay (0: at once). The attempt is
// recorded in transfer_history (not final).
func (q *Queue) Requeue(ctx context.Context, r Request, reason string, delay time.Duration) error {
	return q.opt.Retry.Do(ctx, func(ctx context.Context) error {
		return pgx.BeginFunc(ctx, q.pool, func(tx pgx.Tx) error {
			var site, kind, lfn string
			var claimed *time.Time
			err := tx.QueryRow(ctx, `UPDATE requests SET state = 'queued', lease_owner = NULL, lease_expires = NULL,
					error = $4, not_before = CASE WHEN $5::bigint > 0 THEN now() + $5::bigint * interval '1 microsecond' END, updated_at = now()
				WHERE id = $1 AND lease_owner = $2 AND attempts = $3
				RETURNING site, kind, lfn, claimed_at`, r.ID, r.LeaseOwner, r.Attempts, reason, delay.Microseconds()).Scan(&site, &kind, &lfn, &claimed)
			if errors.Is(err, pgx.ErrNoRows) {
				return ErrLeaseLost
			}
			if err != nil {
				return err
			}
			started := time.Now()
			if claimed != nil {
				started = *claimed
			}
			if _, err := tx.Exec(ctx, `INSERT INTO transfer_history (site, request_id, kind, lfn, host, started_at, ok, error, final)
				VALUES ($1, $2, $3, $4, $5, $6, false, $7, false)`, site, r.ID, kind, lfn, q.opt.Host, started, reason); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `SELECT pg_notify('`+Channel+`', $1)`, kind)
			return err
		})
	})
}

// ReclaimExpired puts the running requests whose lease expired (their
// worker died or hung) back in the queue and returns how many. With
// MaxAttempts set, a request that has used its attempts fails for good
// instead (a final history row). Any host may run it, as often as it
// likes: a row is reclaimed once.
func (q *Queue) ReclaimExpired(ctx context.Context) (requeued, failed int, err error) {
	err = q.opt.Retry.Do(ctx, func(ctx context.Context) error {
		requeued, failed = 0, 0
		return pgx.BeginFunc(ctx, q.pool, func(tx pgx.Tx) error {
			if q.opt.MaxAttempts > 0 {
				tag, err := tx.Exec(ctx, `WITH d AS (
						DELETE FROM requests WHERE id IN (
							SELECT id FROM requests WHERE site = $1 AND state = 'running' AND lease_expires < now()
								AND attempts >= $2 FOR UPDATE SKIP LOCKED)
						RETURNING site, id, kind, lfn, claimed_at, lease_owner)
					INSERT INTO transfer_history (site, request_id, kind, lfn, host, started_at, ok, error, final)
					SELECT site, id, kind, lfn, COALESCE(lease_owner, ''), COALESCE(claimed_at, now()), false,
						'lease expired after ' || $2 || ' attempts', true FROM d`, q.opt.Site, q.opt.MaxAttempts)
				if err != nil {
					return err
				}
				failed = int(tag.RowsAffected())
			}
			rows, err := tx.Query(ctx, `UPDATE requests r SET state = 'queued', lease_owner = NULL, lease_expires = NULL,
					error = 'lease of ' || r.lease_owner || ' expired', updated_at = now()
				WHERE r.id IN (SELECT id FROM requests WHERE site = $1 AND state = 'running' AND lease_expires < now()
					FOR UPDATE SKIP LOCKED)
				RETURNING r.kind`, q.opt.Site)
			if err != nil {
				return err
			}
			kinds := map[string]bool{}
			for rows.Next() {
				var k string
				if err := rows.Scan(&k); err != nil {
					rows.Close()
					return err
				}
				kinds[k] = true
				requeued++
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for k := range kinds {
				if _, err := tx.Exec(ctx, `SELECT pg_notify('`+Channel+`', $1)`, k); err != nil {
					return err
				}
			}
			return nil
		})
	})
	return requeued, failed, err
}

// Cancel cancels the live requests with request id rid (queued ones are
// never claimed; a running one's worker finds its lease lost at its next
// Renew and its Complete fails) and returns how many.
func (q *Queue) Cancel(ctx context.Context, rid string) (int, error) {
	if rid == "" {
		return 0, errors.New("pgqueue: Cancel needs a request id")
	}
	var n int
	err := q.opt.Retry.Do(ctx, func(ctx context.Context) error {
		return q.pool.QueryRow(ctx, `WITH c AS (
				UPDATE requests SET state = 'cancelled', lease_owner = NULL, lease_expires = NULL, updated_at = now()
				WHERE site = $1 AND rid = $2 AND state IN ('queued', 'running')
				RETURNING kind)
			SELECT count(*), count(pg_notify('`+StateChannel+`', kind)) FROM c`, q.opt.Site, rid).Scan(&n, new(int))
	})
	return n, err
}

// Filter selects requests for List. Zero fields select everything.
type Filter struct {
	Kinds  []string
	States []string // default: queued and running
	Host   string
	RID    string
	Limit  int // 0: no limit
}

// List returns requests in claim order (priority, then age).
func (q *Queue) List(ctx context.Context, f Filter) ([]Request, error) {
	where := []string{"site = $1"}
	args := []any{q.opt.Site}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	states := f.States
	if len(states) == 0 {
		states = []string{Queued, Running}
	}
	add("state = ANY($%d)", states)
	if len(f.Kinds) > 0 {
		add("kind = ANY($%d)", f.Kinds)
	}
	if f.Host != "" {
		add("host = $%d", f.Host)
	}
	if f.RID != "" {
		add("rid = $%d", f.RID)
	}
	sql := "SELECT " + cols + " FROM requests WHERE " + strings.Join(where, " AND ") + " ORDER BY priority DESC, created_at, id"
	if f.Limit > 0 {
		sql += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	var out []Request
	err := q.opt.Retry.Do(ctx, func(ctx context.Context) error {
		rows, err := q.pool.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		out, err = collect(rows)
		return err
	})
	return out, err
}

// Prune deletes cancelled requests last changed before cutoff and returns
// how many (history rows are kept).
func (q *Queue) Prune(ctx context.Context, cutoff time.Time) (int, error) {
	var n int
	err := q.opt.Retry.Do(ctx, func(ctx context.Context) error {
		tag, err := q.pool.Exec(ctx, `DELETE FROM requests WHERE site = $1 AND state = 'cancelled' AND updated_at < $2`, q.opt.Site, cutoff)
		n = int(tag.RowsAffected())
		return err
	})
	return n, err
}

// ReleaseOwner puts every request still running under worker back in
// the queue at once and returns how many. A worker calls it when it
// starts: leases held under its name belong to a previous life of the
// same worker (a crash), whose transfers are gone; waiting for their
// leases to expire would only delay them.
func (q *Queue) ReleaseOwner(ctx context.Context, worker string) (int, error) {
	var n int
	err := q.opt.Retry.Do(ctx, func(ctx context.Context) error {
		var notified int
		return q.pool.QueryRow(ctx, `WITH r AS (
				UPDATE requests SET state = 'queued', lease_owner = NULL, lease_expires = NULL,
					error = 'worker ' || lease_owner || ' restarted', updated_at = now()
				WHERE site = $1 AND state = 'running' AND lease_owner = $2
				RETURNING kind)
			SELECT (SELECT count(*) FROM r),
				(SELECT count(*) FROM (SELECT pg_notify('`+Channel+`', kind) FROM (SELECT DISTINCT kind FROM r) k) x)`,
			q.opt.Site, worker).Scan(&n, &notified)
	})
	return n, err
}

// SetPriority sets the priority of the queued requests with request id
// rid (running ones are under way: their priority no longer matters) and
// returns how many changed. Workers are notified: the order changed.
func (q *Queue) SetPriority(ctx context.Context, rid string, priority int) (int, error) {
	if rid == "" {
		return 0, errors.New("pgqueue: SetPriority needs a request id")
	}
	var n int
	err := q.opt.Retry.Do(ctx, func(ctx context.Context) error {
		return q.pool.QueryRow(ctx, `WITH u AS (
				UPDATE requests SET priority = $3, updated_at = now()
				WHERE site = $1 AND rid = $2 AND state = 'queued' AND priority <> $3
				RETURNING kind)
			SELECT (SELECT count(*) FROM u),
				(SELECT count(*) FROM (SELECT pg_notify('`+Channel+`', kind) FROM (SELECT DISTINCT kind FROM u) k) x)`,
			q.opt.Site, rid, int16(priority)).Scan(&n, new(int))
	})
	return n, err
}

// Unclassified returns up to n queued requests no daemon has put in a
// class yet, oldest first.
func (q *Queue) Unclassified(ctx context.Context, n int) ([]Request, error) {
	var out []Request
	err := q.opt.Retry.Do(ctx, func(ctx context.Context) error {
		rows, err := q.pool.Query(ctx, "SELECT "+cols+" FROM requests WHERE site = $1 AND state = 'queued' AND class IS NULL ORDER BY id LIMIT "+strconv.Itoa(n), q.opt.Site)
		if err != nil {
			return err
		}
		out, err = collect(rows)
		return err
	})
	return out, err
}

// SetClass puts requests in their classes (classes[i] is that of ids[i]);
// a request another daemon classified meanwhile keeps its class.
func (q *Queue) SetClass(ctx context.Context, ids []int64, classes []string) error {
	if len(ids) != len(classes) {
		return errors.New("pgqueue: SetClass needs one class per id")
	}
	return q.opt.Retry.Do(ctx, func(ctx context.Context) error {
		_, err := q.pool.Exec(ctx, `UPDATE requests r SET class = u.class
			FROM unnest($2::bigint[], $3::text[]) AS u(id, class)
			WHERE r.site = $1 AND r.id = u.id AND r.class IS NULL`, q.opt.Site, ids, classes)
		return err
	})
}

// Depth counts the queued requests (not running) by class ("" for those
// not classified yet).
func (q *Queue) Depth(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	err := q.opt.Retry.Do(ctx, func(ctx context.Context) error {
		clear(out)
		rows, err := q.pool.Query(ctx, `SELECT COALESCE(class, ''), count(*) FROM requests WHERE site = $1 AND state = 'queued' GROUP BY 1`, q.opt.Site)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c string
			var n int
			if err := rows.Scan(&c, &n); err != nil {
				return err
			}
			out[c] = n
		}
		return rows.Err()
	})
	return out, err
}
