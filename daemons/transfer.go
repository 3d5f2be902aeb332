package daemons

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"frm/core/config"
	"frm/core/control"
	"frm/core/pgqueue"
	"frm/core/qclass"
	"frm/core/retry"
	"frm/core/xfer"
	"frm/core/xrdq"
)

// Stop files in the admin directory suspend new transfers of a kind, as
// with frm_xfrd.
var stopFiles = map[xrdq.Kind]string{
	xrdq.Stage:   "STOPSTAGE",
	xrdq.Get:     "STOPCOPYIN",
	xrdq.Migrate: "STOPMIGR",
	xrdq.Put:     "STOPCOPYOUT",
}

// StopFile is the stop file of a queue kind.
func StopFile(adminDir string, k xrdq.Kind) string { return filepath.Join(adminDir, stopFiles[k]) }

// recRef names one queue record a job serves.
type recRef struct {
	kind xrdq.Kind
	prty int
	req  xrdq.Request
	pg   *pgqueue.Request // the shared request it stands for; nil for a queue-file record
}

type job struct {
	progress atomic.Pointer[copyProgress]
	source   atomic.Pointer[string] // where the data comes from, when not this site's MSS
	lost     atomic.Bool            // its shared requests' lease was lost: stopped, not completed
	key      string
	x        xfer.Job
	recs     []recRef
	started  time.Time
	cancel   context.CancelFunc
	outcome  xfer.Outcome
	// slotFreed: the copy is done and the job gave its slot back while
	// its file is made durable (guarded by Transfer.mu).
	slotFreed bool
	// class is the index of the request class whose slot the job holds
	// (guarded by Transfer.mu: a reload renumbers), dir its direction.
	class int
	dir   int
	trial bool // the one transfer a paused direction lets through
}

// copyProgress is what a job's copy reports: the local file written
// (inbound, "" for copies out) and the expected size.
type copyProgress struct {
	local string
	size  int64
}

// Transfer is the transfer daemon.
type Transfer struct {
	Engine   *xfer.Engine
	Queue    *xrdq.Dir
	AdminDir string
	QCheck   time.Duration
	Log      *slog.Logger
	OnEvent  func(control.Event)
	// Shared, when set, is the queue work is claimed from (a PostgreSQL
	// catalog); nil serves the local queue files directly.
	Shared *Shared
	// PauseBackoff spaces the probes of a paused direction (guarded by
	// mu once running).
	PauseBackoff retry.Policy
	// OnNoRoom is called when a stage finds no room on disk (the daemon
	// wakes its purger).
	OnNoRoom func()
	// OnPause is told when a direction (0 in, 1 out) pauses because the
	// MSS is unavailable, and when it resumes (metrics).
	OnPause func(dir int, paused bool)

	wake   chan struct{}
	reconf chan struct{}
	// slotFree: a job gave its slot back before it ended (its copy is
	// done): start the next one.
	slotFree chan struct{}
	done     chan *job
	// lookLocal says the local queue files may have new records (a
	// wake-up, the queue check): with a shared queue they are read only
	// then, not after every finished transfer.
	lookLocal atomic.Bool
	// checkDue: the periodic queue check is due (Run's qcheck tick).
	checkDue atomic.Bool

	mu      sync.Mutex // guards the fields below
	running map[string]*job
	index   *queueIndex // the local queue files (without a shared queue)
	// classes are the request classes (qclass), cls their state, in the
	// same order.
	classes *qclass.Set
	cls     []classState
	inUse   [2]int // jobs holding a slot, per direction (status)
	sizing  bool   // the sizer runs (sizeUnsized)
	// sizeHoldUntil: the MSS could not be asked sizes; not before then.
	sizeHoldUntil time.Time
	draining      bool
	paused        [2]*mssPause // directions paused by an MSS outage (pause.go)
	runCtx        context.Context
	// waitRoom: jobs (by key) that found no room on disk, or whose
	// transfer panicked, and until when they wait (RoomFreed ends every
	// wait).
	waitRoom map[string]time.Time
	// renewFailing: lease renewals fail (said once, renewLeases only);
	// claimFailing: claims fail (said once, fillShared only).
	renewFailing bool
	claimFailing bool

	// beforeRun, when set (tests), is called in each transfer's goroutine
	// before the engine runs it.
	beforeRun func(xfer.Job)
}

