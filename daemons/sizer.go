package daemons

import (
	"context"
	"sync"
	"time"

	"frm/core/mss"
)

// A class with a max_size rule needs the size of a stage's MSS copy, which
// the queue record does not carry. The sizer asks the MSS, a batch at a
// time and a few at once, outside the daemon's lock, in the order the
// requests were read; until then such a request waits (it still rides
// along with a running transfer of its file). A size the MSS cannot tell
// (a copy command without a local view, a missing file) makes the size
// rules not match: the request goes by the other rules.

// Sizer limits: requests per batch, MSS questions at once, and how long
// one may take.
const (
	sizeBatch    = 256
	sizeParallel = 8
	sizeTimeout  = 30 * time.Second
)

// sizeUnsized starts the sizer when requests wait for their size and it
// is not running.
func (t *Transfer) sizeUnsized(ctx context.Context) {
	t.mu.Lock()
	if t.sizing || len(t.index.unsized) == 0 || time.Now().Before(t.sizeHoldUntil) {
		t.mu.Unlock()
		return
	}
	t.sizing = true
	t.mu.Unlock()
	go func() {
		defer func() {
			t.mu.Lock()
			t.sizing = false
			more := len(t.index.unsized) > 0 && !time.Now().Before(t.sizeHoldUntil)
			t.mu.Unlock()
			if more && ctx.Err() == nil {
				t.Wake()
			}
		}()
		for ctx.Err() == nil {
			t.mu.Lock()
			batch := t.index.takeUnsized(sizeBatch)
			t.mu.Unlock()
			if len(batch) == 0 {
				return
			}
			lfns := make([]string, len(batch))
			for i, e := range batch {
				lfns[i] = e.job.LFN
			}
			sizes := t.mssSizes(ctx, lfns)
			t.mu.Lock()
			again := t.index.sizedBatch(batch, sizes)
			if again {
				t.sizeHoldUntil = time.Now().Add(sizeHold)
				time.AfterFunc(sizeHold, t.Wake)
			}
			t.mu.Unlock()
			t.Wake()
			if again {
				return
			}
		}
	}()
}

// sizeAgain is the size of a request the MSS could not be asked about (it
// is unavailable): it is asked again later, not classified as unknown.
const sizeAgain = -2

// sizeHold is how long the sizer waits after the MSS was unavailable.
const sizeHold = 10 * time.Second

// mssSizes asks the MSS the size of each file (-1: unknown;
// sizeAgain: ask again later).
func (t *Transfer) mssSizes(ctx context.Context, lfns []string) []int64 {
	sizes := make([]int64, len(lfns))
	sem := make(chan struct{}, sizeParallel)
	var wg sync.WaitGroup
	for i, lfn := range lfns {
		sizes[i] = -1
		rfn, err := t.Engine.Site.Names.RFN(lfn)
		if err != nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			sctx, cancel := context.WithTimeout(ctx, sizeTimeout)
			defer cancel()
			switch info, err := t.Engine.MSS.Stat(sctx, rfn); {
			case err == nil:
				sizes[i] = info.Size
			case mss.IsOutage(err) || ctx.Err() != nil:
				sizes[i] = sizeAgain
			}
		}()
	}
	wg.Wait()
	return sizes
}
