package purge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"frm/core/catalog"
	"frm/core/site"
	"frm/core/space"
	"frm/core/usage"
)

// StopFileName is the file in the admin directory whose presence suspends
// purging (xrootd's STOPPURGE).
const StopFileName = "STOPPURGE"

// StopFile is the path of the site's STOPPURGE file.
func StopFile(s *site.Site) string { return filepath.Join(s.Config().AdminDir(), StopFileName) }

// ErrStopped is returned (wrapped in a *StoppedError) when STOPPURGE exists.
var ErrStopped = errors.New("purging is suspended")

// StoppedError names the stop file that suspended a purge.
type StoppedError struct{ Path string }

func (e *StoppedError) Error() string {
	return fmt.Sprintf("purging is suspended: %s exists; remove it to allow purges", e.Path)
}

func (e *StoppedError) Unwrap() error { return ErrStopped }

func checkStop(path string) error {
	if _, err := os.Lstat(path); err == nil {
		return &StoppedError{Path: path}
	}
	return nil
}

// ExecOptions controls Execute.
type ExecOptions struct {
	// Now is the clock for the re-checks; nil means the site's clock.
	Now func() time.Time
	// Confirm, when set, is asked once per space before its first removal:
	// false skips the space, an error stops Execute (and is returned).
	Confirm func(sp *SpacePlan) (bool, error)
	// OnPurged is called after each removal, OnKept for each candidate the
	// re-check keeps, OnError for each failed removal.
	OnPurged func(Candidate)
	OnKept   func(Kept)
	OnError  func(error)
	// Refresh re-reads each space's free space just before purging it
	// (other spaces may share its filesystem, time has passed since the
	// plan). Without it the plan's figures are used, as frm_purged does.
	Refresh    bool
	SpaceUsage func(space.Space) (total, free int64, err error)
	// NoDirs skips the removal of empty directories older than the
	// configured dir hold.
	NoDirs bool
	// OnDir is called for each empty directory removed.
	OnDir func(EmptyDir)
	// PolicyStderr receives the policy program's standard error (nil:
	// discarded). PolicyTimeout bounds the wait for one answer (default
	// one minute); no answer in time stops the space.
	PolicyStderr  io.Writer
	PolicyTimeout time.Duration
	// Grace is how long a file waits under its hidden name between its
	// last check and its removal (see final.go); 0 means DefaultGrace.
	Grace time.Duration
}

// SpaceResult is what Execute did in one space.
type SpaceResult struct {
	Space string
	Files int   // files removed
	Bytes int64 // bytes freed
	Kept  int   // candidates the re-check or the policy program kept
	// Free is the free space after the purge as frm_purged reckons it
	// (free space before plus bytes freed); Max the target.
	Free, Max int64
	// Stopped says why the space stopped before reaching Max ("" when it
	// reached it): "declined", "candidates exhausted", "policy program:
	// ...".
	Stopped string
}

// Met reports whether the space reached its maximum.
func (r SpaceResult) Met() bool { return r.Free >= r.Max }

// Result summarises Execute.
type Result struct {
	Spaces []SpaceResult
	Files  int
	Bytes  int64
	Kept   int
	Dirs   int // empty directories removed
	// Errors (at most MaxErrors kept); ErrorCount is exact.
	Errors     []error
	ErrorCount int
}

func (r *Result) addErr(err error) {
	r.ErrorCount++
	if len(r.Errors) < MaxErrors {
		r.Errors = append(r.Errors, err)
	}
}

