package pgqueue

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"frm/core/pgtest"
	"frm/sql/schema"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	os.Exit(code)
}

func newPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(pgtest.Shared(t).CreateDB(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 12
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	if _, err := schema.Migrate(ctx, p, "test"); err != nil {
		t.Fatal(err)
	}
	return p
}

func addN(t *testing.T, q *Queue, kind string, n int) {
	t.Helper()
	for i := range n {
		if _, err := q.Add(context.Background(), NewRequest{Kind: kind, LFN: fmt.Sprintf("/f/%05d", i), Priority: i % 3}); err != nil {
			t.Fatal(err)
		}
	}
}

// finals checks that every request has exactly one final history row and
// the queue is empty.
func checkFinals(t *testing.T, p *pgxpool.Pool, want int) {
	t.Helper()
	var rows, distinct, left int
	err := p.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT request_id) FROM transfer_history WHERE final`).Scan(&rows, &distinct)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.QueryRow(context.Background(), `SELECT count(*) FROM requests`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if rows != want || distinct != want || left != 0 {
		t.Fatalf("final history rows %d (distinct requests %d), requests left %d; want %d, %d, 0", rows, distinct, left, want, want)
	}
}

func TestConcurrentClaimsExactlyOnce(t *testing.T) {
	p := newPool(t)
	q := New(p, Options{Host: "h1"})
	const total = 2000
	addN(t, q, "stage", total)
	ctx := context.Background()
	var mu sync.Mutex
	claimedBy := map[int64]string{}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			worker := fmt.Sprintf("h1/w%d", w)
			for {
				rs, err := q.Claim(ctx, worker, []string{"stage"}, 1+w, time.Minute)
				if err != nil {
					errs <- err
					return
				}
				if len(rs) == 0 {
					return
				}
				for _, r := range rs {
					mu.Lock()
					prev, dup := claimedBy[r.ID]
					claimedBy[r.ID] = worker
					mu.Unlock()
					if dup {
						errs <- fmt.Errorf("request %d claimed by %s and %s", r.ID, prev, worker)
						return
					}
					if r.State != Running || r.LeaseOwner != worker || r.Attempts != 1 {
						errs <- fmt.Errorf("claimed %+v", r)
						return
					}
					if err := q.Complete(ctx, r, Outcome{OK: true, Bytes: 1}); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(claimedBy) != total {
		t.Fatalf("%d requests claimed, want %d", len(claimedBy), total)
	}
	checkFinals(t, p, total)
}

func TestClaimOrder(t *testing.T) {
	p := newPool(t)
	q := New(p, Options{Host: "h1"})
	ctx := context.Background()
	base := time.Now().Add(-time.Hour)
	for i, pr := range []int{0, 2, 1, 2} {
		if _, err := q.Add(ctx, NewRequest{Kind: "stage", LFN: fmt.Sprintf("/o/%d", i), Priority: pr, Created: base.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := q.Claim(ctx, "w", []string{"stage"}, 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rs {
		got = append(got, r.LFN)
	}
	if want := []string{"/o/1", "/o/3", "/o/2", "/o/0"}; !slices.Equal(got, want) {
		t.Fatalf("claim order %v, want %v", got, want)
	}
}

func TestDeadWorkerLosesLease(t *testing.T) {
	p := newPool(t)
	q := New(p, Options{Host: "h1"})
	ctx := context.Background()
	const total = 50
	addN(t, q, "stage", total)
	lease := 300 * time.Millisecond

	// A claims 20 and "dies": it never renews nor completes.
	dead, err := q.Claim(ctx, "h1/dead", []string{"stage"}, 20, lease)
	if err != nil || len(dead) != 20 {
		t.Fatalf("claim: %d, %v", len(dead), err)
	}
	// A live worker renewing its lease keeps it through reclaims. Its
	// lease is longer than one turn of the loop below can take on a loaded
	// machine (with 300 ms, a turn slower than that lost it); that the
	// renewals extend it is checked after the loop.
	const liveLease = 10 * time.Second
	live, err := q.Claim(ctx, "h1/live", []string{"stage"}, 1, liveLease)
	if err != nil || len(live) != 1 {
		t.Fatalf("claim: %d, %v", len(live), err)
	}
	// B reclaims and works through everything else.
	done := 0
	deadline := time.Now().Add(20 * time.Second)
	for done < total-1 && time.Now().Before(deadline) {
		if lost, err := q.Renew(ctx, liveLease, live...); err != nil || len(lost) != 0 {
			t.Fatalf("renew of the live worker: lost %v, %v", lost, err)
		}
		if _, _, err := q.ReclaimExpired(ctx); err != nil {
			t.Fatal(err)
		}
		rs, err := q.Claim(ctx, "h1/b", []string{"stage"}, 5, lease)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if err := q.Complete(ctx, r, Outcome{OK: true}); err != nil {
				t.Fatal(err)
			}
			done++
		}
		if len(rs) == 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if done != total-1 {
		t.Fatalf("B completed %d of %d", done, total-1)
	}
	var expires time.Time
	if err := p.QueryRow(ctx, `SELECT lease_expires FROM requests WHERE id = $1`, live[0].ID).Scan(&expires); err != nil || !expires.After(live[0].LeaseExpires) {
		t.Fatalf("the live worker's lease was not extended: %v (claimed until %v), %v", expires, live[0].LeaseExpires, err)
	}
	if err := q.Complete(ctx, live[0], Outcome{OK: true}); err != nil {
		t.Fatalf("live worker's complete: %v", err)
	}
	// The dead worker comes back: everything it held is gone.
	lost, err := q.Renew(ctx, lease, dead...)
	if err != nil || len(lost) != len(dead) {
		t.Fatalf("renew of the dead worker: lost %d of %d, %v", len(lost), len(dead), err)
	}
	for _, r := range dead {
		if err := q.Complete(ctx, r, Outcome{OK: true}); !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("late complete of %d: %v, want ErrLeaseLost", r.ID, err)
		}
	}
	checkFinals(t, p, total)
	var reclaimedAttempts int
	if err := p.QueryRow(ctx, `SELECT count(*) FROM transfer_history h WHERE final AND host = 'h1'`).Scan(&reclaimedAttempts); err != nil || reclaimedAttempts != total {
		t.Fatalf("history host rows %d, %v", reclaimedAttempts, err)
	}
}

func TestSameWorkerReclaimedIsFenced(t *testing.T) {
	// The attempt number fences a worker that claims the same request
	// again after losing it: its first claim's Complete fails.
	p := newPool(t)
	q := New(p, Options{Host: "h1"})
	ctx := context.Background()
	addN(t, q, "stage", 1)
	first, _ := q.Claim(ctx, "w", []string{"stage"}, 1, time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	if n, _, err := q.ReclaimExpired(ctx); err != nil || n != 1 {
		t.Fatalf("reclaim: %d, %v", n, err)
	}
	second, _ := q.Claim(ctx, "w", []string{"stage"}, 1, time.Minute)
	if len(first) != 1 || len(second) != 1 || second[0].Attempts != 2 {
		t.Fatalf("claims %+v %+v", first, second)
	}
	if err := q.Complete(ctx, first[0], Outcome{OK: true}); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("stale complete: %v", err)
	}
	if err := q.Complete(ctx, second[0], Outcome{OK: true}); err != nil {
		t.Fatal(err)
	}
	checkFinals(t, p, 1)
}

func TestMaxAttempts(t *testing.T) {
	p := newPool(t)
	q := New(p, Options{Host: "h1", MaxAttempts: 2})
	ctx := context.Background()
	addN(t, q, "stage", 1)
	for i := range 2 {
		rs, err := q.Claim(ctx, "w", []string{"stage"}, 1, time.Millisecond)
		if err != nil || len(rs) != 1 {
			t.Fatalf("claim %d: %v %v", i, rs, err)
		}
		time.Sleep(20 * time.Millisecond)
		re, failed, err := q.ReclaimExpired(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 && (re != 1 || failed != 0) || i == 1 && (re != 0 || failed != 1) {
			t.Fatalf("round %d: requeued %d failed %d", i, re, failed)
		}
	}
	var ok bool
	if err := p.QueryRow(ctx, `SELECT ok FROM transfer_history WHERE final`).Scan(&ok); err != nil || ok {
		t.Fatalf("final row ok=%v, %v", ok, err)
	}
	checkFinals(t, p, 1)
}

func TestHostAffinity(t *testing.T) {
	p := newPool(t)
	ctx := context.Background()
	if _, err := p.Exec(ctx, `INSERT INTO files (lfn, parent, type, host) VALUES ('/d/on2', '/d', 1, 'h2'), ('/d/on1', '/d', 1, 'h1')`); err != nil {
		t.Fatal(err)
	}
	q1 := New(p, Options{Host: "h1"})
	q2 := New(p, Options{Host: "h2"})
	for _, lfn := range []string{"/d/on2", "/d/on1", "/d/nowhere"} {
		if _, err := q1.Add(ctx, NewRequest{Kind: "stage", LFN: lfn}); err != nil {
			t.Fatal(err)
		}
	}
	// An explicit host wins over the catalog.
	if _, err := q1.Add(ctx, NewRequest{Kind: "migrate", LFN: "/d/on1", Host: "h2"}); err != nil {
		t.Fatal(err)
	}
	claimAll := func(q *Queue, w string) []string {
		rs, err := q.Claim(ctx, w, []string{"stage", "migrate"}, 10, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rs {
			out = append(out, r.Kind+":"+r.LFN+"@"+r.Host)
		}
		slices.Sort(out)
		return out
	}
	if got, want := claimAll(q1, "h1/w"), []string{"stage:/d/nowhere@", "stage:/d/on1@h1"}; !slices.Equal(got, want) {
		t.Fatalf("h1 claimed %v, want %v", got, want)
	}
	if got, want := claimAll(q2, "h2/w"), []string{"migrate:/d/on1@h2", "stage:/d/on2@h2"}; !slices.Equal(got, want) {
		t.Fatalf("h2 claimed %v, want %v", got, want)
	}
}

func TestDuplicateMerge(t *testing.T) {
	p := newPool(t)
	q := New(p, Options{Host: "h1"})
	ctx := context.Background()
	add := func(kind, notify string, prty int) Added {
		t.Helper()
		a, err := q.Add(ctx, NewRequest{Kind: kind, LFN: "/m/x", Notify: notify, Priority: prty, RID: "r-" + notify})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	a1 := add("stage", "mailto:a", 0)
	a2 := add("stage", "mailto:b", 2)
	a3 := add("stage", "mailto:a", 0)
	a4 := add("stage", "-", 1)
	a5 := add("migrate", "mailto:c", 0)
	if a1.Merged || !a2.Merged || !a3.Merged || !a4.Merged || a5.Merged || a2.ID != a1.ID || a4.ID != a1.ID || a5.ID == a1.ID {
		t.Fatalf("adds %+v %+v %+v %+v %+v", a1, a2, a3, a4, a5)
	}
	rs, err := q.List(ctx, Filter{Kinds: []string{"stage"}})
	if err != nil || len(rs) != 1 {
		t.Fatalf("list %v %v", rs, err)
	}
	if r := rs[0]; !slices.Equal(r.Notify, []string{"mailto:a", "mailto:b"}) || r.Priority != 2 || r.RID != "r-mailto:a" {
		t.Fatalf("merged request %+v", r)
	}
	// A duplicate of a running request merges too.
	c, _ := q.Claim(ctx, "w", []string{"stage"}, 1, time.Minute)
	if a := add("stage", "mailto:d", 0); !a.Merged || a.ID != a1.ID {
		t.Fatalf("add while running: %+v", a)
	}
	rs, _ = q.List(ctx, Filter{Kinds: []string{"stage"}})
	if len(rs) != 1 || len(rs[0].Notify) != 3 || rs[0].State != Running {
		t.Fatalf("after merge into running: %+v", rs)
	}
	// Once finished, a new request is a new row.
	if err := q.Complete(ctx, c[0], Outcome{OK: true}); err != nil {
		t.Fatal(err)
	}
	if a := add("stage", "mailto:e", 0); a.Merged || a.ID == a1.ID {
		t.Fatalf("add after completion: %+v", a)
	}
}

func TestCancel(t *testing.T) {
	p := newPool(t)
	q := New(p, Options{Host: "h1"})
	ctx := context.Background()
	for i := range 3 {
		if _, err := q.Add(ctx, NewRequest{Kind: "stage", LFN: fmt.Sprintf("/c/%d", i), RID: "r1", Priority: 2 - i}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := q.Add(ctx, NewRequest{Kind: "stage", LFN: "/c/other", RID: "r2"}); err != nil {
		t.Fatal(err)
	}
	running, _ := q.Claim(ctx, "w", []string{"stage"}, 1, time.Minute)
	if len(running) != 1 || running[0].RID != "r1" {
		t.Fatalf("claim %+v", running)
	}
	n, err := q.Cancel(ctx, "r1")
	if err != nil || n != 3 {
		t.Fatalf("cancel: %d, %v", n, err)
	}
	if lost, err := q.Renew(ctx, time.Minute, running...); err != nil || len(lost) != 1 {
		t.Fatalf("renew after cancel: %v %v", lost, err)
	}
	if err := q.Complete(ctx, running[0], Outcome{OK: true}); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("complete after cancel: %v", err)
	}
	rs, _ := q.Claim(ctx, "w", []string{"stage"}, 10, time.Minute)
	if len(rs) != 1 || rs[0].RID != "r2" {
		t.Fatalf("after cancel claimed %+v", rs)
	}
	if n, _ := q.Cancel(ctx, "r1"); n != 0 {
		t.Fatalf("second cancel: %d", n)
	}
	cs, _ := q.List(ctx, Filter{States: []string{Cancelled}})
	if len(cs) != 3 {
		t.Fatalf("cancelled rows %d", len(cs))
	}
	if n, err := q.Prune(ctx, time.Now().Add(time.Minute)); err != nil || n != 3 {
		t.Fatalf("prune: %d %v", n, err)
	}
}

func TestRequeueDelay(t *testing.T) {
	p := newPool(t)
	q := New(p, Options{Host: "h1"})
	ctx := context.Background()
	addN(t, q, "migrate", 1)
	rs, _ := q.Claim(ctx, "w", []string{"migrate"}, 1, time.Minute)
	// An hour, so that no slow machine sees it pass; the test moves the
	// request's not_before instead of waiting.
	if err := q.Requeue(ctx, rs[0], "tape busy", time.Hour); err != nil {
		t.Fatal(err)
	}
	if again, _ := q.Claim(ctx, "w", []string{"migrate"}, 1, time.Minute); len(again) != 0 {
		t.Fatal("claimed before its delay")
	}
	var delay time.Duration
	if err := p.QueryRow(ctx, `SELECT extract(epoch FROM not_before - updated_at) * 1e9 FROM requests WHERE id = $1`, rs[0].ID).Scan(&delay); err != nil || delay != time.Hour {
		t.Fatalf("not_before is %v after the requeue, want an hour; %v", delay, err)
	}
	if _, err := p.Exec(ctx, `UPDATE requests SET not_before = now() - interval '1 second' WHERE id = $1`, rs[0].ID); err != nil {
		t.Fatal(err)
	}
	again, _ := q.Claim(ctx, "w", []string{"migrate"}, 1, time.Minute)
	if len(again) != 1 || again[0].Attempts != 2 || again[0].Error != "tape busy" {
		t.Fatalf("after delay: %+v", again)
	}
	if err := q.Fail(ctx, again[0], "gave up"); err != nil {
		t.Fatal(err)
	}
	var all, final int
	p.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE final) FROM transfer_history`).Scan(&all, &final)
	if all != 2 || final != 1 {
		t.Fatalf("history rows %d, final %d", all, final)
	}
	checkFinals(t, p, 1)
}

