package daemons

import (
	"context"
	"time"
)

// waitPeriod waits until period() has passed since last, a wake-up, or
// ctx's end (false). A reload (reconf) recomputes the wait with the
// period then in force, so a shorter period takes effect at once and a
// longer one does not cut the current wait short of it.
func waitPeriod(ctx context.Context, last time.Time, period func() time.Duration, wake, reconf <-chan struct{}) bool {
	for {
		t := time.NewTimer(time.Until(last.Add(period())))
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
			return true
		case <-wake:
			t.Stop()
			return true
		case <-reconf:
			t.Stop()
		}
	}
}

// poke sends on a channel of capacity one without blocking.
func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
