package purge

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"frm/core/catalog"
	"frm/core/guard"
	"frm/core/meta"
	"frm/core/site"
)

// The last moment of a purge, per file. A decision to remove a file is
// only as good as the moment it is taken, so Execute takes it again, from
// the files, under the locks everybody else honours:
//
//  1. The data file is opened through package guard (never outside the
//     namespace root and the partitions) and its residency lock (an
//     exclusive flock) is taken without waiting: pin, unpin, mark, mmap,
//     chksum and the transfer engine take the same lock before they
//     change a file, so a change that returned first is seen below, and a
//     change that comes later waits and then finds the file gone.
//  2. A read lease is taken: the kernel refuses it while anyone has the
//     file open for writing, and while it is held a writer who opens the
//     file waits for it to be let go — which we see. Record locks of
//     others (xrootd's server holds a shared fcntl lock on files it has
//     open) make the file in use.
//  3. The file's state is read again from the files themselves (not from
//     a shared catalog): copy time against mtime, pins, size, times, the
//     holds, a bad-checksum mark.
//  4. The namespace entry is renamed to a hidden name in its directory
//     (".<inode>.frm-purging", a side file nobody scans as data), so no
//     new open can reach it, and recorded in a journal first.
//  5. After a grace period (DefaultGrace) — longer than an open that had
//     already looked up the old name needs to reach the file, and so to
//     show as a pending lease break — the file is looked at once more: a
//     pending writer, or any change of size, times or attributes, puts it
//     back under its name (reason in_use or changed). Otherwise the
//     hidden name and, for XA files, the data file are removed.
//
// A crash between 4 and 5 leaves hidden names the journal lists; the next
// Execute on the host puts them back (see recoverJournals).

// DefaultGrace is how long a file waits under its hidden name before it
// is removed.
const DefaultGrace = 100 * time.Millisecond

// batchMax bounds the files held (locked, leased, open) at once.
const batchMax = 256

// held is a candidate that passed the last check: open, locked and leased
// until it is removed or put back.
type held struct {
	c      Candidate
	f      *guard.File
	leased bool
	st     unix.Stat_t // the data file at the last check
	ns     string      // namespace entry
	hidden string      // its hidden name, once renamed
	data   string      // the data file to remove besides the entry (XA), or ""
}

func (h *held) release() {
	if h.leased {
		h.f.Unlease()
	}
	h.f.Close()
}

// finalCheck takes the locks on candidate c and decides again from the
// files. It returns the held file, or the reason to keep it (a nil held).
func (x *executor) finalCheck(ctx context.Context, sp *SpacePlan, c Candidate, now int64) (*held, Reason, int64, error) {
	f, err := guard.Open(c.PFN, x.s.Roots())
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, Gone, 0, nil
	case errors.Is(err, guard.ErrOutside):
		return nil, Foreign, 0, nil
	case errors.Is(err, guard.ErrNotRegular):
		return nil, Gone, 0, nil
	case err != nil:
		return nil, 0, 0, err
	}
	h := &held{c: c, f: f, ns: c.PFN}
	keep := func(r Reason, until int64, err error) (*held, Reason, int64, error) {
		h.release()
		return nil, r, until, err
	}
	if ok, err := f.TryLock(); err != nil || !ok {
		return keep(InUse, 0, err)
	}
	ok, leased, err := f.Lease()
	h.leased = leased
	if err != nil || !ok {
		return keep(InUse, 0, err)
	}
	if busy, err := f.LockedByOthers(); err != nil || busy {
		return keep(InUse, 0, err)
	}
	e, err := x.s.Files().Lookup(ctx, c.LFN, catalog.WantStat|catalog.WantLink|catalog.WantCopy|catalog.WantPin)
	if errors.Is(err, catalog.ErrNotExist) || err == nil && e.Type != catalog.File {
		return keep(Gone, 0, nil)
	}
	if err != nil {
		return keep(0, 0, err)
	}
	if err := f.Linked(); err != nil {
		return keep(Gone, 0, nil)
	}
	st, err := f.Stat()
	if err != nil {
		return keep(0, 0, err)
	}
	if st.Size != e.Size || st.Mtim.Sec != e.Mtime {
		return keep(Changed, 0, nil) // being written as we look
	}
	if r, until := Evaluate(x.s, &e, sp, now, sp.keepDeferred); r != 0 {
		return keep(r, until, nil)
	}
	if e.Atime != c.Atime || e.Mtime != c.Mtime || e.Size != c.Size {
		return keep(Changed, 0, nil)
	}
	if e.Link != "" {
		t := e.Link
		if !filepath.IsAbs(t) {
			t = filepath.Join(filepath.Dir(c.PFN), t)
		}
		h.data = filepath.Clean(t) // in a partition: Evaluate said owned
	}
	h.st = st
	h.hidden = hiddenName(c.PFN, st.Ino)
	return h, 0, 0, nil
}

// hiddenSeq makes hidden names unique within the process; the inode and
// the pid make them unique on the host.
var hiddenSeq atomic.Uint64

// hiddenName is the name h's namespace entry takes between the last check
// and the removal: in the same directory, a dot file ending in
// meta.SuffixPurging (a side file, never scanned as data).
func hiddenName(ns string, ino uint64) string {
	return filepath.Join(filepath.Dir(ns), fmt.Sprintf(".%x.%d.%d%s", ino, os.Getpid(), hiddenSeq.Add(1), meta.SuffixPurging))
}