// Execute carries out plan p: for each space that needs it, the candidates
// are removed in order until the free space reaches the maximum. Each is
// re-checked just before its removal: it must still exist, still be
// eligible (migrated, not pinned, out of its hold), have the same access
// and modification times and size as in the plan, and not be locked by
// anyone (xrootd servers hold a shared lock on files open in purge
// exports). Removal takes the namespace entry and, for XA links, the data
// file, never anything outside the configured partitions. Bytes purged are
// added to the usage log when usage is tracked. With a policy program
// (purge.polprog and a policy with polprog) every candidate is offered to
// it first. Empty directories older than the dir hold are removed last.
//
// Execute refuses to start, and stops between files, when the STOPPURGE
// file exists in the admin directory.
func Execute(ctx context.Context, s *site.Site, p *Plan, o ExecOptions) (Result, error) {
	var res Result
	stop := StopFile(s)
	if err := checkStop(stop); err != nil {
		return res, err
	}
	clock := o.Now
	if clock == nil {
		clock = s.Now
	}
	if o.SpaceUsage == nil {
		o.SpaceUsage = DiskUsage
	}
	if o.Grace <= 0 {
		o.Grace = DefaultGrace
	}
	x := &executor{s: s, o: o, clock: clock, res: &res, stop: stop, journalDir: filepath.Join(s.Config().AdminDir(), journalDir)}
	defer x.closeProg()
	defer x.closeJournal()
	recoverJournals(x.journalDir, x.fail)
	for i := range p.Spaces {
		sp := &p.Spaces[i]
		if sp.Needed <= 0 || !sp.Enabled {
			continue
		}
		if err := x.space(ctx, sp); err != nil {
			return res, err
		}
	}
	if !o.NoDirs && len(p.Roots) > 0 {
		hold := s.Config().Purge.DirHold.Std()
		if hold <= 0 {
			hold = defaultDirHold
		}
		cutoff := clock().Add(-hold).Unix()
		n, err := EmptyDirs(ctx, s, p.Roots, cutoff, true, o.OnDir, func(err error) {
			res.addErr(err)
			if o.OnError != nil {
				o.OnError(err)
			}
		})
		res.Dirs += n
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

const defaultDirHold = 40 * time.Hour

type executor struct {
	s     *site.Site
	o     ExecOptions
	clock func() time.Time
	res   *Result
	stop  string

	prog    *polProg
	progErr error // the policy program failed: every polprog space stops

	journalDir string
	journal    *journal
	batch      []*held // checked, locked and leased; removed by flush
	batchBytes int64
}

func (x *executor) closeJournal() {
	if x.journal != nil {
		x.journal.close()
		x.journal = nil
	}
}

func (x *executor) fail(err error) {
	x.res.addErr(err)
	if x.o.OnError != nil {
		x.o.OnError(err)
	}
}

func (x *executor) closeProg() {
	if x.prog != nil {
		x.prog.close()
		x.prog = nil
	}
}

// space purges one space; an error stops Execute.
func (x *executor) space(ctx context.Context, sp *SpacePlan) error {
	sr := SpaceResult{Space: sp.Space, Free: sp.Free, Max: sp.Max}
	defer func() {
		x.res.Spaces = append(x.res.Spaces, sr)
		x.res.Files += sr.Files
		x.res.Bytes += sr.Bytes
		x.res.Kept += sr.Kept
		if sr.Bytes > 0 && sp.UsedKnown {
			if uerr := usage.AddPurged(x.s.UsagePath(), sp.Space, sr.Bytes); uerr != nil {
				x.fail(fmt.Errorf("usage log: record %d bytes purged from %s: %w", sr.Bytes, sp.Space, uerr))
			}
		}
	}()
	if x.o.Refresh {
		if sps, ok := spaceByName(x.s, sp.Space); ok {
			if _, free, err := x.o.SpaceUsage(sps); err == nil {
				sr.Free = free
			} else {
				x.fail(err)
			}
		}
	}
	if sr.Free >= sp.Max {
		return nil
	}
	if len(sp.Candidates) == 0 {
		sr.Stopped = "candidates exhausted" // nothing to offer: no question
		return nil
	}
	if x.o.Confirm != nil {
		ok, err := x.o.Confirm(sp)
		if err != nil {
			sr.Stopped = "aborted"
			return err
		}
		if !ok {
			sr.Stopped = "declined"
			return nil
		}
	}
	usePol := sp.Policy.UsePolProg && len(x.s.Config().Purge.PolProg) > 0
	// Candidates that passed the first look (and the policy program) wait
	// in approved; settle checks them for good and removes them, a batch
	// at a time so the grace period is shared. Every way out settles.
	var approved []Candidate
	var approvedBytes int64
	settle := func() {
		x.settle(ctx, sp, &sr, approved)
		approved, approvedBytes = approved[:0], 0
	}
	defer settle()
	for _, c := range sp.Candidates {
		if sr.Free+approvedBytes >= sp.Max {
			settle()
			if sr.Free >= sp.Max {
				return nil
			}
		}
		if err := ctx.Err(); err != nil {
			sr.Stopped = "interrupted"
			return err
		}
		if err := checkStop(x.stop); err != nil {
			sr.Stopped = "STOPPURGE"
			return err
		}
		if why := x.policyWithdrawn(sp); why != "" {
			sr.Stopped = why
			return nil
		}
		// A first look through the catalog spares the policy program
		// files that are plainly no longer candidates.
		e, r, until, err := precheck(ctx, x.s, sp, c, x.clock().Unix())
		if err != nil {
			x.fail(&site.OpError{Action: "purge", Name: c.PFN, Err: err})
			continue
		}
		if r != 0 {
			x.kept(&sr, Kept{Candidate: c, Reason: r, Until: until})
			continue
		}
		if usePol {
			// The program may take its time: nothing is locked
			// meanwhile, and everything is decided again afterwards.
			ok, why := x.askPolicy(ctx, sp, &sr, e, sr.Free+approvedBytes)
			if why != "" {
				sr.Stopped = why
				return nil
			}
			if !ok {
				x.kept(&sr, Kept{Candidate: c, Reason: PolicyRefused})
				continue
			}
		}
		approved = append(approved, c)
		approvedBytes += c.Size
		if len(approved) >= batchMax {
			settle()
		}
	}
	settle()
	if sr.Free < sp.Max {
		sr.Stopped = "candidates exhausted"
	}
	return nil
}

// settle takes the last decision on the approved candidates, from the
// files and under the locks (finalCheck), and removes those that pass
// (flush), stopping once the space reaches its maximum.
func (x *executor) settle(ctx context.Context, sp *SpacePlan, sr *SpaceResult, approved []Candidate) {
	if why := x.policyWithdrawn(sp); why != "" {
		sr.Stopped = why
		return
	}
	for _, c := range approved {
		if ctx.Err() != nil || checkStop(x.stop) != nil {
			break // interrupted or STOPPURGE: nothing more goes
		}
		if sr.Free+x.batchBytes >= sp.Max {
			x.flush(ctx, sr)
			if sr.Free >= sp.Max {
				return
			}
		}
		h, r, until, err := x.finalCheck(ctx, sp, c, x.clock().Unix())
		if err != nil {
			x.fail(&site.OpError{Action: "purge", Name: c.PFN, Err: err})
			continue
		}
		if r != 0 {
			x.kept(sr, Kept{Candidate: c, Reason: r, Until: until})
			continue
		}
		if testHookChecked != nil {
			testHookChecked(c)
		}
		x.batch = append(x.batch, h)
		x.batchBytes += c.Size
	}
	x.flush(ctx, sr)
}

// policyWithdrawn says why the space may no longer be purged under the
// configuration in force (a reload set nopurge or hold forever during the
// purge: an administrator's emergency brake), "" when it may. A purge
// the operator forced with -O is not stopped this way.
func (x *executor) policyWithdrawn(sp *SpacePlan) string {
	if sp.overridden {
		return ""
	}
	pol := x.s.Config().PolicyFor(sp.Space)
	switch {
	case pol.NoPurge:
		return "policy now nopurge"
	case pol.HoldForever:
		return "policy now hold forever"
	}
	return ""
}

// testHookChecked, when set by a test, runs after a candidate passed its
// last check, while the purge holds its locks.
var testHookChecked func(Candidate)

// flush removes the files of the batch: journal, hide, wait out the grace,
// look once more, then remove each (or put it back).
func (x *executor) flush(ctx context.Context, sr *SpaceResult) {
	batch := x.batch
	x.batch, x.batchBytes = nil, 0
	if len(batch) == 0 {
		return
	}
	defer func() {
		for _, h := range batch {
			h.release()
		}
	}()
	if ctx.Err() != nil || checkStop(x.stop) != nil {
		return // interrupted or STOPPURGE: released untouched
	}
	if x.journal == nil {
		j, err := openJournal(x.journalDir)
		if err != nil {
			x.fail(err)
			return
		}
		x.journal = j
	}
	if err := x.journal.record(batch); err != nil {
		x.fail(err)
		return
	}
	// The site's catalog learns what went (and what came back) once the
	// batch is settled.
	lfns := make([]string, len(batch))
	for i, h := range batch {
		lfns[i] = h.c.LFN
	}
	ch := x.s.BeginChange(false, lfns...)
	defer func() {
		if err := ch.Done(ctx); err != nil {
			x.fail(err)
		}
	}()
	hidden := batch[:0:0]
	for _, h := range batch {
		if err := h.hide(); err != nil {
			if errors.Is(err, errChangedBeforeHide) {
				x.kept(sr, Kept{Candidate: h.c, Reason: Changed})
			} else {
				x.fail(&site.OpError{Action: "purge", Name: h.c.PFN, Err: err})
			}
			continue
		}
		hidden = append(hidden, h)
	}
	if len(hidden) > 0 {
		time.Sleep(x.o.Grace)
	}
	for _, h := range hidden {
		r, err := h.stillQuiet()
		if err == nil && r == 0 {
			if err = h.remove(x.s); err == nil {
				sr.Files++
				sr.Bytes += h.c.Size
				sr.Free += h.c.Size
				if x.o.OnPurged != nil {
					x.o.OnPurged(h.c)
				}
				continue
			}
		}
		if r != Gone {
			if rerr := h.restore(); rerr != nil {
				x.fail(rerr)
			}
		}
		if err != nil {
			x.fail(&site.OpError{Action: "purge", Name: h.c.PFN, Err: err})
			continue
		}
		x.kept(sr, Kept{Candidate: h.c, Reason: r})
	}
	if err := x.journal.clear(); err != nil {
		x.fail(fmt.Errorf("purge journal: %w", err))
	}
}

func (x *executor) kept(sr *SpaceResult, k Kept) {
	sr.Kept++
	if x.o.OnKept != nil {
		x.o.OnKept(k)
	}
}

func spaceByName(s *site.Site, name string) (space.Space, bool) {
	for _, sp := range siteSpaces(s) {
		if sp.Name == name {
			return sp, true
		}
	}
	return space.Space{}, false
}

// precheck looks at candidate c again through the site's catalog before
// the policy program is asked about it: a file that is plainly no longer a
// candidate (gone, pinned, modified, used since the plan) is kept without
// a question. It decides nothing for good; finalCheck does, from the files,
// under the locks.
func precheck(ctx context.Context, s *site.Site, sp *SpacePlan, c Candidate, now int64) (catalog.Entry, Reason, int64, error) {
	e, err := s.Catalog.Lookup(ctx, c.LFN, catalog.WantStat|catalog.WantLink|catalog.WantCopy|catalog.WantPin)
	if err != nil {
		if errors.Is(err, catalog.ErrNotExist) {
			return e, Gone, 0, nil
		}
		return e, 0, 0, err
	}
	if e.Type != catalog.File {
		return e, Gone, 0, nil
	}
	if r, until := Evaluate(s, &e, sp, now, sp.keepDeferred); r != 0 {
		return e, r, until, nil
	}
	if e.Atime != c.Atime || e.Mtime != c.Mtime || e.Size != c.Size {
		return e, Changed, 0, nil
	}
	return e, 0, 0, nil
}

// askPolicy offers the candidate e to the policy program. ok is its verdict;
// a non-empty stop says why the space must stop (an answer other than y
// or n, or a failed program).
func (x *executor) askPolicy(ctx context.Context, sp *SpacePlan, sr *SpaceResult, e catalog.Entry, free int64) (ok bool, stop string) {
	if x.progErr != nil {
		return false, x.progErr.Error()
	}
	if x.prog == nil {
		p, err := startPolProg(ctx, x.s.Config().Purge.PolProg, x.o.PolicyStderr, x.o.PolicyTimeout)
		if err != nil {
			x.progErr = err
			x.fail(err)
			return false, err.Error()
		}
		x.prog = p
	}
	vars := x.s.Config().Purge.PolVars
	if len(vars) == 0 {
		vars = defaultPolVars
	}
	usedNow := int64(-1)
	if sp.UsedKnown {
		usedNow = sp.Used - sr.Bytes - (free - sr.Free) // as if the approved files were gone
	}
	line := polLine(vars, polValues{
		sname: sp.Space, pfn: e.PFN, size: e.Size, atime: e.Atime, ctime: e.Ctime, mtime: e.Mtime,
		fspace: free, tspace: sp.Total, usage: usedNow,
	})
	ans, err := x.prog.ask(ctx, line)
	if err != nil {
		x.progErr = err
		x.fail(err)
		x.closeProg()
		return false, err.Error()
	}
	switch {
	case len(ans) > 0 && ans[0] == 'y':
		return true, ""
	case len(ans) > 0 && ans[0] == 'n':
		return false, ""
	}
	return false, "policy program: answered " + strconv.Quote(ans)
}
