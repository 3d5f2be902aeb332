package site

import (
	"context"
	"syscall"

	"frm/core/catalog"
	"frm/core/space"
)

// SpaceEntry is a file and the space its data lives in.
type SpaceEntry struct {
	Space string
	PFN   string
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
		e, err := s.Catalog.Lookup(ctx, lfn, catalog.WantLink)
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
			fn(SpaceEntry{Space: e.Space, PFN: e.PFN})
			continue
		}
		err = s.Catalog.Walk(ctx, lfn, catalog.WalkOptions{Want: catalog.WantLink, Recursive: recursive}, func(e *catalog.Entry) error {
			if e.Type == catalog.File {
				fn(SpaceEntry{Space: e.Space, PFN: e.PFN})
			}
			return nil
		})
		if err != nil {
			fail(opErr("query", s.PFN(lfn), err))
		}
	}
	return errs
}

// PartitionUsage is a partition with its usage and file counts.
type PartitionUsage = space.Usage

// SpaceUsage is a space with its partitions' usage.
type SpaceUsage struct {
	Name       string
	Partitions []space.Usage
	// Total and Free count a filesystem shared by several partitions once.
	Total, Free  int64
	Files, Bytes int64
}

// Df reports every space (or the named ones) with per-partition statfs
// figures and, with count, the files and bytes each holds.
func (s *Site) Df(ctx context.Context, only []string, count bool) ([]SpaceUsage, error) {
	var out []SpaceUsage
	want := map[string]bool{}
	for _, n := range only {
		if _, ok := s.Spaces.Get(n); !ok {
			return nil, &ErrNoSpace{n}
		}
		want[n] = true
	}
	for _, sp := range s.Spaces.All() {
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
		out = append(out, su)
	}
	return out, nil
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
		e, err := s.Catalog.Lookup(ctx, lfn, catalog.WantAll)
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
		wo := catalog.WalkOptions{Want: catalog.WantAll, Recursive: recursive, Dirs: !recursive,
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
