package site

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"frm/core/catalog"
	"frm/core/meta"
)

// Fixing one problem at a time: an audit reports problems (AuditNames,
// AuditSpace, AuditUsage through UsageAudit.Event); FixProblem later fixes
// exactly one of them, the way the audit's own fix would, after checking
// that the problem still holds as it was recorded. Consoles that list
// problems and let the administrator pick (frm tui) use it instead of
// re-running an audit with a prompter that says yes to the picked ones.

// UsageMismatch is a space whose usage log differs from the bytes of its
// data files (audit usage). Its AuditEvent has Space, Size (bytes on
// disk) and Claimed (the log's effective usage).
const UsageMismatch Problem = DataXrefOther + 1

// DataXrefStale (audit space) is a data file whose back reference names a
// pfn that does not lead to it while another namespace name, Other, does:
// what a directory rename that did not rewrite the back references leaves
// (xrootd's mv, a crash in frm's). The fix rewrites the back reference to
// Other. (Declared here, after UsageMismatch, to keep the numbers of the
// problems consoles already recorded.)
const DataXrefStale Problem = UsageMismatch + 1

// ErrProblemChanged is returned (wrapped, with what changed) by
// FixProblem when the problem no longer holds as recorded; nothing is
// changed then. Audit again to see the current state.
var ErrProblemChanged = errors.New("changed since the audit; not fixed")

// ErrNoFix is returned by FixProblem for problems without a fix: a data
// file without a back reference has no known owner.
var ErrNoFix = errors.New("no fix for this problem")

func changed(format string, a ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, a...), ErrProblemChanged)
}

// Event returns the problem a usage audit found (ok false when the log
// agrees with the disk, or usage is not tracked).
func (u UsageAudit) Event() (AuditEvent, bool) {
	if !u.Tracked || u.Claimed == u.Actual {
		return AuditEvent{}, false
	}
	return AuditEvent{Problem: UsageMismatch, Space: u.Space, Size: u.Actual, Claimed: u.Claimed}, true
}

// Destructive reports whether fixing ev deletes a data file (consoles ask
// for an explicit confirmation, and -force never answers it).
func (ev AuditEvent) Destructive() bool {
	return ev.Problem == DataXrefNotLink || ev.Problem == DataXrefOther && ev.OtherExists
}

// FixProblem fixes the one problem ev (as reported by an audit): it first
// checks that the problem still holds as recorded (returning an error
// wrapping ErrProblemChanged, and changing nothing, when it does not),
// then makes the change the audit's fix makes:
//
//	DanglingLink     remove the symlink
//	NoCopyTime       set the copy time (by the export's mode)
//	PfnXrefMissing,
//	PfnXrefWrong     write the data file's back reference
//	DataNoXref       none (ErrNoFix)
//	DataXrefMissing  create the namespace symlink to the data file
//	DataXrefNotLink  DELETE the data file (its pfn is not a symlink)
//	DataXrefOther    DELETE the data file when the pfn's own data exists,
//	                 else repoint the pfn's symlink to this data file
//	DataXrefStale    rewrite the data file's back reference to the name
//	                 that links to it (Other)
//	UsageMismatch    set the usage log to the bytes now on disk
//
// Between the check and the change another process may act on the same
// files, as with the audit's own fix.
func (s *Site) FixProblem(ctx context.Context, ev AuditEvent) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	switch ev.Problem {
	case DanglingLink:
		target, err := os.Readlink(ev.PFN)
		if err != nil {
			return changed("%s is no longer a symlink", ev.PFN)
		}
		if target != ev.Other {
			return changed("%s now points to %s", ev.PFN, target)
		}
		if _, err := os.Stat(ev.PFN); err == nil || !errors.Is(err, os.ErrNotExist) {
			return changed("%s is no longer dangling", ev.PFN)
		}
		if err := os.Remove(ev.PFN); err != nil {
			return opErr("remove symlink", ev.PFN, err)
		}
		return s.recordPFN(ctx, ev.PFN)
	case NoCopyTime:
		e, err := s.lookupPFN(ctx, ev.PFN, catalog.WantStat|catalog.WantLink|catalog.WantCopy)
		if err != nil {
			return err
		}
		mode := s.ExportMode(e.LFN)
		switch {
		case e.Dangling:
			return changed("%s is now a dangling link", ev.PFN)
		case e.HasCopy:
			return changed("%s has a copy time now", ev.PFN)
		case mode == ModeNone:
			return changed("%s is not under an export that keeps copy times", ev.PFN)
		}
		return s.setCopy(ctx, &e, mode)
	case PfnXrefMissing, PfnXrefWrong:
		e, err := s.lookupPFN(ctx, ev.PFN, catalog.WantLink|catalog.WantPfnRef)
		if err != nil {
			return err
		}
		ref := ""
		if e.HasPfnRef {
			ref = e.PfnRef
		}
		switch {
		case e.Dangling || !strings.HasSuffix(e.Link, "%"):
			return changed("%s no longer links to a data file", ev.PFN)
		case ev.Problem == PfnXrefMissing && ref != "":
			return changed("%s's data file has a back reference now (%s)", ev.PFN, ref)
		case ev.Problem == PfnXrefWrong && ref != ev.Other:
			return changed("%s's data file now refers to %q", ev.PFN, ref)
		}
		if _, err := s.Catalog.Apply(ctx, e.LFN, catalog.Change{Kind: catalog.SetPfnRef, PfnRef: e.PFN}); err != nil {
			return opErr("set pfn xref for", e.PFN, err)
		}
		return nil
	case DataNoXref:
		return fmt.Errorf("%s: %w (the data file has no back reference: its owner is unknown)", ev.Data, ErrNoFix)
	case DataXrefMissing, DataXrefNotLink, DataXrefOther, DataXrefStale:
		return s.fixData(ctx, ev)
	case UsageMismatch:
		return s.fixUsage(ctx, ev)
	}
	return fmt.Errorf("%s: unknown problem %d", ev.PFN, ev.Problem)
}

