package site

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"frm/core/catalog"
	"frm/core/meta"
	"frm/core/mss"
	"frm/core/retry"
	"frm/core/space"
	"frm/core/usage"
)

// removeFile removes the namespace entry pfn and, when it is an XA link
// into a configured partition, its data file. A link pointing outside every
// partition only loses the link: frm never deletes files it does not own.
func (s *Site) removeFile(pfn string) error {
	target, lerr := os.Readlink(pfn)
	var size int64
	var spaceName string // the space of an XA data file removed
	if err := os.Remove(pfn); err != nil {
		return err
	}
	if lerr == nil {
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(pfn), target)
		}
		if p, ok := s.Spaces.Contains(filepath.Clean(target)); ok {
			fi, serr := os.Stat(target)
			if err := os.Remove(target); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("remove data file %s: %w", target, err)
			}
			if serr == nil {
				size, spaceName = fi.Size(), p.Space
			}
		}
	}
	if spaceName != "" {
		s.AccountUsage(spaceName, 0, size)
	}
	return nil
}

// AccountUsage records, when the site keeps xrootd's usage log, bytes of
// XA data files added to and removed from a space, as xrootd's stand-alone
// tools do (Staged and Purged, which the servers fold into Used); plain
// files in the namespace are in no space's account, as in xrootd. It is
// the log's figures, not the files: a failure does not undo the
// operation, and `audit -fix usage` corrects the log from the files.
func (s *Site) AccountUsage(spaceName string, added, removed int64) {
	p := s.UsagePath()
	if p == "" {
		return
	}
	if added > 0 {
		usage.AddStaged(p, spaceName, added)
	}
	if removed > 0 {
		usage.AddPurged(p, spaceName, removed)
	}
}

// MvResult reports what Mv did besides renaming the namespace entry.
type MvResult struct {
	Dir bool // a directory was renamed
	// Migrated counts the moved files whose MSS copy was current (copy
	// time >= mtime, not 0): a purge may remove them, so their copy must
	// be reachable under the new name.
	Migrated int
	// Renamed counts the MSS copies renamed to the new names; those
	// files stay migrated.
	Renamed int
	// Remigrate counts the migrated files marked migratable instead
	// (copy time = mtime - MarkDelta): their MSS copy is still under the
	// old name, so they are migrated again under the new one and are not
	// purgeable until then. Why is the (first) reason the copies were
	// not renamed: no MSS, an MSS that cannot rename, a failed rename.
	Remigrate int
	Why       error
	// NoMig counts the Remigrate files whose new name is in no mig
	// export: no migration scan picks them up, so they stay on disk, not
	// purgeable, until they are copied to the MSS under the new name.
	NoMig int
	// Xrefs counts the XA back references (user.XrdFrm.Pfn) rewritten.
	Xrefs int
	// Errors are what went wrong besides the error Mv returns: after a
	// done rename, a back reference not rewritten (audit -fix space
	// repairs it) or a copy time not restored (the file is migrated
	// again); after a failed one, an MSS copy not renamed back (its file
	// is migrated again under the old name).
	Errors []error
}

// movedFile is a migrated file under the renamed name: its lfn before
// the rename and its times.
type movedFile struct {
	lfn             string
	mtime, copyTime int64
	renamed         bool  // its MSS copy was renamed
	err             error // why it was not
}

// mssRenameWorkers bounds the MSS renames of one directory mv in flight:
// an S3 rename is two requests, a tape system's may queue.
const mssRenameWorkers = 8

// mssGiveUp is how many MSS failures in a row (not a missing copy nor a
// taken name: the MSS itself failing, after its retries) make a directory
// mv stop asking it: with the MSS down every rename would wait out its
// retries. The rest are marked migratable, which is always safe.
const mssGiveUp = mssRenameWorkers

