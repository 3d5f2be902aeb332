package site

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"frm/core/catalog"
	"frm/core/meta"
	"frm/core/space"
)

// Problem is one kind of inconsistency an audit reports.
type Problem int

const (
	// audit names
	DanglingLink   Problem = iota + 1 // namespace symlink whose data file is missing (Other = target)
	NoCopyTime                        // no copy-time attribute
	PfnXrefWrong                      // data file refers to another pfn (Other = that pfn)
	PfnXrefMissing                    // data file has no back reference
	// audit space
	DataNoXref      // data file without a back reference (Data)
	DataXrefMissing // its pfn does not exist
	DataXrefNotLink // its pfn exists but is not a symlink
	DataXrefOther   // its pfn is a symlink to another data file (Other = that file; OtherExists)
)

// AuditEvent reports a problem and what was done about it.
type AuditEvent struct {
	Problem     Problem
	PFN         string // namespace name
	Data        string // data file (audit space)
	Other       string
	OtherExists bool
	Size        int64
	Fixed       bool
	// UsageMismatch (audit usage): the space, and the usage the log
	// claims (Size is the bytes on disk).
	Space   string
	Claimed int64
}

// AuditResult summarises an audit.
type AuditResult struct {
	Problems int
	Fixed    int
	Aborted  bool
	Errors   int
	// audit space
	Files       int64
	Bytes       int64
	Unreachable int64
}

// AuditOptions controls the audits.
type AuditOptions struct {
	Fix       bool
	Force     bool
	Mode      Mode // names: ModeNone takes the export's mode
	Recursive bool
	Prompter  Prompter
	// OnProblem reports a problem as soon as it is found (before any
	// question about fixing it); OnFixed reports a fix made.
	OnProblem func(AuditEvent)
	OnFixed   func(AuditEvent)
	OnError   func(error)
	// Scanned counts entries examined (progress); may be nil.
	Scanned *atomic.Int64
}

func (o *AuditOptions) ask(q string, def Answer) Answer {
	if o.Prompter == nil {
		return def
	}
	return o.Prompter.Ask(q, def)
}

func (o *AuditOptions) problem(r *AuditResult, ev AuditEvent) {
	r.Problems++
	if o.OnProblem != nil {
		o.OnProblem(ev)
	}
}

func (o *AuditOptions) fixed(r *AuditResult, ev AuditEvent) {
	r.Fixed++
	ev.Fixed = true
	if o.OnFixed != nil {
		o.OnFixed(ev)
	}
}

func (o *AuditOptions) fail(r *AuditResult, err error) {
	r.Errors++
	if o.OnError != nil {
		o.OnError(err)
	}
}

// errAuditAbort stops a walk after the administrator answered "a".
var errAuditAbort = errors.New("audit aborted")

// fixAnswer decides a fix: -force answers yes to non-destructive fixes;
// anything else is asked (the Prompter decides what a batch run does).
func (o *AuditOptions) fixAnswer(q string, def Answer, destructive bool) (bool, error) {
	if !o.Fix {
		return false, nil
	}
	if o.Force && !destructive {
		return true, nil
	}
	switch o.ask(q, def) {
	case Yes:
		return true, nil
	case Abort:
		return false, errAuditAbort
	}
	return false, nil
}

