package purge

import (
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"frm/core/config"
	"frm/core/units"
)

// The report lines of xrootd 5.5.3's frm_purged, shared by frm admin purge
// and frm_purged (XrdReport): sites parse them in their logs.

// pctOf is v as a whole percentage of total, truncated (frm_purged).
func pctOf(v, total int64) int64 {
	if total <= 0 {
		return 0
	}
	return v * 100 / total
}

// SpaceLine is frm_purged's start-of-cycle line for sp, counting files
// files: "++++++ data used 0 (0%) free 76.4G (30%) 1 files 1 idle; 175.5G
// needed" ("nopurge" for a disabled space, which frm_purged leaves out).
func SpaceLine(sp *SpacePlan, files int) string {
	var b strings.Builder
	b.WriteString("++++++ " + sp.Space + " ")
	if sp.UsedKnown {
		fmt.Fprintf(&b, "used %s (%d%%) ", units.Bytes(sp.Used), pctOf(sp.Used, sp.Total))
	}
	fmt.Fprintf(&b, "free %s (%d%%) %d files %d idle; ", units.Bytes(sp.Free), pctOf(sp.Free, sp.Total), files, sp.Eligible)
	if !sp.Enabled {
		b.WriteString("nopurge")
	} else {
		b.WriteString(units.Bytes(sp.Needed) + " needed")
	}
	return b.String()
}

// FinalLine is frm_purged's end-of-cycle line for sp after sr:
// "++++++ public used -4000 (0%) free 76.4G (30%) 9 files 4 prgd; 3.9K
// freed 175.5G deficit" ("need met" when the maximum was reached).
func FinalLine(sp *SpacePlan, sr SpaceResult, files int) string {
	var b strings.Builder
	b.WriteString("++++++ " + sp.Space + " ")
	if sp.UsedKnown {
		u := sp.Used - sr.Bytes
		fmt.Fprintf(&b, "used %s (%d%%) ", units.Bytes(u), pctOf(u, sp.Total))
	}
	fmt.Fprintf(&b, "free %s (%d%%) %d files %d prgd; %s freed ", units.Bytes(sr.Free), pctOf(sr.Free, sp.Total), files, sr.Files, units.Bytes(sr.Bytes))
	if d := sr.Max - sr.Free; d > 0 {
		b.WriteString(units.Bytes(d) + " deficit")
	} else {
		b.WriteString("need met")
	}
	return b.String()
}

// FileLine is frm_purged's per-file line: what ("Zorch  " or "Purged "),
// space, size 8 wide, access time (local, YYMMDD HH:MM:SS), pfn.
func FileLine(what string, c Candidate, loc *time.Location) string {
	return fmt.Sprintf("%s%s %8s %s %s", what, c.Space, units.Bytes(c.Size), time.Unix(c.Atime, 0).In(loc).Format("060102 15:04:05"), c.PFN)
}

// XrdFiles is the number of files frm_purged counts for the space: those
// its scan attributed a copy time to (files without one, dangling links
// included, are screened out and counted as errors).
func (sp *SpacePlan) XrdFiles() int {
	return sp.Files - sp.Counts[NoCopyTime] - sp.Counts[Dangling]
}

// XrdReport writes a purge cycle's report as xrootd 5.5.3's frm_purged
// does: messages "YYMMDD HH:MM:SS <pid> purge_<Fn>: text", the "++++++"
// lines per space and, with Verbose, a "Zorch  " (Test) or "Purged " line
// per file. Its methods may be called from several goroutines.
type XrdReport struct {
	W       io.Writer
	Verbose bool
	Test    bool
	Loc     *time.Location // nil: time.Local
	Pid     int            // 0: os.Getpid()
	// Order is the order of the spaces in the report (XrdSpaceOrder);
	// spaces it does not name follow in the plan's order.
	Order []string

	mu       sync.Mutex
	deferred []string // lines held back by Defer
	holding  bool
	// per space, from the scan: the access times of pinned files and the
	// number of files kept in the hold (frm_purged counts them its way).
	pinned map[string][]int64
	inHold map[string]int
}

// Defer holds the lines back until Flush (so that the configuration,
// known only after the scan, comes first as in frm_purged's output).
func (r *XrdReport) Defer() {
	r.mu.Lock()
	r.holding = true
	r.mu.Unlock()
}