// Mv renames oldLFN (a file or a directory) to newLFN, creating missing
// directories; unlike xrootd it refuses to replace an existing name, at
// once (renameat2 RENAME_NOREPLACE).
//
// A migrated file (copy time >= mtime, not 0) may be purged, so its MSS
// copy must stay reachable under its new name: where the site's MSS can
// rename (mss.RenamerOf) the copy is renamed too and the file stays
// migrated; otherwise (no MSS, an MSS that cannot rename, a failed
// rename) the file is marked migratable, as mark -m does, so it is
// migrated again under its new name and is never purged meanwhile.
// xrootd keeps the copy time and so lets a purge remove the only copy
// frm can reach.
//
// The order is safe against a crash at any point: every migrated file is
// first marked migratable under its old name, then its copy is renamed
// in the MSS, then the namespace entry is renamed, and only then are the
// copy times of the renamed copies put back. A crash in between leaves
// files to be migrated again, never a file claiming a copy the MSS does
// not have under its name. If the namespace rename fails, the MSS
// renames are undone.
//
// The back reference of every XA file moved is rewritten to its new pfn
// (a walk after a directory rename); audit space repairs what a crash
// leaves behind.
//
// Mv works on this host's files (their xattrs, through the embedded
// catalog); the site's catalog is told at the end (Catalog.Rename), or,
// when the mv failed half way, of what the files then say under both
// names, so a shared catalog never keeps the old name.
func (s *Site) Mv(ctx context.Context, oldLFN, newLFN string) (MvResult, error) {
	r, ch, err := s.mv(ctx, oldLFN, newLFN)
	if ch != nil {
		if cerr := ch.Done(ctx); cerr != nil {
			r.Errors = append(r.Errors, cerr)
		}
	}
	return r, err
}

func (s *Site) mv(ctx context.Context, oldLFN, newLFN string) (MvResult, *Change, error) {
	var r MvResult
	o, err := s.Clean(oldLFN)
	if err != nil {
		return r, nil, err
	}
	n, err := s.Clean(newLFN)
	if err != nil {
		return r, nil, err
	}
	op, np := s.PFN(o), s.PFN(n)
	var st, nst unix.Stat_t
	if err := unix.Lstat(op, &st); err != nil {
		return r, nil, opErr("rename", oldLFN, err)
	}
	if err := unix.Lstat(np, &nst); err == nil {
		return r, nil, opErr("rename", oldLFN, syscall.EEXIST)
	}
	r.Dir = st.Mode&unix.S_IFMT == unix.S_IFDIR
	if o == "/" || strings.HasPrefix(n, o+"/") {
		// Checked before anything is changed: rename(2) would refuse it
		// only after the marks and MSS renames below.
		return r, nil, opErr("rename", oldLFN, syscall.EINVAL)
	}
	if err := os.MkdirAll(filepath.Dir(np), 0o770); err != nil {
		return r, nil, opErr("rename", oldLFN, err)
	}
	moved, err := s.migratedUnder(ctx, o, r.Dir)
	if err != nil {
		return r, nil, opErr("rename", oldLFN, err)
	}
	r.Migrated = len(moved)
	newName := func(lfn string) string { return n + strings.TrimPrefix(lfn, o) }

	// From here on the files change: the catalog is told at the end,
	// or at the next start after a crash.
	ch := s.BeginChange(true, o, n)

	// 1. Mark every migrated file migratable under its old name.
	for i, m := range moved {
		if err := s.setCopyTime(ctx, m.lfn, m.mtime-MarkDelta); err != nil {
			s.restoreCopyTimes(moved[:i], nil, &r)
			return r, ch, opErr("rename", oldLFN, fmt.Errorf("mark %s migratable: %w", m.lfn, err))
		}
	}
	// 2. Rename their MSS copies.
	r.Why = s.renameInMSS(ctx, moved, newName)
	if err := ctx.Err(); err != nil {
		s.undoMv(ctx, moved, newName, &r)
		return r, ch, opErr("rename", oldLFN, err)
	}
	// 3. Rename the namespace entry.
	if err := renameNoReplace(op, np); err != nil {
		s.undoMv(ctx, moved, newName, &r)
		return r, ch, opErr("rename", oldLFN, err)
	}
	ch.Renamed()
	// 4. Files whose copy followed are migrated again.
	for _, m := range moved {
		if m.renamed {
			r.Renamed++
		}
	}
	s.restoreCopyTimes(moved, newName, &r)
	for _, m := range moved {
		if m.err != nil {
			r.Remigrate++
			if !s.Export(newName(m.lfn)).Mig {
				r.NoMig++
			}
		}
	}
	// 5. Back references.
	s.rewriteXrefs(ctx, n, r.Dir, &r)
	return r, ch, nil
}

