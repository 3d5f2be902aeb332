// Package embedded implements catalog.Catalog on the filesystem itself, the
// way xrootd 5 keeps residency state: extended attributes on the data files
// (read and written through the namespace symlinks) and .fail side files.
// There is nothing to install and nothing to keep in sync: the files are
// the catalog.
package embedded

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

	"golang.org/x/sys/unix"

	"frm/core/catalog"
	"frm/core/guard"
	"frm/core/meta"
	"frm/core/names"
	"frm/core/space"
)

// Catalog is the embedded, filesystem-backed catalog.
type Catalog struct {
	names   names.Mapper
	failDir string // oss.xfr fdir: fail files live at failDir+pfn+".fail"
	roots   *guard.Roots
}

// New returns a catalog over the namespace mapped by m. failDir, when not
// empty, is where .fail files are kept instead of beside the files.
// dataDirs are the partitions' data directories: Apply changes a file only
// when its namespace entry leads into the namespace root or one of them.
func New(m names.Mapper, failDir string, dataDirs ...string) *Catalog {
	root := m.LocalRoot()
	if root == "" {
		root = "/"
	}
	return &Catalog{names: m, failDir: strings.TrimRight(failDir, "/"), roots: guard.NewRoots(append([]string{root}, dataDirs...)...)}
}

// Roots are the directories the catalog's changes may reach.
func (c *Catalog) Roots() *guard.Roots { return c.roots }

// FailPath is the .fail side file of pfn.
func (c *Catalog) FailPath(pfn string) string { return c.failDir + pfn + ".fail" }

var _ catalog.Catalog = (*Catalog)(nil)

// Lookup implements catalog.Catalog.
func (c *Catalog) Lookup(ctx context.Context, lfn string, want catalog.Want) (catalog.Entry, error) {
	e := catalog.Entry{LFN: lfn, PFN: c.names.PFNClean(lfn)}
	var st unix.Stat_t
	if err := unix.Lstat(e.PFN, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return e, fmt.Errorf("%s: %w", e.PFN, catalog.ErrNotExist)
		}
		return e, &os.PathError{Op: "lstat", Path: e.PFN, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		if name := filepath.Base(e.PFN); name == meta.DirLockName || meta.IsSideFile(name) {
			// As a walk reports it: a side file is never data.
			e.Type = catalog.Side
			return e, nil
		}
	}
	c.fill(&e, modeType(st.Mode), &st, want, unix.AT_FDCWD, e.PFN)
	return e, nil
}

func modeType(m uint32) uint8 {
	switch m & unix.S_IFMT {
	case unix.S_IFDIR:
		return unix.DT_DIR
	case unix.S_IFLNK:
		return unix.DT_LNK
	case unix.S_IFREG:
		return unix.DT_REG
	}
	return unix.DT_UNKNOWN
}

