package mss

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// maxBackoff caps one wait between retries.
const maxBackoff = time.Minute

// WithRetry returns b with retries: an operation failing with a Transient
// or an unclassified error is tried again, up to tries attempts in all
// (tries < 1 means 1), waiting base·2^(n-1) between attempt n and n+1
// (capped at one minute) with ±50 % jitter. NotExist and Permanent errors
// are returned at once, as is ErrNoStat, and so is any error once ctx is done; a wait ends
// early when ctx is cancelled. Retrying is safe because Fetch leaves no
// dst on failure and Store is atomic where the MSS allows.
//
// The last error is returned wrapped with the number of attempts; its
// class is kept. Properties are those of b (see PropertiesOf).
func WithRetry(b Backend, tries int, base time.Duration) Backend {
	return &retryBackend{b: b, tries: max(tries, 1), base: base}
}

type retryBackend struct {
	b     Backend
	tries int
	base  time.Duration
}

func (r *retryBackend) Name() string    { return r.b.Name() }
func (r *retryBackend) Unwrap() Backend { return r.b }

// backoff returns the wait after failed attempt n (1-based).
func (r *retryBackend) backoff(n int) time.Duration {
	d := r.base
	for i := 1; i < n && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	if d <= 0 {
		return 0
	}
	// Jitter in [d/2, 3d/2).
	return d/2 + rand.N(d)
}

// retryable reports whether err is Transient or unclassified (and not
// ErrNoStat, which is an answer, not a failure).
func retryable(err error) bool {
	return !IsNotExist(err) && !IsPermanent(err) && !errors.Is(err, ErrNoStat)
}

func (r *retryBackend) retry(ctx context.Context, f func() error) error {
	for n := 1; ; n++ {
		err := f()
		if err == nil {
			return nil
		}
		if !retryable(err) || ctx.Err() != nil {
			return err
		}
		if n >= r.tries {
			if n == 1 {
				return err
			}
			return fmt.Errorf("%w (gave up after %d attempts)", err, n)
		}
		t := time.NewTimer(r.backoff(n))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

func (r *retryBackend) Stat(ctx context.Context, rfn string) (info Info, err error) {
	err = r.retry(ctx, func() (e error) {
		info, e = r.b.Stat(ctx, rfn)
		return e
	})
	return info, err
}

func (r *retryBackend) Fetch(ctx context.Context, req Request, dst, alg string) (res Result, err error) {
	err = r.retry(ctx, func() (e error) {
		res, e = r.b.Fetch(ctx, req, dst, alg)
		return e
	})
	return res, err
}

func (r *retryBackend) Store(ctx context.Context, req Request, src, alg string) (res Result, err error) {
	err = r.retry(ctx, func() (e error) {
		res, e = r.b.Store(ctx, req, src, alg)
		return e
	})
	return res, err
}

func (r *retryBackend) Remove(ctx context.Context, rfn string) error {
	return r.retry(ctx, func() error { return r.b.Remove(ctx, rfn) })
}

// Rename forwards to the wrapped backend's Renamer with retries (RenamerOf
// returns the decorator only when there is one below it).
func (r *retryBackend) Rename(ctx context.Context, from, to string) error {
	rn, ok := RenamerOf(r.b)
	if !ok {
		return Permanent(fmt.Errorf("mss %s: rename %s: %w", r.b.Name(), from, ErrNotSupported))
	}
	return r.retry(ctx, func() error { return rn.Rename(ctx, from, to) })
}
