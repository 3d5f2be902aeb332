package purge

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"frm/core/site"
)

// EmptyDir is an empty directory removed (or, in a dry run, that would be
// removed) because it is older than the dir hold.
type EmptyDir struct {
	LFN, PFN string
	Mtime    int64
}

// EmptyDirs looks for empty directories below roots (lfns) whose mtime is
// not after cutoff (epoch seconds) and, with remove, removes them, deepest
// first. The parent's access and modification times are put back after
// each removal, as frm_purged does, so that a tree of old empty
// directories goes in one pass while a directory emptied just now by a
// purge stays until it has aged. Without remove, directories that would
// become empty are reported too. Roots and every export path are never
// removed, nor is anything inside an export that is not a purge export.
// Symbolic links are not followed. fn is called for each directory, onErr
// for each directory that cannot be read or removed.
func EmptyDirs(ctx context.Context, s *site.Site, roots []string, cutoff int64, remove bool, fn func(EmptyDir), onErr func(error)) (int, error) {
	d := &dirSweep{ctx: ctx, s: s, cutoff: cutoff, remove: remove, fn: fn, onErr: onErr, protected: map[string]bool{}}
	for _, e := range s.Config().Exports {
		d.protected[strings.TrimRight(e.Path, "/")] = true
	}
	for _, r := range roots {
		d.protected[r] = true
	}
	for _, r := range roots {
		var st unix.Stat_t
		if err := unix.Lstat(s.PFN(r), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			continue
		}
		d.visit(r, s.PFN(r))
		if err := ctx.Err(); err != nil {
			return d.n, err
		}
	}
	return d.n, nil
}

type dirSweep struct {
	ctx       context.Context
	s         *site.Site
	cutoff    int64
	remove    bool
	fn        func(EmptyDir)
	onErr     func(error)
	protected map[string]bool
	n         int
}

func (d *dirSweep) fail(err error) {
	if d.onErr != nil {
		d.onErr(err)
	}
}

// visit sweeps directory lfn (pfn) and reports whether it was (or would
// be) removed.
func (d *dirSweep) visit(lfn, pfn string) bool {
	if d.ctx.Err() != nil {
		return false
	}
	ents, err := os.ReadDir(pfn)
	if err != nil {
		d.fail(&site.OpError{Action: "open directory", Name: pfn, Err: err})
		return false
	}
	left := 0
	for _, e := range ents {
		if !e.IsDir() {
			left++
			continue
		}
		cl, cp := strings.TrimSuffix(lfn, "/")+"/"+e.Name(), pfn+"/"+e.Name()
		if x, ok := d.s.Config().ExportFor(cl); !ok || !x.Purge {
			left++
			continue
		}
		if !d.visit(cl, cp) {
			left++
		}
	}
	if left > 0 || d.protected[lfn] {
		return false
	}
	var st unix.Stat_t
	if err := unix.Lstat(pfn, &st); err != nil {
		return false
	}
	if st.Mtim.Sec > d.cutoff {
		return false
	}
	if d.remove {
		parent := filepath.Dir(pfn)
		var ps unix.Stat_t
		havePS := unix.Lstat(parent, &ps) == nil
		if err := unix.Rmdir(pfn); err != nil {
			d.fail(&site.OpError{Action: "remove directory", Name: pfn, Err: err})
			return false
		}
		if havePS {
			os.Chtimes(parent, time.Unix(ps.Atim.Sec, ps.Atim.Nsec), time.Unix(ps.Mtim.Sec, ps.Mtim.Nsec))
		}
	}
	d.n++
	if d.fn != nil {
		d.fn(EmptyDir{LFN: lfn, PFN: pfn, Mtime: st.Mtim.Sec})
	}
	return true
}