// lookupPFN looks up the namespace entry of pfn.
func (s *Site) lookupPFN(ctx context.Context, pfn string, want catalog.Want) (catalog.Entry, error) {
	lfn, ok := s.Names.LFN(pfn)
	if !ok {
		return catalog.Entry{}, opErr("fix", pfn, errors.New("outside the namespace root"))
	}
	e, err := s.Catalog.Lookup(ctx, lfn, want)
	if errors.Is(err, catalog.ErrNotExist) {
		return e, changed("%s no longer exists", pfn)
	}
	if err != nil {
		return e, opErr("fix", pfn, err)
	}
	if e.Type != catalog.File {
		return e, changed("%s is no longer a file", pfn)
	}
	return e, nil
}

// fixData fixes a data-file problem of audit space after checking the data
// file still refers to the same pfn and the pfn is in the same state.
func (s *Site) fixData(ctx context.Context, ev AuditEvent) error {
	if fi, err := os.Lstat(ev.Data); err != nil || !fi.Mode().IsRegular() {
		return changed("data file %s is gone", ev.Data)
	}
	if pfn, ok, _ := meta.GetPfn(ev.Data); !ok || pfn != ev.PFN {
		return changed("data file %s now refers to %q", ev.Data, pfn)
	}
	var st unix.Stat_t
	lerr := unix.Lstat(ev.PFN, &st)
	isLink := lerr == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK
	switch ev.Problem {
	case DataXrefStale:
		if linksTo(ev.PFN, ev.Data) {
			return changed("%s leads to data file %s again", ev.PFN, ev.Data)
		}
		if !linksTo(ev.Other, ev.Data) {
			return changed("%s no longer leads to data file %s", ev.Other, ev.Data)
		}
		if err := meta.SetPfn(ev.Data, ev.Other); err != nil {
			return opErr("set pfn xref for", ev.Other, err)
		}
		return s.recordPFN(ctx, ev.Other)
	case DataXrefMissing:
		if lerr == nil {
			return changed("%s exists now", ev.PFN)
		}
		return s.linkData(ctx, ev.PFN, ev.Data)
	case DataXrefNotLink:
		if lerr != nil || isLink {
			return changed("%s is no longer a non-symlink file", ev.PFN)
		}
		if err := os.Remove(ev.Data); err != nil {
			return opErr("remove data file", ev.Data, err)
		}
		return nil
	}
	// DataXrefOther
	if !isLink {
		return changed("%s is no longer a symlink", ev.PFN)
	}
	target, err := os.Readlink(ev.PFN)
	if err != nil || target != ev.Other {
		return changed("%s now points to %s", ev.PFN, target)
	}
	var tst unix.Stat_t
	if exists := unix.Stat(target, &tst) == nil; exists != ev.OtherExists {
		if exists {
			return changed("%s's data file %s exists now", ev.PFN, target)
		}
		return changed("%s's data file %s is gone now", ev.PFN, target)
	}
	if ev.OtherExists {
		if err := os.Remove(ev.Data); err != nil {
			return opErr("remove data file", ev.Data, err)
		}
		return nil
	}
	if err := replaceSymlink(ev.Data, ev.PFN); err != nil {
		return opErr("change pfn symlink", ev.PFN, err)
	}
	return s.recordPFN(ctx, ev.PFN)
}

// fixUsage recounts the space and sets its usage log to what is on disk,
// unless the log agrees with the disk by now.
func (s *Site) fixUsage(ctx context.Context, ev AuditEvent) error {
	var ua UsageAudit
	found := false
	err := s.AuditUsage(ctx, ev.Space, AuditOptions{Fix: true, Force: true}, func(u UsageAudit) { ua, found = u, true })
	if err != nil {
		return err
	}
	switch {
	case !found:
		return changed("space %s is not configured", ev.Space)
	case !ua.Fixed:
		return changed("the usage log of %s agrees with the disk now (%d bytes)", ev.Space, ua.Actual)
	}
	return nil
}
