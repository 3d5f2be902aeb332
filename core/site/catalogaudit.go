package site

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"frm/core/catalog"
	"frm/core/names"
)

// Problems found by AuditCatalog: the shared catalog and this host's
// filesystem disagree.
const (
	CatalogMissing Problem = iota + 100 // on the filesystem, not in the catalog
	CatalogStale                        // in the catalog for this host, not on the filesystem
	CatalogDiffers                      // in both, with different state (Other lists the fields)
)

// CatalogSide says which side an audit of the catalog corrects when the
// two disagree about a file both hold.
type CatalogSide int

const (
	// FromFilesystem (the default) rewrites the catalog row from the
	// file: the xattrs are what xrootd and frm_admin see.
	FromFilesystem CatalogSide = iota
	// FromCatalog writes the catalog's residency state (copy time, pin,
	// memory flags) onto the file's xattrs: after the file was restored
	// from a backup that lost them, say.
	FromCatalog
)

// ErrNotShared is returned by operations that need the shared catalog on
// an embedded site.
var ErrNotShared = errNotShared

// catalogRec is what the comparison needs of a catalog row (kept for
// every row under the audited directory, so small).
type catalogRec struct {
	typ         catalog.Type
	size, mtime int64
	hasCopy     bool
	copyTime    int64
	hasPin      bool
	pinFlags    uint8
	pinTime     int64
	hasMem      bool
	mem         uint8
	failed      bool
	link        string
	row         *catalog.Entry // the row itself, kept only for FromCatalog fixes
}

func recOf(e *catalog.Entry, keep bool) catalogRec {
	r := catalogRec{typ: e.Type, size: e.Size, mtime: e.Mtime, hasCopy: e.HasCopy, copyTime: e.CopyTime,
		hasPin: e.HasPin, pinFlags: uint8(e.Pin.Flags), pinTime: e.Pin.Time, hasMem: e.HasMem, mem: uint8(e.Mem),
		failed: e.Failed, link: e.Link}
	if keep {
		c := *e
		r.row = &c
	}
	return r
}

// differences names the fields in which the catalog row c and the file's
// record f differ ("" when they agree).
func differences(c, f catalogRec) string {
	var d []string
	if c.typ != f.typ {
		d = append(d, "type")
	}
	if c.typ == catalog.Dir && f.typ == catalog.Dir {
		return strings.Join(d, ",")
	}
	if c.size != f.size {
		d = append(d, "size")
	}
	if c.mtime != f.mtime {
		d = append(d, "mtime")
	}
	if c.hasCopy != f.hasCopy || c.copyTime != f.copyTime {
		d = append(d, "copy_time")
	}
	if c.hasPin != f.hasPin || c.pinFlags != f.pinFlags || c.pinTime != f.pinTime {
		d = append(d, "pin")
	}
	if c.hasMem != f.hasMem || c.mem != f.mem {
		d = append(d, "mem")
	}
	if c.failed != f.failed {
		d = append(d, "failed")
	}
	if c.link != f.link {
		d = append(d, "link")
	}
	return strings.Join(d, ",")
}

// hostRows is a catalog that holds rows of several hosts' files (pgcat):
// what audit catalog needs to compare this host's rows with its files and
// to repair them.
type hostRows interface {
	catalog.Catalog
	// HostWalk calls fn for every row of this host under ldir.
	HostWalk(ctx context.Context, ldir string, fn func(*catalog.Entry) error) error
	// Put writes the row of an entry as it is on this host's files.
	Put(ctx context.Context, e *catalog.Entry) error
	// Forget deletes this host's row of lfn.
	Forget(ctx context.Context, lfn string) error
}

// remoteChanges is a catalog in which other hosts change the rows of this
// host's files (pgcat): the changes to write onto the files.
type remoteChanges interface {
	catalog.Catalog
	// PendingRemote returns up to limit changes not yet applied, oldest
	// first.
	PendingRemote(ctx context.Context, limit int) ([]catalog.RemoteChange, error)
	// MarkApplied records that the changes up to event id are applied.
	MarkApplied(ctx context.Context, id int64) error
}

