package usage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// The usage log is shared with xrootd: its server opens .Usage once and
// writes its Used figures into the file in place, and every tool (frm_admin,
// frm_purged, frm_xfrd) updates its entry in place under a write lock on the
// whole file (fcntl F_SETLKW). frm does the same, so a server running beside
// it keeps writing into the file frm updates: a new file renamed over it
// would leave the server writing into one nobody reads.
//
// Like xrootd's stand-alone tools, frm puts what it adds to a space in
// Staged and what it removes in Purged; a server (or any tool, at start)
// folds them into Used: Used += Staged - Purged + Adjust, the others
// zeroed. Only the fields that changed are written, so a server's Used
// written meanwhile is never overwritten with an older value.

// fileMode is xrootd's for .Usage and .Usage.upd (before the umask).
const fileMode = 0o660

// mu serialises this process's updates: a POSIX record lock is the
// process's, and closing any descriptor of the file would release it.
var mu sync.Mutex

// Init does what every xrootd tool does with the usage log when it starts
// (XrdOssSpace::Init): it creates the directory, .Usage (16384 zero bytes)
// and .Usage.upd when missing, refuses a file of another size, folds every
// entry's Staged, Purged and Adjust into Used, and adds an entry for each
// configured space it lacks (the last configured first, as xrootd assigns
// them), then touches .Usage.upd so servers read the file again.
func Init(path string, spaces []string) error {
	mu.Lock()
	defer mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(path), 0o770); err != nil {
		return err
	}
	return withFile(path, func(f *os.File, b []byte) error {
		for slot := 0; slot < maxEntries; slot++ {
			r := b[slot*entrySize : (slot+1)*entrySize]
			if r[0] == 0 {
				continue
			}
			e := decodeEntry(r)
			if e.Staged == 0 && e.Purged == 0 && e.Adjust == 0 {
				continue
			}
			before := e
			e.Used += e.Staged - e.Purged + e.Adjust
			e.Staged, e.Purged, e.Adjust = 0, 0, 0
			if err := writeFields(f, slot, before, e); err != nil {
				return err
			}
		}
		for i := len(spaces) - 1; i >= 0; i-- {
			if _, err := findOrAssign(f, b, spaces[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// update applies change to the entry of space name (added if missing)
// in place, under the file's lock, and touches .Usage.upd.
func update(path, name string, change func(*Entry)) error {
	mu.Lock()
	defer mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(path), 0o770); err != nil {
		return err
	}
	return withFile(path, func(f *os.File, b []byte) error {
		slot, err := findOrAssign(f, b, name)
		if err != nil {
			return err
		}
		before := decodeEntry(b[slot*entrySize : (slot+1)*entrySize])
		after := before
		change(&after)
		return writeFields(f, slot, before, after)
	})
}

// withFile opens (creating) the usage file, locks it, reads it whole and
// calls fn; then unlocks, closes and touches .Usage.upd.
func withFile(path string, fn func(f *os.File, b []byte) error) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_DSYNC, fileMode)
	if err != nil {
		return err
	}
	defer f.Close()
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0}
	for {
		err = unix.FcntlFlock(f.Fd(), unix.F_SETLKW, &lk)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("lock %s: %w", path, err)
	}
	defer func() {
		un := unix.Flock_t{Type: unix.F_UNLCK, Whence: 0}
		unix.FcntlFlock(f.Fd(), unix.F_SETLKW, &un)
	}()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	b := make([]byte, fileSize)
	switch st.Size() {
	case 0:
		if _, err := f.WriteAt(b, 0); err != nil {
			return fmt.Errorf("create %s: %w", path, err)
		}
	case fileSize:
		if _, err := f.ReadAt(b, 0); err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
	default:
		return fmt.Errorf("%s has invalid size (%d bytes, not %d)", path, st.Size(), fileSize)
	}
	if err := fn(f, b); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return touch(path + ".upd")
}

// findOrAssign returns the slot of space name, adding an entry in the
// first free slot when there is none (its name and the time added, as
// XrdOssSpace::Assign writes it).
func findOrAssign(f *os.File, b []byte, name string) (int, error) {
	if len(name) == 0 || len(name) >= nameSize {
		return 0, fmt.Errorf("space name %q: 1 to %d characters", name, nameSize-1)
	}
	free := -1
	for slot := 0; slot < maxEntries; slot++ {
		r := b[slot*entrySize : (slot+1)*entrySize]
		if r[0] == 0 {
			if free < 0 {
				free = slot
			}
			continue
		}
		if decodeEntry(r).Name == name {
			return slot, nil
		}
	}
	if free < 0 {
		return 0, fmt.Errorf("full (%d spaces) for %s", maxEntries, name)
	}
	r := b[free*entrySize : (free+1)*entrySize]
	clear(r)
	copy(r, name)
	binary.LittleEndian.PutUint64(r[nameSize+8*7:], uint64(time.Now().Unix()))
	if _, err := f.WriteAt(r, int64(free*entrySize)); err != nil {
		return 0, err
	}
	return free, nil
}

func decodeEntry(r []byte) Entry {
	es, _ := Decode(r)
	if len(es) == 0 {
		return Entry{}
	}
	return es[0]
}

// writeFields writes the fields of the entry in slot that differ between
// before and after, each on its own (8 bytes).
func writeFields(f *os.File, slot int, before, after Entry) error {
	fields := [...]struct {
		i    int
		b, a int64
	}{{0, before.Used, after.Used}, {1, before.Staged, after.Staged}, {2, before.Purged, after.Purged}, {3, before.Adjust, after.Adjust}}
	var buf [8]byte
	for _, x := range fields {
		if x.a == x.b {
			continue
		}
		binary.LittleEndian.PutUint64(buf[:], uint64(x.a))
		if _, err := f.WriteAt(buf[:], int64(slot*entrySize+nameSize+8*x.i)); err != nil {
			return err
		}
	}
	return nil
}

// touch sets the times of p to now, creating it empty when missing: the
// servers look at its mtime to know the file changed.
func touch(p string) error {
	now := time.Now()
	err := os.Chtimes(p, now, now)
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, fileMode)
	if err != nil {
		return err
	}
	return f.Close()
}