// migratedUnder lists the migrated files at lfn (a file, or every file
// below a directory). A directory that cannot be read is an error: its
// migrated files could not be kept reachable.
func (s *Site) migratedUnder(ctx context.Context, lfn string, dir bool) ([]movedFile, error) {
	want := catalog.WantStat | catalog.WantLink | catalog.WantCopy
	migrated := func(e *catalog.Entry) bool {
		return e.Type == catalog.File && !e.Dangling && e.HasCopy && e.CopyTime != 0 && e.CopyTime >= e.Mtime
	}
	if !dir {
		e, err := s.fs.Lookup(ctx, lfn, want)
		switch {
		case errors.Is(err, catalog.ErrNotExist):
			return nil, nil
		case err != nil:
			return nil, err
		case !migrated(&e):
			return nil, nil
		}
		return []movedFile{{lfn: lfn, mtime: e.Mtime, copyTime: e.CopyTime}}, nil
	}
	var out []movedFile
	var walkErr error
	err := s.fs.Walk(ctx, lfn, catalog.WalkOptions{Want: want, Recursive: true, OnError: func(pfn string, err error) {
		if walkErr == nil {
			walkErr = dirErr(pfn, err)
		}
	}}, func(e *catalog.Entry) error {
		if migrated(e) {
			out = append(out, movedFile{lfn: e.LFN, mtime: e.Mtime, copyTime: e.CopyTime})
		}
		return nil
	})
	if err == nil {
		err = walkErr
	}
	return out, err
}

// setCopyTime writes lfn's copy time on this host (see Mv).
func (s *Site) setCopyTime(ctx context.Context, lfn string, t int64) error {
	_, err := s.fs.Apply(ctx, lfn, catalog.Change{Kind: catalog.SetCopyTime, Time: t})
	return err
}

