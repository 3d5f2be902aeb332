package xrdq

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// Crash safety
//
// xrootd itself writes a queue file in place and fsyncs only after the
// header. frm orders its writes so that a crash (of the process or of the
// machine: each step that later steps depend on is followed by fdatasync)
// at any point leaves a file that xrootd and frm read without harm:
//
//   - Add writes the complete new record (Next = 0) into its slot and syncs
//     it before anything points to it; only then is it linked (the old
//     tail's 4-byte Next field, or the header's First) and the header
//     (Last, Free) rewritten. A crash before the link leaves a live but
//     unchained record: invisible to Walk/Take, shown by List and
//     re-queued by Compact (xrootd's daemon start-up does the same), or
//     simply overwritten by the next Add when the slot was the free head
//     (the add was never acknowledged). A crash after the link but before
//     the header leaves Last one behind (and, for a reused slot, Free still
//     pointing at the now chained record); the next Add notices the stale
//     Last (its Next is not 0) and finds the real tail by walking, and never
//     reuses a free head whose LFN is set: it appends instead, so the
//     crashed request stays queued.
//     Offsets and the header are 4- and 12-byte writes inside one sector,
//     so they are never torn.
//   - Take/tombstone removal first unlinks the record (predecessor's Next or
//     header First/Last) and syncs, then zeroes it and pushes it on the free
//     chain. A crash in between leaves a live unchained record, which
//     Compact re-queues (at least once delivery); a crash while freeing
//     only leaks a zeroed slot until the next Compact.
//   - Cancel writes one NUL byte (LFN[0]) per record; each record is either
//     cancelled or not.
//   - Compact writes <file>.new completely, fsyncs it, renames it over the
//     file and fsyncs the directory; readers open the queue file only after
//     taking the lock, so they see either the old or the new file.
//
// Every mutation is done under the exclusive lock, so concurrent adders
// (goroutines, frm processes, frm_xfragent, the xrootd server) never see
// each other's intermediate states.

// Dir is a queue directory (<adminpath>/[<inst>/]frm/Queues).
type Dir struct {
	Path string
}

// Open returns the queue directory dir. It creates nothing.
func Open(dir string) *Dir { return &Dir{Path: dir} }

// Queue is one queue file <dir>/<kind>Q.<prty> with its .lock companion.
type Queue struct {
	dir  string
	kind Kind
	prty int
}

// Queue returns the queue file of kind k and priority prty (clamped to
// 0..2).
func (d *Dir) Queue(k Kind, prty int) *Queue {
	return &Queue{dir: d.Path, kind: k, prty: clampPrty(prty)}
}

func clampPrty(p int) int {
	if p < 0 {
		return 0
	}
	if p > MaxPriority {
		return MaxPriority
	}
	return p
}

// Kind returns the queue's kind.
func (q *Queue) Kind() Kind { return q.kind }

// Priority returns the queue's priority.
func (q *Queue) Priority() int { return q.prty }

// Path returns the queue file's path.
func (q *Queue) Path() string {
	return filepath.Join(q.dir, fmt.Sprintf("%sQ.%d", q.kind, q.prty))
}

// LockPath returns the path of the queue's lock file.
func (q *Queue) LockPath() string { return q.Path() + ".lock" }

// Exists reports whether any of getfQ.0, migrQ.0, pstgQ.0, putfQ.0 exists
// (frm_admin's test for "transfer queues found").
func (d *Dir) Exists() bool {
	for _, k := range ListOrder {
		if _, err := os.Stat(d.Queue(k, 0).Path()); err == nil {
			return true
		}
	}
	return false
}

// Init creates the directory (0700 when missing: callers that know the
// site's admin_group create it first) and all 12 queue files with their
// .lock files, as frm_xfragent does. A new queue file is 8192 bytes: the
// header (First 0, Last 0, Free 4096) and one zeroed record on the free
// chain; existing queue files are left alone.
func (d *Dir) Init() error {
	if err := os.MkdirAll(d.Path, 0o700); err != nil {
		return err
	}
	for _, k := range []Kind{Stage, Migrate, Get, Put} {
		for p := 0; p <= MaxPriority; p++ {
			if err := d.Queue(k, p).Init(); err != nil {
				return err
			}
		}
	}
	return nil
}

