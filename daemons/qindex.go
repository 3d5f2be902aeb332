package daemons

import (
	"log/slog"
	"sort"

	"frm/core/pgqueue"
	"frm/core/qclass"
	"frm/core/xfer"
	"frm/core/xrdq"
)

// queueIndex is the transfer daemon's copy of its local queue files, kept
// in memory so that starting and finishing a transfer costs the same with
// ten requests queued or a hundred thousand: the files are read at start,
// a file again only when its signature shows that somebody else (the
// agent, frm admin, xrootd's tools) changed it, and all of them on the
// periodic queue check. A finished request is ended where it is
// (xrdq.Complete, one write); the tombstones it leaves are swept on the
// queue check. The files stay xrootd's format throughout.
type queueIndex struct {
	dir   *xrdq.Dir
	files map[fileKey]*indexFile
	// lanes hold the pending entries of each class and queue file in
	// service order (age, then the order read); busy and gone entries
	// are dropped lazily from the front.
	lanes map[laneKey][]*qentry
	// classes classify the records; localSize is the size of a file on
	// disk (for the class rules of copies out).
	classes   *qclass.Set
	localSize func(lfn string) (int64, bool)
	// unsized are the entries whose class depends on the size of their
	// MSS copy, not asked yet (a stage's class is known once the sizer
	// asked the MSS; until then it waits, though it rides along with a
	// running job of its file).
	unsized []*qentry
	// byKey: the pending entries of each job key, which ride along when
	// a job for that key starts.
	byKey map[string][]*qentry
	seq   uint64
	// ticks counts queue checks: every tenth reads every file whatever
	// its signature says.
	ticks int
}

type fileKey struct {
	kind xrdq.Kind
	prty int
}

// laneKey is one class's share of a queue file.
type laneKey struct {
	class int
	fileKey
}

type indexFile struct {
	loaded bool
	known  xrdq.Sig
	recs   map[int32]*qentry // live records by offset
	// completed counts the tombstones this daemon left since the last
	// sweep.
	completed int
}

// qentry is one queued record.
type qentry struct {
	rec  recRef
	job  xfer.Job
	key  string
	seq  uint64
	busy bool // serving: part of a running job
	gone bool // no longer in its file
	// class is the entry's class index, -1 until its size is known.
	class int
	// size of the file (for the class rules), when sized.
	size  int64
	sized bool
}

// classRequest is what the class rules see of e.
func (e *qentry) classRequest() qclass.Request {
	return qclass.Request{Kind: pgqueue.KindName(e.rec.kind), LFN: e.job.LFN, Requester: e.job.TID, CGI: e.job.CGI}
}

// classify sets e's class, or leaves it -1 and queues it for the sizer
// when it depends on the size of the MSS copy.
func (x *queueIndex) classify(e *qentry) {
	r := e.classRequest()
	switch {
	case e.sized || !x.classes.NeedsSize(r):
	case e.job.Kind.Inbound():
		e.class = -1
		x.unsized = append(x.unsized, e)
		return
	default:
		n, ok := x.localSize(e.job.LFN)
		if !ok {
			n = -1
		}
		e.size, e.sized = n, true // known or not, asked
	}
	e.class = x.classes.Classify(r, func() (int64, bool) { return e.size, e.size >= 0 })
}

var queueKinds = []xrdq.Kind{xrdq.Stage, xrdq.Get, xrdq.Migrate, xrdq.Put}

func newQueueIndex(dir *xrdq.Dir, classes *qclass.Set, localSize func(string) (int64, bool)) *queueIndex {
	return &queueIndex{dir: dir, files: map[fileKey]*indexFile{}, lanes: map[laneKey][]*qentry{}, byKey: map[string][]*qentry{},
		classes: classes, localSize: localSize}
}

// reclassify puts every entry in its class of a new class set (a reload).
func (x *queueIndex) reclassify(classes *qclass.Set) {
	x.classes = classes
	x.lanes = map[laneKey][]*qentry{}
	x.unsized = nil
	for _, f := range x.files {
		for _, e := range f.recs {
			if e.gone {
				continue
			}
			x.classify(e)
			if !e.busy {
				x.lane(e)
			}
		}
	}
}