// Flush writes the lines held back since Defer.
func (r *XrdReport) Flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.holding = false
	for _, l := range r.deferred {
		io.WriteString(r.W, l)
	}
	r.deferred = nil
}

func (r *XrdReport) loc() *time.Location {
	if r.Loc != nil {
		return r.Loc
	}
	return time.Local
}

func (r *XrdReport) line(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.holding {
		r.deferred = append(r.deferred, s+"\n")
		return
	}
	io.WriteString(r.W, s+"\n")
}

// Say writes a message of function fn ("Scan", "Purge", "Screen",
// "Complain") with frm_purged's prefix.
func (r *XrdReport) Say(fn, msg string) {
	pid := r.Pid
	if pid == 0 {
		pid = os.Getpid()
	}
	r.line(fmt.Sprintf("%s %d purge_%s: %s", time.Now().In(r.loc()).Format("060102 15:04:05"), pid, fn, msg))
}

// BuildHooks returns o with the report's scan hooks set: old-style
// directories and (with Verbose) files without a copy time are reported,
// and the "Name space ... scan started" line is written (Verbose).
func (r *XrdReport) BuildHooks(o Options) Options {
	if r.Verbose {
		r.Say("Scan", "Name space and empty directory scan started. . .")
	}
	r.mu.Lock()
	r.pinned, r.inHold = map[string][]int64{}, map[string]int{}
	r.mu.Unlock()
	onKept := o.OnKept
	o.OnKept = func(k Kept) {
		if k.Reason == NoCopyTime || k.Reason == Dangling {
			r.Say("Screen", "no copy time xattr for "+k.PFN)
		}
		r.mu.Lock()
		switch k.Reason {
		case PinnedForever, PinnedUntil, IdlePin:
			r.pinned[k.Space] = append(r.pinned[k.Space], k.Atime)
		case InHold:
			r.inHold[k.Space]++
		}
		r.mu.Unlock()
		if onKept != nil {
			onKept(k)
		}
	}
	o.OnOldStyle = func(dir string) {
		r.Say("Complain", "Found old-style files in directory "+strings.TrimSuffix(dir, "/")+"/")
		r.Say("Complain", "In new run mode, migrate & purge will skip them.")
	}
	onErr := o.OnError
	o.OnError = func(err error) {
		r.Say("Scan", err.Error())
		if onErr != nil {
			onErr(err)
		}
	}
	return o
}

// Scanned writes the end-of-scan lines (Verbose) and the cycle's start:
// "Purge cycle skipped; all policies met." when the plan was skipped,
// else "Purge cycle started." and a line per enabled space.
func (r *XrdReport) Scanned(p *Plan) {
	if p.Skipped {
		r.Say("Purge", "Purge cycle skipped; all policies met.")
		return
	}
	if r.Verbose {
		files, errs := 0, p.ErrorCount
		for i := range p.Spaces {
			sp := &p.Spaces[i]
			files += sp.Files
			errs += sp.Counts[NoCopyTime] + sp.Counts[Dangling]
		}
		r.Say("Scan", fmt.Sprintf("Name space scan ended; %d files with %s", files, plural(errs, "error", "errors")))
	}
	r.Say("Purge", "Purge cycle started.")
	for _, sp := range r.spaces(p) {
		if sp.Err == nil && sp.Enabled {
			// frm_purged counts a pinned file idle when its access is
			// older than the hold (it looks at pins only when purging).
			idle, _ := r.pinnedSplit(p, sp)
			x := *sp
			x.Eligible += idle
			r.line(SpaceLine(&x, sp.XrdFiles()) + " ") // sic: frm_purged ends it with a blank
		}
	}
}

// pinnedSplit counts the pinned files of sp accessed before its hold
// (idle) and within it (held).
func (r *XrdReport) pinnedSplit(p *Plan, sp *SpacePlan) (idle, held int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cut := p.Now.Add(-sp.Hold).Unix()
	for _, at := range r.pinned[sp.Space] {
		if at < cut {
			idle++
		} else {
			held++
		}
	}
	return idle, held
}

// File writes the line of a file purged (or, Test, that would be).
func (r *XrdReport) File(c Candidate) {
	if !r.Verbose {
		return
	}
	what := "Purged "
	if r.Test {
		what = "Zorch  "
	}
	r.line(FileLine(what, c, r.loc()))
}