// classState is what the daemon keeps of one request class (guarded by
// Transfer.mu).
type classState struct {
	// running counts the jobs holding one of the class's slots, its own
	// or one lent by an idle class.
	running int
	turn    prtyTurn
	// internal are the migrations the scan found, of this class.
	internal []xfer.Job
}

// NewTransfer returns a transfer daemon over the queue in dir, serving the
// request classes of cfg (qclass).
func NewTransfer(e *xfer.Engine, q *xrdq.Dir, adminDir string, cfg *config.Config, log *slog.Logger) *Transfer {
	t := &Transfer{Engine: e, Queue: q, AdminDir: adminDir, QCheck: time.Duration(cfg.Transfer.QCheck), Log: log,
		PauseBackoff: defaultPauseBackoff,
		wake:         make(chan struct{}, 1), reconf: make(chan struct{}, 1), slotFree: make(chan struct{}, 1), done: make(chan *job), running: map[string]*job{}}
	classes := qclass.FromConfig(cfg)
	t.index = newQueueIndex(q, classes, t.localSize)
	t.setClassesLocked(classes)
	return t
}

// localSize is the size of lfn's disk file, for the class rules.
func (t *Transfer) localSize(lfn string) (int64, bool) {
	fi, err := os.Stat(t.Engine.Site.PFN(lfn))
	if err != nil {
		return 0, false
	}
	return fi.Size(), true
}

// setClassesLocked makes classes the daemon's: the queued requests and
// the scan's migrations are classified again, the running jobs keep their
// slots in the class of the same name (else the first). t.mu is held.
func (t *Transfer) setClassesLocked(classes *qclass.Set) {
	old, oldState := t.classes, t.cls
	t.classes = classes
	t.cls = make([]classState, len(classes.Classes))
	for i := range t.cls {
		t.cls[i].turn = prtyTurn{prty: xrdq.MaxPriority}
	}
	for _, j := range t.running {
		c := 0
		if old != nil {
			if i, ok := classes.Index(old.Classes[j.class].Name); ok {
				c = i
			}
		}
		j.class = c
		j.x.Class, j.x.Timeout = classes.Classes[c].Name, classes.Classes[c].Timeout
		if !j.slotFreed {
			t.cls[c].running++
		}
	}
	for _, st := range oldState {
		for _, x := range st.internal {
			c := t.classOfJob(x)
			t.cls[c].internal = append(t.cls[c].internal, x)
		}
	}
	if old != nil {
		t.index.reclassify(classes)
	}
}

// classOfJob classifies a job that is no queue record (the scan's
// migrations; the size is the disk file's).
func (t *Transfer) classOfJob(x xfer.Job) int {
	r := qclass.Request{Kind: x.Kind.String(), LFN: x.LFN, Requester: x.TID, CGI: x.CGI}
	return t.classes.Classify(r, func() (int64, bool) { return t.localSize(x.LFN) })
}

// Reconfigure takes the transfer settings of a new configuration
// snapshot: the request classes and their slots (or copy_max), and the
// queue check interval (the engine reads retries, deny and the checksum
// per transfer).
func (t *Transfer) Reconfigure(cfg *config.Config) {
	t.mu.Lock()
	t.setClassesLocked(qclass.FromConfig(cfg))
	t.QCheck = time.Duration(cfg.Transfer.QCheck)
	t.mu.Unlock()
	poke(t.reconf)
	t.Wake()
}

// qcheck is the queue check interval in force (300 s when unset).
func (t *Transfer) qcheck() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.QCheck > 0 {
		return t.QCheck
	}
	return 300 * time.Second
}