// AuditNames checks the files under ldir: dangling XA links, missing copy
// times (when the mode asks for them) and back references of XA files.
func (s *Site) AuditNames(ctx context.Context, ldir string, o AuditOptions) (AuditResult, error) {
	var r AuditResult
	lfn, err := s.Clean(ldir)
	if err != nil {
		return r, err
	}
	mode := o.Mode
	if mode == ModeNone {
		mode = s.ExportMode(lfn)
	} else {
		ok, err := s.checkExport(lfn, mode, o.Force, promptOr(o.Prompter))
		if errors.Is(err, ErrAborted) {
			r.Aborted = true
			return r, nil
		}
		if !ok {
			return r, ErrSkipped
		}
	}
	// The mtime is needed only to set a copy time; links are stat'ed
	// anyway (WantLink) to find the dangling ones.
	want := catalog.WantLink | catalog.WantCopy | catalog.WantPfnRef
	if o.Fix {
		want |= catalog.WantStat
	}
	wo := catalog.WalkOptions{Want: want, Recursive: o.Recursive, Scanned: o.Scanned, OnError: func(pfn string, err error) {
		o.fail(&r, dirErr(pfn, err))
	}}
	err = s.Catalog.Walk(ctx, lfn, wo, func(e *catalog.Entry) error {
		if e.Type != catalog.File {
			return nil
		}
		return s.auditName(ctx, e, mode, &o, &r)
	})
	switch {
	case errors.Is(err, errAuditAbort):
		r.Aborted = true
		return r, nil
	case err != nil && ctx.Err() == nil:
		return r, dirErr(s.PFN(lfn), err)
	}
	return r, err
}

// ErrSkipped is returned when the administrator declined to go on.
var ErrSkipped = errors.New("skipped")

func promptOr(p Prompter) Prompter {
	if p == nil {
		return Defaults{}
	}
	return p
}

func (s *Site) auditName(ctx context.Context, e *catalog.Entry, mode Mode, o *AuditOptions, r *AuditResult) error {
	if e.Dangling {
		ev := AuditEvent{Problem: DanglingLink, PFN: e.PFN, Other: e.Link}
		o.problem(r, ev)
		// The data is already gone: -force answers yes, as in xrootd.
		fix, err := o.fixAnswer("Remove symlink?", No, false)
		if err != nil || !fix {
			return err
		}
		if err := os.Remove(e.PFN); err != nil {
			o.fail(r, opErr("remove symlink", e.PFN, err))
			return nil
		}
		if err := s.recordPFN(ctx, e.PFN); err != nil {
			o.fail(r, err)
		}
		o.fixed(r, ev)
		return nil // nothing more to check on a missing file
	}
	if mode != ModeNone && !e.HasCopy {
		ev := AuditEvent{Problem: NoCopyTime, PFN: e.PFN}
		o.problem(r, ev)
		fix, err := o.fixAnswer("Set copy time?", Yes, false)
		if err != nil {
			return err
		}
		if fix {
			if err := s.setCopy(ctx, e, mode); err != nil {
				o.fail(r, err)
			} else {
				o.fixed(r, ev)
			}
		}
	}
	if !strings.HasSuffix(e.Link, "%") {
		return nil
	}
	var ev AuditEvent
	var q string
	def := No
	switch {
	case !e.HasPfnRef || e.PfnRef == "":
		ev, q, def = AuditEvent{Problem: PfnXrefMissing, PFN: e.PFN}, "Create pfn xref?", Yes
	case e.PfnRef != e.PFN:
		ev, q = AuditEvent{Problem: PfnXrefWrong, PFN: e.PFN, Other: e.PfnRef}, "Recreate pfn xref?"
	default:
		return nil
	}
	o.problem(r, ev)
	fix, err := o.fixAnswer(q, def, false)
	if err != nil || !fix {
		return err
	}
	if _, err := s.Catalog.Apply(ctx, e.LFN, catalog.Change{Kind: catalog.SetPfnRef, PfnRef: e.PFN}); err != nil {
		o.fail(r, opErr("set pfn xref for", e.PFN, err))
		return nil
	}
	o.fixed(r, ev)
	return nil
}

// ErrNoSpace names a space that is not configured.
type ErrNoSpace struct{ Name string }

func (e *ErrNoSpace) Error() string { return e.Name + " space not found." }

// ErrNoSpacePath is a name:path whose path is not a directory of the space.
type ErrNoSpacePath struct{ Name, Path string }

func (e *ErrNoSpacePath) Error() string { return e.Name + " space does not contain " + e.Path }

