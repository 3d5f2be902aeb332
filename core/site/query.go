package site

import (
	"context"
	"errors"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"frm/core/catalog"
	"frm/core/meta"
	"frm/core/space"
)

// SpaceEntry is a file and the space its data lives in.
type SpaceEntry struct {
	Space string
	PFN   string
	// Origin is the peer site a fetched file came from (nil otherwise).
	Origin *meta.Origin
}

// QuerySpace reports the space of each file named by lspecs ("lfn",
// "ldir" or "ldir/*"; directories list their files, recursively with
// recursive).
func (s *Site) QuerySpace(ctx context.Context, lspecs []string, recursive bool, fn func(SpaceEntry), onErr func(error)) int {
	errs := 0
	fail := func(err error) {
		errs++
		if onErr != nil {
			onErr(err)
		}
	}
	for _, ls := range lspecs {
		name, star := splitLspec(ls)
		lfn, err := s.Clean(name)
		if err != nil {
			fail(err)
			continue
		}
		e, err := s.Catalog.Lookup(ctx, lfn, catalog.WantLink|catalog.WantOrigin)
		if err != nil {
			fail(opErr("query", s.PFN(lfn), err))
			continue
		}
		if e.Type != catalog.Dir {
			if star {
				fail(opErr("query", name, syscall.ENOTDIR))
				continue
			}
			if e.Dangling {
				// Named alone, a dangling link is a missing file (as in
				// frm_admin); in a directory listing it shows its space.
				fail(opErr("query", e.PFN, syscall.ENOENT))
				continue
			}
			fn(spaceEntry(&e))
			continue
		}
		err = s.Catalog.Walk(ctx, lfn, catalog.WalkOptions{Want: catalog.WantLink | catalog.WantOrigin, Recursive: recursive}, func(e *catalog.Entry) error {
			if e.Type == catalog.File {
				fn(spaceEntry(e))
			}
			return nil
		})
		if err != nil {
			fail(opErr("query", s.PFN(lfn), err))
		}
	}
	return errs
}

func spaceEntry(e *catalog.Entry) SpaceEntry {
	se := SpaceEntry{Space: e.Space, PFN: e.PFN}
	if e.HasOrigin {
		o := e.Origin
		se.Origin = &o
	}
	return se
}

// PartitionUsage is a partition with its usage and file counts.
type PartitionUsage = space.Usage

// SpaceUsage is a space with its partitions' usage.
type SpaceUsage struct {
	Name       string
	Partitions []space.Usage
	// Namespace is set for the public space only: the filesystem of the
	// namespace root (local_root), whose Files and Bytes (with count) are
	// the plain files of the exports, the files stored in the namespace
	// directly rather than as XA links. They belong to public, the
	// default space of xrootd's oss, as the catalog says of them. Its
	// statfs figures count in the space's Total and Free only when public
	// has no partitions of its own (then the namespace filesystem is the
	// space, as in xrootd).
	Namespace *space.Usage
	// Total and Free count a filesystem shared by several partitions once.
	Total, Free int64
	// Files and Bytes are the data files of the partitions and, for
	// public, the plain files of the namespace.
	Files, Bytes int64
}

// Df reports every space (or the named ones) with per-partition statfs
// figures and, with count, the files and bytes each holds. The public
// space is always reported, with the namespace filesystem (see
// SpaceUsage.Namespace), even when it is not configured.
func (s *Site) Df(ctx context.Context, only []string, count bool) ([]SpaceUsage, error) {
	var out []SpaceUsage
	all := s.Spaces.All()
	if _, ok := s.Spaces.Get(space.Public); !ok {
		all = append(all[:len(all):len(all)], space.Space{Name: space.Public})
	}
	want := map[string]bool{}
	for _, n := range only {
		if _, ok := s.Spaces.Get(n); !ok && n != space.Public {
			return nil, &ErrNoSpace{n}
		}
		want[n] = true
	}
	for _, sp := range all {
		if len(want) > 0 && !want[sp.Name] {
			continue
		}
		su := SpaceUsage{Name: sp.Name}
		for _, p := range sp.Partitions {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			u := space.Stat(p)
			if count && u.Err == nil {
				if err := space.CountFiles(&u); err != nil && u.Err == nil {
					u.Err = err
				}
			}
			space.ApplyCaps(&u)
			su.Files += u.Files
			su.Bytes += u.Bytes
			su.Partitions = append(su.Partitions, u)
		}
		su.Total, su.Free = space.Totals(su.Partitions)
		if sp.Name == space.Public {
			ns, err := s.namespaceUsage(ctx, count)
			if err != nil {
				return nil, err
			}
			su.Namespace = &ns
			su.Files += ns.Files
			su.Bytes += ns.Bytes
			if len(sp.Partitions) == 0 {
				su.Total, su.Free = ns.Total, ns.Free
			}
		}
		out = append(out, su)
	}
	return out, nil
}