// Wake makes the daemon look at the queue now (agent requests, tests).
func (t *Transfer) Wake() {
	t.lookLocal.Store(true)
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// Submit hands a job found by the migration scan to the daemon; it does
// not go through the queue files (as xrootd's internal migrations).
// Duplicates of a job already waiting or running are dropped.
func (t *Transfer) Submit(j xfer.Job) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	key := jobKey(j.Kind, j.LFN)
	if t.running[key] != nil {
		return false
	}
	for _, st := range t.cls {
		for _, w := range st.internal {
			if w.LFN == j.LFN {
				return false
			}
		}
	}
	c := t.classOfJob(j)
	t.cls[c].internal = append(t.cls[c].internal, j)
	t.Wake()
	return true
}

func (t *Transfer) emit(ev control.Event) {
	ev.Time = time.Now()
	if t.OnEvent != nil {
		t.OnEvent(ev)
	}
}

// Status returns what the daemon is doing.
func (t *Transfer) Status() control.TransferStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := control.TransferStatus{InUse: t.inUse, Draining: t.draining}
	if t.classes.Implicit {
		st.SlotsIn, st.SlotsOut = t.classes.Classes[0].Slots, t.classes.Classes[1].Slots
	}
	var queued []int
	if t.Shared == nil && !t.classes.Implicit {
		// A walk of the indexed records (the implicit classes are not
		// shown, and never wait for a size: no walk for them).
		queued, st.Sizing = t.index.depth(len(t.cls))
	}
	for i, c := range t.classes.Classes {
		cs := control.ClassStatus{Name: c.Name, Slots: c.Slots, Running: t.cls[i].running, Internal: len(t.cls[i].internal), Lend: c.Lend, Timeout: c.Timeout}
		if queued != nil {
			cs.Waiting = queued[i]
		} else {
			cs.Waiting = -1 // the shared queue's: see its listing
		}
		st.Internal += cs.Internal
		if !t.classes.Implicit {
			st.Classes = append(st.Classes, cs)
		}
	}
	for _, j := range t.running {
		a := control.Active{Kind: j.x.Kind.String(), LFN: j.x.LFN, RID: j.x.RID, TID: j.x.TID, Priority: j.x.Priority, Started: j.started, Merged: max(len(j.recs)-1, 0), Done: -1,
			Class: j.x.Class}
		if s := j.source.Load(); s != nil {
			a.Source = *s
		}
		if p := j.progress.Load(); p != nil {
			a.Size = p.size
			if p.local != "" {
				if fi, err := os.Stat(p.local); err == nil {
					a.Done = fi.Size()
					if secs := time.Since(j.started).Seconds(); secs > 0 {
						a.Rate = float64(a.Done) / secs
					}
				}
			}
		}
		st.Active = append(st.Active, a)
	}
	sort.Slice(st.Active, func(a, b int) bool { return st.Active[a].Started.Before(st.Active[b].Started) })
	for dir, p := range t.paused {
		if p != nil {
			st.Paused = append(st.Paused, control.PauseStatus{Direction: dirNames[dir], Since: p.Since, Cause: p.Cause, Probes: p.Probes})
		}
	}
	return st
}

// classDepth counts the waiting requests of each class, those waiting for
// their size, and the transfers running in each class's slots: from the
// in-memory index, or with a shared queue from the database (every host's
// requests; nil when it cannot be read).
func (t *Transfer) classDepth() (waiting map[string]int, unclassified int, running map[string]int) {
	t.mu.Lock()
	classes := t.classes
	running = map[string]int{}
	for i, c := range classes.Classes {
		running[c.Name] = t.cls[i].running
	}
	if t.Shared == nil {
		queued, sizing := t.index.depth(len(classes.Classes))
		t.mu.Unlock()
		waiting = map[string]int{}
		for i, c := range classes.Classes {
			waiting[c.Name] = queued[i]
		}
		return waiting, sizing, running
	}
	t.mu.Unlock()
	if classes.Implicit {
		return nil, 0, running // the shared queue keeps no class then
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	byClass, err := t.Shared.Queue.Depth(ctx)
	if err != nil {
		return nil, 0, running
	}
	waiting = map[string]int{}
	for _, c := range classes.Classes {
		waiting[c.Name] = 0
	}
	for name, n := range byClass {
		switch _, known := waiting[name]; {
		case name == "":
			unclassified += n
		case known:
			waiting[name] += n
		default: // a class no host here knows: the first's
			waiting[classes.Classes[0].Name] += n
		}
	}
	return waiting, unclassified, running
}

// queueClasses returns the class of every queued record the daemon has
// classified, by request id and lfn (NUL between).
func (t *Transfer) queueClasses() map[string]string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]string{}
	for _, f := range t.index.files {
		for _, e := range f.recs {
			if !e.gone && e.class >= 0 && e.class < len(t.classes.Classes) {
				out[e.rec.req.ID+"\x00"+e.job.LFN] = t.classes.Classes[e.class].Name
			}
		}
	}
	return out
}

