package site

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"frm/core/catalog"
	"frm/core/meta"
	"frm/core/space"
)

// removeFile removes the namespace entry pfn and, when it is an XA link
// into a configured partition, its data file. A link pointing outside every
// partition only loses the link: frm never deletes files it does not own.
func (s *Site) removeFile(pfn string) error {
	target, lerr := os.Readlink(pfn)
	if err := os.Remove(pfn); err != nil {
		return err
	}
	if lerr == nil {
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(pfn), target)
		}
		if _, ok := s.Spaces.Contains(filepath.Clean(target)); ok {
			if err := os.Remove(target); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("remove data file %s: %w", target, err)
			}
		}
	}
	return nil
}

// Mv renames oldLFN to newLFN, creating missing directories, and rewrites
// the data file's back reference for XA files. Unlike xrootd it refuses to
// replace an existing file.
func (s *Site) Mv(ctx context.Context, oldLFN, newLFN string) error {
	o, err := s.Clean(oldLFN)
	if err != nil {
		return err
	}
	n, err := s.Clean(newLFN)
	if err != nil {
		return err
	}
	op, np := s.PFN(o), s.PFN(n)
	var st unix.Stat_t
	if err := unix.Lstat(op, &st); err != nil {
		return opErr("rename", oldLFN, err)
	}
	if err := unix.Lstat(np, &st); err == nil {
		return opErr("rename", oldLFN, syscall.EEXIST)
	}
	if err := os.MkdirAll(filepath.Dir(np), 0o770); err != nil {
		return opErr("rename", oldLFN, err)
	}
	// renameat2(RENAME_NOREPLACE) closes the window between the check and
	// the rename.
	if err := unix.Renameat2(unix.AT_FDCWD, op, unix.AT_FDCWD, np, unix.RENAME_NOREPLACE); err != nil {
		if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS) {
			return opErr("rename", oldLFN, err)
		}
		if err := os.Rename(op, np); err != nil {
			return opErr("rename", oldLFN, err)
		}
	}
	if t, err := os.Readlink(np); err == nil && strings.HasSuffix(t, "%") {
		if _, err := s.Catalog.Apply(ctx, n, catalog.Change{Kind: catalog.SetPfnRef, PfnRef: np}); err != nil {
			return opErr("set pfn xref for", np, err)
		}
	}
	return nil
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
			fail(opErr("remove", pfn, err))
			continue
		}
		isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
		switch {
		case !isDir && star:
			fail(opErr("remove", name, syscall.ENOTDIR))
		case !isDir:
			if err := s.removeFile(pfn); err != nil {
				fail(opErr("remove", pfn, err))
				continue
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
					r.Aborted = true
					return r
				case No:
					continue
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
				continue
			}
			removed(RmEvent{PFN: pfn, LFN: lfn, Dir: true, Rmdir: true})
		}
	}
	return r
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
	if err := replaceSymlink(data, pfn); err != nil {
		return undo(err)
	}
	if e.Link != "" {
		if _, ok := s.Spaces.Contains(e.Link); ok {
			os.Remove(e.Link)
		}
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