// sizedBatch gives entries waiting for their size a class (sizes[i] is the
// size of batch[i], -1 unknown) and makes the pending ones startable;
// those the MSS could not be asked about (sizeAgain) wait again.
func (x *queueIndex) sizedBatch(batch []*qentry, sizes []int64) (again bool) {
	for i, e := range batch {
		if e.gone || e.class >= 0 {
			continue
		}
		if sizes[i] == sizeAgain {
			x.unsized = append(x.unsized, e)
			again = true
			continue
		}
		e.size, e.sized = sizes[i], true
		x.classify(e)
		if !e.busy {
			x.lane(e)
		}
	}
	return again
}

// takeUnsized returns up to n entries waiting for their size.
func (x *queueIndex) takeUnsized(n int) []*qentry {
	var out []*qentry
	for len(x.unsized) > 0 && len(out) < n {
		e := x.unsized[0]
		x.unsized[0] = nil
		x.unsized = x.unsized[1:]
		if !e.gone && e.class < 0 {
			out = append(out, e)
		}
	}
	return out
}

// depth counts the waiting entries of each class, and those waiting for
// their size.
func (x *queueIndex) depth(nclass int) (queued []int, unsized int) {
	queued = make([]int, nclass)
	for _, f := range x.files {
		for _, e := range f.recs {
			switch {
			case e.gone || e.busy:
			case e.class < 0:
				unsized++
			case e.class < nclass:
				queued[e.class]++
			}
		}
	}
	return queued, unsized
}

// refresh reads the files that changed since the index last saw them
// (all of them with force). onNew is called for every record new to the
// index, after it is indexed.
func (x *queueIndex) refresh(force bool, log *slog.Logger, onNew func(*qentry)) {
	for _, k := range queueKinds {
		for p := 0; p <= xrdq.MaxPriority; p++ {
			fk := fileKey{k, p}
			f := x.files[fk]
			if f == nil {
				f = &indexFile{recs: map[int32]*qentry{}}
				x.files[fk] = f
			}
			q := x.dir.Queue(k, p)
			if !force && f.loaded {
				sig, err := q.Signature()
				if err != nil {
					log.Warn("cannot read queue", "queue", q.Path(), "err", err)
					continue
				}
				if sig == f.known {
					continue
				}
			}
			x.reload(fk, f, log, onNew)
		}
	}
}

// reload reads one file whole and brings its entries in line: records
// still there keep their entries (and their state), new ones are added,
// vanished ones are dropped.
func (x *queueIndex) reload(fk fileKey, f *indexFile, log *slog.Logger, onNew func(*qentry)) {
	q := x.dir.Queue(fk.kind, fk.prty)
	seen := map[int32]bool{}
	var fresh []*qentry
	sig, err := q.WalkSig(func(r xrdq.Request) error {
		if r.Options&xrdq.Register != 0 || r.Path() == "" {
			return nil
		}
		seen[r.Offset] = true
		if e := f.recs[r.Offset]; e != nil && e.rec.req.ID == r.ID && e.rec.req.Added == r.Added && e.rec.req.LFN == r.LFN {
			return nil
		}
		if e := f.recs[r.Offset]; e != nil {
			x.drop(e) // another request in the same slot
		}
		ref := recRef{kind: fk.kind, prty: fk.prty, req: r}
		j := toJob(ref)
		x.seq++
		e := &qentry{rec: ref, job: j, key: jobKey(j.Kind, r.LFN), seq: x.seq}
		x.classify(e)
		f.recs[r.Offset] = e
		fresh = append(fresh, e)
		return nil
	})
	if err != nil {
		log.Warn("cannot read queue", "queue", q.Path(), "err", err)
		return
	}
	for off, e := range f.recs {
		if !seen[off] {
			x.drop(e)
			delete(f.recs, off)
		}
	}
	f.loaded, f.known = true, sig
	// Queue files are in insertion order, mostly by age: new records go
	// at the end of their lane unless older than its last.
	sort.SliceStable(fresh, func(a, b int) bool { return fresh[a].rec.req.Added < fresh[b].rec.req.Added })
	for _, e := range fresh {
		x.pend(e)
		if onNew != nil {
			onNew(e)
		}
	}
}

// before orders entries within a lane: by age, then as read.
func before(a, b *qentry) bool {
	if a.rec.req.Added != b.rec.req.Added {
		return a.rec.req.Added < b.rec.req.Added
	}
	return a.seq < b.seq
}

