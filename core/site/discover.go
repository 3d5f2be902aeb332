package site

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"frm/core/catalog"
)

// Changes made to this host's files outside frm — xrootd's server writing
// new files, users removing or renaming — are found by Discover, a pass
// that costs what changed, not what there is: every directory's mtime
// moves when an entry is created, removed or renamed in it, so the pass
// stats every directory of the namespace, compares its mtime with the one
// it had when its entries were last compared with the catalog (a stamp,
// kept per host in the database), and reads only the directories whose
// mtime moved. There it compares the entries with the catalog's and
// records what differs (Catalog.Record, from the files).
//
// What a pass does not see: a file rewritten in place (its directory does
// not change). frm's own changes reach the catalog as they are made;
// rewrites by others are caught when the file is next recorded (a
// migration, a purge's last check reads the file itself, audit catalog).

// DiscoverResult says what a pass did.
type DiscoverResult struct {
	Full     bool          // first pass: the whole namespace was recorded
	Dirs     int           // directories looked at (stat)
	Changed  int           // directories whose entries were compared
	Recorded int           // entries recorded (added, updated, removed)
	Took     time.Duration // how long the pass took
}

// dirStamper is a catalog that keeps, per host, the mtime each directory
// had when it was last compared with the files (pgcat): what discovery
// needs to read only the directories that changed.
type dirStamper interface {
	catalog.Catalog
	DirStamps(ctx context.Context) (map[string]int64, error)
	// SetDirStamps stores the stamps in set and deletes those of gone.
	SetDirStamps(ctx context.Context, set map[string]int64, gone []string) error
}

// Discover runs one pass (see above). With the embedded catalog (the
// files) it has nothing to do.
func (s *Site) Discover(ctx context.Context) (DiscoverResult, error) {
	start := time.Now()
	var r DiscoverResult
	pc, ok := s.Catalog.(dirStamper)
	if !ok {
		if err := s.CatalogErr(); err != nil {
			return r, err
		}
		return r, nil
	}
	stamps, err := pc.DirStamps(ctx)
	if err != nil {
		return r, fmt.Errorf("discover: %w", err)
	}
	if len(stamps) == 0 {
		// The first pass (a new host, a new catalog): record everything
		// once and stamp every directory.
		r.Full = true
		set, err := s.stampTree(ctx, "/")
		if err != nil {
			return r, err
		}
		if err := pc.Record(ctx, "/", true); err != nil {
			return r, fmt.Errorf("discover: %w", err)
		}
		r.Dirs = len(set)
		r.Took = time.Since(start)
		return r, pc.SetDirStamps(ctx, set, nil)
	}
	dirs := make([]string, 0, len(stamps))
	for d := range stamps {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	set := map[string]int64{}
	var gone []string
	for _, dir := range dirs {
		if err := ctx.Err(); err != nil {
			return r, err
		}
		if under(dir, gone) {
			continue
		}
		r.Dirs++
		var st unix.Stat_t
		if err := unix.Lstat(s.PFN(dir), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			// The directory went (or is no longer one): its subtree goes.
			if err := pc.Record(ctx, dir, true); err != nil {
				return r, fmt.Errorf("discover: %w", err)
			}
			gone = append(gone, dir)
			r.Recorded++
			continue
		}
		ns := st.Mtim.Nano()
		if ns == stamps[dir] {
			continue
		}
		r.Changed++
		n, sub, err := s.compareDir(ctx, pc, dir, stamps)
		if err != nil {
			return r, err
		}
		r.Recorded += n
		for k, v := range sub {
			set[k] = v
		}
		set[dir] = ns // as it was before the comparison: a change meanwhile shows next time
	}
	r.Took = time.Since(start)
	return r, pc.SetDirStamps(ctx, set, gone)
}

// compareDir compares the entries of directory dir on disk with the
// catalog's and records those that differ. It returns how many it
// recorded and the stamps of directories found below dir that had none.
func (s *Site) compareDir(ctx context.Context, pc dirStamper, dir string, stamps map[string]int64) (int, map[string]int64, error) {
	ents, err := os.ReadDir(s.PFN(dir))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 1, nil, pc.Record(ctx, dir, true)
		}
		return 0, nil, fmt.Errorf("discover: %w", err)
	}
	have := map[string]catalog.Entry{}
	err = pc.Walk(ctx, dir, catalog.WalkOptions{Want: catalog.WantStat | catalog.WantLink, Dirs: true, SideFiles: true}, func(e *catalog.Entry) error {
		have[e.LFN] = *e
		return nil
	})
	if err != nil && !errors.Is(err, catalog.ErrNotExist) {
		return 0, nil, fmt.Errorf("discover: %w", err)
	}
	prefix := strings.TrimSuffix(dir, "/") + "/"
	recorded := 0
	newStamps := map[string]int64{}
	record := func(lfn string, recursive bool) error {
		recorded++
		return pc.Record(ctx, lfn, recursive)
	}
	for _, d := range ents {
		lfn := prefix + d.Name()
		c, known := have[lfn]
		delete(have, lfn)
		if d.IsDir() {
			if _, stamped := stamps[lfn]; stamped && known && c.Type == catalog.Dir {
				continue // its own stamp tells whether it changed
			}
			// A directory that came (or that the stamps never had): its
			// whole subtree is recorded and stamped.
			sub, err := s.stampTree(ctx, lfn)
			if err != nil {
				return recorded, nil, err
			}
			for k, v := range sub {
				newStamps[k] = v
			}
			if err := record(lfn, true); err != nil {
				return recorded, nil, err
			}
			continue
		}
		if !known || c.Type == catalog.Dir || s.differs(&c) {
			if err := record(lfn, false); err != nil {
				return recorded, nil, err
			}
		}
	}
	// What the catalog has and the directory no longer does.
	for lfn, c := range have {
		if err := record(lfn, c.Type == catalog.Dir); err != nil {
			return recorded, nil, err
		}
	}
	return recorded, newStamps, nil
}

// differs reports whether the file e (as the catalog has it) is not what
// the files say now (size, mtime, link target).
func (s *Site) differs(c *catalog.Entry) bool {
	f, err := s.fs.Lookup(context.Background(), c.LFN, catalog.WantStat|catalog.WantLink)
	if err != nil {
		return true
	}
	return f.Type != c.Type || f.Size != c.Size || f.Mtime != c.Mtime || f.Link != c.Link || f.Dangling != c.Dangling
}

// stampTree returns the stamps of the directory lfn and of every
// directory below it, as they are now.
func (s *Site) stampTree(ctx context.Context, lfn string) (map[string]int64, error) {
	out := map[string]int64{}
	stamp := func(l string) {
		var st unix.Stat_t
		if unix.Lstat(s.PFN(l), &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			out[l] = st.Mtim.Nano()
		}
	}
	stamp(lfn)
	err := s.fs.Walk(ctx, lfn, catalog.WalkOptions{Recursive: true, Dirs: true}, func(e *catalog.Entry) error {
		if e.Type == catalog.Dir {
			stamp(e.LFN)
		}
		return nil
	})
	if err != nil && !errors.Is(err, catalog.ErrNotExist) {
		return nil, fmt.Errorf("discover: %w", err)
	}
	return out, nil
}

// under reports whether dir lies in (or is) one of dirs.
func under(dir string, dirs []string) bool {
	for _, d := range dirs {
		if dir == d || strings.HasPrefix(dir, strings.TrimSuffix(d, "/")+"/") {
			return true
		}
	}
	return false
}