// fill loads the wanted fields of e, whose pfn has directory-entry type dt.
// lst, when not nil, is the lstat result already known. dirfd and name
// locate the entry for the stat calls (relative to an open directory
// during walks, which spares the kernel the full path lookup; AT_FDCWD and
// the pfn otherwise).
func (c *Catalog) fill(e *catalog.Entry, dt uint8, lst *unix.Stat_t, want catalog.Want, dirfd int, name string) {
	if dt == unix.DT_UNKNOWN {
		var st unix.Stat_t
		if fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
			dt, lst = modeType(st.Mode), &st
		}
	}
	switch dt {
	case unix.DT_DIR:
		e.Type = catalog.Dir
		if want&catalog.WantStat != 0 {
			if lst == nil {
				var st unix.Stat_t
				if fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
					lst = &st
				}
			}
			if lst != nil {
				setStat(e, lst)
			}
		}
		return
	case unix.DT_REG, unix.DT_LNK:
		e.Type = catalog.File
	default:
		e.Type = catalog.Other
		return
	}
	isLink := dt == unix.DT_LNK
	e.Space = space.Public
	if isLink && want&catalog.WantLink != 0 {
		if t, err := os.Readlink(e.PFN); err == nil {
			e.Link = t
			if sp, ok := space.SpaceOf(t); ok {
				e.Space = sp
			}
		}
	}
	if want&catalog.WantCopy != 0 {
		e.CopyTime, e.HasCopy, _ = meta.GetCopyTimeAt(dirfd, name, e.PFN)
	}
	needStat := want&catalog.WantStat != 0 || isLink && want&catalog.WantLink != 0 ||
		want&catalog.WantStatIfCopied != 0 && e.HasCopy
	if needStat {
		if isLink || lst == nil {
			var st unix.Stat_t
			if err := fstatat(dirfd, name, &st, 0); err == nil {
				if st.Mode&unix.S_IFMT == unix.S_IFDIR {
					// A symlink to a directory is not a data file.
					e.Type = catalog.Other
					return
				}
				setStat(e, &st)
			} else if isLink {
				e.Dangling = true
			}
		} else {
			setStat(e, lst)
		}
	}
	if e.Dangling {
		e.CopyTime, e.HasCopy = 0, false
		return // attributes live on the missing target
	}
	c.fillAttrs(e, isLink, want, dirfd, name)
}

// fillAttrs loads the wanted attributes of the file e (not dangling)
// once its type and stat are known: fill's second half, and the fields a
// walk's More asks for.
func (c *Catalog) fillAttrs(e *catalog.Entry, isLink bool, want catalog.Want, dirfd int, name string) {
	if want&catalog.WantPin != 0 {
		e.Pin, e.HasPin, _ = meta.GetPinAt(dirfd, name, e.PFN)
	}
	if want&catalog.WantMem != 0 {
		e.Mem, e.HasMem, _ = meta.GetMemAt(dirfd, name, e.PFN)
	}
	// Only XA links have a data file with a back reference; a plain
	// file's would be its own name at best, and reading it costs a call.
	if want&catalog.WantPfnRef != 0 && isLink {
		e.PfnRef, e.HasPfnRef, _ = meta.GetPfn(e.PFN)
	}
	if want&catalog.WantChecksums != 0 {
		e.Checksums, _ = meta.ListChecksums(e.PFN)
	}
	if want&catalog.WantBadChecksum != 0 {
		// ok with a decode error is still a mark (see meta.GetBadChecksum).
		e.BadChecksum, e.HasBadChecksum, _ = meta.GetBadChecksumAt(dirfd, name, e.PFN)
	}
	if want&catalog.WantOrigin != 0 && e.Type == catalog.File {
		e.Origin, e.HasOrigin, _ = meta.GetOrigin(e.PFN)
	}
	if want&catalog.WantFail != 0 {
		var st unix.Stat_t
		e.Failed = unix.Lstat(c.FailPath(e.PFN), &st) == nil
	}
}

func setStat(e *catalog.Entry, st *unix.Stat_t) {
	e.Size = st.Size
	e.Mtime = st.Mtim.Sec
	e.Atime = st.Atim.Sec
	e.Ctime = st.Ctim.Sec
	e.Mode = st.Mode
	e.Dev, e.Ino = uint64(st.Dev), st.Ino
	e.MtimeNs, e.CtimeNs = st.Mtim.Nano(), st.Ctim.Nano()
}

