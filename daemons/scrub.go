package daemons

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"frm/core/config"
	"frm/core/control"
	"frm/core/site"
)

// Scrubber re-reads, pass after pass, every file of the exports that has
// a current stored checksum and compares the data with it (site.Scrub):
// dCache's checksum scanner for an xrootd-style site. A file whose data
// differs is marked bad (and so never purged), logged, and published as
// a "bad_checksum" event once, when the mark is set.
type Scrubber struct {
	Site    *site.Site
	Log     *slog.Logger
	OnEvent func(control.Event)
	// Counters add up every pass since the daemon started (the metrics).
	Counters site.ScrubCounters

	mu       sync.Mutex // guards the fields below
	rate     int64
	readers  int
	interval time.Duration
	last     control.ScrubPass // the last pass that ended
	running  *control.ScrubPass
	bad      int  // files marked bad: counted at start, then per pass
	badKnown bool // bad has been counted
}

// NewScrubber returns a scrubber with the site's [scrub] settings.
func NewScrubber(s *site.Site, log *slog.Logger) *Scrubber {
	sc := &Scrubber{Site: s, Log: log}
	sc.SetConfig(s.Config())
	return sc
}

// SetConfig takes new [scrub] settings (SIGHUP); a pass under way keeps
// its rate, the next one takes the new.
func (sc *Scrubber) SetConfig(cfg *config.Config) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.rate = cfg.Scrub.DaemonRate()
	sc.readers = cfg.Scrub.ReadersOrDefault()
	sc.interval = cfg.Scrub.IntervalOrDefault()
}

// Roots are the directories a pass walks: every export path, nested ones
// left out (their parent covers them).
func (sc *Scrubber) Roots() []string {
	var ps []string
	for _, x := range sc.Site.Config().Exports {
		ps = append(ps, x.Path)
	}
	sort.Strings(ps)
	var roots []string
	for _, p := range ps {
		if n := len(roots); n > 0 {
			last := roots[n-1]
			if p == last || last == "/" || strings.HasPrefix(p, last+"/") {
				continue
			}
		}
		roots = append(roots, p)
	}
	return roots
}

// Report returns the scrubber's state for a status reply.
func (sc *Scrubber) Report() control.ScrubReport {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	r := control.ScrubReport{Rate: sc.rate, Interval: sc.interval, Bad: sc.bad}
	if sc.running != nil {
		run := *sc.running
		run.Files = sc.Counters.Files.Load() - run.Files // counted from the pass's start
		run.Bytes = sc.Counters.Bytes.Load() - run.Bytes
		run.Mismatches = int(sc.Counters.Mismatches.Load()) - run.Mismatches
		run.Marked = int(sc.Counters.Marked.Load()) - run.Marked
		r.Running = &run
	}
	if !sc.last.Started.IsZero() {
		last := sc.last
		r.Last = &last
	}
	return r
}

// BadFiles is the number of files marked bad, as last counted (the
// frm_scrub_bad_files gauge), and whether it has been counted yet.
func (sc *Scrubber) BadFiles() (int, bool) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.bad, sc.badKnown
}

// Run counts the files already marked bad (a walk of the attributes, no
// data read), then runs passes until ctx ends; a pass in progress stops
// within one read.
func (sc *Scrubber) Run(ctx context.Context) error {
	roots := sc.Roots()
	if len(roots) == 0 {
		sc.Log.Warn("scrub: no exports to scrub")
		<-ctx.Done()
		return nil
	}
	n, err := sc.Site.Find(ctx, roots, site.FindOptions{What: site.FindBadChecksum, Recursive: true,
		OnError: func(err error) { sc.Log.Debug("scrub: counting marked files", "err", err) }},
		func(site.Finding) error { return nil })
	if ctx.Err() != nil {
		return nil
	}
	if err == nil {
		sc.mu.Lock()
		sc.bad, sc.badKnown = n, true
		sc.mu.Unlock()
	}
	for {
		sc.Pass(ctx, roots)
		sc.mu.Lock()
		wait := sc.interval
		sc.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// Pass scrubs roots once.
func (sc *Scrubber) Pass(ctx context.Context, roots []string) control.ScrubPass {
	sc.mu.Lock()
	rate, readers := sc.rate, sc.readers
	st := control.ScrubPass{Started: time.Now()}
	// Until the pass ends, running holds the counters at its start.
	run := control.ScrubPass{Started: st.Started, Files: sc.Counters.Files.Load(), Bytes: sc.Counters.Bytes.Load(),
		Mismatches: int(sc.Counters.Mismatches.Load()), Marked: int(sc.Counters.Marked.Load())}
	sc.running = &run
	sc.mu.Unlock()
	sc.Log.Info("scrub pass started", "roots", roots, "rate", rateText(rate))
	sum, err := sc.Site.Scrub(ctx, roots, site.ScrubOptions{Rate: rate, Workers: readers, Counters: &sc.Counters,
		OnError: func(err error) { sc.Log.Warn("scrub", "err", err) }},
		func(r site.ScrubResult) {
			if r.Match {
				return
			}
			if !r.Marked {
				sc.Log.Debug("scrub: data still differs from its checksum (marked bad before)", "lfn", r.LFN, "alg", r.Alg)
				return
			}
			detail := fmt.Sprintf("data differs from its stored %s checksum (stored %s, data %s): marked bad", r.Alg, r.Stored.Hex(), r.Computed.Hex())
			sc.Log.Warn("scrub: bad checksum", "lfn", r.LFN, "pfn", r.PFN, "alg", r.Alg, "stored", r.Stored.Hex(), "computed", r.Computed.Hex())
			sc.mu.Lock()
			sc.bad++
			sc.mu.Unlock()
			if sc.OnEvent != nil {
				sc.OnEvent(control.Event{Time: time.Now(), Type: "bad_checksum", Kind: "scrub", LFN: r.LFN, Bytes: r.Size, Err: detail})
			}
		})
	st.Ended = time.Now()
	st.Files, st.Bytes, st.Mismatches, st.Marked, st.Bad = sum.Files, sum.Bytes, sum.Mismatches, sum.Marked, sum.Bad
	st.Stale, st.NoChecksum, st.Errors = sum.Stale, sum.NoChecksum, sum.Errors
	st.Complete = err == nil
	sc.mu.Lock()
	sc.running = nil
	sc.last = st
	if st.Complete {
		sc.bad, sc.badKnown = sum.Bad, true // the walk saw every mark
	}
	sc.mu.Unlock()
	secs := st.Ended.Sub(st.Started).Seconds()
	if !st.Complete {
		sc.Log.Info("scrub pass stopped", "files", st.Files, "bytes", st.Bytes, "mismatches", st.Mismatches, "secs", secs)
		return st
	}
	sc.Log.Info("scrub pass ended", "files", st.Files, "bytes", st.Bytes, "secs", secs, "mismatches", st.Mismatches,
		"marked", st.Marked, "bad", st.Bad, "stale", st.Stale, "no_checksum", st.NoChecksum, "errors", st.Errors)
	if sc.OnEvent != nil {
		ev := control.Event{Time: st.Ended, Type: "scrub_pass", Kind: "scrub", Bytes: st.Bytes, Secs: secs}
		if st.Mismatches > 0 || st.Errors > 0 {
			ev.Err = fmt.Sprintf("%d mismatches (%d new), %d errors", st.Mismatches, st.Marked, st.Errors)
		}
		sc.OnEvent(ev)
	}
	return st
}

func rateText(r int64) string {
	if r <= 0 {
		return "unlimited"
	}
	return config.Rate(r).String()
}
