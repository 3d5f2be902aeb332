package xrdq

import (
	"errors"
	"io/fs"
	"syscall"
)

// What a daemon that keeps the queue in memory needs from the files: a
// cheap way to know whether anybody else changed a file since it last read
// it (Signature), completing a request where it is without walking the
// chain (Complete), and reclaiming the records completed that way (Sweep).

// Sig identifies a state of a queue file: every change by frm or xrootd
// rewrites the header or grows the file, so a file whose Sig is unchanged
// holds the records it held. (A filesystem with coarse timestamps could in
// principle hide a change made within one tick that restores the header
// and size; the daemon's periodic full read covers that.)
type Sig struct {
	Ino   uint64
	Size  int64
	Mtime int64 // nanoseconds
	Ctime int64
	Hdr   [3]int32
}

// sig reads qf's signature (the caller holds its lock).
func (qf *qfile) sig() (Sig, error) {
	var st syscall.Stat_t
	if err := syscall.Fstat(int(qf.f.Fd()), &st); err != nil {
		return Sig{}, err
	}
	if err := qf.refresh(); err != nil {
		return Sig{}, err
	}
	return Sig{Ino: st.Ino, Size: st.Size, Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano(),
		Hdr: [3]int32{qf.hdr.first, qf.hdr.last, qf.hdr.free}}, nil
}

// Signature returns q's current signature; a missing file has the zero
// Sig.
func (q *Queue) Signature() (Sig, error) {
	qf, err := q.open(false, false)
	if errors.Is(err, fs.ErrNotExist) {
		return Sig{}, nil
	}
	if err != nil {
		return Sig{}, err
	}
	defer qf.close()
	return qf.sig()
}

// WalkSig is Walk returning the signature of the state walked.
func (q *Queue) WalkSig(fn func(Request) error) (Sig, error) {
	reqs, sig, err := q.decode(true)
	if err != nil {
		return sig, err
	}
	for _, r := range reqs {
		if err := fn(r); err != nil {
			return sig, err
		}
	}
	return sig, nil
}

// Complete ends the request at offset off of q, if the record there is
// still the live request id added at added: it becomes a tombstone (LFN[0]
// NUL, as a cancel leaves it; xrootd skips it, Sweep reclaims it). It is
// one read and one write whatever the length of the queue, and no flush:
// the tombstone becomes durable with the file system's next flush, and a
// crash before it only runs the request again (which finds its work done). before and after are the file's signatures
// around the change: before differing from what the caller last saw means
// somebody else changed the file meanwhile.
func (q *Queue) Complete(off int32, id string, added int64) (done bool, before, after Sig, err error) {
	qf, err := q.open(true, false)
	if errors.Is(err, fs.ErrNotExist) {
		return false, Sig{}, Sig{}, nil
	}
	if err != nil {
		return false, Sig{}, Sig{}, err
	}
	defer qf.close()
	if before, err = qf.sig(); err != nil {
		return false, before, before, err
	}
	if !qf.valid(off) {
		return false, before, before, nil
	}
	b, err := qf.readRecord(off)
	if err != nil {
		return false, before, before, err
	}
	r, _, _ := DecodeRecord(b)
	if r.Tombstone() || r.ID != id || r.Added != added {
		return false, before, before, nil
	}
	if _, err := qf.f.WriteAt([]byte{0}, int64(off)+offLFN); err != nil {
		return false, before, before, err
	}
	after, err = qf.sig()
	return true, before, after, err
}

// Sweep unlinks every tombstone of q and puts its slot on the free chain,
// in two durable steps so that a crash between them never leaves a slot
// both chained and free: first the chain skips them (each unlink keeps the
// chain whole), then they are zeroed and freed. It returns how many it
// reclaimed and the file's signature after.
func (q *Queue) Sweep() (int, Sig, error) {
	qf, err := q.open(true, false)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, Sig{}, nil
	}
	if err != nil {
		return 0, Sig{}, err
	}
	defer qf.close()
	// The links and which slots are tombstones, read in pieces.
	nexts := make([]int32, qf.records())
	tomb := make([]bool, qf.records())
	if err := qf.eachRecord(func(i int, rec []byte) {
		nexts[i], tomb[i] = int32(ne.Uint32(rec[offNext:])), rec[offLFN] == 0
	}); err != nil {
		return 0, Sig{}, err
	}
	var dead []int32
	var prev int32
	h := qf.hdr
	off := h.first
	for steps := qf.records(); off != 0; steps-- {
		if !qf.valid(off) || steps <= 0 {
			return 0, Sig{}, qf.errorf("broken request chain at offset %d", off)
		}
		next := nexts[off/RecordSize]
		if !tomb[off/RecordSize] {
			prev, off = off, next
			continue
		}
		dead = append(dead, off)
		if prev == 0 {
			h.first = next
		} else if err := qf.writeNext(prev, next); err != nil {
			return 0, Sig{}, err
		}
		if next == 0 && prev != 0 {
			h.last = prev // else the chain is empty and keeps its Last, as in remove
		}
		off = next
	}
	if len(dead) == 0 {
		sig, err := qf.sig()
		return 0, sig, err
	}
	qf.hdr = h
	if err := qf.writeHeader(); err != nil { // durable: the chain skips them
		return 0, Sig{}, err
	}
	var zero [RecordSize]byte
	for _, d := range dead {
		ne.PutUint32(zero[offNext:], uint32(qf.hdr.free))
		if _, err := qf.f.WriteAt(zero[:], int64(d)); err != nil {
			return 0, Sig{}, err
		}
		qf.hdr.free = d
	}
	if err := qf.sync(); err != nil {
		return 0, Sig{}, err
	}
	if err := qf.writeHeader(); err != nil {
		return 0, Sig{}, err
	}
	sig, err := qf.sig()
	return len(dead), sig, err
}