// Apply implements catalog.Catalog. The changes are made on the data file
// (for XA files the target of the namespace symlink), which must lie in
// the namespace root or a partition, under the residency lock (package
// guard): a change never lands on a file outside the site, and a change
// that loses the race with a purge finds the file gone instead of writing
// onto a removed one.
func (c *Catalog) Apply(ctx context.Context, lfn string, changes ...catalog.Change) (int, error) {
	ns := c.names.PFNClean(lfn)
	f, err := guard.OpenLocked(ctx, ns, c.roots)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, fmt.Errorf("%s: %w", ns, catalog.ErrNotExist)
		}
		return 0, err
	}
	defer f.Close()
	pfn := f.Path()
	n := 0
	for _, ch := range changes {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		var err error
		changed := true
		switch ch.Kind {
		case catalog.SetCopyTime:
			err = meta.SetCopyTime(pfn, ch.Time)
		case catalog.SetPin:
			err = meta.SetPin(pfn, ch.Pin)
		case catalog.ClearPin:
			changed, err = meta.RemovePin(pfn)
		case catalog.SetMem:
			err = meta.SetMem(pfn, ch.Mem)
		case catalog.ClearMem:
			changed, err = meta.RemoveMem(pfn)
		case catalog.SetChecksum:
			err = meta.SetChecksum(pfn, ch.Checksum)
		case catalog.ClearChecksum:
			changed, err = meta.RemoveChecksum(pfn, ch.Checksum.Alg)
		case catalog.SetPfnRef:
			err = meta.SetPfn(pfn, ch.PfnRef)
		default:
			err = fmt.Errorf("unknown change kind %d", ch.Kind)
		}
		if err != nil {
			return n, fmt.Errorf("%s: %w", ns, err)
		}
		if changed {
			n++
		}
	}
	return n, nil
}

// Record implements catalog.Catalog: the embedded catalog is the files,
// so there is nothing to record.
func (c *Catalog) Record(ctx context.Context, lfn string, recursive bool) error { return ctx.Err() }

// Rename implements catalog.Catalog: the files were renamed, which is all
// there is to it.
func (c *Catalog) Rename(ctx context.Context, oldLFN, newLFN string) error { return ctx.Err() }

// Walk implements catalog.Catalog with a parallel directory walk: up to
// Workers directories are read at once and their entries loaded in
// parallel; fn sees batches from one goroutine. Memory is bounded by the
// number of directories waiting, not by the number of files.
func (c *Catalog) Walk(ctx context.Context, lfn string, opt catalog.WalkOptions, fn func(*catalog.Entry) error) error {
	root := c.names.PFNClean(lfn)
	var st unix.Stat_t
	if err := unix.Stat(root, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("%s: %w", root, catalog.ErrNotExist)
		}
		return &os.PathError{Op: "stat", Path: root, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return &os.PathError{Op: "open directory", Path: root, Err: unix.ENOTDIR}
	}
	w := newWalker(ctx, c, opt)
	return w.run(lfn, root, fn)
}

// batchSize bounds the entries handed over at once (and so the memory a
// huge directory can pin).
const batchSize = 512

type batch struct {
	entries  []catalog.Entry
	oldStyle string // directory pfn with old-style files, reported once
	err      error
	errPath  string
}

type walker struct {
	ctx    context.Context
	cancel context.CancelFunc
	c      *Catalog
	opt    catalog.WalkOptions

	mu      sync.Mutex // guards pending and active
	cond    *sync.Cond
	pending []dirJob
	active  int

	out chan *batch
}

type dirJob struct{ lfn, pfn string }

func newWalker(ctx context.Context, c *Catalog, opt catalog.WalkOptions) *walker {
	ctx, cancel := context.WithCancel(ctx)
	if opt.Workers <= 0 {
		opt.Workers = defaultWorkers()
	}
	w := &walker{ctx: ctx, cancel: cancel, c: c, opt: opt, out: make(chan *batch, opt.Workers*2)}
	w.cond = sync.NewCond(&w.mu)
	return w
}

func (w *walker) run(lfn, root string, fn func(*catalog.Entry) error) error {
	defer w.cancel()
	w.pending = append(w.pending, dirJob{lfn, root})
	var wg sync.WaitGroup
	for i := 0; i < w.opt.Workers; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); w.work() }()
	}
	go func() { wg.Wait(); close(w.out) }()
	var ferr error
	for b := range w.out {
		if ferr != nil {
			continue // drain
		}
		if b.err != nil && w.opt.OnError != nil {
			w.opt.OnError(b.errPath, b.err)
		}
		if b.oldStyle != "" && w.opt.OnOldStyle != nil {
			w.opt.OnOldStyle(b.oldStyle)
		}
		for i := range b.entries {
			if err := fn(&b.entries[i]); err != nil {
				ferr = err
				w.stop()
				break
			}
		}
		putBatch(b)
	}
	if ferr != nil {
		return ferr
	}
	return w.ctx.Err()
}