// Run serves the queue until ctx is cancelled, then drains: no new
// transfer starts, running ones get until drainCtx is done to finish; the
// rest are cancelled and, their queue records being still in place, run
// again at the next start.
func (t *Transfer) Run(ctx, drainCtx context.Context) error {
	if err := t.Queue.Init(); err != nil {
		return err
	}
	for _, k := range []xrdq.Kind{xrdq.Get, xrdq.Migrate, xrdq.Stage, xrdq.Put} {
		for p := 0; p <= xrdq.MaxPriority; p++ {
			if n, err := t.Queue.Queue(k, p).Compact(); err != nil {
				t.Log.Warn("queue compaction failed", "queue", t.Queue.Queue(k, p).Path(), "err", err)
			} else if n > 0 {
				t.Log.Info("requests recovered", "n", n, "queue", t.Queue.Queue(k, p).Path())
			}
		}
	}
	jobCtx, cancelJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJobs()
	t.mu.Lock()
	t.runCtx = ctx
	t.mu.Unlock()
	if t.Shared != nil {
		t.releasePrevious(ctx)
		t.lookLocal.Store(true)                             // records queued while no daemon ran
		sharedCtx, stopShared := context.WithCancel(jobCtx) // leases are renewed through the drain
		defer stopShared()
		go t.runShared(sharedCtx)
	}
	t.lookLocal.Store(true) // read the queue files now, not at the first check
	tick := time.NewTimer(t.qcheck())
	defer tick.Stop()
	stopCheck := time.NewTicker(5 * time.Second) // stop files appear and vanish
	defer stopCheck.Stop()
	for {
		t.fill(jobCtx)
		select {
		case <-ctx.Done():
			return t.drain(drainCtx, cancelJobs)
		case j := <-t.done:
			t.finish(j)
		case <-t.wake:
		case <-t.slotFree:
		case <-tick.C:
			t.lookLocal.Store(true)
			t.checkDue.Store(true)
			tick.Reset(t.qcheck())
		case <-t.reconf:
			if !tick.Stop() {
				select {
				case <-tick.C:
				default:
				}
			}
			tick.Reset(t.qcheck())
		case <-stopCheck.C:
		}
	}
}

func (t *Transfer) drain(drainCtx context.Context, cancelJobs context.CancelFunc) error {
	t.mu.Lock()
	t.draining = true
	n := len(t.running)
	t.mu.Unlock()
	if n > 0 {
		t.Log.Info("draining transfers", "running", n)
	}
	for {
		t.mu.Lock()
		n = len(t.running)
		t.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case j := <-t.done:
			t.finish(j)
		case <-drainCtx.Done():
			t.Log.Warn("drain deadline reached; cancelling transfers (their requests stay queued)", "running", n)
			cancelJobs()
			drainCtx = context.Background()
		}
	}
}

func jobKey(k xfer.Kind, lfn string) string {
	if k.Inbound() {
		return "in:" + lfn
	}
	return "out:" + lfn
}

var queueKind = map[xrdq.Kind]xfer.Kind{xrdq.Stage: xfer.Stage, xrdq.Get: xfer.Get, xrdq.Migrate: xfer.Migrate, xrdq.Put: xfer.Put}

func (t *Transfer) stopped(k xrdq.Kind) bool {
	_, err := os.Stat(StopFile(t.AdminDir, k))
	return err == nil
}