// renameInMSS renames the MSS copy of every moved file to its new name,
// a few at a time, recording the outcome in moved; it returns the first
// reason a copy was not renamed (nil when all were). It stops early when
// ctx is cancelled.
func (s *Site) renameInMSS(ctx context.Context, moved []movedFile, newName func(string) string) error {
	if len(moved) == 0 {
		return nil
	}
	fail := func(err error) error {
		for i := range moved {
			moved[i].err = err
		}
		return err
	}
	b, err := s.MSS()
	if err != nil {
		return fail(err)
	}
	rn, ok := mss.RenamerOf(b)
	if !ok {
		why := fmt.Errorf("the %s MSS cannot rename", b.Name())
		if b.Name() == "command" {
			why = fmt.Errorf("%w (no mss.rename_cmd)", why)
		}
		return fail(why)
	}
	jobs := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex // guards the two below
	failures := 0     // MSS failures in a row
	var down error    // set once failures reached mssGiveUp
	for range min(mssRenameWorkers, len(moved)) {
		wg.Go(func() {
			for i := range jobs {
				m := &moved[i]
				mu.Lock()
				m.err = down
				mu.Unlock()
				if m.err != nil {
					continue
				}
				from, err := s.Names.RFN(m.lfn)
				var to string
				if err == nil {
					to, err = s.Names.RFN(newName(m.lfn))
				}
				if err == nil {
					err = s.renameMSS(ctx, rn, from, to)
				}
				m.renamed, m.err = err == nil, err
				mu.Lock()
				switch {
				case err == nil, mss.IsNotExist(err), errors.Is(err, mss.ErrExist), ctx.Err() != nil:
					failures = 0
				default:
					if failures++; failures >= mssGiveUp && down == nil {
						down = fmt.Errorf("MSS not asked after %d failures in a row: %w", failures, err)
					}
				}
				mu.Unlock()
			}
		})
	}
	for i := range moved {
		if ctx.Err() != nil {
			moved[i].err = ctx.Err()
			continue
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if down != nil {
		return down
	}
	for _, m := range moved {
		if m.err != nil {
			return m.err
		}
	}
	return nil
}

// restoreCopyTimes puts back the copy times of moved files whose MSS copy
// is under their name: with newName nil, of all of them under their old
// names (the namespace rename did not happen); else of the ones whose
// copy was renamed, under newName(lfn). A failure leaves the file
// migratable, which is safe: it is reported and counted.
func (s *Site) restoreCopyTimes(moved []movedFile, newName func(string) string, r *MvResult) {
	// Not cancellable: half-restored copy times are safe but wasteful.
	ctx := context.Background()
	for i := range moved {
		m := &moved[i]
		lfn := m.lfn
		if newName != nil {
			if !m.renamed {
				continue
			}
			lfn = newName(m.lfn)
		}
		if err := s.setCopyTime(ctx, lfn, m.copyTime); err != nil {
			r.Errors = append(r.Errors, opErr("restore copy time of", s.PFN(lfn), fmt.Errorf("%w (it will be migrated again)", err)))
			if m.err == nil {
				m.err = err
			}
		}
	}
}

// undoMv puts the MSS copies renamed by a failed Mv back under their old
// names and restores the copy times of the files whose copy is there. A
// copy that cannot be renamed back leaves its file migratable (it is
// migrated again under its old name) and is reported.
func (s *Site) undoMv(ctx context.Context, moved []movedFile, newName func(string) string, r *MvResult) {
	// The undo must run even when ctx was cancelled, but not forever.
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	// A renamed copy means the MSS has a Renamer.
	b, _ := s.MSS()
	rn, _ := mss.RenamerOf(b)
	var back []movedFile
	for _, m := range moved {
		if m.renamed {
			from, err := s.Names.RFN(newName(m.lfn))
			var to string
			if err == nil {
				to, err = s.Names.RFN(m.lfn)
			}
			if err == nil {
				err = s.renameMSS(uctx, rn, from, to)
			}
			if err != nil {
				r.Errors = append(r.Errors, fmt.Errorf("MSS copy %s not renamed back (%s will be migrated again): %w", from, m.lfn, err))
				continue
			}
		}
		back = append(back, m)
	}
	s.restoreCopyTimes(back, nil, r)
}

// rewriteXrefs sets the back reference of every XA file at lfn (or below
// it) to its pfn, reporting failures in r.Errors.
func (s *Site) rewriteXrefs(ctx context.Context, lfn string, dir bool, r *MvResult) {
	fix := func(e *catalog.Entry) {
		if !strings.HasSuffix(e.Link, "%") || e.Dangling || e.HasPfnRef && e.PfnRef == e.PFN {
			return
		}
		if _, err := s.fs.Apply(ctx, e.LFN, catalog.Change{Kind: catalog.SetPfnRef, PfnRef: e.PFN}); err != nil {
			r.Errors = append(r.Errors, opErr("set pfn xref for", e.PFN, err))
			return
		}
		r.Xrefs++
	}
	want := catalog.WantLink | catalog.WantPfnRef
	if !dir {
		e, err := s.fs.Lookup(ctx, lfn, want)
		if err != nil {
			r.Errors = append(r.Errors, opErr("set pfn xref for", s.PFN(lfn), err))
			return
		}
		fix(&e)
		return
	}
	err := s.fs.Walk(ctx, lfn, catalog.WalkOptions{Want: want, Recursive: true, OnError: func(pfn string, err error) {
		r.Errors = append(r.Errors, fmt.Errorf("%w (back references below it not rewritten)", dirErr(pfn, err)))
	}}, func(e *catalog.Entry) error {
		if e.Type == catalog.File {
			fix(e)
		}
		return nil
	})
	if err != nil {
		r.Errors = append(r.Errors, fmt.Errorf("rewrite back references below %s: %w (audit -fix space repairs them)", s.PFN(lfn), err))
	}
}

// renameNoReplace renames op to np, refusing to replace np: atomically
// with renameat2(RENAME_NOREPLACE), else (file systems without it) after
// a check.
func renameNoReplace(op, np string) error {
	err := unix.Renameat2(unix.AT_FDCWD, op, unix.AT_FDCWD, np, unix.RENAME_NOREPLACE)
	if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS) {
		return err
	}
	if err := unix.Lstat(np, new(unix.Stat_t)); err == nil {
		return syscall.EEXIST
	}
	return os.Rename(op, np)
}

// RmOptions controls Rm.
type RmOptions struct {
	Force     bool // no question for dir/* and -r
	Recursive bool
	Prompter  Prompter
	OnRemoved func(RmEvent)
	OnError   func(error)
}

// RmEvent reports one removal.
type RmEvent struct {
	PFN, LFN string
	Dir      bool
	// Rmdir: an empty directory removed by name (no -r, no /*);
	// frm_admin's -echo names its lfn, not its pfn.
	Rmdir bool
}

// RmResult summarises Rm.
type RmResult struct {
	Files, Dirs int
	Errors      int
	Aborted     bool
}

// Rm removes files and directories: a file (with its XA data file), an
// empty directory, every entry of dir/*, or with Recursive a whole tree.
func (s *Site) Rm(ctx context.Context, lspecs []string, o RmOptions) RmResult {
	var r RmResult
	fail := func(err error) {
		r.Errors++
		if o.OnError != nil {
			o.OnError(err)
		}
	}
	removed := func(ev RmEvent) {
		if ev.Dir {
			r.Dirs++
		} else {
			r.Files++
		}
		if o.OnRemoved != nil {
			o.OnRemoved(ev)
		}
	}
	p := promptOr(o.Prompter)
	for _, ls := range lspecs {
		if ctx.Err() != nil {
			fail(ctx.Err())
			return r
		}
		name, star := splitLspec(ls)
		lfn, err := s.Clean(name)
		if err != nil {
			fail(err)
			continue
		}
		if lfn == "/" {
			fail(opErr("remove", ls, errors.New("refusing to remove the namespace root")))
			continue
		}
		pfn := s.PFN(lfn)
		var st unix.Stat_t
		if err := unix.Lstat(pfn, &st); err != nil {
			if errors.Is(err, unix.ENOENT) {
				// Gone already (by hand, by another tool): a shared
				// catalog that still lists it learns it now.
				s.BeginChange(true, lfn).Done(ctx)
			}
			fail(opErr("remove", pfn, err))
			continue
		}
		isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
		// The catalog learns what went once this lspec is done.
		ch := s.BeginChange(isDir, lfn)
		aborted := s.rmOne(ctx, name, lfn, pfn, isDir, star, o, p, removed, fail)
		if err := ch.Done(ctx); err != nil {
			fail(err)
		}
		if aborted {
			r.Aborted = true
			return r
		}
	}
	return r
}

// rmOne removes what one lspec names (Rm). It reports whether the
// administrator aborted.
func (s *Site) rmOne(ctx context.Context, name, lfn, pfn string, isDir, star bool, o RmOptions, p Prompter, removed func(RmEvent), fail func(error)) bool {
	switch {
	case !isDir && star:
		fail(opErr("remove", name, syscall.ENOTDIR))
	case !isDir:
		if err := s.removeFile(pfn); err != nil {
			fail(opErr("remove", pfn, err))
			return false
		}
		removed(RmEvent{PFN: pfn, LFN: lfn})
	case star || o.Recursive:
		q := "Remove EVERYTHING in " + name + "?"
		if !star {
			q = "Remove EVERYTHING starting at " + name + "?"
		}
		if !o.Force {
			switch p.Ask(q, No) {
			case Abort:
				return true
			case No:
				return false
			}
		}
		if star {
			s.rmEntries(ctx, lfn, pfn, false, removed, fail)
		} else {
			s.rmEntries(ctx, lfn, pfn, true, removed, fail)
			if err := os.Remove(pfn); err != nil {
				fail(opErr("remove directory", pfn, err))
			} else {
				removed(RmEvent{PFN: pfn, LFN: lfn, Dir: true})
			}
		}
	default:
		if err := os.Remove(pfn); err != nil {
			fail(opErr("remove directory", pfn, err))
			return false
		}
		removed(RmEvent{PFN: pfn, LFN: lfn, Dir: true, Rmdir: true})
	}
	return false
}

// rmEntries removes what is in directory pfn: files (side files silently),
// and with deep sub-directories depth first; without deep a
// sub-directory is an error.
func (s *Site) rmEntries(ctx context.Context, lfn, pfn string, deep bool, removed func(RmEvent), fail func(error)) {
	ents, err := os.ReadDir(pfn)
	if err != nil {
		fail(opErr("open directory", pfn, err))
		return
	}
	for _, d := range ents {
		if ctx.Err() != nil {
			fail(ctx.Err())
			return
		}
		cp, cl := pfn+"/"+d.Name(), strings.TrimSuffix(lfn, "/")+"/"+d.Name()
		if d.IsDir() {
			if !deep {
				fail(opErr("remove", cp, syscall.EISDIR))
				continue
			}
			s.rmEntries(ctx, cl, cp, true, removed, fail)
			if err := os.Remove(cp); err != nil {
				fail(opErr("remove directory", cp, err))
			} else {
				removed(RmEvent{PFN: cp, LFN: cl, Dir: true})
			}
			continue
		}
		if meta.IsSideFile(d.Name()) {
			if err := os.Remove(cp); err != nil && !errors.Is(err, os.ErrNotExist) {
				fail(opErr("remove", cp, err))
			}
			continue
		}
		if err := s.removeFile(cp); err != nil {
			fail(opErr("remove", cp, err))
			continue
		}
		removed(RmEvent{PFN: cp, LFN: cl})
	}
}

// Reloc moves a file's data into a new data file of space target
// ("name" or "name:partition"), replaces the namespace entry with a symlink
// to it atomically, and removes the old data file. The copy is fsync'd
// before the switch, so a crash leaves either the old or the new file in
// place, never a half copy. Unlike xrootd it sets the back reference.
func (s *Site) Reloc(ctx context.Context, lfnArg, target string) error {
	lfn, err := s.Clean(lfnArg)
	if err != nil {
		return err
	}
	fail := func(err error) error { return opErr("reloc", lfnArg, err) }
	name, dir, hasDir := strings.Cut(target, ":")
	var part space.Partition
	sp, ok := s.Spaces.Get(name)
	if !ok {
		return fail(syscall.ENOENT)
	}
	if hasDir {
		if part, ok = s.Spaces.Partition(name, dir); !ok {
			return fail(syscall.ENOENT)
		}
	}
	pfn := s.PFN(lfn)
	e, err := s.Catalog.Lookup(ctx, lfn, catalog.WantStat|catalog.WantLink)
	if err != nil {
		return fail(err)
	}
	if e.Type == catalog.Dir {
		return fail(syscall.EISDIR)
	}
	if e.Type != catalog.File || e.Dangling {
		return fail(syscall.ENOENT)
	}
	if e.Space == name && (!hasDir || strings.HasPrefix(e.Link, part.DataDir()+"/")) {
		return fail(syscall.EEXIST)
	}
	if !hasDir {
		if part, err = space.Choose(sp, e.Size); err != nil {
			return fail(err)
		}
	}
	if err := os.MkdirAll(part.DataDir(), 0o755); err != nil {
		return fail(err)
	}
	data, err := copyToNewData(ctx, pfn, part, s.Now())
	if err != nil {
		return fail(err)
	}
	undo := func(err error) error { os.Remove(data); return fail(err) }
	if err := copyXattrs(pfn, data); err != nil {
		return undo(err)
	}
	if err := meta.SetPfn(data, pfn); err != nil {
		return undo(err)
	}
	ch := s.BeginChange(false, lfn)
	if err := replaceSymlink(data, pfn); err != nil {
		ch.Done(ctx)
		return undo(err)
	}
	if e.Link != "" {
		if _, ok := s.Spaces.Contains(e.Link); ok {
			os.Remove(e.Link)
		}
	}
	s.AccountUsage(name, e.Size, 0)
	if e.Link != "" && e.Space != "" {
		s.AccountUsage(e.Space, 0, e.Size)
	}
	// The catalog learns the new space and partition.
	if err := ch.Done(ctx); err != nil {
		return fail(err)
	}
	return nil
}

// copyToNewData copies src into a fresh XA data file of part, fsync'd, and
// keeps its times and mode.
func copyToNewData(ctx context.Context, src string, part space.Partition, now time.Time) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return "", err
	}
	var data string
	var out *os.File
	for i := 0; i < 8; i++ {
		data = space.NewDataPath(part, now)
		if err := os.MkdirAll(filepath.Dir(data), 0o755); err != nil {
			return "", err
		}
		out, err = os.OpenFile(data, os.O_CREATE|os.O_EXCL|os.O_WRONLY, fi.Mode().Perm())
		if !errors.Is(err, os.ErrExist) {
			break
		}
	}
	if err != nil {
		return "", err
	}
	_, err = io.Copy(out, ctxReader{ctx, in})
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		var st unix.Stat_t
		if unix.Stat(src, &st) == nil {
			err = os.Chtimes(data, time.Unix(st.Atim.Sec, st.Atim.Nsec), time.Unix(st.Mtim.Sec, st.Mtim.Nsec))
		}
	}
	if err != nil {
		os.Remove(data)
		return "", err
	}
	return data, nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// copyXattrs copies the user.* attributes of src (through symlinks) to dst.
