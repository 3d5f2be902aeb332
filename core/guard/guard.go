// Package guard opens the data file behind a namespace entry without
// leaving the site, and holds the residency lock on it.
//
// Leaving the site: a namespace entry may be a symlink (every XA file is
// one). Anyone who can create a symlink in the namespace could otherwise
// make a root-run frm write attributes on, read, or remove any file of the
// machine. Open resolves the entry, refuses a target outside the namespace
// root and every partition (final components included), opens the result
// without following a last symlink, and checks where the open descriptor
// really leads before anything is done with it.
//
// The residency lock: an exclusive flock(2) on the data file. Every
// operation that decides or changes a file's residency takes it — pin,
// unpin, mark, mmap, chksum set (through the embedded catalog's Apply),
// the transfer engine when it sets a copy time, and the purger for the
// last check before a removal — so a decision made under the lock sees
// every change made before it, and a change made after a removal finds the
// file gone (File.Linked) instead of writing onto a file that no longer
// has a name. flock and the POSIX record locks xrootd's server takes on
// open files are independent on Linux, so neither blocks the other.
package guard

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// ErrOutside is wrapped by the error for a namespace entry that leads
// outside the namespace root and every partition.
var ErrOutside = errors.New("outside the namespace root and every partition")

// ErrNotRegular is wrapped by the error for an entry that is not a regular
// file (a directory, a device, a fifo...).
var ErrNotRegular = errors.New("not a regular file")

// ErrRemoved is wrapped (with fs.ErrNotExist) by Linked's error for a file
// removed or renamed away while it was open.
var ErrRemoved = errors.New("removed meanwhile")

// OutsideError names an entry and where it leads.
type OutsideError struct {
	Path, Target string
}

func (e *OutsideError) Error() string {
	return fmt.Sprintf("%s: resolves to %s, %v", e.Path, e.Target, ErrOutside)
}

func (e *OutsideError) Unwrap() error { return ErrOutside }

// Roots are the directories a namespace entry may lead into: the
// namespace root and the partitions' data directories. It is safe for
// concurrent use.
type Roots struct {
	dirs []string

	mu   sync.Mutex
	real map[string]string // dir -> its resolved path, once it exists
}

// NewRoots returns the roots dirs (absolute paths; symlinks in them are
// resolved when first needed, since a partition may not exist yet).
func NewRoots(dirs ...string) *Roots {
	r := &Roots{real: map[string]string{}}
	for _, d := range dirs {
		if d = filepath.Clean(d); d != "." && d != "" {
			r.dirs = append(r.dirs, d)
		}
	}
	return r
}

// Dirs returns the configured roots.
func (r *Roots) Dirs() []string { return r.dirs }

// Inside reports whether the resolved path real lies below (or is) one of
// the roots.
func (r *Roots) Inside(real string) bool {
	for _, d := range r.dirs {
		for _, base := range []string{d, r.resolved(d)} {
			if base == "" {
				continue
			}
			if real == base || strings.HasPrefix(real, base+"/") || base == "/" {
				return true
			}
		}
	}
	return false
}

func (r *Roots) resolved(d string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.real[d]; ok {
		return v
	}
	v, err := filepath.EvalSymlinks(d)
	if err != nil {
		return "" // not there yet: tried again next time
	}
	r.real[d] = v
	return v
}

// File is the data file of a namespace entry, open read-only.
type File struct {
	// NS is the namespace entry's path, Data the data file it leads to
	// (NS itself for a plain file), with every symlink resolved: where
	// the open descriptor is.
	NS, Data string

	fd     int
	dev    uint64
	ino    uint64
	nsLink bool // NS is a symlink
	locked bool
}

// Open opens the data file of the namespace entry ns (a pfn), which must
// lead to a regular file inside roots. A missing entry or a dangling link
// gives an error wrapping fs.ErrNotExist; an entry leading elsewhere an
// *OutsideError. Open never blocks (fifos and devices are refused before
// they are opened) and takes no lock.
func Open(ns string, roots *Roots) (*File, error) {
	var lst unix.Stat_t
	if err := unix.Lstat(ns, &lst); err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: ns, Err: err}
	}
	isLink := lst.Mode&unix.S_IFMT == unix.S_IFLNK
	// The kernel resolves the name once, into an O_PATH descriptor (no
	// open of the file itself: no side effect of a device, no block on
	// a fifo); the descriptor says where it is and what it is, and the
	// file is then opened through it, so a name swapped meanwhile
	// cannot lead elsewhere. Six system calls where resolving each
	// component took a dozen or more: a bulk download opens thousands
	// of files.
	pfd, err := unix.Open(ns, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "resolve", Path: ns, Err: err}
	}
	defer unix.Close(pfd)
	via := "/proc/self/fd/" + strconv.Itoa(pfd)
	var st unix.Stat_t
	if err := unix.Fstat(pfd, &st); err != nil {
		return nil, &fs.PathError{Op: "fstat", Path: ns, Err: err}
	}
	var buf [unix.PathMax]byte
	n, err := unix.Readlink(via, buf[:])
	if err != nil || n == 0 || buf[0] != '/' || n == len(buf) {
		return openResolved(ns, isLink, roots) // no /proc
	}
	real := strings.TrimSuffix(string(buf[:n]), " (deleted)")
	if !roots.Inside(real) {
		return nil, &OutsideError{Path: ns, Target: real}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, &fs.PathError{Op: "open", Path: ns, Err: ErrNotRegular}
	}
	fd, err := unix.Open(via, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: real, Err: err}
	}
	return &File{NS: ns, Data: real, fd: fd, nsLink: isLink, dev: uint64(st.Dev), ino: st.Ino}, nil
}