func (w *walker) stop() {
	w.cancel()
	w.mu.Lock()
	w.pending = nil
	w.cond.Broadcast()
	w.mu.Unlock()
}

func (w *walker) work() {
	for {
		w.mu.Lock()
		for len(w.pending) == 0 && w.active > 0 && w.ctx.Err() == nil {
			w.cond.Wait()
		}
		if len(w.pending) == 0 || w.ctx.Err() != nil {
			w.mu.Unlock()
			w.cond.Broadcast()
			return
		}
		j := w.pending[len(w.pending)-1]
		w.pending = w.pending[:len(w.pending)-1]
		w.active++
		w.mu.Unlock()

		w.readDir(j)

		w.mu.Lock()
		w.active--
		w.mu.Unlock()
		w.cond.Broadcast()
	}
}

func (w *walker) send(b *batch) bool {
	select {
	case w.out <- b:
		return true
	case <-w.ctx.Done():
		return false
	}
}

func (w *walker) readDir(j dirJob) {
	fd, err := unix.Open(j.pfn, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		w.send(&batch{err: err, errPath: j.pfn})
		return
	}
	defer unix.Close(fd)
	buf := getDirBuf()
	defer putDirBuf(buf)
	b := getBatch()
	reportedOld := false
	scanned := 0
	var subdirs []dirJob
	lfnPrefix, pfnPrefix := j.lfn+"/", j.pfn+"/"
	if j.lfn == "/" {
		lfnPrefix = "/"
	}
	for {
		n, err := unix.Getdents(fd, *buf)
		if err != nil {
			b.err, b.errPath = err, j.pfn
			break
		}
		if n <= 0 {
			break
		}
		for off := 0; off < n; {
			d := (*buf)[off:]
			reclen := int(d[16]) | int(d[17])<<8
			dt := d[18]
			nameb := d[19:reclen]
			if i := indexByte(nameb, 0); i >= 0 {
				nameb = nameb[:i]
			}
			off += reclen
			if len(nameb) == 1 && nameb[0] == '.' || len(nameb) == 2 && nameb[0] == '.' && nameb[1] == '.' {
				continue
			}
			scanned++
			name := string(nameb)
			if dt == unix.DT_UNKNOWN {
				var st unix.Stat_t
				if fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
					dt = modeType(st.Mode)
				}
			}
			if dt == unix.DT_DIR {
				if w.opt.Recursive {
					subdirs = append(subdirs, dirJob{lfnPrefix + name, pfnPrefix + name})
				}
				if !w.opt.Dirs {
					continue
				}
			} else if name == "DIR_LOCK" || meta.IsSideFile(name) {
				if !reportedOld && meta.IsOldStyle(name) {
					reportedOld = true
					b.oldStyle = j.pfn
				}
				if !w.opt.SideFiles {
					continue
				}
				b.entries = append(b.entries, catalog.Entry{LFN: lfnPrefix + name, PFN: pfnPrefix + name, Type: catalog.Side})
				continue
			}
			b.entries = append(b.entries, catalog.Entry{LFN: lfnPrefix + name, PFN: pfnPrefix + name})
			e := &b.entries[len(b.entries)-1]
			w.c.fill(e, dt, nil, w.opt.Want, fd, name)
			if w.opt.More != nil && e.Type == catalog.File && !e.Dangling {
				if more := w.opt.More(e) &^ (catalog.WantStat | catalog.WantLink | catalog.WantStatIfCopied); more != 0 {
					if more&catalog.WantCopy != 0 {
						e.CopyTime, e.HasCopy, _ = meta.GetCopyTimeAt(fd, name, e.PFN)
					}
					w.c.fillAttrs(e, dt == unix.DT_LNK, more, fd, name)
				}
			}
			if len(b.entries) >= batchSize {
				if !w.send(b) {
					return
				}
				b = getBatch()
			}
		}
		if w.ctx.Err() != nil {
			return
		}
	}
	if w.opt.Scanned != nil {
		w.opt.Scanned.Add(int64(scanned))
	}
	if len(subdirs) > 0 {
		w.mu.Lock()
		if w.ctx.Err() == nil {
			// Push in reverse so the stack pops them in read order.
			for i := len(subdirs) - 1; i >= 0; i-- {
				w.pending = append(w.pending, subdirs[i])
			}
		}
		w.mu.Unlock()
		w.cond.Broadcast()
	}
	if len(b.entries) > 0 || b.err != nil || b.oldStyle != "" {
		w.send(b)
	} else {
		putBatch(b)
	}
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

