package site

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"frm/core/guard"
	"frm/core/meta"
	"frm/core/retry"
)

// ErrChangedWhileRead is wrapped by the error for a file whose mtime or
// size changed while its data was read: the checksum computed belongs to
// no version of the file, so nothing is concluded (and nothing stored).
var ErrChangedWhileRead = errors.New("the file changed while it was read")

// dataCheck is what checkData found for one file.
type dataCheck struct {
	// MTime and Size are the file's when it was opened.
	MTime, Size int64
	// Stored[i] is the record of algs[i] that was current when the file
	// was opened, or nil.
	Stored []*meta.Checksum
	// Computed[i] is the checksum of algs[i] over the data read.
	Computed []meta.Checksum
	// Mismatch is the first algorithm whose data differs from its current
	// record (-1: none).
	Mismatch int
	// Bad is the bad-checksum mark on the file after the check (nil:
	// none); Marked says the check set it.
	Bad    *meta.BadChecksum
	Marked bool
}

// readBufSize is the size of one read. Large reads keep the disk
// streaming and the system call count low (bench/scrub).
const readBufSize = 4 << 20

var dataBufPool = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

// checkOptions controls checkData.
type checkOptions struct {
	// Algs are the algorithms to compute; nil means every algorithm with a
	// record current when the file is opened (none: nothing is read).
	Algs []string
	// Limit, when not nil, paces the reads.
	Limit *limiter
	// Bytes, when not nil, counts the bytes read as they are read.
	Bytes *atomic.Int64
	// Mark sets the bad-checksum mark when the data differs from a
	// current record.
	Mark bool
	// Now stamps a new mark.
	Now func() time.Time
	// Device reads what the device holds and leaves nothing behind: the
	// file's clean pages are dropped from the page cache before it is read
	// (else a check would see the cached copy, not the disk's) and each
	// chunk once hashed (else a scrub would push the server's working set
	// out of the cache). Reads still go through the cache, so the kernel's
	// read-ahead keeps the disk streaming: direct I/O (O_DIRECT) has none,
	// and was slower (bench/scrub). Pages mapped or dirty stay cached.
	Device bool
}

// checkData reads the data behind the namespace entry ns once, through
// the guard (an entry leading outside the site is refused before a byte
// is read), and computes the checksums asked for. The records compared
// with are read from the open file itself, so they belong to the data
// read. When the data differs from a current record and o.Mark is set,
// the file is marked bad on that same descriptor under the residency lock,
// and only if it still has its name and the same mtime and size: a mark
// never lands on a file removed, replaced or rewritten meanwhile. A file
// whose mtime or size changes during the read gives ErrChangedWhileRead.
func checkData(ctx context.Context, ns string, roots *guard.Roots, o checkOptions) (dataCheck, error) {
	dc := dataCheck{Mismatch: -1}
	f, err := guard.Open(ns, roots)
	if err != nil {
		return dc, err
	}
	defer f.Close()
	st0, err := f.Stat()
	if err != nil {
		return dc, err
	}
	dc.MTime, dc.Size = st0.Mtim.Sec, st0.Size
	algs := o.Algs
	if algs == nil {
		recs, err := meta.ListChecksums(f.Path())
		if err != nil {
			return dc, err
		}
		for i := range recs {
			if recs[i].MTime == dc.MTime {
				algs = append(algs, recs[i].Alg)
				dc.Stored = append(dc.Stored, &recs[i])
			}
		}
		if len(algs) == 0 {
			return dc, nil
		}
	} else {
		for _, alg := range algs {
			c, ok, err := meta.GetChecksum(f.Path(), alg)
			if err != nil && !errors.Is(err, meta.ErrBadValue) {
				return dc, err
			}
			if ok && c.MTime == dc.MTime {
				dc.Stored = append(dc.Stored, &c)
			} else {
				dc.Stored = append(dc.Stored, nil) // none, stale or unreadable: nothing to hold the data to
			}
		}
	}
	hs := make([]hash.Hash, len(algs))
	for i, alg := range algs {
		if hs[i], err = meta.NewHash(alg); err != nil {
			return dc, err
		}
	}
	if err := readAll(ctx, f.Fd(), hs, o.Limit, o.Bytes, o.Device); err != nil {
		return dc, fmt.Errorf("read %s: %w", ns, err)
	}
	st1, err := f.Stat()
	if err != nil {
		return dc, err
	}
	if !sameData(st0, st1) {
		return dc, fmt.Errorf("%s: %w", ns, ErrChangedWhileRead)
	}
	delta := max(min(time.Now().Unix()-dc.MTime, math.MaxInt32), math.MinInt32)
	for i, alg := range algs {
		c := meta.Checksum{Alg: alg, Value: hs[i].Sum(nil), MTime: dc.MTime, Delta: int32(delta)}
		dc.Computed = append(dc.Computed, c)
		if s := dc.Stored[i]; s != nil && !bytes.Equal(s.Value, c.Value) && dc.Mismatch < 0 {
			dc.Mismatch = i
		}
	}
	if m, ok, _ := meta.GetBadChecksum(f.Path()); ok {
		dc.Bad = &m
	}
	if dc.Mismatch < 0 || !o.Mark || dc.Bad != nil {
		return dc, nil // an earlier mark is kept: it holds the first evidence
	}
	if err := f.Lock(ctx); err != nil {
		return dc, err
	}
	if err := f.Linked(); err != nil {
		return dc, err
	}
	st2, err := f.Stat()
	if err != nil {
		return dc, err
	}
	if !sameData(st0, st2) {
		return dc, fmt.Errorf("%s: %w", ns, ErrChangedWhileRead)
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	i := dc.Mismatch
	m := meta.BadChecksum{Alg: algs[i], Found: now().Unix(), MTime: dc.MTime, Stored: dc.Stored[i].Value, Computed: dc.Computed[i].Value}
	if err := meta.SetBadChecksum(f.Path(), m); err != nil {
		return dc, fmt.Errorf("mark %s bad: %w", ns, err)
	}
	dc.Bad, dc.Marked = &m, true
	return dc, nil
}

// sameData reports whether two stats of one file show the same data
// version: mtime (to the nanosecond) and size. ctime is left out, since
// attribute changes (a pin, a copy time) move it without touching data.
func sameData(a, b unix.Stat_t) bool {
	return a.Mtim == b.Mtim && a.Size == b.Size
}

// readAll reads the file open on fd from its start to its end and feeds
// every hash. The kernel is told the reads are sequential (a larger
// read-ahead keeps the disk busy while the data is hashed). A file larger
// than one read is read by a goroutine of its own while this one hashes
// what it read before: the copy out of the page cache and the hash run on
// two cores instead of one after the other (bench/scrub). device: see
// checkOptions.Device.
func readAll(ctx context.Context, fd int, hs []hash.Hash, lim *limiter, n *atomic.Int64, device bool) error {
	if device {
		unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED)
	}
	unix.Fadvise(fd, 0, 0, unix.FADV_SEQUENTIAL)
	size := lim.readSize()
	drop := func(off int64, k int) {
		if device && k > 0 {
			unix.Fadvise(fd, off, int64(k), unix.FADV_DONTNEED)
		}
	}
	bp := dataBufPool.Get().(*[]byte)
	k, err := preadFull(fd, (*bp)[:size], 0)
	if err != nil || k < size {
		// The whole file in one read (or an error): nothing to overlap.
		if err == nil {
			err = consume(ctx, (*bp)[:k], hs, lim, n)
			drop(0, k)
		}
		dataBufPool.Put(bp)
		return err
	}
	type chunk struct {
		buf *[]byte
		n   int
		err error
	}
	full := make(chan chunk, pipeDepth)
	free := make(chan *[]byte, pipeDepth)
	for range pipeDepth - 1 {
		free <- dataBufPool.Get().(*[]byte)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(full)
		off := int64(k)
		for {
			var b *[]byte
			select {
			case b = <-free:
			case <-stop:
				return
			}
			m, err := preadFull(fd, (*b)[:size], off)
			off += int64(m)
			select {
			case full <- chunk{b, m, err}:
			case <-stop:
				dataBufPool.Put(b)
				return
			}
			if err != nil || m < size {
				return
			}
		}
	}()
	defer func() {
		close(stop)
		<-done // the reader is out before fd can be closed
		for c := range full {
			dataBufPool.Put(c.buf)
		}
		for len(free) > 0 {
			dataBufPool.Put(<-free)
		}
	}()
	c := chunk{bp, k, nil}
	var off int64
	for {
		if err := consume(ctx, (*c.buf)[:c.n], hs, lim, n); err != nil {
			dataBufPool.Put(c.buf)
			return err
		}
		drop(off, c.n)
		off += int64(c.n)
		free <- c.buf
		var ok bool
		if c, ok = <-full; !ok {
			return nil
		}
		if c.err != nil {
			dataBufPool.Put(c.buf)
			return c.err
		}
	}
}

