package daemons

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"frm/core/config"
	"frm/core/control"
	"frm/core/meta"
	"frm/core/sitegen"
	"frm/core/xfer"
	"frm/core/xrdq"
)

// patience bounds the wait for something that takes milliseconds on an
// idle machine. Only a failure waits that long, so it is generous: the
// suite runs on loaded machines (CI, -race, several packages at once).
const patience = 60 * time.Second

type tsite struct {
	l   sitegen.Layout
	cfg *config.Config
}

func newSite(t *testing.T, mutate func(*config.Config)) tsite {
	t.Helper()
	l := sitegen.NewLayout(t.TempDir())
	if err := l.WriteConfigs(); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(l.Config, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Transfer.QCheck = config.Duration(time.Hour) // only wake-ups drive the tests
	cfg.Migrate.IdleHold = 0
	cfg.Migrate.WaitTime = config.Duration(time.Hour)
	if mutate != nil {
		mutate(cfg)
	}
	return tsite{l, cfg}
}

func (s tsite) mssFile(t *testing.T, lfn, content string) {
	t.Helper()
	p := filepath.Join(s.l.RemoteRoot, lfn)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

type running struct {
	d      *Daemon
	cancel context.CancelFunc
	done   chan error
	mu     sync.Mutex
	events []control.Event
}

func start(t *testing.T, s tsite, only ...string) *running {
	t.Helper()
	return startLogging(t, s, testLog(), only...)
}

// startLogging is start with the daemon's log going to log.
func startLogging(t *testing.T, s tsite, log *slog.Logger, only ...string) *running {
	t.Helper()
	return startWith(t, s, log, nil, only...)
}

// startWith is startLogging with prepare called on the daemon before it
// runs.
func startWith(t *testing.T, s tsite, log *slog.Logger, prepare func(*Daemon), only ...string) *running {
	t.Helper()
	d, err := New(s.cfg, Options{Only: only, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if prepare != nil {
		prepare(d)
	}
	r := &running{d: d, done: make(chan error, 1)}
	if d.Transfer != nil {
		d.Transfer.OnEvent = func(ev control.Event) {
			r.mu.Lock()
			r.events = append(r.events, ev)
			r.mu.Unlock()
			d.publish(ev)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- d.Run(ctx, 5*time.Second) }()
	t.Cleanup(func() { r.stop(t); d.Close() })
	return r
}

func (r *running) stop(t *testing.T) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("daemon: %v", err)
		}
	case <-time.After(patience):
		t.Error("daemon did not stop")
	}
}

func (r *running) waitEvent(t *testing.T, typ, lfn string) control.Event {
	t.Helper()
	deadline := time.Now().Add(patience)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		for _, ev := range r.events {
			if ev.Type == typ && ev.LFN == lfn {
				r.mu.Unlock()
				return ev
			}
		}
		r.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	t.Fatalf("no %s event for %s; events: %+v", typ, lfn, r.events)
	return control.Event{}
}

// addSeq orders test requests: records added within one second tie, and
// queue compaction (as xrootd's) puts later slots first among ties.
var addSeq int64

func queueAdd(t *testing.T, s tsite, line string) {
	t.Helper()
	addSeq++
	q := xrdq.Open(s.cfg.QueueDir())
	os.MkdirAll(s.cfg.QueueDir(), 0o755)
	q.Init()
	cmd, err := xrdq.ParseAgentLine(line)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range cmd.Paths {
		if err := q.Add(xrdq.BuildRequest(cmd, p, "anon", time.Now().Add(time.Duration(addSeq)*time.Second))); err != nil {
			t.Fatal(err)
		}
	}
}

func TestStageWithFIFONotification(t *testing.T) {
	s := newSite(t, nil)
	s.mssFile(t, "/store/a.fits", "hello world\n")
	fifo := filepath.Join(s.l.Dir, "notify.fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	// The requester has its FIFO open before the request exists (the
	// daemon's non-blocking open finds no reader otherwise). O_RDWR: the
	// reader holds a write end too, so it never sees EOF between
	// notifications (a requester keeps its FIFO open).
	f, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := make(chan string, 2)
	go func() {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			got <- sc.Text()
		}
	}()
	r := start(t, s, "stage")
	queueAdd(t, s, "+tid1 req1 file://"+fifo+" 1 rsn /store/a.fits /store/none.fits")
	r.d.Transfer.Wake()
	r.waitEvent(t, "done", "/store/a.fits")
	r.waitEvent(t, "fail", "/store/none.fits")
	msgs := map[string]bool{}
	_ = msgs
	for i := 0; i < 2; i++ {
		select {
		case m := <-got:
			msgs[strings.Fields(m)[1]] = true
			if !strings.HasPrefix(m, "stage OK /store/a.fits") && !strings.HasPrefix(m, "stage ENOENT /store/none.fits") {
				t.Errorf("notification %q", m)
			}
		case <-time.After(patience):
			t.Fatalf("notifications missing: %v", msgs)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(s.l.LocalRoot, "store/a.fits")); string(b) != "hello world\n" {
		t.Fatalf("staged content %q", b)
	}
	// The queue is empty once both are done.
	n := 0
	xrdq.Open(s.cfg.QueueDir()).List([]xrdq.Kind{xrdq.Stage}, -1, func(xrdq.Request) error { n++; return nil })
	if n != 0 {
		t.Errorf("%d requests left in the queue", n)
	}
}

func TestDuplicatesMergedAndPriorityOrder(t *testing.T) {
	gate := filepath.Join(t.TempDir(), "gate")
	s := newSite(t, func(c *config.Config) {
		c.Transfer.CopyMax = 1
		c.MSS.Backend = "command"
		// Copies wait for the gate, so requests pile up while the first
		// runs however slow the machine is (a fixed sleep let the first
		// finish before the others were all queued).
		c.MSS.CopyIn = []string{"/bin/sh", "-c", `while [ ! -e "$2" ]; do sleep 0.02; done; cp "$0" "$1"`, "$SRC", "$DST", gate}
		c.MSS.CopyOut = []string{"/bin/cp", "$SRC", "$DST"}
	})
	for _, f := range []string{"first", "low", "high", "dup"} {
		s.mssFile(t, "/store/"+f, f)
	}
	r := start(t, s, "stage")
	queueAdd(t, s, "+ r0 - 0 r /store/first")
	r.d.Transfer.Wake()
	r.waitEvent(t, "start", "/store/first")
	queueAdd(t, s, "+ r1 - 0 r /store/low")
	queueAdd(t, s, "+ r2 - 2 r /store/high")
	queueAdd(t, s, "+ r3 - 0 r /store/dup")
	queueAdd(t, s, "+ r4 - 1 r /store/dup")
	r.d.Transfer.Wake()
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"first", "low", "high", "dup"} {
		r.waitEvent(t, "done", "/store/"+f)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var order []string
	starts := map[string]int{}
	for _, ev := range r.events {
		if ev.Type == "start" {
			order = append(order, ev.LFN)
			starts[ev.LFN]++
		}
	}
	if starts["/store/dup"] != 1 {
		t.Errorf("duplicate stage ran %d times", starts["/store/dup"])
	}
	if len(order) != 4 || order[1] != "/store/high" {
		t.Errorf("start order %q: the priority 2 request should go first", order)
	}
}

func TestMigrationScanAndStopFile(t *testing.T) {
	s := newSite(t, nil)
	r := start(t, s, "migrate")
	pfn := filepath.Join(s.l.LocalRoot, "store/new.fits")
	os.MkdirAll(filepath.Dir(pfn), 0o755)
	os.WriteFile(pfn, []byte("new data"), 0o644)
	mt := time.Now().Add(-time.Hour)
	os.Chtimes(pfn, mt, mt)
	meta.SetCopyTime(pfn, 1)
	// A stop file suspends migration.
	stop := StopFile(s.cfg.AdminDir(), xrdq.Migrate)
	os.WriteFile(stop, nil, 0o644)
	r.d.Migrator.Wake()
	time.Sleep(300 * time.Millisecond)
	if c, _, _ := meta.GetCopyTime(pfn); c != 1 {
		t.Fatalf("migrated despite %s", stop)
	}
	os.Remove(stop)
	r.d.Transfer.Wake()
	r.waitEvent(t, "done", "/store/new.fits")
	if c, _, _ := meta.GetCopyTime(pfn); c != mt.Unix() {
		t.Errorf("copy time %d, want %d", c, mt.Unix())
	}
	if b, _ := os.ReadFile(filepath.Join(s.l.RemoteRoot, "store/new.fits")); string(b) != "new data" {
		t.Errorf("MSS copy %q", b)
	}
}

func TestControlSocketStatusQueueCancel(t *testing.T) {
	s := newSite(t, func(c *config.Config) {
		slowStage(c)
		c.Transfer.CopyMax = 1
	})
	s.mssFile(t, "/store/slow", "x")
	s.mssFile(t, "/store/waiting", "y")
	var logged lockedBuffer
	r := startLogging(t, s, slog.New(slog.NewTextHandler(&logged, nil)), "stage")
	queueAdd(t, s, "+ rs - 0 r /store/slow")
	queueAdd(t, s, "+ rw - 0 r /store/waiting")
	r.d.Transfer.Wake()
	r.waitEvent(t, "start", "/store/slow")
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	c := control.New(s.cfg.AdminDir())
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Transfer == nil || len(st.Transfer.Active) != 1 || st.Transfer.Active[0].LFN != "/store/slow" {
		t.Fatalf("status %+v", st)
	}
	q, err := c.Queue(ctx)
	if err != nil || len(q) != 2 {
		t.Fatalf("queue %+v %v", q, err)
	}
	if n, err := c.Cancel(ctx, "rs"); err != nil || n != 1 {
		t.Fatalf("cancel: %d %v", n, err)
	}
	if n, err := c.Cancel(ctx, "nonexistent"); err != nil || n != 0 {
		t.Fatalf("cancel of no request: %d %v", n, err)
	}
	if l := logged.String(); !strings.Contains(l, `msg="request cancelled" rid=rs records=1 running_stopped=1 lfns=[/store/slow]`) ||
		strings.Contains(l, "nonexistent") {
		t.Errorf("cancel not logged as it should be:\n%s", l)
	}
	r.waitEvent(t, "start", "/store/waiting") // the slot was freed
	if fi, err := os.Stat(s.cfg.AdminDir()); err != nil || fi.Mode().Perm()&0o007 != 0 {
		t.Errorf("admin dir permissions %v %v", fi.Mode(), err)
	}
	if fi, err := os.Stat(control.SocketPath(s.cfg.AdminDir())); err != nil || fi.Mode().Perm() != 0o660 {
		t.Errorf("control socket mode %v %v", fi, err)
	}
}

func TestDrainRequeuesUnfinished(t *testing.T) {
	s := newSite(t, func(c *config.Config) {
		slowStage(c)
	})
	s.mssFile(t, "/store/long", "x")
	d, started, cancel, done := runDraining(t, s, 200*time.Millisecond)
	queueAdd(t, s, "+ rl - 0 r /store/long")
	d.Transfer.Wake()
	<-started
	cancel()
	select {
	case <-done:
	case <-time.After(patience):
		t.Fatal("drain did not end at its deadline")
	}
	n := 0
	xrdq.Open(s.cfg.QueueDir()).List([]xrdq.Kind{xrdq.Stage}, -1, func(xrdq.Request) error { n++; return nil })
	if n != 1 {
		t.Fatalf("the interrupted request was not kept: %d queued", n)
	}
	pfn := filepath.Join(s.l.LocalRoot, "store/long")
	for _, p := range []string{pfn, pfn + ".anew", pfn + ".fail"} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s left by the interrupted stage", p)
		}
	}
}

func TestSingleInstance(t *testing.T) {
	s := newSite(t, nil)
	d, err := New(s.cfg, Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// fcntl locks do not conflict within one process; the lock is checked
	// across processes in cmd/frm's end-to-end test. Here: the lock file
	// names the holder.
	b, _ := os.ReadFile(filepath.Join(s.cfg.AdminDir(), "frm_daemon.lock"))
	if strings.TrimSpace(string(b)) == "" {
		t.Error("lock file does not name the holder")
	}
}

func TestMetrics(t *testing.T) {
	s := newSite(t, nil)
	s.mssFile(t, "/store/m.fits", "metrics")
	r := start(t, s, "stage")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := r.d.ServeMetrics(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	queueAdd(t, s, "+ rm - 0 r /store/m.fits")
	r.d.Transfer.Wake()
	r.waitEvent(t, "done", "/store/m.fits")
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`frm_transfers_total{class="in",kind="stage",outcome="done"} 1`,
		`frm_transfer_bytes_total{class="in",kind="stage",outcome="done"} 7`,
		`frm_queue_depth{class="in"} 0`,
		`frm_class_running{class="out"} 0`,
		`frm_queue_requests{kind="pstg",priority="0"} 0`,
		`frm_space_bytes{kind="total",space="public"}`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestUDPNotificationAndEventStream(t *testing.T) {
	s := newSite(t, nil)
	s.mssFile(t, "/store/u.fits", "udp")
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	r := start(t, s, "stage")
	// Subscribe to the event stream before the work starts.
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	var dl net.Dialer
	var c net.Conn
	for {
		if c, err = dl.DialContext(ctx, "unix", control.SocketPath(s.cfg.AdminDir())); err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	defer c.Close()
	c.Write([]byte(`{"cmd":"events"}` + "\n"))
	events := bufio.NewScanner(c)

	queueAdd(t, s, "+ ru udp://"+pc.LocalAddr().String()+"/hello 0 rs /store/u.fits /store/missing.fits")
	r.d.Transfer.Wake()
	got := map[string]bool{}
	pc.SetReadDeadline(time.Now().Add(patience))
	buf := make([]byte, 512)
	for len(got) < 2 {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("datagrams so far %v: %v", got, err)
		}
		got[string(buf[:n])] = true
	}
	for _, want := range []string{"ready ru hello /store/u.fits", "unprep ru hello /store/missing.fits"} {
		if !got[want] {
			t.Errorf("no datagram %q in %v", want, got)
		}
	}
	seen := map[string]bool{}
	c.SetReadDeadline(time.Now().Add(patience))
	for !(seen["done /store/u.fits"] && seen["fail /store/missing.fits"]) && events.Scan() {
		var ev control.Event
		if err := json.Unmarshal(events.Bytes(), &ev); err != nil {
			t.Fatalf("event line %q: %v", events.Text(), err)
		}
		seen[ev.Type+" "+ev.LFN] = true
	}
	if !seen["done /store/u.fits"] || !seen["fail /store/missing.fits"] {
		t.Errorf("event stream showed %v", seen)
	}
}

// TestCancelNotifiesWaitingRequester: a cancelled request's requester
// hears about it (the FIFO gets a failure line).
func TestCancelNotifiesWaitingRequester(t *testing.T) {
	s := newSite(t, func(c *config.Config) {
		slowStage(c)
		c.Transfer.CopyMax = 1
	})
	s.mssFile(t, "/store/busy", "x")
	s.mssFile(t, "/store/queued", "y")
	fifo := filepath.Join(s.l.Dir, "cancel.fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(f)
		if sc.Scan() {
			lines <- sc.Text()
		}
	}()
	r := start(t, s, "stage")
	queueAdd(t, s, "+ rb - 0 r /store/busy")
	queueAdd(t, s, "+ rq file://"+fifo+" 0 r /store/queued")
	r.d.Transfer.Wake()
	r.waitEvent(t, "start", "/store/busy")
	if n, err := r.d.Cancel("rq"); err != nil || n != 1 {
		t.Fatalf("cancel: %d %v", n, err)
	}
	select {
	case l := <-lines:
		if l != "stage BAD /store/queued request cancelled" {
			t.Errorf("requester was told %q", l)
		}
	case <-time.After(patience):
		t.Fatal("the requester of a cancelled request heard nothing")
	}
}

// testLog discards the daemon's log unless FRM_TEST_LOG is set.
// lockedBuffer is a log destination that goroutines share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func testLog() *slog.Logger {
	if os.Getenv("FRM_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// slowStage makes stages take 30 s (a copy command that sleeps first), so
// that a test can act while one runs.
func slowStage(c *config.Config) {
	c.MSS.Backend = "command"
	c.MSS.CopyIn = []string{"/bin/sh", "-c", `sleep 30; cp "$0" "$1"`, "$SRC", "$DST"}
	c.MSS.CopyOut = []string{"/bin/cp", "$SRC", "$DST"}
}

// runDraining runs a stage-only daemon whose drain lasts drain; started
// receives each transfer start, cancel begins the drain, done gets Run's
// result.
func runDraining(t *testing.T, s tsite, drain time.Duration) (*Daemon, chan struct{}, context.CancelFunc, chan error) {
	t.Helper()
	d, err := New(s.cfg, Options{Only: []string{"stage"}, Log: testLog()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	started := make(chan struct{}, 1)
	d.Transfer.OnEvent = func(ev control.Event) {
		if ev.Type == "start" {
			started <- struct{}{}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, drain) }()
	return d, started, cancel, done
}

// TestQueuedBeforeStartServedAtOnce: requests queued while no daemon ran
// are served as soon as it starts, without a wake-up and long before the
// queue check (an hour here).
func TestQueuedBeforeStartServedAtOnce(t *testing.T) {
	s := newSite(t, nil)
	s.mssFile(t, "/store/early.fits", "early")
	queueAdd(t, s, "+ re - 0 r /store/early.fits")
	r := start(t, s, "stage")
	r.waitEvent(t, "done", "/store/early.fits")
}

// TestPanickingTransferIsRequeued: a transfer that panics does not take
// the daemon down: the panic is logged with its request, the request stays
// queued (and is tried again later), and other requests go on.
func TestPanickingTransferIsRequeued(t *testing.T) {
	s := newSite(t, nil)
	s.mssFile(t, "/store/boom.fits", "boom")
	s.mssFile(t, "/store/fine.fits", "fine")
	var logged lockedBuffer
	var panics atomic.Int32
	r := startWith(t, s, slog.New(slog.NewTextHandler(&logged, nil)), func(d *Daemon) {
		d.Transfer.beforeRun = func(x xfer.Job) {
			if x.LFN == "/store/boom.fits" && panics.Add(1) == 1 {
				panic("injected fault")
			}
		}
	}, "stage")
	queueAdd(t, s, "+ rb - 0 r /store/boom.fits")
	queueAdd(t, s, "+ rf - 0 r /store/fine.fits")
	r.d.Transfer.Wake()
	ev := r.waitEvent(t, "requeued", "/store/boom.fits")
	if !strings.Contains(ev.Err, "injected fault") {
		t.Errorf("requeued event: %+v", ev)
	}
	r.waitEvent(t, "done", "/store/fine.fits")
	if l := logged.String(); !strings.Contains(l, `msg="transfer panicked; its request stays queued"`) || !strings.Contains(l, "rid=rb") || !strings.Contains(l, "goroutine") {
		t.Errorf("panic not logged with its request and stack:\n%s", l)
	}
	var ids []string
	xrdq.Open(s.cfg.QueueDir()).List([]xrdq.Kind{xrdq.Stage}, -1, func(q xrdq.Request) error { ids = append(ids, q.ID); return nil })
	if !slices.Equal(ids, []string{"rb"}) {
		t.Errorf("queued after the panic: %v, want [rb]", ids)
	}
	// After its hold the request runs again, and this time succeeds.
	r.d.Transfer.RoomFreed() // ends the hold now
	r.waitEvent(t, "done", "/store/boom.fits")
}