func toJob(r recRef) xfer.Job {
	req := r.req
	j := xfer.Job{Kind: queueKind[r.kind], LFN: req.Path(), CGI: req.CGI(), RID: req.ID, TID: req.User, Priority: r.prty, Mode: 'r'}
	if req.Options&xrdq.ReadWrite != 0 {
		j.Mode = 'w'
	}
	j.Purge = req.Options&xrdq.Purge != 0
	j.Lock = req.Options&xrdq.OptMigrate != 0
	return j
}

// fill starts jobs while slots are free.
func (t *Transfer) fill(ctx context.Context) {
	t.mu.Lock()
	draining := t.draining
	t.mu.Unlock()
	if draining {
		return
	}
	if t.Shared != nil {
		t.fillShared(ctx)
		return
	}
	t.mu.Lock()
	if t.checkDue.Swap(false) {
		// The queue check: reclaim the finished requests' slots, and
		// every tenth time read every file whatever its signature.
		t.index.sweep(t.Log)
		t.index.ticks++
		t.index.refresh(t.index.ticks%10 == 1, t.Log, t.mergeLocked)
	} else if t.lookLocal.Swap(false) {
		t.index.refresh(false, t.Log, t.mergeLocked)
	}
	t.mu.Unlock()
	t.schedule(ctx)
	t.sizeUnsized(ctx)
}

// mergeLocked attaches a record new to the index to the running job of
// the same file, if there is one: it rides along. t.mu is held.
func (t *Transfer) mergeLocked(e *qentry) {
	j := t.running[e.key]
	if j == nil {
		return
	}
	for _, m := range t.index.take(e.key) {
		j.recs = append(j.recs, m.rec)
		t.emit(control.Event{Type: "merged", Kind: m.job.Kind.String(), LFN: m.job.LFN, RID: m.job.RID})
	}
}

// stoppedKinds are the kinds whose stop file exists (STOPSTAGE ...).
func (t *Transfer) stoppedKinds() map[xrdq.Kind]bool {
	out := map[xrdq.Kind]bool{}
	for _, k := range queueKinds {
		if t.stopped(k) {
			out[k] = true
		}
	}
	return out
}

// kindDir is the direction of a queue kind: 0 in (stage, get), 1 out.
func kindDir(k xrdq.Kind) int { return xferDir(queueKind[k]) }

// xferDir is the direction of a transfer: 0 in, 1 out.
func xferDir(k xfer.Kind) int {
	if k.Inbound() {
		return 0
	}
	return 1
}

// schedule starts jobs while slots are free, class by class. A class
// first uses its own slots; then a class with more work borrows the slots
// of idle classes that lend, which come back as those transfers end:
// slots are counted, not owned, so the first transfer to end frees a
// slot for the class under its share, whoever ran in it. Within a class,
// requests go by priority turn and age (every waiting record for the
// same file rides along), then the migrations the scan found.
func (t *Transfer) schedule(ctx context.Context) {
	stopped := t.stoppedKinds()
	t.mu.Lock()
	defer t.mu.Unlock()
	total, running := 0, 0
	for i, c := range t.classes.Classes {
		total += c.Slots
		running += t.cls[i].running
	}
	// Own slots.
	for c, cl := range t.classes.Classes {
		for t.cls[c].running < cl.Slots && running < total {
			j := t.nextLocked(c, stopped)
			if j == nil {
				break
			}
			t.start(ctx, c, j)
			running++
		}
	}
	// Lent slots: those of the lending classes that have nothing to run
	// (they would have started it above).
	for c := range t.classes.Classes {
		for running < total && t.borrowableLocked() > 0 {
			j := t.nextLocked(c, stopped)
			if j == nil {
				break
			}
			t.start(ctx, c, j)
			running++
		}
	}
}

// borrowableLocked is how many slots idle lending classes still lend:
// their free slots, less those already borrowed. t.mu is held.
func (t *Transfer) borrowableLocked() int {
	lent, borrowed := 0, 0
	for i, c := range t.classes.Classes {
		r := t.cls[i].running
		switch {
		case r > c.Slots:
			borrowed += r - c.Slots
		case c.Lend:
			lent += c.Slots - r
		}
	}
	return lent - borrowed
}

