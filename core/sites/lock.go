package sites

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// ErrBusy is a site whose lock another probe or job holds past the wait.
var ErrBusy = errors.New("busy: another frm sites run is probing this site or running a job there")

// lockPoll is how often a busy lock is tried again.
const lockPoll = 10 * time.Millisecond

// Locker hands out the per-site locks of the probing host: an flock(2)'d
// file per site in Dir (<state_dir>/locks), held for the whole of each
// probe or job. Two runs sharing the directory (two overlapping cron
// runs, frm daemon's schedule and a person at a terminal) never speak to
// one site at once. The kernel drops a lock when its holder dies: a
// killed run leaves nothing to clean.
type Locker struct {
	Dir string
}

// Lock takes site's lock, waiting up to wait (or until ctx ends) for a
// holder to let it go; ErrBusy when it did not. The returned function
// lets it go.
func (l Locker) Lock(ctx context.Context, site string, wait time.Duration) (func(), error) {
	if err := os.MkdirAll(l.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("site lock: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(l.Dir, site+".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("site lock: %w", err)
	}
	deadline := time.Now().Add(wait)
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("site lock %s: %w", f.Name(), err)
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, ErrBusy
		}
		t := time.NewTimer(lockPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}