// header is slot 0 of a queue file.
type header struct{ first, last, free int32 }

// qfile is a queue file opened under its lock.
type qfile struct {
	q    *Queue
	l    *fileLock
	f    *os.File
	size int64
	hdr  header
	// fresh is set when open initialised a missing or short file.
	fresh bool
}

// open locks q and opens its file. The lock file is created if missing.
// With create (exclusive only) a missing queue file is created and a file shorter than one record is initialised as
// XrdFrcReqFile::Init does. A missing file gives an fs.ErrNotExist error.
func (q *Queue) open(exclusive, create bool) (*qfile, error) {
	if !create { // no stray .lock files next to missing queues
		if _, err := os.Stat(q.Path()); err != nil {
			return nil, err
		}
	}
	l, err := lockPath(q.LockPath(), exclusive)
	if err != nil {
		return nil, err
	}
	flags := os.O_RDONLY
	if exclusive {
		flags = os.O_RDWR
		if create {
			flags |= os.O_CREATE
		}
	}
	f, err := os.OpenFile(q.Path(), flags|unix.O_CLOEXEC, 0o644)
	if err != nil {
		l.unlock()
		return nil, err
	}
	qf := &qfile{q: q, l: l, f: f}
	if err := qf.refresh(); err != nil {
		qf.close()
		return nil, err
	}
	if create && qf.size < RecordSize {
		if err := qf.initialize(); err != nil {
			qf.close()
			return nil, err
		}
		qf.fresh = true
	}
	return qf, nil
}

func (qf *qfile) close() {
	qf.f.Close()
	qf.l.unlock()
}

func (qf *qfile) errorf(format string, a ...any) error {
	return fmt.Errorf("xrdq: %s: %s", qf.q.Path(), fmt.Sprintf(format, a...))
}

// refresh reads the file size and the header.
func (qf *qfile) refresh() error {
	st, err := qf.f.Stat()
	if err != nil {
		return err
	}
	qf.size = st.Size()
	qf.hdr = header{}
	if qf.size < hdrSize {
		return nil
	}
	var b [hdrSize]byte
	if _, err := qf.f.ReadAt(b[:], 0); err != nil {
		return err
	}
	qf.hdr = header{
		first: int32(ne.Uint32(b[hdrFirstOff:])),
		last:  int32(ne.Uint32(b[hdrLastOff:])),
		free:  int32(ne.Uint32(b[hdrFreeOff:])),
	}
	return nil
}

// initialize writes a zeroed record at 4096 and the header First=0 Last=0
// Free=4096 (the bytes in between stay zero), like xrootd.
func (qf *qfile) initialize() error {
	var zero [RecordSize]byte
	if _, err := qf.f.WriteAt(zero[:], RecordSize); err != nil {
		return err
	}
	if qf.size < RecordSize {
		qf.size = 2 * RecordSize
	}
	qf.hdr = header{free: RecordSize}
	return qf.writeHeader()
}

func (qf *qfile) writeHeader() error {
	var b [hdrSize]byte
	ne.PutUint32(b[hdrFirstOff:], uint32(qf.hdr.first))
	ne.PutUint32(b[hdrLastOff:], uint32(qf.hdr.last))
	ne.PutUint32(b[hdrFreeOff:], uint32(qf.hdr.free))
	if _, err := qf.f.WriteAt(b[:], 0); err != nil {
		return err
	}
	return qf.sync()
}

func (qf *qfile) sync() error { return unix.Fdatasync(int(qf.f.Fd())) }

// valid reports whether off is the offset of a whole record in the file.
func (qf *qfile) valid(off int32) bool {
	return off >= RecordSize && off%RecordSize == 0 && int64(off)+RecordSize <= qf.size
}

func (qf *qfile) records() int64 { return qf.size / RecordSize }

func (qf *qfile) readRecord(off int32) ([]byte, error) {
	b := make([]byte, RecordSize)
	if _, err := qf.f.ReadAt(b, int64(off)); err != nil {
		return nil, err
	}
	return b, nil
}