// nextLocked takes the next job of class c: a queued request (by
// priority turn, then age) of a kind not stopped in a direction not
// paused, else a migration the scan found. nil when there is none.
// t.mu is held.
func (t *Transfer) nextLocked(c int, stopped map[xrdq.Kind]bool) *job {
	var kinds []xrdq.Kind
	for _, k := range queueKinds {
		if stopped[k] {
			continue
		}
		if paused, _ := t.pausedLocked(kindDir(k)); paused {
			continue // the MSS is unavailable: requests wait in the queue
		}
		kinds = append(kinds, k)
	}
	now := time.Now()
	waiting := func(e *qentry) bool {
		until, ok := t.waitRoom[e.key]
		if ok && !now.Before(until) {
			delete(t.waitRoom, e.key)
			return false
		}
		return ok // waits for the purger to free space
	}
	// oldest is the next request of priority p, or nil.
	oldest := func(p int) *qentry {
		var best *qentry
		for _, k := range kinds {
			if e := t.index.head(laneKey{c, fileKey{k, p}}, waiting); e != nil && (best == nil || before(e, best)) {
				best = e
			}
		}
		return best
	}
	st := &t.cls[c]
	if p, ok := st.turn.pick(func(p int) bool { return oldest(p) != nil }); ok {
		e := oldest(p)
		j := &job{key: e.key, x: e.job}
		for _, m := range t.index.take(e.key) {
			j.recs = append(j.recs, m.rec)
		}
		return j
	}
	if paused, _ := t.pausedLocked(1); paused || stopped[xrdq.Migrate] {
		return nil
	}
	for len(st.internal) > 0 {
		x := st.internal[0]
		st.internal = st.internal[1:]
		key := jobKey(x.Kind, x.LFN)
		if t.running[key] == nil {
			return &job{key: key, x: x}
		}
	}
	return nil
}

// start starts job j in a slot of class c. t.mu is held.
func (t *Transfer) start(ctx context.Context, c int, j *job) {
	dir := xferDir(j.x.Kind)
	if p := t.paused[dir]; p != nil && p.trial && !p.trialRunning {
		p.trialRunning, j.trial = true, true
	}
	cl := t.classes.Classes[c]
	j.class, j.dir = c, dir
	j.x.Class, j.x.Timeout = cl.Name, cl.Timeout
	t.running[j.key] = j
	t.cls[c].running++
	t.inUse[dir]++
	j.started = time.Now()
	jctx, cancel := context.WithCancel(ctx)
	j.cancel = cancel
	j.x.OnCopy = func(local string, size int64) { j.progress.Store(&copyProgress{local, size}) }
	j.x.OnSource = func(source string) { j.source.Store(&source) }
	j.x.OnCopied = func() {
		// The MSS is done with this job: its slot serves the next copy
		// while the file waits for the group flush.
		t.mu.Lock()
		if !j.slotFreed {
			j.slotFreed = true
			t.cls[j.class].running--
			t.inUse[dir]--
		}
		t.mu.Unlock()
		poke(t.slotFree)
	}
	t.emit(control.Event{Type: "start", Kind: j.x.Kind.String(), LFN: j.x.LFN, RID: j.x.RID, Class: cl.Name})
	go func() {
		out := t.run(jctx, j.x)
		cancel()
		t.done <- &job{key: j.key, x: j.x, started: j.started, recs: nil, cancel: nil, outcome: out}
	}()
}

// errPanicked is the outcome of a transfer that panicked.
var errPanicked = errors.New("transfer panicked")

// panicHold is how long the request of a transfer that panicked waits
// before it is tried again (a panic that repeats must not spin).
const panicHold = time.Minute