// openResolved is Open where /proc is not mounted: the name resolved
// component by component, the file opened without following a link, and
// the descriptor checked.
func openResolved(ns string, isLink bool, roots *Roots) (*File, error) {
	real, err := filepath.EvalSymlinks(ns)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, &fs.PathError{Op: "resolve", Path: ns, Err: pe.Err}
		}
		return nil, fmt.Errorf("resolve %s: %w", ns, err)
	}
	if !roots.Inside(real) {
		return nil, &OutsideError{Path: ns, Target: real}
	}
	var st unix.Stat_t
	if err := unix.Stat(real, &st); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: real, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, &fs.PathError{Op: "open", Path: ns, Err: ErrNotRegular}
	}
	fd, err := unix.Open(real, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: real, Err: err}
	}
	f := &File{NS: ns, Data: real, fd: fd, nsLink: isLink}
	if err := f.check(roots); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return f, nil
}

// check makes sure the descriptor leads where Open meant it to: a regular
// file inside the roots (a directory above it may have been swapped for a
// symlink between the resolution and the open).
func (f *File) check(roots *Roots) error {
	var st unix.Stat_t
	if err := unix.Fstat(f.fd, &st); err != nil {
		return &fs.PathError{Op: "fstat", Path: f.Data, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return &fs.PathError{Op: "open", Path: f.NS, Err: ErrNotRegular}
	}
	f.dev, f.ino = uint64(st.Dev), st.Ino
	where, err := os.Readlink(f.Path())
	if err != nil {
		return fmt.Errorf("%s: %w", f.NS, err)
	}
	where = strings.TrimSuffix(where, " (deleted)")
	if !roots.Inside(where) {
		return &OutsideError{Path: f.NS, Target: where}
	}
	f.Data = where // where the descriptor really is
	return nil
}

// Fd is the open descriptor (read-only).
func (f *File) Fd() int { return f.fd }

// Path names the open file itself ("/proc/self/fd/N"): attribute calls made
// on it reach exactly this inode, whatever happens to the names meanwhile.
func (f *File) Path() string { return "/proc/self/fd/" + strconv.Itoa(f.fd) }

// Stat returns the file's current status.
func (f *File) Stat() (unix.Stat_t, error) {
	var st unix.Stat_t
	err := unix.Fstat(f.fd, &st)
	if err != nil {
		return st, &fs.PathError{Op: "fstat", Path: f.Data, Err: err}
	}
	return st, nil
}

// TryLock takes the residency lock if nobody holds it.
func (f *File) TryLock() (bool, error) {
	err := unix.Flock(f.fd, unix.LOCK_EX|unix.LOCK_NB)
	switch {
	case err == nil:
		f.locked = true
		return true, nil
	case errors.Is(err, unix.EWOULDBLOCK):
		return false, nil
	}
	return false, &fs.PathError{Op: "flock", Path: f.Data, Err: err}
}

// Lock takes the residency lock, waiting while another holds it (a purge
// holds it for the last check of a file and its removal, well under a
// second) until ctx ends.
func (f *File) Lock(ctx context.Context) error {
	wait := time.Millisecond
	for {
		ok, err := f.TryLock()
		if err != nil || ok {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: waiting for the residency lock: %w", f.NS, ctx.Err())
		case <-t.C:
		}
		if wait < 50*time.Millisecond {
			wait *= 2
		}
	}
}

// Linked checks that the file still has its name: it has links, and the
// namespace entry still leads to it. Called under the lock, it tells a
// change that comes after a removal (or a rename away) from one that
// comes before it. The error wraps fs.ErrNotExist and ErrRemoved.
func (f *File) Linked() error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	removed := &fs.PathError{Op: "check", Path: f.NS, Err: fmt.Errorf("%w (%w)", fs.ErrNotExist, ErrRemoved)}
	if st.Nlink == 0 {
		return removed
	}
	var ns unix.Stat_t
	if err := unix.Stat(f.NS, &ns); err != nil || uint64(ns.Dev) != f.dev || ns.Ino != f.ino {
		return removed
	}
	return nil
}

// IsLink reports whether the namespace entry was a symlink when opened.
func (f *File) IsLink() bool { return f.nsLink }

// Close releases the descriptor and with it the lock.
func (f *File) Close() error {
	if f.fd < 0 {
		return nil
	}
	err := unix.Close(f.fd)
	f.fd = -1
	f.locked = false
	return err
}

// OpenLocked opens ns (see Open), takes the residency lock and checks the
// file still has its name. The caller changes the file through f.Path()
// and closes it.
func OpenLocked(ctx context.Context, ns string, roots *Roots) (*File, error) {
	f, err := Open(ns, roots)
	if err != nil {
		return nil, err
	}
	if err := f.Lock(ctx); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Linked(); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