// AuditCatalog compares the shared catalog with this host's filesystem
// under ldir (always recursively): files on disk the catalog lacks,
// catalog rows of this host for files no longer on disk, and files whose
// recorded state differs. With Fix, each problem is fixed after the same
// questions as the other audits: a missing row is added (-force answers),
// a stale row is deleted (asked, even with -force: the catalog may hold a
// pin nothing else remembers), a differing row is rewritten from the file
// or, with from = FromCatalog, the file's xattrs from the row.
func (s *Site) AuditCatalog(ctx context.Context, ldir string, from CatalogSide, o AuditOptions) (AuditResult, error) {
	var r AuditResult
	pc, ok := s.Catalog.(hostRows)
	if !ok {
		return r, fmt.Errorf("audit catalog: %w", s.notShared())
	}
	lfn, err := names.Clean(ldir)
	if err != nil {
		return r, err
	}
	o.Prompter = promptOr(o.Prompter)
	cat := map[string]catalogRec{}
	err = pc.HostWalk(ctx, lfn, func(e *catalog.Entry) error {
		cat[e.LFN] = recOf(e, from == FromCatalog)
		return nil
	})
	if err != nil {
		return r, fmt.Errorf("audit catalog %s: %w", lfn, err)
	}

	visit := func(e *catalog.Entry) error {
		if o.Scanned != nil {
			o.Scanned.Add(1)
		}
		c, inCat := cat[e.LFN]
		delete(cat, e.LFN)
		ev := AuditEvent{PFN: e.PFN, Size: e.Size}
		if !inCat && e.Type == catalog.Dir {
			// Directories are shared by the hosts: another host's row of
			// the same directory is this one's too.
			if _, err := pc.Lookup(ctx, e.LFN, 0); err == nil {
				return nil
			}
		}
		switch {
		case !inCat:
			ev.Problem = CatalogMissing
			o.problem(&r, ev)
			yes, err := o.fixAnswer("Add "+e.PFN+" to the catalog?", No, false)
			if err != nil || !yes {
				return err
			}
			if err := pc.Put(ctx, e); err != nil {
				o.fail(&r, fmt.Errorf("add %s to the catalog: %w", e.PFN, err))
				return nil
			}
		default:
			diff := differences(c, recOf(e, false))
			if diff == "" {
				return nil
			}
			ev.Problem, ev.Other = CatalogDiffers, diff
			o.problem(&r, ev)
			if from == FromCatalog {
				if c.row == nil || e.Type != catalog.File {
					return nil
				}
				yes, err := o.fixAnswer("Set the xattrs of "+e.PFN+" from the catalog ("+diff+")?", No, false)
				if err != nil || !yes {
					return err
				}
				if err := s.applyCatalogState(ctx, e, c.row); err != nil {
					o.fail(&r, err)
					return nil
				}
			} else {
				yes, err := o.fixAnswer("Update the catalog entry of "+e.PFN+" from the file ("+diff+")?", No, false)
				if err != nil || !yes {
					return err
				}
				if err := pc.Put(ctx, e); err != nil {
					o.fail(&r, fmt.Errorf("update the catalog entry of %s: %w", e.PFN, err))
					return nil
				}
			}
		}
		o.fixed(&r, ev)
		return nil
	}
	root, err := s.fs.Lookup(ctx, lfn, catalog.WantAll)
	switch {
	case errors.Is(err, catalog.ErrNotExist):
		// Everything the catalog holds there is stale.
	case err != nil:
		return r, err
	default:
		err = visit(&root)
		if err == nil && root.Type == catalog.Dir {
			err = s.fs.Walk(ctx, lfn, catalog.WalkOptions{Want: catalog.WantAll, Recursive: true, Dirs: true, SideFiles: true}, visit)
		}
		if errors.Is(err, errAuditAbort) {
			r.Aborted = true
			return r, nil
		}
		if err != nil {
			return r, fmt.Errorf("audit catalog %s: %w", lfn, err)
		}
	}
	// Rows of this host with nothing on disk, in lfn order.
	stale := make([]string, 0, len(cat))
	for l := range cat {
		stale = append(stale, l)
	}
	slices.Sort(stale)
	for _, l := range stale {
		ev := AuditEvent{Problem: CatalogStale, PFN: s.Names.PFNClean(l)}
		o.problem(&r, ev)
		yes, err := o.fixAnswer("Remove "+l+" from the catalog (not on this host's disks)?", No, true)
		if errors.Is(err, errAuditAbort) {
			r.Aborted = true
			return r, nil
		}
		if !yes {
			continue
		}
		if err := pc.Forget(ctx, l); err != nil {
			o.fail(&r, fmt.Errorf("remove %s from the catalog: %w", l, err))
			continue
		}
		o.fixed(&r, ev)
	}
	return r, nil
}