// SpacePartitions resolves "name[:path]" to the partitions it names.
func (s *Site) SpacePartitions(spec string) ([]space.Partition, error) {
	name, dir, hasDir := strings.Cut(spec, ":")
	sp, ok := s.Spaces.Get(name)
	if !ok {
		return nil, &ErrNoSpace{name}
	}
	if !hasDir {
		return sp.Partitions, nil
	}
	p, ok := s.Spaces.Partition(name, dir)
	if !ok {
		return nil, &ErrNoSpacePath{name, dir}
	}
	return []space.Partition{p}, nil
}

// AuditSpace checks every data file of a space (or one of its partitions)
// against the namespace: back reference present, pointing at a symlink that
// points back.
//
// A data file whose back reference does not lead back to it is first
// looked up in an index of the namespace's links (built by one walk of the
// namespace, on the first such file): when another name links to it, the
// back reference is stale (DataXrefStale) and its fix rewrites it. Only a
// data file no name links to gets xrootd's fixes (create the pfn symlink,
// remove the data file, repoint the pfn), so a fix never gives a data file
// a second name nor deletes data a name still leads to.
func (s *Site) AuditSpace(ctx context.Context, spec string, o AuditOptions) (AuditResult, error) {
	var r AuditResult
	parts, err := s.SpacePartitions(spec)
	if err != nil {
		return r, err
	}
	idx := &linkIndex{s: s, parts: parts}
	for _, p := range parts {
		err := walkData(ctx, p, func(data string, size int64) error {
			return s.auditData(ctx, idx, data, size, &o, &r)
		})
		if errors.Is(err, errAuditAbort) {
			r.Aborted = true
			return r, nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return r, ctx.Err()
			}
			o.fail(&r, opErr("open directory", p.DataDir(), err))
		}
	}
	return r, nil
}