// errChangedBeforeHide: the file's attributes changed between the last
// check and the rename (ctime moved).
var errChangedBeforeHide = errors.New("changed before its removal")

// hide renames h's namespace entry to its hidden name. Renaming a plain
// file moves its ctime, so the ctime that stillQuiet compares with is
// taken again right after the rename.
func (h *held) hide() error {
	if st, err := h.f.Stat(); err != nil {
		return err
	} else if st.Ctim != h.st.Ctim {
		return errChangedBeforeHide
	}
	err := unix.Renameat2(unix.AT_FDCWD, h.ns, unix.AT_FDCWD, h.hidden, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		// No RENAME_NOREPLACE here: link+unlink does the same for plain
		// files and symlinks.
		if err = os.Link(h.ns, h.hidden); err == nil {
			err = os.Remove(h.ns)
		}
	}
	if err != nil {
		return &fs.PathError{Op: "rename for purge", Path: h.ns, Err: err}
	}
	st, err := h.f.Stat()
	if err != nil {
		return err
	}
	h.st.Ctim = st.Ctim
	return nil
}

// restore puts h back under its name.
func (h *held) restore() error {
	err := unix.Renameat2(unix.AT_FDCWD, h.hidden, unix.AT_FDCWD, h.ns, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		if err = os.Link(h.hidden, h.ns); err == nil {
			err = os.Remove(h.hidden)
		}
	}
	if err != nil {
		return fmt.Errorf("purge: put %s back from %s: %w (the file is kept under the second name)", h.ns, h.hidden, err)
	}
	return nil
}

// stillQuiet reports whether nothing happened to h during the grace: no
// writer waiting, the same size, times and attributes (ctime), still one
// name (the hidden one) leading to it.
func (h *held) stillQuiet() (Reason, error) {
	pend, err := h.f.BreakPending(h.leased)
	if err != nil {
		return 0, err
	}
	if pend {
		return InUse, nil
	}
	st, err := h.f.Stat()
	if err != nil {
		return 0, err
	}
	if st.Size != h.st.Size || st.Mtim != h.st.Mtim || st.Ctim != h.st.Ctim || st.Nlink != h.st.Nlink {
		return Changed, nil
	}
	var hs unix.Stat_t
	if err := unix.Stat(h.hidden, &hs); err != nil || hs.Ino != h.st.Ino || hs.Dev != h.st.Dev {
		return Gone, nil // someone moved it on; leave it alone
	}
	if busy, err := h.f.LockedByOthers(); err != nil || busy {
		return InUse, err
	}
	return 0, nil
}

// remove deletes h's hidden name and its data file.
func (h *held) remove(s *site.Site) error {
	if err := os.Remove(h.hidden); err != nil {
		return err
	}
	if h.data == "" {
		return nil
	}
	var st unix.Stat_t
	if _, ok := s.Spaces.Contains(h.data); !ok || unix.Stat(h.data, &st) != nil || st.Ino != h.st.Ino || st.Dev != h.st.Dev {
		return nil // not the file we checked (never happens unless someone moves data files)
	}
	if err := os.Remove(h.data); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove data file %s: %w", h.data, err)
	}
	return nil
}

// RemoveOne removes lfn now, with the last check of a purge — not pinned,
// migrated (copy time ≥ mtime), still the size and mtime the caller
// copied (size, mtime), not open for writing, not locked by a reader —
// but without holds or watermarks: a migrate-and-purge request ('^', '=')
// removes the disk copy right after its copy out. It returns the reason
// the file was kept (0 when removed).
func RemoveOne(ctx context.Context, s *site.Site, lfn string, size, mtime int64) (Reason, error) {
	e, err := s.Files().Lookup(ctx, lfn, catalog.WantStat|catalog.WantLink)
	if err != nil {
		if errors.Is(err, catalog.ErrNotExist) {
			return Gone, nil
		}
		return 0, err
	}
	if e.Size != size || e.Mtime != mtime {
		return Changed, nil
	}
	c := Candidate{LFN: lfn, PFN: e.PFN, Space: e.Space, Size: e.Size, Atime: e.Atime, Mtime: e.Mtime}
	// No hold: the copy out itself just read the file (its atime is
	// now), so a hold of 0 would keep it; -1 s never applies.
	sp := &SpacePlan{Space: e.Space, Enabled: true, Max: 1 << 62, Hold: -time.Second}
	var res Result
	var kept Reason
	x := &executor{s: s, o: ExecOptions{Grace: DefaultGrace, OnKept: func(k Kept) { kept = k.Reason }}, clock: s.Now, res: &res,
		stop: StopFile(s), journalDir: filepath.Join(s.Config.AdminDir(), journalDir)}
	defer x.closeJournal()
	var sr SpaceResult
	x.settle(ctx, sp, &sr, []Candidate{c})
	switch {
	case sr.Files == 1:
		return 0, nil
	case res.ErrorCount > 0:
		return 0, res.Errors[0]
	case kept == 0:
		return InUse, nil // STOPPURGE or interrupted before the check
	}
	return kept, nil
}
