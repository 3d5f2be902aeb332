package site

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"

	"frm/core/catalog"
	"frm/core/meta"
)

// FindWhat is what `find` looks for.
type FindWhat int

const (
	FindFail        FindWhat = iota + 1 // .fail side files
	FindMmap                            // files with a memory-mapping hint
	FindNoChecksum                      // files without a current checksum of an algorithm
	FindPinned                          // pinned files
	FindUnmigrated                      // no copy time, or modified since the last copy
	FindNoCopyTime                      // no copy time only (2009's nolkfiles)
	FindBadChecksum                     // (frm) data that failed its stored checksum
)

// ParseFindWhat matches a find type as frm_admin does: fail..failfiles
// (at least 4 letters), mmap..mmapped (4), nocs or nochksum, pin..pinned
// (3), unmi..unmigrated (4); the 2009 name nolk..nolkfiles (4); and frm's
// badc..badchksum (4).
func ParseFindWhat(w string) (FindWhat, bool) {
	switch {
	case prefixOf(w, "failfiles", 4):
		return FindFail, true
	case prefixOf(w, "mmapped", 4):
		return FindMmap, true
	case w == "nocs" || w == "nochksum":
		return FindNoChecksum, true
	case prefixOf(w, "pinned", 3):
		return FindPinned, true
	case prefixOf(w, "unmigrated", 4):
		return FindUnmigrated, true
	case prefixOf(w, "nolkfiles", 4):
		return FindNoCopyTime, true
	case prefixOf(w, "badchksum", 4):
		return FindBadChecksum, true
	}
	return 0, false
}

// prefixOf reports whether w is a prefix of full at least min long.
func prefixOf(w, full string, min int) bool {
	return len(w) >= min && len(w) <= len(full) && full[:len(w)] == w
}

// Finding is one file found.
type Finding struct {
	What  FindWhat
	Entry *catalog.Entry // valid only during the callback
	// Detail: for unmigrated "no copy time" or "modified"; for pinned the
	// keep spec as `pin -k` would take it; for mmap the flags ("-keep
	// -lock"); for nochksum "Missing" or "Invalid".
	Detail string
}

// FindOptions controls Find.
type FindOptions struct {
	What      FindWhat
	Alg       string // for FindNoChecksum
	Recursive bool
	// OnError receives errors for a directory that cannot be read; the
	// search goes on.
	OnError func(err error)
	// OnOldStyle is called for directories holding 2009 meta-files.
	OnOldStyle func(dirPFN string)
	// Scanned counts entries examined (progress); may be nil.
	Scanned *atomic.Int64
}

// unmigratedIndex is a catalog that lists the unmigrated files below a
// directory (recursively) without walking the rest: the PostgreSQL
// catalog's partial index.
type unmigratedIndex interface {
	FindUnmigrated(ctx context.Context, lfn string, fn func(*catalog.Entry) error) error
}

// Find walks each directory and reports matching files to fn. It returns
// how many were found. Unlike xrootd it never changes anything (xrootd's
// `find pinned` deletes expired keep pins).
func (s *Site) Find(ctx context.Context, dirs []string, o FindOptions, fn func(Finding) error) (int, error) {
	want, match := s.finder(o)
	n := 0
	for _, d := range dirs {
		lfn, err := s.Clean(d)
		if err != nil {
			if o.OnError != nil {
				o.OnError(err)
			}
			continue
		}
		wo := catalog.WalkOptions{
			Want:       want,
			Recursive:  o.Recursive,
			SideFiles:  o.What == FindFail,
			OnOldStyle: o.OnOldStyle,
			Scanned:    o.Scanned,
			OnError: func(pfn string, err error) {
				if o.OnError != nil {
					o.OnError(dirErr(pfn, err))
				}
			},
		}
		visit := func(e *catalog.Entry) error {
			detail, ok := match(e)
			if !ok {
				return nil
			}
			n++
			return fn(Finding{What: o.What, Entry: e, Detail: detail})
		}
		if ix, ok := s.Catalog.(unmigratedIndex); ok && o.What == FindUnmigrated && o.Recursive {
			// A shared catalog answers from an index of exactly these
			// files instead of a walk of the whole namespace.
			err = ix.FindUnmigrated(ctx, lfn, visit)
		} else if o.What == FindBadChecksum {
			// The mark is about this host's copy of the data and lives
			// only on the files: they are walked, whatever the catalog.
			err = s.fs.Walk(ctx, lfn, wo, visit)
		} else {
			err = s.Catalog.Walk(ctx, lfn, wo, visit)
		}
		if err != nil {
			if ctx.Err() != nil {
				return n, ctx.Err()
			}
			if o.OnError != nil {
				o.OnError(dirErr(s.PFN(lfn), err))
			}
		}
	}
	return n, nil
}

func (s *Site) finder(o FindOptions) (catalog.Want, func(*catalog.Entry) (string, bool)) {
	now := s.Now()
	switch o.What {
	case FindFail:
		return 0, func(e *catalog.Entry) (string, bool) {
			return "", e.Type == catalog.Side && strings.HasSuffix(e.PFN, ".fail")
		}
	case FindMmap:
		return catalog.WantMem, func(e *catalog.Entry) (string, bool) {
			if e.Type != catalog.File || !e.HasMem {
				return "", false
			}
			d := ""
			if e.Mem&meta.MemKeep != 0 {
				d += "-keep "
			}
			if e.Mem&meta.MemLock != 0 {
				d += "-lock "
			}
			return d, true
		}
	case FindNoChecksum:
		return catalog.WantStat | catalog.WantChecksums, func(e *catalog.Entry) (string, bool) {
			if e.Type != catalog.File {
				return "", false
			}
			for _, c := range e.Checksums {
				if c.Alg == o.Alg {
					if c.MTime != e.Mtime || e.Dangling {
						return "Invalid", true
					}
					return "", false
				}
			}
			return "Missing", true
		}
	case FindPinned:
		return catalog.WantPin, func(e *catalog.Entry) (string, bool) {
			if e.Type != catalog.File || !e.HasPin || e.Pin.Expired(now) {
				return "", false
			}
			return e.Pin.FindSpec(now, s.Loc), true
		}
	case FindUnmigrated:
		return catalog.WantStatIfCopied | catalog.WantCopy, func(e *catalog.Entry) (string, bool) {
			switch {
			case e.Type != catalog.File:
				return "", false
			case !e.HasCopy:
				return "no copy time", true
			case e.CopyTime < e.Mtime:
				return "modified", true
			}
			return "", false
		}
	case FindBadChecksum:
		return catalog.WantBadChecksum, func(e *catalog.Entry) (string, bool) {
			return "", e.Type == catalog.File && e.HasBadChecksum
		}
	case FindNoCopyTime:
		return catalog.WantCopy, func(e *catalog.Entry) (string, bool) {
			return "no copy time", e.Type == catalog.File && !e.HasCopy
		}
	}
	panic(fmt.Sprintf("find: unknown type %d", o.What))
}
