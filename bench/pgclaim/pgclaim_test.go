package pgclaim

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"frm/core/pgqueue"
	"frm/core/pgtest"
	"frm/sql/schema"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	os.Exit(code)
}

// BenchmarkClaim: Claim (n=1), then Complete: two transactions per
// request.
func BenchmarkClaim(b *testing.B) {
	for _, workers := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) { benchClaim(b, workers, false, 1) })
	}
}

// BenchmarkClaimBatch: each claim takes up to 8 requests (a transfer
// daemon claims as many as it has free slots), each completed on its
// own: 1/8 of a claim transaction and one completion per request.
func BenchmarkClaimBatch(b *testing.B) {
	for _, workers := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) { benchClaim(b, workers, false, 8) })
	}
}

// BenchmarkCompleteAndClaim: still one request per claim, but each
// worker completes its request and claims the next in one round trip
// and transaction (CompleteAndClaim), as a busy worker loop does.
func BenchmarkCompleteAndClaim(b *testing.B) {
	for _, workers := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) { benchClaim(b, workers, true, 1) })
	}
}

func benchClaim(b *testing.B, workers int, combined bool, batch int) {
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(pgtest.Shared(b).CreateDB(b))
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = int32(workers + 1)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	if _, err := schema.Migrate(ctx, pool, "bench"); err != nil {
		b.Fatal(err)
	}
	// b.N queued requests, three priorities, one per lfn.
	if _, err := pool.Exec(ctx, `INSERT INTO requests (kind, priority, lfn, created_at)
		SELECT 'stage', (i % 3)::smallint, '/bench/' || i, now() - (i * interval '1 millisecond')
		FROM generate_series(1, $1) AS i`, b.N); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `ANALYZE requests`); err != nil {
		b.Fatal(err)
	}
	q := pgqueue.New(pool, pgqueue.Options{Host: "bench"})
	claimed := make([][]int64, workers)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("bench/w%d", w)
			kinds := []string{"stage"}
			rs, err := q.Claim(ctx, name, kinds, batch, time.Minute)
			for err == nil && len(rs) > 0 {
				if combined {
					claimed[w] = append(claimed[w], rs[0].ID)
					rs, err = q.CompleteAndClaim(ctx, rs[0], pgqueue.Outcome{OK: true}, name, kinds, 1, time.Minute)
					continue
				}
				for _, r := range rs {
					claimed[w] = append(claimed[w], r.ID)
					if err = q.Complete(ctx, r, pgqueue.Outcome{OK: true}); err != nil {
						break
					}
				}
				if err == nil {
					rs, err = q.Claim(ctx, name, kinds, batch, time.Minute)
				}
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	seen := make(map[int64]int, b.N)
	for w, ids := range claimed {
		for _, id := range ids {
			if prev, dup := seen[id]; dup {
				b.Fatalf("request %d claimed by worker %d and worker %d", id, prev, w)
			}
			seen[id] = w
		}
	}
	var finals, distinct, left int
	if err := pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT request_id) FROM transfer_history WHERE final`).Scan(&finals, &distinct); err != nil {
		b.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM requests`).Scan(&left); err != nil {
		b.Fatal(err)
	}
	if len(seen) != b.N || finals != b.N || distinct != b.N || left != 0 {
		b.Fatalf("claimed %d, final history rows %d (%d distinct), left %d; want %d each and 0 left", len(seen), finals, distinct, left, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "claims/s")
}
