package xrdq

import (
	"errors"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// Locking follows XrdFrcReqFile::FileLock: an fcntl (POSIX record) lock,
// F_SETLKW on the whole of the empty companion file <file>.lock, F_WRLCK
// for updates and F_RDLCK for listing. The queue file itself is opened
// after the lock is granted and closed before it is released, so a process
// always sees the file another one may have replaced by rename (Compact).
//
// POSIX locks belong to the process, not to the file descriptor or the
// goroutine: a second lock from the same process always succeeds, and
// closing *any* descriptor of the lock file drops the process's lock. So
// each lock path also has an in-process mutex that is held for the whole
// time the fcntl lock is held and the lock file is open (xrootd does the
// same with its flMutex). Readers take it exclusively too: two goroutines
// sharing one process-wide read lock would release it for each other.

var procLocks sync.Map // absolute lock path -> *sync.Mutex

func procMutex(path string) *sync.Mutex {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	m, _ := procLocks.LoadOrStore(path, new(sync.Mutex))
	return m.(*sync.Mutex)
}

// fileLock is a held queue lock.
type fileLock struct {
	mu *sync.Mutex
	lf *os.File
}

// lockPath acquires the lock on path (the .lock file), creating the lock
// file (mode 0644) when needed, as xrootd does. A shared lock falls back to
// a read-only descriptor when the lock file cannot be opened for writing.
func lockPath(path string, exclusive bool) (*fileLock, error) {
	mu := procMutex(path)
	mu.Lock()
	lf, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o644)
	if err != nil && !exclusive && (errors.Is(err, os.ErrPermission) || errors.Is(err, unix.EROFS)) {
		lf, err = os.OpenFile(path, os.O_RDONLY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		mu.Unlock()
		return nil, err
	}
	typ := int16(unix.F_RDLCK)
	if exclusive {
		typ = unix.F_WRLCK
	}
	fl := unix.Flock_t{Type: typ, Whence: 0, Start: 0, Len: 0}
	for {
		err = unix.FcntlFlock(lf.Fd(), unix.F_SETLKW, &fl)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		lf.Close()
		mu.Unlock()
		return nil, &os.PathError{Op: "fcntl lock", Path: path, Err: err}
	}
	return &fileLock{mu: mu, lf: lf}, nil
}

func (l *fileLock) unlock() {
	fl := unix.Flock_t{Type: unix.F_UNLCK}
	_ = unix.FcntlFlock(l.lf.Fd(), unix.F_SETLK, &fl)
	l.lf.Close()
	l.mu.Unlock()
}