var batchPool = sync.Pool{New: func() any { return &batch{entries: make([]catalog.Entry, 0, batchSize)} }}

func getBatch() *batch { return batchPool.Get().(*batch) }

func putBatch(b *batch) {
	clear(b.entries)
	b.entries = b.entries[:0]
	b.oldStyle, b.err, b.errPath = "", nil, ""
	batchPool.Put(b)
}

var dirBufPool = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

func getDirBuf() *[]byte  { return dirBufPool.Get().(*[]byte) }
func putDirBuf(b *[]byte) { dirBufPool.Put(b) }

// ResolveParent checks that the directory holding pfn, once symlinks are
// resolved, is still inside the namespace root, so a symlinked directory
// cannot carry an operation outside it. The final component may itself be
// a symlink (XA files are). When the directory does not exist yet, its
// deepest existing ancestor is checked instead: the directories an
// operation then creates (a stage, a relocation) would be made there, so
// a symlink above them leading outside must be refused too.
//
// It runs once for every transfer, so it asks the kernel where the
// directory is (an O_PATH descriptor and its /proc/self/fd link: three
// system calls) rather than lstat each component of the path, and it
// remembers where the root resolves to, looking again only when a
// directory seems to be outside it. (So a root that is itself a symlink
// re-pointed while frm runs still admits, until a restart, directories
// leading into its old place: a place the administrator gave it.)
func ResolveParent(root, pfn string) error {
	if root == "" || pfn == root {
		return nil
	}
	dir := filepath.Dir(pfn)
	real, err := existingAncestor(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", pfn, err)
	}
	if v, ok := realRoots.Load(root); ok && within(real, v.(string)) {
		return nil
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil // no root yet: nothing below it to escape through
	}
	if err != nil {
		return fmt.Errorf("namespace root %s: %w", root, err)
	}
	realRoots.Store(root, realRoot)
	if !within(real, realRoot) {
		return fmt.Errorf("%s: directory resolves to %s, outside the namespace root %s", pfn, real, realRoot)
	}
	return nil
}

// realRoots maps each namespace root to where it resolves.
var realRoots sync.Map

func within(p, root string) bool { return p == root || root == "/" || strings.HasPrefix(p, root+"/") }

// existingAncestor resolves dir, or its deepest ancestor that exists, to
// a path without symlinks.
func existingAncestor(dir string) (string, error) {
	for {
		real, err := realDir(dir)
		if err == nil {
			return real, nil
		}
		if !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENOTDIR) {
			return "", err
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", err
		}
		dir = up
	}
}

// realDir is the path of directory dir with every symlink resolved: where
// the kernel finds it, read back from an O_PATH descriptor's link in
// /proc/self/fd, or filepath.EvalSymlinks where /proc is not mounted.
func realDir(dir string) (string, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	var buf [unix.PathMax]byte
	n, err := unix.Readlink("/proc/self/fd/"+strconv.Itoa(fd), buf[:])
	if err != nil || n == 0 || buf[0] != '/' || n == len(buf) || strings.HasSuffix(string(buf[:n]), " (deleted)") {
		return filepath.EvalSymlinks(dir)
	}
	return string(buf[:n]), nil
}