func copyXattrs(src, dst string) error {
	sz, err := unix.Listxattr(src, nil)
	if err != nil || sz == 0 {
		return nil
	}
	buf := make([]byte, sz)
	sz, err = unix.Listxattr(src, buf)
	if err != nil {
		return nil
	}
	for _, name := range strings.Split(string(buf[:sz]), "\x00") {
		if !strings.HasPrefix(name, "user.") {
			continue
		}
		v := make([]byte, 4096)
		n, err := unix.Getxattr(src, name, v)
		if err != nil {
			continue
		}
		if err := unix.Setxattr(dst, name, v[:n], 0); err != nil {
			return fmt.Errorf("copy attribute %s: %w", name, err)
		}
	}
	return nil
}

// RenameRetries is how often mv retries a rename of an MSS copy after a
// passing fault: once, since an administrator waits for mv (and after
// mssGiveUp failures in a row it stops asking the MSS at all).
const RenameRetries = 1

// renameMSS renames an MSS copy, retrying a passing fault (frm's one
// retry policy, package retry).
func (s *Site) renameMSS(ctx context.Context, rn mss.Renamer, from, to string) error {
	policy := retry.Policy{Retries: RenameRetries, Base: time.Second, Max: time.Minute}
	_, err := policy.Do(ctx, func(ctx context.Context) error { return rn.Rename(ctx, from, to) }, mss.Retriable, nil)
	return err
}
