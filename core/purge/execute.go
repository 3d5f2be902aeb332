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

	"golang.org/x/sys/unix"

	"frm/core/catalog"
	"frm/core/site"
	"frm/core/space"
	"frm/core/usage"
)

// StopFileName is the file in the admin directory whose presence suspends
// purging (xrootd's STOPPURGE).
const StopFileName = "STOPPURGE"

// StopFile is the path of the site's STOPPURGE file.
func StopFile(s *site.Site) string { return filepath.Join(s.Config.AdminDir(), StopFileName) }

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
	x := &executor{s: s, o: o, clock: clock, res: &res, stop: stop}
	defer x.closeProg()
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
		hold := s.Config.Purge.DirHold.Std()
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
	usePol := sp.Policy.UsePolProg && len(x.s.Config.Purge.PolProg) > 0
	for _, c := range sp.Candidates {
		if sr.Free >= sp.Max {
			return nil
		}
		if err := ctx.Err(); err != nil {
			sr.Stopped = "interrupted"
			return err
		}
		if err := checkStop(x.stop); err != nil {
			sr.Stopped = "STOPPURGE"
			return err
		}
		now := x.clock().Unix()
		e, r, until, release, err := recheck(ctx, x.s, sp, c, now)
		if err != nil {
			x.fail(&site.OpError{Action: "purge", Name: c.PFN, Err: err})
			continue
		}
		if r != 0 {
			x.kept(&sr, Kept{Candidate: c, Reason: r, Until: until})
			continue
		}
		if usePol {
			ok, why := x.askPolicy(ctx, sp, &sr, e)
			if why != "" {
				release()
				sr.Stopped = why
				return nil
			}
			if !ok {
				release()
				x.kept(&sr, Kept{Candidate: c, Reason: PolicyRefused})
				continue
			}
		}
		err = x.s.RemoveData(e.PFN)
		release()
		if err != nil {
			x.fail(&site.OpError{Action: "purge", Name: c.PFN, Err: err})
			continue
		}
		sr.Files++
		sr.Bytes += c.Size
		sr.Free += c.Size
		if x.o.OnPurged != nil {
			x.o.OnPurged(c)
		}
	}
	if sr.Free < sp.Max {
		sr.Stopped = "candidates exhausted"
	}
	return nil
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

// recheck looks at candidate c again just before its removal. It returns
// the fresh entry and either a reason to keep the file or, when it may go,
// a release function that must be called after the removal: the file is
// held with an exclusive flock meanwhile.
func recheck(ctx context.Context, s *site.Site, sp *SpacePlan, c Candidate, now int64) (catalog.Entry, Reason, int64, func(), error) {
	nop := func() {}
	e, err := s.Catalog.Lookup(ctx, c.LFN, catalog.WantStat|catalog.WantLink|catalog.WantCopy|catalog.WantPin)
	if err != nil {
		if errors.Is(err, catalog.ErrNotExist) {
			return e, Gone, 0, nop, nil
		}
		return e, 0, 0, nop, err
	}
	if e.Type != catalog.File {
		return e, Gone, 0, nop, nil
	}
	if r, until := Evaluate(s, &e, sp, now, sp.keepDeferred); r != 0 {
		return e, r, until, nop, nil
	}
	if e.Atime != c.Atime || e.Mtime != c.Mtime || e.Size != c.Size {
		return e, Changed, 0, nop, nil
	}
	fd, err := unix.Open(e.PFN, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return e, Gone, 0, nop, nil
		}
		return e, 0, 0, nop, err
	}
	release := func() { unix.Close(fd) }
	busy, err := locked(fd)
	if err != nil {
		release()
		return e, 0, 0, nop, err
	}
	if busy {
		release()
		return e, InUse, 0, nop, nil
	}
	return e, 0, 0, release, nil
}

// locked reports whether someone holds a lock on the open file fd: a POSIX
// record lock (xrootd's oss takes a shared fcntl lock on files it opens in
// purge exports; frm_purged tests for it with F_GETLK) or a BSD flock. On
// success the caller holds an exclusive flock on fd until it closes it.
func locked(fd int) (bool, error) {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: 0, Len: 0}
	err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_GETLK, &lk)
	if errors.Is(err, unix.EINVAL) { // kernels without OFD locks
		lk = unix.Flock_t{Type: unix.F_WRLCK}
		err = unix.FcntlFlock(uintptr(fd), unix.F_GETLK, &lk)
	}
	if err != nil {
		return false, fmt.Errorf("lock check: %w", err)
	}
	if lk.Type != unix.F_UNLCK {
		return true, nil
	}
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return true, nil
		}
		return false, fmt.Errorf("flock: %w", err)
	}
	return false, nil
}

// askPolicy offers the candidate e to the policy program. ok is its verdict;
// a non-empty stop says why the space must stop (an answer other than y
// or n, or a failed program).
func (x *executor) askPolicy(ctx context.Context, sp *SpacePlan, sr *SpaceResult, e catalog.Entry) (ok bool, stop string) {
	if x.progErr != nil {
		return false, x.progErr.Error()
	}
	if x.prog == nil {
		p, err := startPolProg(ctx, x.s.Config.Purge.PolProg, x.o.PolicyStderr, x.o.PolicyTimeout)
		if err != nil {
			x.progErr = err
			x.fail(err)
			return false, err.Error()
		}
		x.prog = p
	}
	vars := x.s.Config.Purge.PolVars
	if len(vars) == 0 {
		vars = defaultPolVars
	}
	usedNow := int64(-1)
	if sp.UsedKnown {
		usedNow = sp.Used - sr.Bytes
	}
	line := polLine(vars, polValues{
		sname: sp.Space, pfn: e.PFN, size: e.Size, atime: e.Atime, ctime: e.Ctime, mtime: e.Mtime,
		fspace: sr.Free, tspace: sp.Total, usage: usedNow,
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