// NamespaceRoot is the directory of the namespace's own filesystem, where
// plain files live: local_root, or / without one.
func (s *Site) NamespaceRoot() string {
	if r := s.Config().LocalRoot; r != "" {
		return r
	}
	return "/"
}

// namespaceUsage is the statfs of the namespace root and, with count, the
// plain files of the exports (a failure of either is in Err).
func (s *Site) namespaceUsage(ctx context.Context, count bool) (space.Usage, error) {
	u := space.Stat(space.Partition{Space: space.Public, Path: s.NamespaceRoot()})
	if !count || u.Err != nil {
		return u, nil
	}
	if err := s.countPlain(ctx, &u); err != nil {
		if ctx.Err() != nil {
			return u, ctx.Err()
		}
		u.Err = err
	}
	return u, nil
}

// countPlain adds to u the plain files of the exports: regular files of
// the namespace that are not side files (.fail, .anew, ...). XA links are
// not plain files (their data files are counted in their partitions), nor
// is any other symlink; a partition directory inside an export is skipped.
// It reads the directories only (their entry types) and stats the plain
// files alone, so a namespace of XA links costs little more than a listing.
func (s *Site) countPlain(ctx context.Context, u *space.Usage) error {
	skip := map[string]bool{}
	for _, sp := range s.Spaces.All() {
		for _, p := range sp.Partitions {
			skip[p.Path] = true
		}
	}
	for _, root := range s.exportRoots() {
		err := filepath.WalkDir(s.PFN(root), func(p string, d fs.DirEntry, err error) error {
			switch {
			case err != nil:
				if errors.Is(err, fs.ErrNotExist) {
					return nil // an export without files yet, or a file just removed
				}
				return err
			case d.IsDir():
				if skip[p] {
					return filepath.SkipDir
				}
				return ctx.Err()
			case !d.Type().IsRegular() || d.Name() == meta.DirLockName || meta.IsSideFile(d.Name()):
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				return nil // removed while we looked
			}
			u.Files++
			u.Bytes += fi.Size()
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// exportRoots lists the exports' paths, without those inside another.
func (s *Site) exportRoots() []string {
	var roots []string
	for _, e := range s.Config().Exports {
		roots = append(roots, path.Clean("/"+e.Path))
	}
	slices.Sort(roots)
	out := roots[:0]
	for _, r := range roots {
		if n := len(out); n > 0 && (out[n-1] == "/" || r == out[n-1] || strings.HasPrefix(r, out[n-1]+"/")) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// Ls reports the residency of each file named by lspecs ("lfn", "ldir" or
// "ldir/*"), directories' files one level deep or, with recursive, all of
// them. Entries are streamed; fn must not keep them.
func (s *Site) Ls(ctx context.Context, lspecs []string, recursive bool, fn func(*catalog.Entry) error, onErr func(error)) (errs int, err error) {
	fail := func(err error) {
		errs++
		if onErr != nil {
			onErr(err)
		}
	}
	for _, ls := range lspecs {
		name, _ := splitLspec(ls)
		lfn, err := s.Clean(name)
		if err != nil {
			fail(err)
			continue
		}
		e, err := s.Catalog.Lookup(ctx, lfn, catalog.WantAll|catalog.WantOrigin)
		if err != nil {
			fail(opErr("list", s.PFN(lfn), err))
			continue
		}
		if e.Type != catalog.Dir {
			if err := fn(&e); err != nil {
				return errs, err
			}
			continue
		}
		wo := catalog.WalkOptions{Want: catalog.WantAll | catalog.WantOrigin, Recursive: recursive, Dirs: !recursive,
			OnError: func(pfn string, err error) { fail(opErr("open directory", pfn, err)) }}
		if err := s.Catalog.Walk(ctx, lfn, wo, fn); err != nil {
			if ctx.Err() != nil {
				return errs, ctx.Err()
			}
			fail(opErr("list", s.PFN(lfn), err))
		}
	}
	return errs, nil
}
