package site

import (
	"context"
	"errors"
	"io/fs"
	"sync"
	"sync/atomic"

	"frm/core/catalog"
	"frm/core/meta"
)

// ScrubOptions controls Scrub.
type ScrubOptions struct {
	// Alg restricts the check to one algorithm; "" checks every algorithm
	// with a current record.
	Alg string
	// Rate bounds the reading, in bytes a second, over all workers (token
	// bucket); 0 reads as fast as the disk gives.
	Rate int64
	// Workers is the number of files read at once (0 or 1: one). One
	// sequential reader keeps a disk streaming; more help only when the
	// hashing, not the disk, is the bottleneck (bench/scrub).
	Workers int
	// Cached checks the data as the page cache has it and leaves the
	// cache as the reads leave it. By default a scrub reads what the
	// device holds (the file's clean cached pages dropped first) and drops
	// what it read (it must not push the server's working set out of the
	// cache); see checkOptions.Device. bench/scrub compares both.
	Cached bool
	// Counters, when not nil, are added to as the scrub goes: progress
	// lines and the daemon's metrics read them.
	Counters *ScrubCounters
	// OnError receives what could not be checked (a directory or file that
	// cannot be read, a name leading outside the site); the scrub goes on.
	OnError func(error)
}

// ScrubCounters count what scrubs did. They only grow; safe for
// concurrent use.
type ScrubCounters struct {
	Entries    atomic.Int64 // namespace entries looked at
	Files      atomic.Int64 // files whose data was read and checked
	Bytes      atomic.Int64 // bytes read
	Mismatches atomic.Int64 // files whose data differed from a current record
	Marked     atomic.Int64 // of them, marked bad by the scrub (not before)
}

// ScrubResult is one file whose data was checked.
type ScrubResult struct {
	LFN, PFN string
	Size     int64
	// Alg is the algorithm reported: the first whose record the data
	// failed, else the first checked.
	Alg              string
	Stored, Computed meta.Checksum
	Match            bool
	// Bad is the file's bad-checksum mark after the check (nil: none);
	// Marked says this check set it.
	Bad    *meta.BadChecksum
	Marked bool
}

// ScrubSummary counts what one Scrub did.
type ScrubSummary struct {
	Files, Bytes int64 // checked: data read and compared with its records
	Mismatches   int   // files whose data differs from a current record
	Marked       int   // of them, marked bad now (the others already were)
	Bad          int   // files carrying a bad-checksum mark at the end
	Stale        int   // skipped: every record older than the file (mtime changed)
	NoChecksum   int   // skipped: no record at all
	Changed      int   // skipped: modified while read
	Errors       int
}

// Scrub re-reads, below each directory (recursively), every file that has
// a current stored checksum, and compares the data with it (checkData: a
// mismatch marks the file bad, under the residency lock). Files whose
// records are stale are skipped, not reported: their mtime changed, so the
// record is out of date, not the data wrong. fn is called for every file
// checked, from one goroutine at a time.
//
// The files themselves are walked whatever the catalog: the data, the
// records a scrub compares with and the mark are this host's.
func (s *Site) Scrub(ctx context.Context, dirs []string, o ScrubOptions, fn func(ScrubResult)) (ScrubSummary, error) {
	var sum ScrubSummary
	cnt := o.Counters
	if cnt == nil {
		cnt = new(ScrubCounters)
	}
	var mu sync.Mutex // guards sum and calls of fn and OnError
	fail := func(err error) {
		sum.Errors++
		if o.OnError != nil {
			o.OnError(err)
		}
	}
	lim := newLimiter(o.Rate)
	var algs []string
	if o.Alg != "" {
		algs = []string{o.Alg}
	}
	check := func(lfn, pfn string) {
		dc, err := checkData(ctx, pfn, s.Roots(), checkOptions{Algs: algs, Limit: lim, Bytes: &cnt.Bytes, Mark: true, Now: s.Now, Device: !o.Cached})
		mu.Lock()
		defer mu.Unlock()
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, ErrChangedWhileRead):
			sum.Changed++
			return
		case errors.Is(err, fs.ErrNotExist):
			return // removed since the walk saw it (a purge, an rm)
		case err != nil:
			fail(opErr("verify checksums of", pfn, err))
			return
		case len(dc.Computed) == 0 || allNil(dc.Stored):
			sum.Stale++ // rewritten since the walk saw it
			return
		}
		cnt.Files.Add(1)
		sum.Files++
		sum.Bytes += dc.Size
		r := ScrubResult{LFN: lfn, PFN: pfn, Size: dc.Size, Match: dc.Mismatch < 0, Bad: dc.Bad, Marked: dc.Marked}
		i := max(dc.Mismatch, 0)
		r.Alg, r.Computed = dc.Computed[i].Alg, dc.Computed[i]
		if st := dc.Stored[i]; st != nil {
			r.Stored = *st
		}
		if !r.Match {
			sum.Mismatches++
			cnt.Mismatches.Add(1)
		}
		if r.Marked {
			sum.Marked++
			sum.Bad++
			cnt.Marked.Add(1)
		}
		if fn != nil {
			fn(r)
		}
	}

	type job struct{ lfn, pfn string }
	var jobs chan job
	var wg sync.WaitGroup
	if o.Workers > 1 {
		jobs = make(chan job)
		for range o.Workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range jobs {
					check(j.lfn, j.pfn)
				}
			}()
		}
	}
	visit := func(e *catalog.Entry) error {
		if e.Type != catalog.File || e.Dangling {
			return nil
		}
		if e.HasBadChecksum {
			mu.Lock()
			sum.Bad++
			mu.Unlock()
		}
		current, any := false, false
		for _, c := range e.Checksums {
			if o.Alg == "" || c.Alg == o.Alg {
				any = true
				current = current || c.MTime == e.Mtime
			}
		}
		if !current {
			mu.Lock()
			if any {
				sum.Stale++
			} else {
				sum.NoChecksum++
			}
			mu.Unlock()
			return nil
		}
		if jobs == nil {
			check(e.LFN, e.PFN)
			return ctx.Err()
		}
		select {
		case jobs <- job{e.LFN, e.PFN}:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var walkErr error
	for _, d := range dirs {
		lfn, err := s.Clean(d)
		if err != nil {
			mu.Lock()
			fail(err)
			mu.Unlock()
			continue
		}
		err = s.fs.Walk(ctx, lfn, catalog.WalkOptions{
			Want:      catalog.WantStat | catalog.WantChecksums | catalog.WantBadChecksum,
			Recursive: true,
			Scanned:   &cnt.Entries,
			OnError: func(pfn string, err error) {
				mu.Lock()
				fail(dirErr(pfn, err))
				mu.Unlock()
			},
		}, visit)
		if err != nil {
			if ctx.Err() != nil {
				walkErr = ctx.Err()
				break
			}
			mu.Lock()
			fail(dirErr(s.PFN(lfn), err))
			mu.Unlock()
		}
	}
	if jobs != nil {
		close(jobs)
		wg.Wait()
	}
	if walkErr == nil {
		walkErr = ctx.Err()
	}
	return sum, walkErr
}

func allNil(cs []*meta.Checksum) bool {
	for _, c := range cs {
		if c != nil {
			return false
		}
	}
	return true
}
