// Package purge decides and carries out disk purges: per space, when free
// space falls below the policy's minimum, remove files that are safe in the
// MSS, oldest access first, until free space reaches the maximum; every
// kept file has a reason.
//
// Build scans the purge exports once and returns a Plan: per space the
// free-space figures, the files to remove in order (Candidates) and, on
// request, every file kept with its Reason. Execute carries a plan out,
// re-checking each file just before removing it. A dry run is a Build
// whose plan is printed instead of executed.
//
// Behaviour follows xrootd 5.5.3's frm_purged (see docs/purge.md for the
// differences).
package purge

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"frm/core/catalog"
	"frm/core/config"
	"frm/core/meta"
	"frm/core/site"
	"frm/core/space"
	"frm/core/usage"
)

// Candidate is a file a purge would remove.
type Candidate struct {
	LFN, PFN, Space    string
	Size, Atime, Mtime int64
}

// Kept is a file a purge leaves alone, and why. Until is the time (epoch
// seconds) the reason stops applying, for PinnedUntil, IdlePin and InHold;
// 0 otherwise.
type Kept struct {
	Candidate
	Reason Reason
	Until  int64
}

// SpacePlan is the purge plan of one space.
type SpacePlan struct {
	Space  string
	Policy config.Policy
	// Enabled is false when the policy is nopurge or hold forever and no
	// override applies; such a space is never purged.
	Enabled bool
	// Hold is the effective hold (the policy's or the override).
	Hold time.Duration

	// Free-space figures in bytes: the space's total and free space
	// (filesystems shared by several partitions counted once), and the
	// policy's watermarks. Percent watermarks are relative to Total.
	Total, Free, Min, Max int64
	// Used is the space's usage by the usage log (oss.usage log); it is
	// only meaningful when UsedKnown.
	Used      int64
	UsedKnown bool
	// Needed is the number of bytes to free to reach Max; 0 when Free >=
	// Min (nothing to do) or the space is not enabled.
	Needed int64

	// Candidates are the files to remove, in order (oldest access first,
	// equal access time: larger first), only as many as needed to free
	// Needed bytes. Eligible files beyond that are kept as NotNeeded.
	Candidates     []Candidate
	CandidateBytes int64
	// Kept lists the files kept, with Options.KeepReasons only.
	Kept []Kept
	// Counts has the number of kept files per reason (always).
	Counts map[Reason]int

	Files         int   // files of this space seen by the scan
	Eligible      int   // files that could be purged (candidates and NotNeeded)
	EligibleBytes int64 // their bytes
	Err           error // the space's free space could not be determined

	keepDeferred bool // Options.KeepDeferred, for Execute's re-check
	// overridden: -O decided Enabled and Hold, not the policy; Execute
	// then does not look at the policy in force again.
	overridden bool
}

// KeptCount is the number of files kept.
func (sp *SpacePlan) KeptCount() int {
	n := 0
	for _, c := range sp.Counts {
		n += c
	}
	return n
}

// Plan is the outcome of Build.
type Plan struct {
	Spaces []SpacePlan
	// Roots are the directories scanned (lfns): the purge exports, or the
	// paths Options.Paths named.
	Roots []string
	Now   time.Time
	// Scanned counts the namespace entries examined.
	Scanned int64
	// Skipped is true when Options.Lazy was set and no space needed a
	// purge, so the namespace was not scanned.
	Skipped bool
	// Errors met while scanning (at most MaxErrors kept); ErrorCount is
	// exact.
	Errors     []error
	ErrorCount int
}

// MaxErrors bounds Plan.Errors and Result.Errors.
const MaxErrors = 1000

func (p *Plan) addErr(err error) {
	p.ErrorCount++
	if len(p.Errors) < MaxErrors {
		p.Errors = append(p.Errors, err)
	}
}

// Space returns the plan of the named space.
func (p *Plan) Space(name string) (*SpacePlan, bool) {
	for i := range p.Spaces {
		if p.Spaces[i].Space == name {
			return &p.Spaces[i], true
		}
	}
	return nil, false
}