// run runs one transfer under supervision: a panic is recovered, logged
// with its request and stack, and becomes an outcome that requeues the
// request rather than ending the daemon.
func (t *Transfer) run(ctx context.Context, x xfer.Job) (out xfer.Outcome) {
	defer func() {
		if p := recover(); p != nil {
			t.Log.Error("transfer panicked; its request stays queued", "kind", x.Kind, "lfn", x.LFN, "rid", x.RID,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			out = xfer.Outcome{Err: fmt.Errorf("%w: %v", errPanicked, p)}
		}
	}()
	if t.beforeRun != nil {
		t.beforeRun(x)
	}
	return t.Engine.Run(ctx, x)
}

// finish records a job's end: queue records removed (unless the job was
// cancelled by a drain, so the request survives the restart),
// notifications sent, slots freed.
func (t *Transfer) finish(d *job) {
	t.mu.Lock()
	j := t.running[d.key]
	delete(t.running, d.key)
	dir := j.dir
	if !j.slotFreed {
		t.cls[j.class].running--
		t.inUse[dir]--
	}
	recs := j.recs
	lost := j.lost.Load()
	out := d.outcome
	outage := out.Outage && !lost
	switch {
	case outage:
		t.outageLocked(dir, out.Err, j.trial)
	case t.paused[dir] != nil && (out.Err == nil || j.trial && !errors.Is(out.Err, context.Canceled)):
		// A transfer of a paused direction went through (one that was
		// running when the pause began), or the trial ended without an
		// outage: the MSS answers.
		t.resumeLocked(dir, "transfer")
	}
	t.mu.Unlock()

	secs := time.Since(d.started).Seconds()
	interrupted := out.Err != nil && errors.Is(out.Err, context.Canceled)
	ev := control.Event{Kind: d.x.Kind.String(), LFN: d.x.LFN, RID: d.x.RID, Bytes: out.Bytes, Secs: secs, Class: d.x.Class}
	switch {
	case interrupted && lost:
		ev.Type, ev.Err = "lost", "lease lost"
		t.releaseLocal(recs)
		t.emit(ev)
		return
	case outage:
		// Nothing is wrong with the file: the request stays queued (a
		// shared one goes back to the queue, for a host whose MSS works
		// or for this one once it answers), nobody is told it failed.
		ev.Type, ev.Err = "requeued", "MSS unavailable: "+out.Err.Error()
		t.releaseLocal(recs)
		t.emit(ev)
		for _, r := range recs {
			if r.pg != nil {
				t.requeueShared(r, "MSS unavailable: "+out.Err.Error())
			}
		}
		return
	case out.NoRoom && !lost:
		// Lack of room is waited out, holding no slot: the request stays
		// queued, the purger is woken, and the file is tried again once
		// space was freed (or after noRoomWait).
		ev.Type, ev.Err = "requeued", "waiting for room: "+out.Err.Error()
		t.mu.Lock()
		if t.waitRoom == nil {
			t.waitRoom = map[string]time.Time{}
		}
		t.waitRoom[d.key] = time.Now().Add(noRoomWait)
		t.mu.Unlock()
		t.Log.Warn("no room on disk; the request waits for the purger", "kind", d.x.Kind, "lfn", d.x.LFN, "err", out.Err)
		t.releaseLocal(recs)
		t.emit(ev)
		for _, r := range recs {
			if r.pg != nil {
				t.requeueShared(r, "waiting for room: "+out.Err.Error())
			}
		}
		if t.OnNoRoom != nil {
			t.OnNoRoom()
		}
		time.AfterFunc(noRoomWait, t.Wake)
		return
	case errors.Is(out.Err, errPanicked):
		// A fault of frm, not of the file: the request stays queued and
		// is tried again after panicHold.
		ev.Type, ev.Err = "requeued", out.Err.Error()
		t.mu.Lock()
		if t.waitRoom == nil {
			t.waitRoom = map[string]time.Time{}
		}
		t.waitRoom[d.key] = time.Now().Add(panicHold)
		t.mu.Unlock()
		t.releaseLocal(recs)
		t.emit(ev)
		for _, r := range recs {
			if r.pg != nil {
				t.requeueShared(r, out.Err.Error())
			}
		}
		time.AfterFunc(panicHold, t.Wake)
		return
	case interrupted:
		ev.Type, ev.Err = "requeued", "interrupted by shutdown"
		t.Log.Info("transfer interrupted; request stays queued", "kind", d.x.Kind, "lfn", d.x.LFN)
		t.releaseLocal(recs)
		t.emit(ev)
		for _, r := range recs {
			if r.pg != nil {
				t.finishShared(r, outcomeView{}, true, false)
			}
		}
		return
	case out.Err != nil:
		ev.Type, ev.Err = "fail", out.Err.Error()
		t.Log.Warn("transfer failed", "kind", d.x.Kind, "lfn", d.x.LFN, "rid", d.x.RID, "tries", out.Tries, "err", out.Err)
	case out.Skipped != "":
		ev.Type, ev.Err = "skipped", out.Skipped
		t.Log.Debug("transfer not needed", "kind", d.x.Kind, "lfn", d.x.LFN, "why", out.Skipped)
	default:
		ev.Type = "done"
		t.Log.Info("transfer complete", "kind", d.x.Kind, "lfn", d.x.LFN, "rid", d.x.RID, "bytes", out.Bytes, "secs", secs)
	}
	emsg := ""
	if out.Err != nil {
		emsg = out.Err.Error()
	}
	badRequest := errors.Is(out.Err, xfer.ErrBadRequest)
	retried := false
	for _, r := range recs {
		if badRequest && r.req.CGI() != d.x.CGI {
			// The job ran with another request's bad parameters; this
			// request rides on nothing it asked for: it stays queued
			// and runs on its own.
			if r.pg != nil {
				t.requeueShared(r, "ran with another request's parameters")
			} else {
				t.releaseLocal([]recRef{r})
			}
			retried = true
			continue
		}
		if r.pg != nil {
			if !t.finishShared(r, outcomeView{err: out.Err, bytes: out.Bytes}, false, lost) {
				continue
			}
			for _, err := range notify(r.req, out.Err == nil, out.NotFound, emsg) {
				t.Log.Warn("notification failed", "lfn", d.x.LFN, "err", err)
			}
			continue
		}
		t.mu.Lock()
		t.index.complete(r, t.Log)
		t.mu.Unlock()
		for _, err := range notify(r.req, out.Err == nil, out.NotFound, emsg) {
			t.Log.Warn("notification failed", "lfn", d.x.LFN, "err", err)
		}
	}
	// The event says the outcome is recorded: queue records taken,
	// requesters told.
	t.emit(ev)
	if retried {
		t.Wake()
	}
}

// releaseLocal puts the local queue records of a job that ended without
// completing them back among the waiting requests.
func (t *Transfer) releaseLocal(recs []recRef) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, r := range recs {
		if r.pg == nil {
			t.index.release(r)
		}
	}
}

