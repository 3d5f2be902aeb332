package guard

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Writers are found with a Linux file lease: a read lease can only be
// taken while nobody has the file open for writing, and while it is held
// anyone who opens the file for writing waits in the kernel until the
// holder lets go, which the holder sees (F_GETLEASE answers F_UNLCK: a
// break is pending). The opener's write access is counted before it
// waits, so a writer that reached the file is always seen.
//
// A lease needs the file's owner or CAP_LEASE, and a local file system.
// Where the kernel refuses one, OpenForWrite scans /proc instead: it sees
// writers that have the file open, not one in the middle of opening it.

// Lease takes a read lease on the file. ok false means the file is open
// for writing by someone (or by this process through another descriptor).
// leased false with ok true means no lease could be had (not the owner and
// no CAP_LEASE, a network file system): writers were looked for in /proc.
func (f *File) Lease() (ok, leased bool, err error) {
	_, err = unix.FcntlInt(uintptr(f.fd), unix.F_SETLEASE, unix.F_RDLCK)
	switch {
	case err == nil:
		return true, true, nil
	case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EBUSY):
		return false, false, nil
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM), errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOLCK):
		busy, err := OpenForWrite(uint64(f.dev), f.ino)
		if err != nil {
			return false, false, err
		}
		return !busy, false, nil
	}
	return false, false, &fs.PathError{Op: "lease", Path: f.Data, Err: err}
}

// BreakPending reports whether someone is waiting to open the leased file
// for writing (or to truncate it). Without a lease it looks in /proc.
func (f *File) BreakPending(leased bool) (bool, error) {
	if !leased {
		return OpenForWrite(uint64(f.dev), f.ino)
	}
	v, err := unix.FcntlInt(uintptr(f.fd), unix.F_GETLEASE, 0)
	if err != nil {
		return false, &fs.PathError{Op: "get lease", Path: f.Data, Err: err}
	}
	return v != unix.F_RDLCK, nil
}

// Unlease gives the lease back: waiting openers go on.
func (f *File) Unlease() {
	unix.FcntlInt(uintptr(f.fd), unix.F_SETLEASE, unix.F_UNLCK)
}

// LockedByOthers reports whether anyone else holds a POSIX record lock on
// the file (xrootd's server holds a shared fcntl lock on every file it
// has open in a purge export) or a BSD flock (when the caller does not
// hold the residency lock itself; it is an flock).
func (f *File) LockedByOthers() (bool, error) {
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	err := unix.FcntlFlock(uintptr(f.fd), unix.F_OFD_GETLK, &lk)
	if errors.Is(err, unix.EINVAL) { // kernels without OFD locks
		lk = unix.Flock_t{Type: unix.F_WRLCK}
		err = unix.FcntlFlock(uintptr(f.fd), unix.F_GETLK, &lk)
	}
	if err != nil {
		return false, &fs.PathError{Op: "lock check", Path: f.Data, Err: err}
	}
	if lk.Type != unix.F_UNLCK {
		return true, nil
	}
	if f.locked {
		return false, nil
	}
	ok, err := f.TryLock()
	if err != nil {
		return false, err
	}
	if ok {
		unix.Flock(f.fd, unix.LOCK_UN)
		f.locked = false
	}
	return !ok, nil
}

// OpenForWrite reports whether any process has the file dev/ino open for
// writing, by reading /proc/*/fd and /proc/*/fdinfo. It is the fallback
// for file systems and users without leases; processes it may not look at
// are not seen.
func OpenForWrite(dev, ino uint64) (bool, error) {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return false, fmt.Errorf("look for writers: %w", err)
	}
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		dir := "/proc/" + p.Name() + "/fd"
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue // gone, or not ours to see
		}
		for _, d := range fds {
			var st unix.Stat_t
			if unix.Stat(dir+"/"+d.Name(), &st) != nil || uint64(st.Dev) != dev || st.Ino != ino {
				continue
			}
			info, err := os.ReadFile("/proc/" + p.Name() + "/fdinfo/" + d.Name())
			if err != nil {
				continue
			}
			if writable(string(info)) {
				return true, nil
			}
		}
	}
	return false, nil
}

// writable reads the octal "flags:" line of an fdinfo file.
func writable(info string) bool {
	for _, line := range strings.Split(info, "\n") {
		v, ok := strings.CutPrefix(line, "flags:")
		if !ok {
			continue
		}
		flags, err := strconv.ParseUint(strings.TrimSpace(v), 8, 64)
		if err != nil {
			return false
		}
		return flags&unix.O_ACCMODE != unix.O_RDONLY
	}
	return false
}
