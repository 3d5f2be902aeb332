package xfer

import (
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// groupSync makes files durable many at a time: each caller waits for one
// syncfs(2) of the file system its file is on that began after it asked,
// and a syncfs serves every caller waiting when it begins. Staging a
// thousand small files then costs a few dozen flushes rather than two
// thousand fsyncs, which is what lets a stage run at the speed of `cp`
// followed by `sync` while each staged file is still durable before its
// name appears and before its requester is told.
type groupSync struct {
	mu  sync.Mutex
	fss map[uint64]*fsRound // by device
}

// fsRound is the state of one file system: whether a flush is under way,
// and the callers waiting for the next one.
type fsRound struct {
	busy bool
	next []chan error
	path string // a file on it to open for syncfs
}

func newGroupSync() *groupSync { return &groupSync{fss: map[uint64]*fsRound{}} }

// durability is the process's group flusher: stages of every engine
// share it, so that their flushes of one file system are shared too.
var durability = newGroupSync()

// Sync returns once everything written to path's file system before the
// call (data, metadata, directory entries) is durable.
func (g *groupSync) Sync(path string) error {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return err
	}
	return g.SyncDev(st.Dev, path)
}

// SyncDev is Sync for a caller that knows the device of path.
func (g *groupSync) SyncDev(dev uint64, path string) error {
	ch := make(chan error, 1)
	g.mu.Lock()
	r := g.fss[dev]
	if r == nil {
		r = &fsRound{}
		g.fss[dev] = r
	}
	r.next = append(r.next, ch)
	r.path = path
	if !r.busy {
		r.busy = true
		go g.flush(r)
	}
	g.mu.Unlock()
	return <-ch
}

// flush runs rounds while callers wait: each round takes the callers
// waiting when it begins.
func (g *groupSync) flush(r *fsRound) {
	for {
		g.mu.Lock()
		waiting, path := r.next, r.path
		r.next = nil
		if len(waiting) == 0 {
			r.busy = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		err := syncFS(path)
		for _, ch := range waiting {
			ch <- err
		}
	}
}

// syncFS flushes the file system that holds path.
func syncFS(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}