func (qf *qfile) readNext(off int32) (int32, error) {
	var b [4]byte
	if _, err := qf.f.ReadAt(b[:], int64(off)+offNext); err != nil {
		return 0, err
	}
	return int32(ne.Uint32(b[:])), nil
}

func (qf *qfile) writeNext(off, next int32) error {
	var b [4]byte
	ne.PutUint32(b[:], uint32(next))
	_, err := qf.f.WriteAt(b[:], int64(off)+offNext)
	return err
}

// readAll reads the whole file (whole records only, as xrootd's pread loop).
func (qf *qfile) readAll() ([]byte, error) {
	n := qf.records() * RecordSize
	b := make([]byte, n)
	if _, err := qf.f.ReadAt(b, 0); err != nil && !(errors.Is(err, io.EOF)) {
		return nil, err
	}
	return b, nil
}

// findTail walks the chain from First and returns the last record reached.
func (qf *qfile) findTail() (int32, error) {
	off, tail := qf.hdr.first, int32(0)
	for steps := qf.records(); qf.valid(off) && steps > 0; steps-- {
		tail = off
		nxt, err := qf.readNext(off)
		if err != nil {
			return 0, err
		}
		off = nxt
	}
	return tail, nil
}

// Init creates the queue file and its lock file if needed (see Dir.Init).
func (q *Queue) Init() error {
	qf, err := q.open(true, true)
	if err != nil {
		return err
	}
	qf.close()
	return nil
}

// Header returns the queue file's header (First, Last, Free).
func (q *Queue) Header() (first, last, free int32, err error) {
	qf, err := q.open(false, false)
	if err != nil {
		return 0, 0, 0, err
	}
	defer qf.close()
	return qf.hdr.first, qf.hdr.last, qf.hdr.free, nil
}

// Add queues r in the file of r.Op's kind and r.Priority (clamped 0..2);
// Added defaults to now and Instance to "anon". See Queue.Add.
func (d *Dir) Add(r Request) error {
	k, ok := KindForOp(r.Op)
	if !ok {
		return fmt.Errorf("xrdq: invalid request operation %q", r.Op)
	}
	return d.Queue(k, int(r.Priority)).Add(r)
}

// Add queues r in q (creating the file if needed; the directory must
// exist). The slot is the head of the free chain, else a new record at the
// end of the file. Registration records (Options&Register) are chained
// first, all others last, as XrdFrcReqFile::Add does. r.Priority is set to
// the queue's priority; Added defaults to now and Instance to "anon".
func (q *Queue) Add(r Request) error {
	r, err := q.prepare(r)
	if err != nil {
		return err
	}
	qf, err := q.open(true, true)
	if err != nil {
		return err
	}
	defer qf.close()
	return qf.add(r)
}

func (qf *qfile) add(r Request) error {
	h := qf.hdr
	var slot, newFree int32
	if qf.valid(h.free) {
		b, err := qf.readRecord(h.free)
		if err != nil {
			return err
		}
		// A free slot has LFN[0] == NUL (zeroed by us, or a tombstone
		// xrootd's Get moved there). A live record at the free head is what
		// a crash between linking and the header update leaves: keep it
		// queued and give up the free chain (Compact reclaims it).
		if b[offLFN] == 0 {
			slot = h.free
			nxt := int32(ne.Uint32(b[offNext:]))
			if nxt != slot && (nxt == 0 || qf.valid(nxt)) {
				newFree = nxt
			}
		}
	}
	if slot == 0 {
		// No (or a corrupt) free chain: append a whole record at the end.
		end := (qf.size + RecordSize - 1) / RecordSize * RecordSize
		if end < RecordSize {
			end = RecordSize
		}
		if end > 1<<31-RecordSize {
			return qf.errorf("queue file full")
		}
		slot = int32(end)
	}
	first := h.first
	if !qf.valid(first) {
		first = 0
	}

	// 1. Write the complete record before anything points at it.
	var next int32
	register := r.Options&Register != 0
	if register {
		next = first
	}
	rec, err := EncodeRecord(r, slot, next)
	if err != nil {
		return err
	}
	if _, err := qf.f.WriteAt(rec[:], int64(slot)); err != nil {
		return err
	}
	if int64(slot)+RecordSize > qf.size {
		qf.size = int64(slot) + RecordSize
	}
	if err := qf.sync(); err != nil {
		return err
	}

	// 2. Link it.
	if register {
		if first == 0 {
			h.last = slot
		}
		h.first = slot
	} else {
		if first == 0 {
			h.first = slot
		} else {
			tail := h.last
			stale := !qf.valid(tail) || tail == slot
			if !stale {
				nxt, err := qf.readNext(tail)
				if err != nil {
					return err
				}
				stale = nxt != 0
			}
			if stale {
				if tail, err = qf.findTail(); err != nil {
					return err
				}
			}
			if tail != slot {
				if err := qf.writeNext(tail, slot); err != nil {
					return err
				}
			}
		}
		h.last = slot
	}

	// 3. Header: Free advances past the used slot.
	h.free = newFree
	qf.hdr = h
	return qf.writeHeader()
}

