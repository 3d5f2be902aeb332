package pgclaim

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"frm/core/pgtest"
	"frm/sql/schema"
)

// TestCeiling prints, with FRM_BENCH_CEILING=1, what this machine does
// with 4 connections for trivial statements: the ceiling the claim
// figures are to be read against.
func TestCeiling(t *testing.T) {
	if os.Getenv("FRM_BENCH_CEILING") == "" {
		t.Skip("set FRM_BENCH_CEILING=1")
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pgtest.Shared(t).CreateDB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := schema.Migrate(ctx, pool, "x"); err != nil {
		t.Fatal(err)
	}
	pool.Exec(ctx, `INSERT INTO requests (kind, lfn) SELECT 'stage', '/c/' || i FROM generate_series(1, 4) AS i`)
	for _, st := range []string{"SELECT 1", "UPDATE requests SET updated_at = now() WHERE id = $1"} {
		const per = 5000
		var wg sync.WaitGroup
		s := time.Now()
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range per {
					var err error
					if st == "SELECT 1" {
						_, err = pool.Exec(ctx, st)
					} else {
						_, err = pool.Exec(ctx, st, w+1)
					}
					if err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		t.Logf("%-55s %6.0f statements/s with 4 connections", st, 4*per/time.Since(s).Seconds())
	}
}