// pend makes e pending: in its lane (in order; none until it has a
// class) and under its key.
func (x *queueIndex) pend(e *qentry) {
	e.busy = false
	x.lane(e)
	x.byKey[e.key] = append(x.byKey[e.key], e)
}

// lane puts e in its class's lane, in order.
func (x *queueIndex) lane(e *qentry) {
	if e.class < 0 {
		return
	}
	fk := laneKey{e.class, fileKey{e.rec.kind, e.rec.prty}}
	lane := x.lanes[fk]
	i := len(lane)
	if i > 0 && before(e, lane[i-1]) {
		i = sort.Search(len(lane), func(k int) bool { return before(e, lane[k]) })
	}
	lane = append(lane, nil)
	copy(lane[i+1:], lane[i:])
	lane[i] = e
	x.lanes[fk] = lane
}

// drop forgets e (its record left the file).
func (x *queueIndex) drop(e *qentry) {
	e.gone = true
	x.unkey(e)
}

func (x *queueIndex) unkey(e *qentry) {
	list := x.byKey[e.key]
	for i, o := range list {
		if o == e {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(x.byKey, e.key)
	} else {
		x.byKey[e.key] = list
	}
}

// head returns the first pending entry of a lane that skip does not
// refuse, dropping busy and gone entries from the front.
func (x *queueIndex) head(fk laneKey, skip func(*qentry) bool) *qentry {
	lane := x.lanes[fk]
	for len(lane) > 0 && (lane[0].busy || lane[0].gone) {
		lane[0] = nil
		lane = lane[1:]
	}
	x.lanes[fk] = lane
	for _, e := range lane {
		if !e.busy && !e.gone && (skip == nil || !skip(e)) {
			return e
		}
	}
	return nil
}

// take makes every pending entry of key busy and returns them (the
// records a job for key serves).
func (x *queueIndex) take(key string) []*qentry {
	list := x.byKey[key]
	delete(x.byKey, key)
	for _, e := range list {
		e.busy = true
	}
	return list
}

// complete ends a served record in its file (a tombstone) and forgets it.
// A record that is no longer the request (cancelled, moved) is only
// forgotten.
func (x *queueIndex) complete(r recRef, log *slog.Logger) {
	fk := fileKey{r.kind, r.prty}
	f := x.files[fk]
	q := x.dir.Queue(r.kind, r.prty)
	done, before, after, err := q.Complete(r.req.Offset, r.req.ID, r.req.Added)
	if err != nil {
		log.Warn("cannot remove finished request from its queue", "queue", q.Path(), "err", err)
		return
	}
	if f == nil {
		return
	}
	if e := f.recs[r.req.Offset]; e != nil && e.rec.req.ID == r.req.ID {
		e.gone = true
		delete(f.recs, r.req.Offset)
	}
	if done {
		f.completed++
		if before == f.known {
			f.known = after // our own change: no reason to read the file again
		}
	}
	if len(f.recs) == 0 && f.completed > 0 {
		// The file's last known request is done: reclaim the slots now,
		// so that an idle queue file is what xrootd's frm_xfrd leaves
		// (every record zeroed on the free chain). A busy file waits for
		// the queue check, keeping the cost per transfer constant.
		x.sweepFile(fk, f, log)
	}
}

// release makes served records pending again (their job ended without
// completing them: the request stays queued).
func (x *queueIndex) release(r recRef) {
	f := x.files[fileKey{r.kind, r.prty}]
	if f == nil {
		return
	}
	if e := f.recs[r.req.Offset]; e != nil && e.busy && !e.gone {
		x.pend(e)
	}
}

// sweep reclaims the tombstones of the files this daemon completed
// requests in.
func (x *queueIndex) sweep(log *slog.Logger) {
	for fk, f := range x.files {
		if f.completed > 0 {
			x.sweepFile(fk, f, log)
		}
	}
}

// sweepFile reclaims the tombstones of one file.
func (x *queueIndex) sweepFile(fk fileKey, f *indexFile, log *slog.Logger) {
	q := x.dir.Queue(fk.kind, fk.prty)
	if _, _, err := q.Sweep(); err != nil {
		log.Warn("cannot reclaim finished requests' slots", "queue", q.Path(), "err", err)
		return
	}
	f.completed = 0
	f.known = xrdq.Sig{} // read it again: the sweep moved the chain
}