// AddBatch queues the requests of rs in their queues (by operation and
// priority) with one fsync per queue file touched, as a group commit: the
// records of a file are written and made durable, then linked in one step
// (the tail's Next and the header), which is made durable before AddBatch
// returns. A crash before the link leaves none of that file's batch
// queued (their slots are reclaimed by compaction); after it, all. A
// request is therefore durable when AddBatch returns, and only then.
// committed[i] says whether rs[i] was queued: on an error, the requests of
// the files committed before it stay queued.
func (d *Dir) AddBatch(rs []Request) (committed []bool, err error) {
	type fileKey struct {
		k    Kind
		prty int
	}
	committed = make([]bool, len(rs))
	var order []fileKey
	byFile := map[fileKey][]int{}
	for i, r := range rs {
		k, ok := KindForOp(r.Op)
		if !ok {
			return committed, fmt.Errorf("xrdq: invalid request operation %q", r.Op)
		}
		fk := fileKey{k, clampPrty(int(r.Priority))}
		if _, seen := byFile[fk]; !seen {
			order = append(order, fk)
		}
		byFile[fk] = append(byFile[fk], i)
	}
	for _, fk := range order {
		idx := byFile[fk]
		batch := make([]Request, len(idx))
		for j, i := range idx {
			batch[j] = rs[i]
		}
		if err := d.Queue(fk.k, fk.prty).AddBatch(batch); err != nil {
			return committed, err
		}
		for _, i := range idx {
			committed[i] = true
		}
	}
	return committed, nil
}

// prepare gives r q's priority and the defaults of Add, and checks that
// it encodes.
func (q *Queue) prepare(r Request) (Request, error) {
	r.Priority = int8(q.prty)
	if r.Added == 0 {
		r.Added = time.Now().Unix()
	}
	if r.Instance == "" {
		r.Instance = "anon"
	}
	_, err := EncodeRecord(r, 0, 0)
	return r, err
}

// AddBatch is Dir.AddBatch for one queue file: every request goes to q
// (its Priority is set to q's). Registration records, which xrootd chains
// first, are added one by one.
func (q *Queue) AddBatch(rs []Request) error {
	var plain []Request
	for _, r := range rs {
		r, err := q.prepare(r)
		if err != nil {
			return err
		}
		if r.Options&Register != 0 {
			if err := q.Add(r); err != nil {
				return err
			}
			continue
		}
		plain = append(plain, r)
	}
	if len(plain) == 0 {
		return nil
	}
	qf, err := q.open(true, true)
	if err != nil {
		return err
	}
	defer qf.close()
	return qf.addBatch(plain)
}

