package site

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"frm/core/catalog"
	"frm/core/meta"
)

// MarkDelta is how far before the file's mtime `mark -m` sets the copy
// time, so the file reads as modified since its last copy. xrootd uses 113
// seconds; frm writes the same bytes.
const MarkDelta = 113

// Mark sets the copy time of files: mtime-113 (migratable) or mtime
// (purgeable). mode defaults to migratable.
func (s *Site) Mark(ctx context.Context, lspecs []string, mode Mode, o ApplyOptions) BatchResult {
	if mode == ModeNone {
		mode = ModeMigratable
	}
	a := acts{ask: "Mark  ", file: "ckAttr mark", dir: "ckAttr mark files in", needDir: true}
	return s.applyLspecs(ctx, lspecs, mode, a, catalog.WantStat|catalog.WantLink, o, func(e *catalog.Entry) (bool, error) {
		if e.Dangling {
			// As frm_admin (two blanks, sic).
			return false, opErr("stat pfn ", e.PFN, os.ErrNotExist)
		}
		return true, s.setCopy(ctx, e, mode)
	})
}

func (s *Site) setCopy(ctx context.Context, e *catalog.Entry, mode Mode) error {
	t := e.Mtime
	if mode != ModePurgeable {
		t -= MarkDelta
	}
	if _, err := s.Catalog.Apply(ctx, e.LFN, catalog.Change{Kind: catalog.SetCopyTime, Time: t}); err != nil {
		return opErr("set copy time for", e.PFN, err)
	}
	return nil
}

// PinResult tells whether Pin pinned or unpinned.
type PinResult struct {
	BatchResult
	Unpin bool
}

// Pin sets (or with keep "0"/"" removes) the pin of files. keep is a pin
// keep spec (see meta.ParseKeep).
func (s *Site) Pin(ctx context.Context, lspecs []string, keep string, o ApplyOptions) (PinResult, error) {
	var pin meta.Pin
	unpin := true
	if keep != "" {
		var err error
		pin, unpin, err = meta.ParseKeep(keep, s.Now(), s.Loc)
		if err != nil {
			return PinResult{}, err
		}
	}
	a := acts{ask: "Pin  ", file: "ckAttr pin", dir: "ckAttr pin files in", needDir: true}
	r := s.applyLspecs(ctx, lspecs, ModePurgeable, a, catalog.WantLink, o, func(e *catalog.Entry) (bool, error) {
		if e.Dangling {
			return false, nil // nothing to pin; frm_admin skips it silently
		}
		ch := catalog.Change{Kind: catalog.SetPin, Pin: pin}
		if unpin {
			ch = catalog.Change{Kind: catalog.ClearPin}
		}
		n, err := s.Catalog.Apply(ctx, e.LFN, ch)
		if err != nil {
			return false, opErr("pin", e.PFN, err)
		}
		return n > 0, nil
	})
	return PinResult{BatchResult: r, Unpin: unpin}, nil
}

// Mmap sets (or with off removes) the memory-mapping hint of files.
func (s *Site) Mmap(ctx context.Context, lspecs []string, flags meta.MemFlags, off bool, o ApplyOptions) BatchResult {
	flags |= meta.MemMap
	a := acts{ask: "Mmap  ", file: "ckAttr mmap", dir: "ckAttr mmap files in", needDir: true}
	return s.applyLspecs(ctx, lspecs, ModePurgeable, a, catalog.WantLink, o, func(e *catalog.Entry) (bool, error) {
		if e.Dangling {
			return false, nil // as pin
		}
		ch := catalog.Change{Kind: catalog.SetMem, Mem: flags}
		if off {
			ch = catalog.Change{Kind: catalog.ClearMem}
		}
		n, err := s.Catalog.Apply(ctx, e.LFN, ch)
		if err != nil {
			return false, opErr("mmap", e.PFN, err)
		}
		return n > 0, nil
	})
}

// Owner is a makelf -owner value: uid and/or gid, -1 meaning unchanged.
type Owner struct{ UID, GID int }

// ParseOwner parses "[usr][:[grp]]" with names or numbers. A user name
// also sets the user's primary group.
func ParseOwner(spec string) (Owner, error) {
	o := Owner{UID: -1, GID: -1}
	usr, grp, hasGrp := strings.Cut(spec, ":")
	if usr != "" {
		if n, err := strconv.Atoi(usr); err == nil {
			o.UID = n
		} else {
			u, err := user.Lookup(usr)
			if err != nil {
				return o, fmt.Errorf("Invalid user name - %s", usr)
			}
			o.UID, _ = strconv.Atoi(u.Uid)
			o.GID, _ = strconv.Atoi(u.Gid)
		}
	}
	if hasGrp && grp != "" {
		if n, err := strconv.Atoi(grp); err == nil {
			o.GID = n
		} else {
			g, err := user.LookupGroup(grp)
			if err != nil {
				return o, fmt.Errorf("Invalid group name - %s", grp)
			}
			o.GID, _ = strconv.Atoi(g.Gid)
		}
	}
	return o, nil
}

// Makelf writes 2009-style <pfn>.lock files (deprecated; nothing in xrootd
// 5 reads them). The lock's times are the data file's mtime -113 s
// (migratable) or +113 s (purgeable). owner nil means the data file's owner.
func (s *Site) Makelf(ctx context.Context, lspecs []string, mode Mode, owner *Owner, o ApplyOptions) BatchResult {
	if mode == ModeNone {
		mode = ModeMigratable
	}
	a := acts{ask: "Apply makelf to ", file: "create lock file for", dir: "create lock files in", needDir: true}
	return s.applyLspecs(ctx, lspecs, mode, a, catalog.WantStat|catalog.WantLink, o, func(e *catalog.Entry) (bool, error) {
		if e.Dangling {
			return false, opErr("create lock file for", e.PFN, os.ErrNotExist)
		}
		var st unix.Stat_t
		if err := unix.Stat(e.PFN, &st); err != nil {
			return false, opErr("create lock file for", e.PFN, err)
		}
		t := e.Mtime - MarkDelta
		if mode == ModePurgeable {
			t = e.Mtime + MarkDelta
		}
		uid, gid := int(st.Uid), int(st.Gid)
		if owner != nil {
			if owner.UID >= 0 {
				uid = owner.UID
			}
			if owner.GID >= 0 {
				gid = owner.GID
			}
		}
		lock := e.PFN + ".lock"
		tmp := lock + ".TEMP"
		f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o664)
		if err != nil {
			return false, opErr("create lock file for", e.PFN, err)
		}
		f.Close()
		tt := time.Unix(t, 0)
		if err := os.Chtimes(tmp, tt, tt); err == nil {
			err = os.Lchown(tmp, uid, gid)
			if err == nil {
				err = os.Rename(tmp, lock)
				s.BeginChange(false, e.LFN+meta.SuffixLock).Done(ctx)
			}
			if err != nil {
				os.Remove(tmp)
				return false, opErr("create lock file for", e.PFN, err)
			}
		}
		return true, nil
	})
}