func TestNotifyWakesListener(t *testing.T) {
	p := newPool(t)
	q := New(p, Options{Host: "h1"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan string, 16)
	var listenErr atomic.Value
	go func() {
		err := Listen(ctx, p, func(kind string) { got <- kind })
		listenErr.Store(err)
	}()
	listenerPID := func() int {
		var pid int
		for range 200 {
			err := p.QueryRow(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN `+Channel+`'`).Scan(&pid)
			if err == nil {
				return pid
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatal("no listener connection")
		return 0
	}
	pid := listenerPID()
	wake := func(lfn string) {
		t.Helper()
		start := time.Now()
		if _, err := q.Add(ctx, NewRequest{Kind: "stage", LFN: lfn}); err != nil {
			t.Fatal(err)
		}
		for {
			select {
			case k := <-got:
				if k == "" {
					continue // the reconnect signal
				}
				if k != "stage" {
					t.Fatalf("payload %q", k)
				}
				t.Logf("woken after %v", time.Since(start))
				return
			// Generous under a loaded CI machine: the point is that the
			// notification arrives at all (no polling runs here); its
			// latency is logged above.
			case <-time.After(time.Minute):
				t.Fatal("no notification within a minute")
			}
		}
	}
	wake("/n/1")
	// The listener's connection dies: it reconnects, says so, and hears
	// the next request.
	if _, err := p.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	for {
		pid2 := listenerPID()
		if pid2 != pid {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case k := <-got:
		if k != "" {
			t.Fatalf("after reconnect got %q, want the empty wake-up", k)
		}
	case <-time.After(time.Minute): // bounds a failure only
		t.Fatal("no wake-up after reconnect")
	}
	wake("/n/2")
	cancel()
}

func TestWaker(t *testing.T) {
	w := NewWaker("stage")
	w.Notify("migrate")
	select {
	case <-w.C:
		t.Fatal("woken for another kind")
	default:
	}
	w.Notify("stage")
	w.Notify("")
	<-w.C
	select {
	case <-w.C:
		t.Fatal("wake-ups did not coalesce")
	default:
	}
}

func TestCompleteAndClaim(t *testing.T) {
	p := newPool(t)
	q := New(p, Options{Host: "h1"})
	ctx := context.Background()
	addN(t, q, "stage", 10)
	kinds := []string{"stage"}
	rs, err := q.Claim(ctx, "w", kinds, 1, time.Minute)
	n := 0
	for err == nil && len(rs) == 1 {
		n++
		rs, err = q.CompleteAndClaim(ctx, rs[0], Outcome{OK: true}, "w", kinds, 1, time.Minute)
	}
	if err != nil || n != 10 {
		t.Fatalf("worked %d, %v", n, err)
	}
	checkFinals(t, p, 10)
	// A lost lease is reported, and the claim still happens.
	addN(t, q, "stage", 2)
	first, _ := q.Claim(ctx, "w", kinds, 1, time.Minute)
	if c, _ := q.Cancel(ctx, ""); c != 0 {
		t.Fatal("cancel of no rid")
	}
	if _, err := p.Exec(ctx, `UPDATE requests SET state = 'cancelled', lease_owner = NULL WHERE id = $1`, first[0].ID); err != nil {
		t.Fatal(err)
	}
	next, err := q.CompleteAndClaim(ctx, first[0], Outcome{OK: true}, "w", kinds, 1, time.Minute)
	if !errors.Is(err, ErrLeaseLost) || len(next) != 1 || next[0].ID == first[0].ID {
		t.Fatalf("after a lost lease: %v, %+v", err, next)
	}
}