// Options controls Build.
type Options struct {
	// Spaces restricts the plan to these spaces (by name).
	Spaces []string
	// Paths restricts the scan to these directories (lfns); each must lie
	// in a purge export ("<path> is not marked purgeable" otherwise).
	Paths []string
	// Override replaces min and max of every policy, even nopurge ones
	// (frm_purged -O free).
	Override *Watermark
	// HoldOverride replaces every policy's hold, even hold forever
	// (frm_purged -O free,hold).
	HoldOverride *time.Duration
	// Now is the time eligibility is judged at; zero means the site's
	// clock.
	Now time.Time
	// KeepReasons collects every kept file in SpacePlan.Kept. Without it
	// kept files are only counted (and passed to OnKept), which keeps
	// memory bounded on huge namespaces; a dry run listing wants them.
	KeepReasons bool
	// KeepDeferred keeps files whose copy time is 0 (migration deferred)
	// with reason Deferred. By default they are purged, as xrootd does.
	KeepDeferred bool
	// Lazy skips the scan when no space is below its minimum, as
	// frm_purged does ("Purge cycle skipped; all policies met.").
	Lazy bool
	// OnKept is called for each kept file as the scan finds it, and
	// OnCandidate for each candidate (per space, in order) when the scan
	// is over. Both are called from one goroutine at a time.
	OnKept      func(Kept)
	OnCandidate func(Candidate)
	// OnError receives scan errors as they happen (they are also in
	// Plan.Errors).
	OnError func(error)
	// OnOldStyle is called once per directory holding 2009-style meta
	// files, which the purge ignores.
	OnOldStyle func(dirPFN string)
	// Scanned, when not nil, counts entries examined as the scan runs.
	Scanned *atomic.Int64
	// SpaceUsage returns a space's total and free bytes. Nil uses statfs
	// on every partition (see DiskUsage). Tests replace it.
	SpaceUsage func(space.Space) (total, free int64, err error)
	// Workers is the walk's parallelism (0: default).
	Workers int
}

