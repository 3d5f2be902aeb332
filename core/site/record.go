package site

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
)

// Every change frm makes to the namespace on this host's files reaches
// the catalog through Catalog.Record (or Rename) right after the change,
// so the catalog says what the files say. With a shared catalog the two
// are separate systems and a crash may fall between them: before the
// change a small record of it is written to <admin dir>/catalog-pending/
// (not fsynced: it must survive the process, not the machine), and it is
// removed once the catalog has the change. Open replays what a process
// that died left there, from the files. With the embedded catalog the
// files are the catalog and none of this costs anything.

const pendingDir = "catalog-pending"

// pendingSeq tells apart two changes of the same names in one process.
var pendingSeq atomic.Uint64

// Change is a namespace change in progress (see Site.BeginChange).
type Change struct {
	s         *Site
	lfns      []string
	recursive bool
	record    string // the pending record's file ("" when none)
	// renamed: lfns[0] was renamed to lfns[1] (Renamed); Done tells the
	// catalog so (Rename) instead of recording each name.
	renamed bool
}

// Drop says the change turned out not to touch lfn after all: Done does
// not record it.
func (c *Change) Drop(lfn string) {
	out := c.lfns[:0:0]
	for _, l := range c.lfns {
		if l != lfn {
			out = append(out, l)
		}
	}
	c.lfns = out
}

// Renamed says the change renamed the first of its names to the second.
func (c *Change) Renamed() { c.renamed = len(c.lfns) == 2 }

type pendingRecord struct {
	LFNs      []string `json:"lfns"`
	Recursive bool     `json:"recursive,omitempty"`
}

// BeginChange is called before frm changes the namespace at lfns on this
// host's files (recursive: whole subtrees); Done, after the change,
// records it in the catalog.
func (s *Site) BeginChange(recursive bool, lfns ...string) *Change {
	c := &Change{s: s, lfns: lfns, recursive: recursive}
	if !s.apart {
		return c
	}
	b, _ := json.Marshal(pendingRecord{LFNs: lfns, Recursive: recursive})
	h := sha256.Sum256(b)
	dir := filepath.Join(s.Config().AdminDir(), pendingDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return c // the change is still recorded by Done; only a crash would be missed
	}
	p := filepath.Join(dir, fmt.Sprintf("%s.%d.%d", hex.EncodeToString(h[:8]), os.Getpid(), pendingSeq.Add(1)))
	if err := os.WriteFile(p, b, 0o600); err == nil {
		c.record = p
	}
	return c
}

// Done records the change in the catalog. When the catalog cannot be
// reached the pending record stays and the error says so; the change is
// recorded at the next start (or by the daemon's discovery of outside
// changes, whichever comes first).
func (c *Change) Done(ctx context.Context) error {
	if !c.s.apart {
		return nil // the files are the catalog
	}
	var errs []error
	if c.renamed {
		if err := c.s.Catalog.Rename(context.WithoutCancel(ctx), c.lfns[0], c.lfns[1]); err != nil {
			errs = append(errs, fmt.Errorf("catalog not told of the rename of %s to %s (recorded at the next start): %w", c.lfns[0], c.lfns[1], err))
		}
		if len(errs) == 0 && c.record != "" {
			os.Remove(c.record)
		}
		return errors.Join(errs...)
	}
	for _, lfn := range c.lfns {
		if err := c.s.Catalog.Record(context.WithoutCancel(ctx), lfn, c.recursive); err != nil {
			errs = append(errs, fmt.Errorf("catalog not told of the change at %s (recorded at the next start): %w", lfn, err))
		}
	}
	if len(errs) == 0 && c.record != "" {
		os.Remove(c.record)
	}
	return errors.Join(errs...)
}

// ReplayChanges records in the catalog the changes a process that died
// left pending (see BeginChange). It returns how many it recorded.
func (s *Site) ReplayChanges(ctx context.Context) (int, error) {
	if !s.apart || s.catErr != nil {
		return 0, nil
	}
	names, err := filepath.Glob(filepath.Join(s.Config().AdminDir(), pendingDir, "*"))
	if err != nil || len(names) == 0 {
		return 0, err
	}
	n := 0
	var errs []error
	for _, name := range names {
		b, err := os.ReadFile(name)
		var r pendingRecord
		if err == nil {
			err = json.Unmarshal(b, &r)
		}
		if err != nil {
			os.Remove(name) // half written: the change had not begun
			continue
		}
		c := &Change{s: s, lfns: r.LFNs, recursive: r.Recursive, record: name}
		if err := c.Done(ctx); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// recordPFN records in the catalog the namespace entry pfn after a repair
// changed it (audit fixes): the same as BeginChange + Done, for changes
// too small to be worth a pending record first.
func (s *Site) recordPFN(ctx context.Context, pfn string) error {
	lfn, ok := s.Names.LFN(pfn)
	if !ok || !s.apart {
		return nil
	}
	return s.BeginChange(false, lfn).Done(ctx)
}