// noRoomWait is how long a stage that found no room waits before it is
// tried again when no purge frees space meanwhile.
const noRoomWait = time.Minute

// RoomFreed ends the waits of stages that found no room (a purge freed
// space) and looks at the queue again.
func (t *Transfer) RoomFreed() {
	t.mu.Lock()
	n := len(t.waitRoom)
	t.waitRoom = nil
	t.mu.Unlock()
	if n > 0 {
		t.Wake()
	}
}

// prtyTurn spreads service over priorities as frm_xfrd does: up to
// prty+1 requests of a priority before one of the next lower, so low
// priorities never starve.
type prtyTurn struct {
	prty   int // priority being served
	served int
}

// pick returns the priority to serve next, given which priorities have
// a request waiting (has), and false when none has.
func (pt *prtyTurn) pick(has func(p int) bool) (int, bool) {
	for tries := 0; tries < 2*(xrdq.MaxPriority+1); tries++ {
		if pt.served > pt.prty { // this priority had its share
			pt.served = 0
			pt.prty--
			if pt.prty < 0 {
				pt.prty = xrdq.MaxPriority
			}
		}
		if has(pt.prty) {
			pt.served++
			return pt.prty, true
		}
		pt.served = pt.prty + 1 // nothing at this priority: move on
	}
	return 0, false
}