// DiskUsage is the default Options.SpaceUsage: statfs of every partition,
// partition caps applied, a filesystem shared by several partitions
// counted once.
func DiskUsage(sp space.Space) (total, free int64, err error) {
	var us []space.Usage
	var firstErr error
	for _, p := range sp.Partitions {
		u := space.Stat(p)
		if u.Err != nil {
			if firstErr == nil {
				firstErr = u.Err
			}
			continue
		}
		if p.Cap > 0 {
			if err := space.CountFiles(&u); err != nil {
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			space.ApplyCaps(&u)
		}
		us = append(us, u)
	}
	if len(us) == 0 {
		if firstErr == nil {
			firstErr = errors.New("no partitions")
		}
		return 0, 0, fmt.Errorf("space %s: %w", sp.Name, firstErr)
	}
	total, free = space.Totals(us)
	return total, free, nil
}

// ErrNotPurgeable is returned (wrapped) for a path outside purge exports.
var ErrNotPurgeable = errors.New("not marked purgeable")

// spaceState is a SpacePlan being built.
type spaceState struct {
	plan *SpacePlan
	heap boundedHeap
}

type builder struct {
	s      *site.Site
	o      Options
	now    int64
	plan   *Plan
	spaces map[string]*spaceState
	public *spaceState // where files of unknown spaces go (xrootd: the default)
	// checkExport is set when some export below a root is not a purge
	// export, so every file's export must be looked at.
	checkExport bool
}

// siteSpaces returns the site's spaces and, when none is named public, a
// public space standing for the namespace filesystem itself (plain files
// live there).
func siteSpaces(s *site.Site) []space.Space {
	all := append([]space.Space(nil), s.Spaces.All()...)
	if _, ok := s.Spaces.Get(space.Public); !ok {
		root := s.Config().LocalRoot
		if root == "" {
			root = "/"
		}
		all = append(all, space.Space{Name: space.Public, Partitions: []space.Partition{{Space: space.Public, Path: root}}})
	}
	return all
}

// Roots returns the directories a purge scans: the given paths, each of
// which must lie in a purge export, or else every purge export. Roots
// below another root are dropped (the walk of the outer one covers them).
func Roots(s *site.Site, paths []string) ([]string, error) {
	var roots []string
	if len(paths) > 0 {
		for _, p := range paths {
			lfn, err := s.Clean(p)
			if err != nil {
				return nil, err
			}
			if e, ok := s.Config().ExportFor(lfn); !ok || !e.Purge {
				return nil, fmt.Errorf("%s is %w", p, ErrNotPurgeable)
			}
			roots = append(roots, lfn)
		}
	} else {
		for _, e := range s.Config().Exports {
			if !e.Purge {
				continue
			}
			lfn, err := s.Clean(e.Path)
			if err != nil {
				return nil, fmt.Errorf("export %s: %w", e.Path, err)
			}
			roots = append(roots, lfn)
		}
	}
	sort.Strings(roots)
	var out []string
next:
	for _, r := range roots {
		for _, o := range out {
			if under(r, o) {
				continue next
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// under reports whether lfn is dir or inside it.
func under(lfn, dir string) bool {
	return lfn == dir || dir == "/" || strings.HasPrefix(lfn, dir) && lfn[len(dir)] == '/'
}

// Build scans the purge exports and returns the purge plan.
func Build(ctx context.Context, s *site.Site, o Options) (*Plan, error) {
	now := o.Now
	if now.IsZero() {
		now = s.Now()
	}
	if o.SpaceUsage == nil {
		o.SpaceUsage = DiskUsage
	}
	b := &builder{s: s, o: o, now: now.Unix(), plan: &Plan{Now: now}, spaces: map[string]*spaceState{}}
	all := siteSpaces(s)
	want := map[string]bool{}
	for _, n := range o.Spaces {
		found := false
		for _, sp := range all {
			found = found || sp.Name == n
		}
		if !found {
			return nil, &site.ErrNoSpace{Name: n}
		}
		want[n] = true
	}
	roots, err := Roots(s, o.Paths)
	if err != nil {
		return nil, err
	}
	b.plan.Roots = roots
	for _, e := range s.Config().Exports {
		if e.Purge {
			continue
		}
		for _, r := range roots {
			if p := strings.TrimRight(e.Path, "/"); p != "" && p != r && under(p, r) {
				b.checkExport = true
			}
		}
	}

	used := map[string]int64{}
	tracked := false
	if up := s.UsagePath(); up != "" {
		if es, err := usage.Read(up); err == nil || errors.Is(err, usage.ErrMissing) {
			tracked = true
			for _, e := range es {
				used[e.Name] = e.Effective()
			}
		} else {
			b.fail(fmt.Errorf("usage log: %w", err))
		}
	}

	b.plan.Spaces = make([]SpacePlan, 0, len(all))
	for _, sp := range all {
		if len(want) > 0 && !want[sp.Name] {
			continue
		}
		b.plan.Spaces = append(b.plan.Spaces, b.spacePlan(sp, used[sp.Name], tracked))
	}
	need := false
	for i := range b.plan.Spaces {
		p := &b.plan.Spaces[i]
		st := &spaceState{plan: p, heap: boundedHeap{need: p.Needed}}
		b.spaces[p.Space] = st
		if p.Space == space.Public {
			b.public = st
		}
		need = need || p.Needed > 0
	}
	if o.Lazy && !need {
		b.plan.Skipped = true
		return b.plan, nil
	}

	wo := catalog.WalkOptions{
		Want:       catalog.WantStat | catalog.WantLink | catalog.WantCopy | catalog.WantPin,
		Recursive:  true,
		Workers:    o.Workers,
		OnOldStyle: o.OnOldStyle,
		OnError: func(pfn string, err error) {
			b.fail(&site.OpError{Action: "scan", Name: pfn, Err: err})
		},
	}
	var scanned atomic.Int64
	wo.Scanned = &scanned
	if o.Scanned != nil {
		wo.Scanned = o.Scanned
	}
	explicit := len(o.Paths) > 0
	for _, r := range roots {
		err := s.Catalog.Walk(ctx, r, wo, b.entry)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if !explicit && errors.Is(err, catalog.ErrNotExist) {
				continue // an export with nothing in it yet
			}
			b.fail(&site.OpError{Action: "scan", Name: s.PFN(r), Err: err})
		}
	}
	b.plan.Scanned = wo.Scanned.Load()

	for i := range b.plan.Spaces {
		p := &b.plan.Spaces[i]
		st := b.spaces[p.Space]
		p.Candidates = st.heap.sorted()
		for _, c := range p.Candidates {
			p.CandidateBytes += c.Size
			if o.OnCandidate != nil {
				o.OnCandidate(c)
			}
		}
	}
	return b.plan, nil
}

func (b *builder) fail(err error) {
	b.plan.addErr(err)
	if b.o.OnError != nil {
		b.o.OnError(err)
	}
}

// spacePlan works out a space's policy, figures and needs.
func (b *builder) spacePlan(sp space.Space, used int64, tracked bool) SpacePlan {
	pol := b.s.Config().PolicyFor(sp.Name)
	p := SpacePlan{Space: sp.Name, Policy: pol, Counts: map[Reason]int{}, Used: used, UsedKnown: tracked, keepDeferred: b.o.KeepDeferred}
	p.Enabled = (b.o.Override != nil || !pol.NoPurge) && (b.o.HoldOverride != nil || !pol.HoldForever)
	p.overridden = b.o.Override != nil || b.o.HoldOverride != nil
	p.Hold = pol.Hold.Std()
	if b.o.HoldOverride != nil {
		p.Hold = *b.o.HoldOverride
	}
	total, free, err := b.o.SpaceUsage(sp)
	if err != nil {
		p.Err = err
		p.Enabled = false
		b.fail(err)
		return p
	}
	p.Total, p.Free = total, free
	switch {
	case b.o.Override != nil:
		p.Min = b.o.Override.Of(total)
		p.Max = p.Min
	case !pol.NoPurge:
		if w, err := ParseWatermark(pol.Min); err == nil {
			p.Min = w.Of(total)
		}
		if w, err := ParseWatermark(pol.Max); err == nil {
			p.Max = w.Of(total)
		}
	}
	if p.Enabled && p.Free < p.Min && p.Max > p.Free {
		p.Needed = p.Max - p.Free
	}
	return p
}

// entry handles one scanned namespace entry.
func (b *builder) entry(e *catalog.Entry) error {
	if e.Type != catalog.File {
		return nil
	}
	if b.checkExport {
		if x, ok := b.s.Config().ExportFor(e.LFN); !ok || !x.Purge {
			return nil
		}
	}
	st, ok := b.spaces[e.Space]
	if !ok {
		if _, configured := b.s.Spaces.Get(e.Space); configured || b.public == nil {
			return nil // a space left out by Options.Spaces
		}
		// A data file of a space that is not configured counts as
		// public, as in xrootd.
		st = b.public
	}
	p := st.plan
	p.Files++
	c := Candidate{LFN: e.LFN, PFN: e.PFN, Space: p.Space, Size: e.Size, Atime: e.Atime, Mtime: e.Mtime}
	if r, until := Evaluate(b.s, e, p, b.now, b.o.KeepDeferred); r != 0 {
		b.keep(p, Kept{Candidate: c, Reason: r, Until: until})
		return nil
	}
	p.Eligible++
	p.EligibleBytes += c.Size
	st.heap.add(c, func(d Candidate) { b.keep(p, Kept{Candidate: d, Reason: NotNeeded}) })
	return nil
}

func (b *builder) keep(p *SpacePlan, k Kept) {
	p.Counts[k.Reason]++
	if b.o.KeepReasons {
		p.Kept = append(p.Kept, k)
	}
	if b.o.OnKept != nil {
		b.o.OnKept(k)
	}
}

// Evaluate decides whether the file e (loaded with at least Stat, Link,
// Copy and Pin) may be purged from space plan p at time now. It returns 0
// when the file is eligible, else the reason to keep it and, for timed
// reasons, until when. The order is xrootd's: a file without a copy time
// is screened out first, then the space's policy, then "not migrated", the
// pins (forever, keep, idle) and last the hold.
func Evaluate(s *site.Site, e *catalog.Entry, p *SpacePlan, now int64, keepDeferred bool) (Reason, int64) {
	switch {
	case e.Dangling:
		return Dangling, 0
	case e.Link != "" && !owned(s, e):
		return Foreign, 0
	case !e.HasCopy:
		return NoCopyTime, 0
	case !p.Enabled:
		return NoPurgePolicy, 0
	case e.CopyTime != 0 && e.CopyTime < e.Mtime:
		return NotMigrated, 0
	case e.CopyTime == 0 && keepDeferred:
		return Deferred, 0
	}
	if e.HasPin {
		pin := e.Pin
		switch {
		case pin.Flags&meta.PinForever != 0:
			return PinnedForever, 0
		case pin.Flags&meta.PinKeep != 0 && pin.Time > now:
			return PinnedUntil, pin.Time
		case pin.Flags&meta.PinIdle != 0 && pin.Time > now-e.Atime:
			return IdlePin, e.Atime + pin.Time
		}
	}
	if hold := int64(p.Hold / time.Second); now-e.Atime <= hold {
		return InHold, e.Atime + hold
	}
	if badChecksum(e) {
		return BadChecksum, 0
	}
	return 0, 0
}

// badChecksum reports whether e's data failed its stored checksum
// (meta.GetBadChecksum). It is asked last, so the attribute is read only
// for files that would otherwise go. A mark that cannot be read counts as
// one (an error other than the file being gone): better kept than purged
// unverified.
func badChecksum(e *catalog.Entry) bool {
	if e.HasBadChecksum {
		return true
	}
	_, ok, err := meta.GetBadChecksum(e.PFN)
	return ok || err != nil && !errors.Is(err, fs.ErrNotExist)
}

// owned reports whether the symlink e points into a configured partition,
// so removing it may remove its data file.
func owned(s *site.Site, e *catalog.Entry) bool {
	t := e.Link
	if !filepath.IsAbs(t) {
		t = filepath.Join(filepath.Dir(e.PFN), t)
	}
	_, ok := s.Spaces.Contains(filepath.Clean(t))
	return ok
}
