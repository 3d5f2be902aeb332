// Package retry is frm's one retry policy: how many times an operation
// that failed for a passing reason is tried again, and how long to wait in
// between (exponential backoff with jitter, capped). The transfer engine
// (core/xfer) retries transfers with it, as transfer.retries says, and the
// PostgreSQL catalog retries transactions with it; whether an error is
// worth another try is the caller's to say, from the error's kind.
package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy says how an operation is retried.
type Policy struct {
	// Retries is the number of tries after the first (0: none).
	Retries int
	// Base is the wait after the first failure; it doubles with each
	// further failure up to Max. Zero Max means no cap.
	Base, Max time.Duration
}

// Wait is the pause after failed try n (1-based): Base·2^(n-1), capped at
// Max, with jitter in [d/2, d] (so hosts that failed together do not all
// come back together, and the cap holds).
func (p Policy) Wait(n int) time.Duration {
	d := p.Base
	for i := 1; i < n && (p.Max <= 0 || d < p.Max); i++ {
		d *= 2
	}
	if p.Max > 0 && d > p.Max {
		d = p.Max
	}
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}

// Do runs op until it succeeds, fails with an error again(err) rejects,
// the retries are spent or ctx ends, and returns op's last error (or
// ctx's, when it ended during a wait) and the number of tries made.
// onRetry, if not nil, is told of each retry before its wait.
func (p Policy) Do(ctx context.Context, op func(ctx context.Context) error, again func(error) bool, onRetry func(try int, wait time.Duration, err error)) (int, error) {
	for try := 1; ; try++ {
		err := op(ctx)
		if err == nil || ctx.Err() != nil || !again(err) || try > p.Retries {
			return try, err
		}
		d := p.Wait(try)
		if onRetry != nil {
			onRetry(try, d, err)
		}
		if err := Sleep(ctx, d); err != nil {
			return try, err
		}
	}
}

// Sleep waits d or until ctx ends (then it returns ctx.Err()).
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