// catalogStateChanges are the changes that give file e the residency
// state (copy time, pin, memory flags) of catalog row c. A copy time the
// row lacks is not cleared: no change removes one.
func catalogStateChanges(e, c *catalog.Entry) []catalog.Change {
	var ch []catalog.Change
	if c.HasCopy && (!e.HasCopy || e.CopyTime != c.CopyTime) {
		ch = append(ch, catalog.Change{Kind: catalog.SetCopyTime, Time: c.CopyTime})
	}
	switch {
	case c.HasPin && (!e.HasPin || e.Pin != c.Pin):
		ch = append(ch, catalog.Change{Kind: catalog.SetPin, Pin: c.Pin})
	case !c.HasPin && e.HasPin:
		ch = append(ch, catalog.Change{Kind: catalog.ClearPin})
	}
	switch {
	case c.HasMem && (!e.HasMem || e.Mem != c.Mem):
		ch = append(ch, catalog.Change{Kind: catalog.SetMem, Mem: c.Mem})
	case !c.HasMem && e.HasMem:
		ch = append(ch, catalog.Change{Kind: catalog.ClearMem})
	}
	return ch
}

// applyCatalogState writes the residency state of catalog row c onto the
// xattrs of file e (the filesystem side only).
func (s *Site) applyCatalogState(ctx context.Context, e, c *catalog.Entry) error {
	ch := catalogStateChanges(e, c)
	if len(ch) == 0 {
		return fmt.Errorf("%s: the catalog's size, mtime or failure state cannot be written to the file; fix the catalog from the file instead", e.PFN)
	}
	if _, err := s.fs.Apply(ctx, e.LFN, ch...); err != nil {
		return fmt.Errorf("set the xattrs of %s from the catalog: %w", e.PFN, err)
	}
	return nil
}

// ApplyRemoteChanges writes onto this host's files the changes other
// hosts made to their catalog rows (a pin set from an admin workstation,
// say), so that each file keeps telling its own state. It returns how many
// files it changed. Files gone meanwhile are skipped.
func (s *Site) ApplyRemoteChanges(ctx context.Context) (int, error) {
	pc, ok := s.Catalog.(remoteChanges)
	if !ok {
		return 0, s.notShared()
	}
	changed := 0
	for {
		pending, err := pc.PendingRemote(ctx, 500)
		if err != nil || len(pending) == 0 {
			return changed, err
		}
		for _, p := range pending {
			if len(p.Changes) > 0 {
				// The change itself, onto the file and its row (a
				// record of the file meanwhile may have rewritten the
				// row from the xattrs).
				if _, err := pc.Apply(ctx, p.LFN, p.Changes...); err != nil && !errors.Is(err, catalog.ErrNotExist) {
					return changed, fmt.Errorf("apply a remote change to %s: %w", p.LFN, err)
				} else if err == nil {
					changed++
				}
				continue
			}
			row, err := pc.Lookup(ctx, p.LFN, catalog.WantAll)
			if err == nil && row.Type == catalog.File {
				file, ferr := s.fs.Lookup(ctx, p.LFN, catalog.WantAll)
				if ferr == nil {
					if ch := catalogStateChanges(&file, &row); len(ch) > 0 {
						if _, err := s.fs.Apply(ctx, p.LFN, ch...); err != nil {
							return changed, fmt.Errorf("apply a remote change to %s: %w", file.PFN, err)
						}
						changed++
					}
				}
			} else if err != nil && !errors.Is(err, catalog.ErrNotExist) {
				return changed, err
			}
		}
		if err := pc.MarkApplied(ctx, pending[len(pending)-1].ID); err != nil {
			return changed, err
		}
	}
}
