package pgqueue

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Listen calls fn with the kind of every request made claimable (Add,
// Requeue, ReclaimExpired), from any host, until ctx ends; it returns
// ctx's error. It holds a dedicated connection (LISTEN needs a session,
// so it does not take one from the pool: behind a transaction-pooling
// PgBouncer point the pool's DSN at the server directly). When the
// connection drops it reconnects with backoff and then calls fn("")
// once: notifications may have been missed, so the listener should look
// at the queue (claim) as if woken for every kind. fn runs on Listen's
// goroutine and should return quickly (signal a channel).
func Listen(ctx context.Context, pool *pgxpool.Pool, fn func(kind string)) error {
	return listen(ctx, pool, []string{Channel}, false, fn)
}

// Watch calls fn after every change of the queue that watchers show
// (Channel and StateChannel), at most once per interval: notifications
// arriving within interval of the first one coalesce into one call, made
// interval after it, so that a claim following the notified change is
// seen too. fn also runs once connected and after every reconnection.
// Watch returns ctx's error when ctx ends.
func Watch(ctx context.Context, pool *pgxpool.Pool, interval time.Duration, fn func()) error {
	kick := make(chan struct{}, 1)
	// The first call comes once LISTEN is in place: nothing falls
	// between it and the first notification.
	go listen(ctx, pool, []string{Channel, StateChannel}, true, func(string) {
		select {
		case kick <- struct{}{}:
		default:
		}
	})
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-kick:
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		select { // notifications of the interval are covered by this call
		case <-kick:
		default:
		}
		fn()
	}
}

// listen is Listen on channels; kickFirst also calls fn("") after the
// first connection.
func listen(ctx context.Context, pool *pgxpool.Pool, channels []string, kickFirst bool, fn func(kind string)) error {
	cfg := pool.Config().ConnConfig.Copy()
	wait := 100 * time.Millisecond
	first := !kickFirst
	for {
		err := listenOnce(ctx, cfg, channels, fn, &first)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			wait = 100 * time.Millisecond
		}
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		if wait *= 2; wait > 5*time.Second {
			wait = 5 * time.Second
		}
	}
}

func listenOnce(ctx context.Context, cfg *pgx.ConnConfig, channels []string, fn func(string), first *bool) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for _, ch := range channels {
		if _, err := conn.Exec(ctx, "LISTEN "+ch); err != nil {
			return err
		}
	}
	if !*first {
		fn("") // reconnected: something may have been missed
	}
	*first = false
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		fn(n.Payload)
	}
}

// Waker turns notifications into a wake-up channel for a worker loop:
// Listen feeds it, the worker selects on C (and on a timer, as a safety
// net) before claiming. Wake-ups coalesce: one pending signal at most.
type Waker struct {
	C     chan struct{}
	kinds map[string]bool // nil: every kind
}

// NewWaker returns a Waker for the given kinds (none: every kind).
func NewWaker(kinds ...string) *Waker {
	w := &Waker{C: make(chan struct{}, 1)}
	if len(kinds) > 0 {
		w.kinds = map[string]bool{}
		for _, k := range kinds {
			w.kinds[k] = true
		}
	}
	return w
}

// Notify is a Listen callback.
func (w *Waker) Notify(kind string) {
	if kind != "" && w.kinds != nil && !w.kinds[kind] {
		return
	}
	select {
	case w.C <- struct{}{}:
	default:
	}
}

// ListenOn calls fn with the payload of every notification on channel,
// and with "" once connected and after every reconnection (look at the
// state: notifications may have been missed), until ctx ends.
func ListenOn(ctx context.Context, pool *pgxpool.Pool, channel string, fn func(payload string)) error {
	return listen(ctx, pool, []string{channel}, true, fn)
}