// addBatch writes rs into free slots (then new ones at the end), chained
// to each other, makes them durable, then links the first to the tail and
// updates the header.
func (qf *qfile) addBatch(rs []Request) error {
	h := qf.hdr
	slots := make([]int32, len(rs))
	free := h.free
	end := (qf.size + RecordSize - 1) / RecordSize * RecordSize
	if end < RecordSize {
		end = RecordSize
	}
	for i := range rs {
		if qf.valid(free) {
			b, err := qf.readRecord(free)
			if err != nil {
				return err
			}
			// As in add: only a zeroed (or tombstoned) slot is free.
			if b[offLFN] == 0 {
				slots[i] = free
				nxt := int32(ne.Uint32(b[offNext:]))
				if nxt == free || nxt != 0 && !qf.valid(nxt) || slices.Contains(slots[:i], nxt) {
					nxt = 0
				}
				free = nxt
				continue
			}
			free = 0
		}
		if end > 1<<31-RecordSize {
			return qf.errorf("queue file full")
		}
		slots[i] = int32(end)
		end += RecordSize
	}
	// 1. Every record, already chained to the next one of the batch.
	buf := make([]byte, 0, RecordSize*min(len(rs), 256))
	flush := func(at int64) error {
		if len(buf) == 0 {
			return nil
		}
		_, err := qf.f.WriteAt(buf, at)
		buf = buf[:0]
		return err
	}
	runStart := int64(-1)
	for i, r := range rs {
		var next int32
		if i+1 < len(rs) {
			next = slots[i+1]
		}
		rec, err := EncodeRecord(r, slots[i], next)
		if err != nil {
			return err
		}
		at := int64(slots[i])
		// Consecutive slots are written in one call.
		if runStart < 0 || at != runStart+int64(len(buf)) || len(buf) == cap(buf) {
			if err := flush(runStart); err != nil {
				return err
			}
			runStart = at
		}
		buf = append(buf, rec[:]...)
		if at+RecordSize > qf.size {
			qf.size = at + RecordSize
		}
	}
	if err := flush(runStart); err != nil {
		return err
	}
	if err := qf.sync(); err != nil {
		return err
	}
	// 2. Link the batch after the tail, 3. the header.
	first, last := slots[0], slots[len(slots)-1]
	if !qf.valid(h.first) {
		h.first = 0
	}
	if h.first == 0 {
		h.first = first
	} else {
		tail := h.last
		stale := !qf.valid(tail) || slices.Contains(slots, tail)
		if !stale {
			nxt, err := qf.readNext(tail)
			if err != nil {
				return err
			}
			stale = nxt != 0
		}
		if stale {
			var err error
			if tail, err = qf.findTail(); err != nil {
				return err
			}
		}
		if err := qf.writeNext(tail, first); err != nil {
			return err
		}
	}
	h.last = last
	h.free = free
	qf.hdr = h
	return qf.writeHeader()
}