// pipeDepth is the number of buffers a file's reader and its hasher share:
// one being hashed, one being read, one ready.
const pipeDepth = 3

// preadFull fills buf from off, short only at the end of the file.
func preadFull(fd int, buf []byte, off int64) (int, error) {
	n := 0
	for n < len(buf) {
		k, err := unix.Pread(fd, buf[n:], off+int64(n))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		if k == 0 {
			break
		}
		n += k
	}
	return n, nil
}

// consume feeds b to every hash, counts it and pays the limiter for it:
// after the read, for what was read, so a small file costs its size and
// not a whole buffer.
func consume(ctx context.Context, b []byte, hs []hash.Hash, lim *limiter, n *atomic.Int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, h := range hs {
		h.Write(b)
	}
	if n != nil {
		n.Add(int64(len(b)))
	}
	return lim.wait(ctx, len(b))
}

// limiter is a token bucket over bytes: reads wait so that, over any
// stretch longer than the burst, no more than rate bytes a second are
// read. A nil limiter does not limit. It is safe for concurrent use.
type limiter struct {
	rate  float64 // bytes per second
	burst float64
	size  int // bytes per read: a tenth of a second's worth

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

// newLimiter returns a limiter of rate bytes a second, or nil for rate
// <= 0 (unlimited). Reads are then a tenth of a second's worth (from 64
// KiB to a whole buffer) and so is the burst: the reading stays smooth at
// low rates, and a cancelled scrub stops within a tenth of a second.
func newLimiter(rate int64) *limiter {
	if rate <= 0 {
		return nil
	}
	size := min(max(int(rate/10), 64<<10), readBufSize)
	b := float64(size)
	return &limiter{rate: float64(rate), burst: b, size: size, tokens: b, last: time.Now()}
}

// readSize is the size of one read under l.
func (l *limiter) readSize() int {
	if l == nil {
		return readBufSize
	}
	return l.size
}

// wait takes n bytes' worth of tokens, sleeping until they are there (the
// bucket may go into debt for one read larger than the burst).
func (l *limiter) wait(ctx context.Context, n int) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	now := time.Now()
	l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	l.last = now
	l.tokens -= float64(n)
	var d time.Duration
	if l.tokens < 0 {
		d = time.Duration(-l.tokens / l.rate * float64(time.Second))
	}
	l.mu.Unlock()
	if d == 0 {
		return nil
	}
	return retry.Sleep(ctx, d)
}