// walkData calls fn for every data file under the partition's data
// directory (names ending in the XA '%' suffix).
func walkData(ctx context.Context, p space.Partition, fn func(path string, size int64) error) error {
	err := filepath.WalkDir(p.DataDir(), func(path string, d os.DirEntry, err error) error {
		if err != nil {
			if path == p.DataDir() && errors.Is(err, os.ErrNotExist) {
				return filepath.SkipDir
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.Type().IsRegular() || !strings.HasSuffix(path, "%") {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		return fn(path, info.Size())
	})
	return err
}

// linkIndex maps the data files of some partitions to a namespace name
// whose symlink leads to each, for the data files whose back reference
// does not. It is built on first use by one walk of the whole namespace
// (on this host's files), so an audit of a consistent space costs no
// namespace walk.
type linkIndex struct {
	s     *Site
	parts []space.Partition
	built bool
	links map[string]string // data file -> the first (smallest) pfn linking to it
	err   error             // the namespace could not be read completely
}

// nameOf returns a namespace name linking to data ("" when none was
// found) and whether the index is complete: when it is not, "none" is not
// to be trusted.
func (x *linkIndex) nameOf(ctx context.Context, data string) (string, bool) {
	if !x.built {
		x.build(ctx)
	}
	return x.links[data], x.err == nil
}

func (x *linkIndex) build(ctx context.Context) {
	x.built = true
	x.links = map[string]string{}
	inParts := func(p string) bool {
		for _, part := range x.parts {
			if strings.HasPrefix(p, part.DataDir()+"/") {
				return true
			}
		}
		return false
	}
	o := catalog.WalkOptions{Want: catalog.WantLink, Recursive: true, OnError: func(pfn string, err error) {
		if x.err == nil {
			x.err = dirErr(pfn, err)
		}
	}}
	err := x.s.fs.Walk(ctx, "/", o, func(e *catalog.Entry) error {
		if e.Type != catalog.File || e.Link == "" {
			return nil
		}
		t := resolveLink(e.PFN, e.Link)
		if !inParts(t) {
			return nil
		}
		if have, ok := x.links[t]; !ok || e.PFN < have {
			x.links[t] = e.PFN
		}
		return nil
	})
	if err != nil && x.err == nil {
		x.err = err
	}
}

// OrphanGrace is how old (mtime and ctime) a data file without a back
// reference must be before audit -fix space removes it when no name
// leads to it: a stage writes its data file for as long as the copy takes
// and sets the back reference only at its end, so a younger one may be a
// transfer in flight.
const OrphanGrace = 6 * time.Hour

// fixOrphan offers, with -fix, to remove a data file without a back
// reference that no name leads to and that is older than OrphanGrace: the
// data file of a stage that never finished (a crash), which nothing
// will ever use. Every stage that finished wrote its back reference.
func (s *Site) fixOrphan(ctx context.Context, idx *linkIndex, ev AuditEvent, o *AuditOptions, r *AuditResult) error {
	if !o.Fix {
		return nil
	}
	if name, complete := idx.nameOf(ctx, ev.Data); name != "" || !complete {
		return nil // a name leads to it (or we cannot tell): not an orphan
	}
	var st unix.Stat_t
	if err := unix.Lstat(ev.Data, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil
	}
	cutoff := s.Now().Add(-OrphanGrace).Unix()
	if st.Mtim.Sec > cutoff || st.Ctim.Sec > cutoff {
		return nil // may be a transfer in flight
	}
	fix, err := o.fixAnswer("Remove orphan data file (no back reference, no name leads to it)?", Yes, false)
	if err != nil || !fix {
		return err
	}
	if err := os.Remove(ev.Data); err != nil {
		o.fail(r, opErr("remove data file", ev.Data, err))
		return nil
	}
	r.Files--
	r.Bytes -= ev.Size
	o.fixed(r, ev)
	return nil
}

// resolveLink returns the clean absolute path the symlink pfn with target
// t leads to (one level).
func resolveLink(pfn, t string) string {
	if !filepath.IsAbs(t) {
		t = filepath.Join(filepath.Dir(pfn), t)
	}
	return filepath.Clean(t)
}

// linksTo reports whether pfn is a symlink leading to data.
func linksTo(pfn, data string) bool {
	t, err := os.Readlink(pfn)
	return err == nil && resolveLink(pfn, t) == data
}

// staleXref handles a data file whose back reference pfn does not lead
// back to it: when another name links to it, it reports DataXrefStale
// (and fixes it) and returns handled. When the namespace could not be
// read completely no fix of such a data file is safe: the problem is
// still reported by the caller, unfixed (noFix).
func (s *Site) staleXref(ctx context.Context, idx *linkIndex, data, pfn string, size int64, o *AuditOptions, r *AuditResult) (handled, noFix bool, err error) {
	name, complete := idx.nameOf(ctx, data)
	if name == "" {
		if !complete && o.Fix {
			o.fail(r, opErr("fix data file", data, fmt.Errorf("not fixed: the namespace could not be read completely (%w)", idx.err)))
		}
		return false, !complete, nil
	}
	ev := AuditEvent{Problem: DataXrefStale, PFN: pfn, Data: data, Other: name, Size: size}
	o.problem(r, ev)
	fix, err := o.fixAnswer("Rewrite pfn xref?", Yes, false)
	if err != nil || !fix {
		return true, false, err
	}
	if err := s.fixData(ctx, ev); err != nil {
		o.fail(r, err)
		return true, false, nil
	}
	o.fixed(r, ev)
	return true, false, nil
}

func (s *Site) auditData(ctx context.Context, idx *linkIndex, data string, size int64, o *AuditOptions, r *AuditResult) error {
	r.Files++
	r.Bytes += size
	pfn, ok, _ := meta.GetPfn(data)
	if !ok || pfn == "" {
		ev := AuditEvent{Problem: DataNoXref, Data: data, Size: size}
		o.problem(r, ev)
		return s.fixOrphan(ctx, idx, ev, o, r)
	}
	// The back reference may be stale: look for the name that leads to
	// the data file before any fix that would give it a second name or
	// delete it.
	stale := func() (bool, bool, error) { return s.staleXref(ctx, idx, data, pfn, size, o, r) }
	removeData := func(ev AuditEvent) {
		if err := os.Remove(data); err != nil {
			o.fail(r, opErr("remove data file", data, err))
			return
		}
		r.Files--
		r.Bytes -= size
		o.fixed(r, ev)
	}
	var st unix.Stat_t
	if err := unix.Lstat(pfn, &st); err != nil {
		if handled, noFix, err := stale(); handled || err != nil {
			return err
		} else if noFix {
			o.problem(r, AuditEvent{Problem: DataXrefMissing, PFN: pfn, Data: data, Size: size})
			r.Unreachable += size
			return nil
		}
		ev := AuditEvent{Problem: DataXrefMissing, PFN: pfn, Data: data, Size: size}
		o.problem(r, ev)
		fix, err := o.fixAnswer("Create pfn symlink?", Yes, false)
		if err != nil {
			return err
		}
		if fix {
			if err := s.linkData(ctx, pfn, data); err != nil {
				o.fail(r, err)
				fix = false
			} else {
				o.fixed(r, ev)
			}
		}
		if !fix {
			r.Unreachable += size
		}
		return nil
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		if handled, noFix, err := stale(); handled || err != nil {
			return err
		} else if noFix {
			o.problem(r, AuditEvent{Problem: DataXrefNotLink, PFN: pfn, Data: data, Size: size})
			r.Unreachable += size
			return nil
		}
		ev := AuditEvent{Problem: DataXrefNotLink, PFN: pfn, Data: data, Size: size}
		o.problem(r, ev)
		// Removing data is never answered by -force.
		fix, err := o.fixAnswer("Remove data file?", No, true)
		if err != nil {
			return err
		}
		if fix {
			removeData(ev)
		} else {
			r.Unreachable += size // no namespace name leads to it
		}
		return nil
	}
	target, err := os.Readlink(pfn)
	if err != nil || target == data {
		return nil
	}
	var tst unix.Stat_t
	exists := unix.Stat(target, &tst) == nil
	ev := AuditEvent{Problem: DataXrefOther, PFN: pfn, Data: data, Other: target, OtherExists: exists, Size: size}
	if handled, noFix, err := stale(); handled || err != nil {
		return err
	} else if noFix {
		o.problem(r, ev)
		r.Unreachable += size
		return nil
	}
	o.problem(r, ev)
	if exists {
		fix, err := o.fixAnswer("Remove unreferenced data file?", No, true)
		if err != nil {
			return err
		}
		if fix {
			removeData(ev)
		} else {
			r.Unreachable += size
		}
		return nil
	}
	fix, err := o.fixAnswer("Change pfn symlink?", No, true)
	if err != nil {
		return err
	}
	if !fix {
		r.Unreachable += size
		return nil
	}
	defer s.recordPFN(ctx, pfn)
	if err := replaceSymlink(data, pfn); err != nil {
		o.fail(r, opErr("change pfn symlink", pfn, err))
		r.Unreachable += size
		return nil
	}
	o.fixed(r, ev)
	return nil
}

// linkData creates the namespace symlink pfn -> data, refusing a back
// reference that points outside the namespace: a data file's xattr must not
// make frm create links anywhere.
func (s *Site) linkData(ctx context.Context, pfn, data string) error {
	defer s.recordPFN(ctx, pfn)
	lfn, ok := s.Names.LFN(pfn)
	if !ok {
		return opErr("create pfn symlink", pfn, errors.New("outside the namespace root"))
	}
	if _, err := s.Clean(lfn); err != nil {
		return opErr("create pfn symlink", pfn, err)
	}
	if err := os.MkdirAll(filepath.Dir(pfn), 0o755); err != nil {
		return opErr("create pfn symlink", pfn, err)
	}
	if err := os.Symlink(data, pfn); err != nil {
		return opErr("create pfn symlink", pfn, err)
	}
	return nil
}

// replaceSymlink atomically makes link point at target (a temporary link
// renamed over the old one).
func replaceSymlink(target, link string) error {
	tmp := filepath.Join(filepath.Dir(link), ".frm-tmp-"+filepath.Base(link))
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