// Cancel tombstones every record with request id id in the given kinds
// (all priorities), as XrdFrcReqFile::Can: LFN[0] becomes NUL and the
// record stays chained until a daemon skips it. Like xrootd, every record
// in the file whose id matches is counted, including ones already
// cancelled. id is truncated to 39 bytes as xrootd does. Missing queue
// files are skipped.
func (d *Dir) Cancel(kinds []Kind, id string) (n int, err error) {
	for _, k := range sortKinds(kinds) {
		for p := 0; p <= MaxPriority; p++ {
			c, err := d.Queue(k, p).Cancel(id)
			n += c
			if err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// Cancel tombstones the records of q with request id id (see Dir.Cancel)
// and returns how many matched (xrootd's "has N entries").
func (q *Queue) Cancel(id string) (int, error) {
	if len(id) > MaxID {
		id = id[:MaxID]
	}
	if id == "" {
		return 0, errors.New("xrdq: request id missing in cancel request")
	}
	qf, err := q.open(true, false)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer qf.close()
	n := 0
	var idb [szID]byte
	for off := int64(RecordSize); off+RecordSize <= qf.size; off += RecordSize {
		if _, err := qf.f.ReadAt(idb[:], off+offID); err != nil {
			return n, err
		}
		if string(cstrBytes(idb[:])) != id {
			continue
		}
		if _, err := qf.f.WriteAt([]byte{0}, off+offLFN); err != nil {
			return n, err
		}
		n++
	}
	if n > 0 {
		return n, qf.sync()
	}
	return n, nil
}

// sortKinds returns kinds deduplicated in ListOrder.
func sortKinds(kinds []Kind) []Kind {
	var out []Kind
	for _, k := range ListOrder {
		if slices.Contains(kinds, k) {
			out = append(out, k)
		}
	}
	return out
}

func prtyRange(prty int) (lo, hi int, err error) {
	if prty < 0 {
		return 0, MaxPriority, nil
	}
	if prty > MaxPriority {
		return 0, 0, fmt.Errorf("Invalid xfrq priority - %d", prty)
	}
	return prty, prty, nil
}

// List calls fn for every queued request exactly as xrootd lists them
// (frm_admin query xfrq, frm_xfragent '?'): the given kinds in the order
// getf, migr, pstg, putf (each once), priorities 0, 1, 2 (or only prty
// when prty >= 0), and within a file in file (slot) order, skipping
// tombstones, records with addTOD 0 or a bad Opaque, and registration
// records. Slot order differs from chain (processing) order once free
// slots are reused, and it includes requests xrootd's daemon has taken
// but not finished; use Walk for chain order. Each file is read under a
// shared lock which is released before fn is called, so fn may modify the
// queues. Missing queue files are skipped. An error from fn stops the
// listing and is returned.
func (d *Dir) List(kinds []Kind, prty int, fn func(Request) error) error {
	lo, hi, err := prtyRange(prty)
	if err != nil {
		return err
	}
	for _, k := range sortKinds(kinds) {
		for p := lo; p <= hi; p++ {
			if err := d.Queue(k, p).List(fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// List calls fn for the queued requests of q in slot order (see Dir.List).
func (q *Queue) List(fn func(Request) error) error {
	reqs, _, err := q.decode(false)
	if err != nil {
		return err
	}
	for _, r := range reqs {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// eachRecord calls fn with the index and bytes of every record slot of the
// file (not the header), read in pieces through one buffer: a queue of a
// hundred thousand requests is 400 MB, never held whole. rec is valid
// only during the call.
func (qf *qfile) eachRecord(fn func(i int, rec []byte)) error {
	nrec := int(qf.records())
	buf := make([]byte, 256*RecordSize)
	for first := 1; first < nrec; {
		n := min(nrec-first, len(buf)/RecordSize)
		b := buf[:n*RecordSize]
		if _, err := qf.f.ReadAt(b, int64(first)*RecordSize); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		for i := range n {
			fn(first+i, b[i*RecordSize:(i+1)*RecordSize])
		}
		first += n
	}
	return nil
}

// decode reads q under a shared lock and returns its requests: in chain
// order with tombstones skipped and registration records kept (chain), or
// in slot order with only the live, non-registration records (as List);
// and the file's signature. The file is mapped, not copied: a queue of a
// hundred thousand requests is 400 MB. A missing file has no requests.
func (q *Queue) decode(chain bool) ([]Request, Sig, error) {
	qf, err := q.open(false, false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, Sig{}, nil
	}
	if err != nil {
		return nil, Sig{}, err
	}
	defer qf.close()
	sig, err := qf.sig()
	if err != nil {
		return nil, Sig{}, err
	}
	// The file is read in pieces through one buffer (a queue of a
	// hundred thousand requests is 400 MB), each record decoded once in
	// slot order; the chain is then followed in memory.
	nrec := int(qf.records())
	if nrec < 2 {
		return nil, sig, nil
	}
	type slot struct {
		r    Request
		next int32
		used bool // decoded: LFN set
	}
	slots := make([]slot, nrec)
	err = qf.eachRecord(func(i int, rec []byte) {
		sl := &slots[i]
		sl.next = int32(ne.Uint32(rec[offNext:]))
		if rec[offLFN] == 0 {
			return // free or a tombstone: only its link matters
		}
		sl.r, _, _ = DecodeRecord(rec)
		sl.r.Offset = int32(i * RecordSize)
		sl.used = true
	})
	if err != nil {
		return nil, sig, err
	}
	var reqs []Request
	if !chain {
		for _, sl := range slots[1:] {
			if sl.used && sl.r.Live() && sl.r.Options&Register == 0 {
				reqs = append(reqs, sl.r)
			}
		}
		return reqs, sig, nil
	}
	off := sig.Hdr[0]
	for steps := nrec; off != 0; steps-- {
		if !qf.valid(off) || steps <= 0 {
			return nil, sig, qf.errorf("broken request chain at offset %d", off)
		}
		sl := &slots[off/RecordSize]
		if sl.used {
			reqs = append(reqs, sl.r)
		}
		off = sl.next
	}
	return reqs, sig, nil
}

// Walk is List in chain (processing) order: for the given kinds (in
// ListOrder, each once) and priorities (prty < 0: 0, 1, 2) it calls fn for
// the chained requests, tombstones skipped, registration records included.
func (d *Dir) Walk(kinds []Kind, prty int, fn func(Request) error) error {
	lo, hi, err := prtyRange(prty)
	if err != nil {
		return err
	}
	for _, k := range sortKinds(kinds) {
		for p := lo; p <= hi; p++ {
			if err := d.Queue(k, p).Walk(fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// Walk calls fn for the requests of q in chain (processing) order,
// skipping tombstones; registration records are included. The file is
// read under a shared lock released before fn is called.
func (q *Queue) Walk(fn func(Request) error) error {
	reqs, _, err := q.decode(true)
	if err != nil {
		return err
	}
	for _, r := range reqs {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// Take removes and returns the first live request of kind (chain order)
// for which accept returns true (nil accepts everything): the record is
// unlinked, zeroed and put on the free chain. Tombstones met on the way
// are freed too. prty selects the file; a negative prty tries 2, 1, 0.
// accept runs under the exclusive lock and must not call into the queue;
// it is offered registration records too (as xrootd's Get returns them).
// Unlike xrootd's Get/Del pair the record is gone once Take returns: a
// daemon that dies during the transfer loses the request.
func (d *Dir) Take(kind Kind, prty int, accept func(Request) bool) (Request, bool, error) {
	if prty >= 0 {
		return d.Queue(kind, prty).Take(accept)
	}
	for p := MaxPriority; p >= 0; p-- {
		r, ok, err := d.Queue(kind, p).Take(accept)
		if ok || err != nil {
			return r, ok, err
		}
	}
	return Request{}, false, nil
}

// Take is Dir.Take for one queue file.
func (q *Queue) Take(accept func(Request) bool) (Request, bool, error) {
	qf, err := q.open(true, false)
	if errors.Is(err, fs.ErrNotExist) {
		return Request{}, false, nil
	}
	if err != nil {
		return Request{}, false, err
	}
	defer qf.close()
	var prev int32
	off := qf.hdr.first
	for steps := qf.records(); off != 0; steps-- {
		if !qf.valid(off) || steps <= 0 {
			return Request{}, false, qf.errorf("broken request chain at offset %d", off)
		}
		b, err := qf.readRecord(off)
		if err != nil {
			return Request{}, false, err
		}
		r, next, _ := DecodeRecord(b)
		r.Offset = off
		if r.Tombstone() {
			if err := qf.remove(prev, off, next); err != nil {
				return Request{}, false, err
			}
			off = next
			continue
		}
		if accept == nil || accept(r) {
			if err := qf.remove(prev, off, next); err != nil {
				return Request{}, false, err
			}
			return r, true, nil
		}
		prev, off = off, next
	}
	return Request{}, false, nil
}

// remove unlinks the record at off (predecessor prev, 0 for the header,
// successor next), then zeroes it and pushes it on the free chain.
func (qf *qfile) remove(prev, off, next int32) error {
	h := qf.hdr
	if prev == 0 {
		h.first = next
	} else if err := qf.writeNext(prev, next); err != nil {
		return err
	}
	if next == 0 && prev != 0 {
		h.last = prev
	}
	// A chain left empty keeps its Last, as xrootd's Del leaves it (an
	// add to an empty chain never reads it), so that the file's bytes
	// are the same as xrootd's daemon would leave.
	qf.hdr = h
	if h.first != 0 && h.last == off { // stale Last pointing into the middle: find the tail
		tail, err := qf.findTail()
		if err != nil {
			return err
		}
		qf.hdr.last = tail
	}
	if err := qf.writeHeader(); err != nil {
		return err
	}
	var zero [RecordSize]byte
	ne.PutUint32(zero[offNext:], uint32(qf.hdr.free))
	if _, err := qf.f.WriteAt(zero[:], int64(off)); err != nil {
		return err
	}
	if err := qf.sync(); err != nil {
		return err
	}
	qf.hdr.free = off
	return qf.writeHeader()
}

// Compact rewrites the queue file as xrootd's frm_xfrd does at start-up
// (XrdFrcReqFile::Init/ReWrite): the live records (LFN set, addTOD set,
// Opaque < 3072), registration records first in file order, then the rest
// by addTOD (ties: later slot first, as xrootd's insertion sort), are
// copied byte for byte with new This/Next into <file>.new (header
// First/Last, Free 0; an empty queue is a 4096-byte header only), which is
// fsynced and renamed over the file. A missing or short file is initialised
// instead. Only call this when no xrootd frm_xfrd works on the queue: it
// keeps the old file open. Returns the number of records recovered.
func (d *Dir) Compact(kind Kind, prty int) (recovered int, err error) {
	return d.Queue(kind, prty).Compact()
}

// Compact is Dir.Compact for q.
func (q *Queue) Compact() (int, error) {
	qf, err := q.open(true, true)
	if err != nil {
		return 0, err
	}
	defer qf.close()
	if qf.fresh {
		return 0, nil
	}
	data, err := qf.readAll()
	if err != nil {
		return 0, err
	}
	type ent struct {
		raw   []byte
		added int64
	}
	var reg, rest []ent
	for off := len(data) - RecordSize; off >= RecordSize; off -= RecordSize {
		raw := data[off : off+RecordSize]
		r, _, _ := DecodeRecord(raw)
		if !r.Live() {
			continue
		}
		if r.Options&Register != 0 {
			reg = append(reg, ent{raw, r.Added})
		} else {
			rest = append(rest, ent{raw, r.Added})
		}
	}
	slices.Reverse(reg) // file order
	// rest is in reverse file order; a stable sort keeps later slots first
	// among equal addTODs, which is what xrootd's insertion sort yields.
	slices.SortStableFunc(rest, func(a, b ent) int {
		switch {
		case a.added < b.added:
			return -1
		case a.added > b.added:
			return 1
		}
		return 0
	})
	all := append(reg, rest...)

	newFN := q.Path() + ".new"
	nf, err := os.OpenFile(newFN, os.O_RDWR|os.O_CREATE|os.O_TRUNC|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return 0, err
	}
	fail := func(err error) (int, error) {
		nf.Close()
		os.Remove(newFN)
		return 0, err
	}
	var h header
	if len(all) == 0 {
		if err := nf.Truncate(RecordSize); err != nil {
			return fail(err)
		}
	} else {
		buf := make([]byte, RecordSize)
		for i, e := range all {
			off := int32((i + 1) * RecordSize)
			next := int32(0)
			if i+1 < len(all) {
				next = off + RecordSize
			}
			copy(buf, e.raw)
			ne.PutUint32(buf[offThis:], uint32(off))
			ne.PutUint32(buf[offNext:], uint32(next))
			if _, err := nf.WriteAt(buf, int64(off)); err != nil {
				return fail(err)
			}
		}
		h.first = RecordSize
		h.last = int32(len(all) * RecordSize)
	}
	var hb [hdrSize]byte
	ne.PutUint32(hb[hdrFirstOff:], uint32(h.first))
	ne.PutUint32(hb[hdrLastOff:], uint32(h.last))
	ne.PutUint32(hb[hdrFreeOff:], uint32(h.free))
	if _, err := nf.WriteAt(hb[:], 0); err != nil {
		return fail(err)
	}
	if err := nf.Sync(); err != nil {
		return fail(err)
	}
	if err := nf.Close(); err != nil {
		os.Remove(newFN)
		return 0, err
	}
	if err := os.Rename(newFN, q.Path()); err != nil {
		os.Remove(newFN)
		return 0, err
	}
	if df, err := os.Open(q.dir); err == nil {
		_ = df.Sync()
		df.Close()
	}
	return len(all), nil
}