// Ended writes the end-of-cycle lines: per enabled space its result (in a
// test run, what the candidates would have freed), then the empty
// directories (dirs found, removed) and "Purge cycle ended.".
func (r *XrdReport) Ended(p *Plan, res Result, dirsFound, dirsRemoved int) {
	for _, sp := range r.spaces(p) {
		if sp.Err != nil || !sp.Enabled {
			continue
		}
		sr := SpaceResult{Space: sp.Space, Free: sp.Free, Max: sp.Max}
		for _, x := range res.Spaces {
			if x.Space == sp.Space {
				sr = x
			}
		}
		// frm_purged's end-of-cycle count takes the files in the hold
		// (pinned or not) twice.
		_, held := r.pinnedSplit(p, sp)
		r.mu.Lock()
		held += r.inHold[sp.Space]
		r.mu.Unlock()
		r.line(FinalLine(sp, sr, sp.XrdFiles()+held))
	}
	if r.Verbose {
		r.Say("Scan", fmt.Sprintf("Empty directory space scan ended; %d of %d empty dirs removed", dirsRemoved, dirsFound))
	}
	r.Say("Purge", "Purge cycle ended.")
}

// TestResult is the Result a test run reports: every candidate counted as
// purged (frm_purged -T counts them so; free space is its figure from the
// plan).
func TestResult(p *Plan) Result {
	var res Result
	for i := range p.Spaces {
		sp := &p.Spaces[i]
		if sp.Err != nil || !sp.Enabled {
			continue
		}
		sr := SpaceResult{Space: sp.Space, Free: sp.Free, Max: sp.Max, Files: len(sp.Candidates), Bytes: sp.CandidateBytes}
		res.Spaces = append(res.Spaces, sr)
		res.Files += sr.Files
		res.Bytes += sr.Bytes
	}
	return res
}

// Config writes frm_purged -v's configuration lines ("=====> ..."), past
// any lines held back: the directories scanned (pfns, sorted), the
// directory hold and each space's policy.
func (r *XrdReport) Config(p *Plan, pfn func(string) string, dirHold time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.W
	fmt.Fprintln(w, "=====> Purge configuration:")
	roots := append([]string(nil), p.Roots...)
	sort.Strings(roots)
	for _, r := range roots {
		fmt.Fprintln(w, "=====> Scanning r/w: "+pfn(r))
	}
	fmt.Fprintf(w, "=====> Directory hold: %d\n", int64(dirHold/time.Second))
	for _, sp := range r.spaces(p) {
		if !sp.Enabled {
			fmt.Fprintf(w, "=====> policy %s nopurge\n", sp.Space)
			continue
		}
		fmt.Fprintf(w, "=====> policy %s min %s max %s free; hold: %d\n", sp.Space, units.Bytes(sp.Min), units.Bytes(sp.Max), int64(sp.Hold/time.Second))
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// spaces returns the plan's spaces in the report's order.
func (r *XrdReport) spaces(p *Plan) []*SpacePlan {
	out := make([]*SpacePlan, 0, len(p.Spaces))
	taken := make([]bool, len(p.Spaces))
	for _, name := range r.Order {
		for i := range p.Spaces {
			if !taken[i] && p.Spaces[i].Space == name {
				out, taken[i] = append(out, &p.Spaces[i]), true
			}
		}
	}
	for i := range p.Spaces {
		if !taken[i] {
			out = append(out, &p.Spaces[i])
		}
	}
	return out
}

// XrdSpaceOrder is the order xrootd 5.5.3's frm_purged takes the spaces of
// cfg in (its report and its -v configuration), observed to be
// independent of the order of the oss.space lines: the spaces without a
// frm.purge.policy line of their own, public aside, in configuration
// order; then public, unless it has its own line; then the spaces with
// their own lines, in the order of those lines.
func XrdSpaceOrder(cfg *config.Config) []string {
	own := map[string]bool{}
	var explicit []string
	for _, pol := range cfg.Purge.Policies {
		if pol.Space != "*" && !own[pol.Space] {
			own[pol.Space] = true
			explicit = append(explicit, pol.Space)
		}
	}
	var out []string
	for _, sp := range cfg.Spaces {
		if sp.Name != "public" && !own[sp.Name] && !slices.Contains(out, sp.Name) {
			out = append(out, sp.Name)
		}
	}
	if !own["public"] {
		out = append(out, "public")
	}
	return append(out, explicit...)
}
