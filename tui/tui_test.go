package tui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"

	"frm/core/config"
	"frm/core/meta"
	"frm/shell"
	"frm/tui/model"
)

func TestMain(m *testing.M) {
	lipgloss.SetColorProfile(termenv.Ascii)
	os.Exit(m.Run())
}

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// fake is a Backend with fixed data that records the actions asked of it.
type fake struct {
	mu      sync.Mutex
	spaces  []model.SpaceRow
	dirs    map[string][]model.FileRow
	queue   QueueSnapshot
	events  []model.QueueEvent
	calls   []string
	listErr error
	block   chan struct{} // when set, List waits for it
	audit   []model.AuditProblem
	auditGo chan struct{} // when set, Audit waits for it (or cancellation)
	daemon  model.DaemonStatus
	// daemonEvents are events for the Daemons view tests (set as events
	// by those tests).
	daemonEvents []model.QueueEvent
	use          map[string]model.SpaceUse
	useGo        chan struct{} // when set, SpaceUse waits for it
	useCalls     atomic.Int32
}

func newFake() *fake {
	const G = int64(1) << 30
	f := &fake{
		spaces: []model.SpaceRow{
			{Space: "public", Total: 100 * G, Free: 40 * G, Files: 1200, Bytes: 55 * G, MinFree: 5 * G, MaxFree: 10 * G},
			{Space: "public", Partition: "/srv/pub1", Total: 50 * G, Free: 20 * G, Files: 600, Bytes: 27 * G, NoPurge: true},
			{Space: "public", Partition: "/srv/pub2", Total: 50 * G, Free: 20 * G, Files: 600, Bytes: 28 * G, NoPurge: true},
			{Space: "data", Total: 200 * G, Free: 15 * G, Files: 9000, Bytes: 180 * G, MinFree: 10 * G, MaxFree: 20 * G},
			{Space: "data", Partition: "/srv/data1", Total: 200 * G, Free: 15 * G, Files: 9000, Bytes: 180 * G, NoPurge: true},
			{Space: "fast", Total: 10 * G, Free: G / 4, Files: 40, Bytes: 9 * G, NoPurge: true},
			{Space: "fast", Partition: "/srv/fast1", Err: "statfs /srv/fast1: input/output error"},
		},
		dirs: map[string][]model.FileRow{
			"/": {{Name: "store", Dir: true, Res: model.ResDir, Mtime: t0.Add(-48 * time.Hour).Unix()}, {Name: "tmp", Dir: true, Res: model.ResDir}},
			"/store": {
				{Name: "hmi", Dir: true, Res: model.ResDir},
				{Name: "aia_0001.fits", Size: 12 << 20, Space: "data", Partition: "/srv/data1", Res: model.ResMigrated, Mtime: t0.Add(-3 * time.Hour).Unix(), Atime: t0.Add(-time.Hour).Unix(), CopyTime: t0.Add(-2 * time.Hour).Unix(), Checksum: "adler32:0a1b2c3d"},
				{Name: "aia_0002.fits", Size: 800 << 10, Space: "data", Partition: "/srv/data1", Res: model.ResNeedsMig, Mtime: t0.Add(-30 * time.Minute).Unix(), Atime: t0.Add(-30 * time.Minute).Unix(), CopyTime: t0.Add(-5 * time.Hour).Unix()},
				{Name: "hmi_pinned.fits", Size: 3 << 30, Space: "public", Res: model.ResMigrated, Mtime: t0.Add(-72 * time.Hour).Unix(), Atime: t0.Add(-24 * time.Hour).Unix(), Pinned: true, Pin: meta.Pin{Flags: meta.PinKeep, Time: t0.Add(30 * 24 * time.Hour).Unix()}},
				{Name: "new.fits", Size: 100, Space: "public", Res: model.ResNone, Mtime: t0.Add(-10 * time.Second).Unix(), Atime: t0.Add(-10 * time.Second).Unix()},
				{Name: "lost.fits", Space: "fast", Res: model.ResDangling, Failed: true},
			},
		},
		queue: QueueSnapshot{DaemonUp: true, Rows: []model.QueueRow{
			{Kind: "stage", Priority: 0, LFN: "/store/aia_0001.fits", RID: "r101", TID: "alice.1:23@host", Added: t0.Add(-90 * time.Second).Unix(), Running: true, Size: 100 << 20, Done: 40 << 20, Rate: 10 << 20},
			{Kind: "stage", Priority: 2, LFN: "/store/hmi/b.fits", RID: "r102", TID: "bob.7:1@node", Added: t0.Add(-5 * time.Minute).Unix(), Done: -1},
			{Kind: "migrate", Priority: 0, LFN: "/store/new.fits", RID: "m1", TID: "frm", Added: t0.Add(-time.Hour).Unix(), Done: -1},
		}},
	}
	f.audit = []model.AuditProblem{
		{Code: 1, Kind: "dangling link", Name: "/srv/ns/store/lost.fits", PFN: "/srv/ns/store/lost.fits", Other: "/srv/fast1/data/00/lost%", Fix: "remove symlink /srv/ns/store/lost.fits (its data /srv/fast1/data/00/lost% is gone)"},
		{Code: 2, Kind: "no copy time", Name: "/srv/ns/store/new.fits", PFN: "/srv/ns/store/new.fits", Fix: "set the copy time of /srv/ns/store/new.fits"},
		{Code: 2, Kind: "no copy time", Name: "/srv/ns/store/aia_0002.fits", PFN: "/srv/ns/store/aia_0002.fits", Fix: "set the copy time of /srv/ns/store/aia_0002.fits"},
		{Code: 5, Kind: "data without xref", Name: "/srv/data1/data/7f/orphan%", Data: "/srv/data1/data/7f/orphan%", Size: 4 << 20},
	}
	f.use = map[string]model.SpaceUse{
		"public": {MigFiles: 3, MigBytes: 1200 << 20, PinFiles: 1, PinBytes: 3 << 30}, "public:/srv/pub1": {MigFiles: 3, MigBytes: 1200 << 20},
		"public:/srv/pub2": {PinFiles: 1, PinBytes: 3 << 30}, "data": {MigFiles: 40, MigBytes: 12 * G}, "data:/srv/data1": {MigFiles: 40, MigBytes: 12 * G},
	}
	f.daemon = model.DaemonStatus{Up: true, PID: 4242, Started: t0.Add(-3 * time.Hour), Components: []string{"transfer", "migrate", "purge"},
		SlotsIn: 4, SlotsOut: 2, InUseIn: 1, InUseOut: 0, Active: 1, PurgeAt: t0.Add(-10 * time.Minute), PurgeFiles: 12, PurgeBytes: 3 << 30,
		Stopped: map[string]bool{"STOPMIGR": true}, AdminDir: "/var/adm/frm"}
	f.daemonEvents = []model.QueueEvent{
		{Time: t0.Add(-2 * time.Minute), Type: "start", Kind: "stage", LFN: "/store/aia_0001.fits", RID: "r101"},
		{Time: t0.Add(-time.Minute), Type: "fail", Kind: "stage", LFN: "/store/hmi/a.fits", RID: "r99", Err: "copy_in exited 1"},
	}
	return f
}

func (f *fake) record(s string) {
	f.mu.Lock()
	f.calls = append(f.calls, s)
	f.mu.Unlock()
}

func (f *fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fake) Name() string { return "demo" }
func (f *fake) Spaces(ctx context.Context) ([]model.SpaceRow, error) {
	return append([]model.SpaceRow(nil), f.spaces...), nil
}
func (f *fake) SpaceUse(ctx context.Context) (map[string]model.SpaceUse, error) {
	f.useCalls.Add(1)
	if f.useGo != nil {
		select {
		case <-f.useGo:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return maps.Clone(f.use), nil
}
func (f *fake) List(ctx context.Context, dir string, emit func([]model.FileRow) error) error {
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if f.listErr != nil {
		return f.listErr
	}
	rows := f.dirs[dir]
	for i := 0; i < len(rows); i += 2 { // two rows per chunk: exercise chunking
		if err := emit(append([]model.FileRow(nil), rows[i:min(i+2, len(rows))]...)); err != nil {
			return err
		}
	}
	return nil
}
func (f *fake) Queue(ctx context.Context) (QueueSnapshot, error) {
	s := f.queue
	s.Rows = append([]model.QueueRow(nil), s.Rows...)
	return s, nil
}
func (f *fake) Events(ctx context.Context, emit func(model.QueueEvent)) error {
	for _, e := range f.events {
		emit(e)
	}
	<-ctx.Done()
	return ctx.Err()
}
func (f *fake) Cancel(ctx context.Context, rid string) (string, error) {
	f.record("cancel " + rid)
	return "cancel " + rid + ": 1 entry removed", nil
}
func (f *fake) Wake(ctx context.Context) (string, error) {
	f.record("wake")
	return "daemon woken", nil
}
func (f *fake) Pin(ctx context.Context, lfns []string, keep string) (string, error) {
	f.record("pin " + keep + " " + strings.Join(lfns, " "))
	return fmt.Sprintf("1 of 1 file pinned (%s)", keep), nil
}
func (f *fake) Mark(ctx context.Context, lfns []string, purgeable bool) (string, error) {
	f.record(fmt.Sprintf("mark purgeable=%v %s", purgeable, strings.Join(lfns, " ")))
	return "1 of 1 file marked", nil
}
func (f *fake) Reloc(ctx context.Context, lfn, target string) (string, error) {
	f.record("reloc " + lfn + " " + target)
	return lfn + " relocated to " + target, nil
}
func (f *fake) Stage(ctx context.Context, lfns []string) (string, error) {
	f.record("stage " + strings.Join(lfns, " "))
	return fmt.Sprintf("stage: %d of %d files queued as frm-1", len(lfns), len(lfns)), nil
}
func (f *fake) MigrateNow(ctx context.Context, lfns []string) (string, error) {
	f.record("migrate " + strings.Join(lfns, " "))
	return fmt.Sprintf("migrate: %d of %d files queued as frm-2", len(lfns), len(lfns)), nil
}
func (f *fake) SetPriority(ctx context.Context, rid string, prty int) (string, error) {
	f.record(fmt.Sprintf("priority %s %d", rid, prty))
	return fmt.Sprintf("%s: 1 entry moved to priority %d", rid, prty), nil
}
func (f *fake) Remove(ctx context.Context, lfns []string) (string, error) {
	f.record("rm " + strings.Join(lfns, " "))
	return "", errors.New("Unable to remove " + lfns[0] + "; permission denied")
}

func (f *fake) Audit(ctx context.Context, req AuditRequest, emit func(model.AuditProblem), scanned *atomic.Int64) (string, error) {
	f.record("audit " + req.Mode + " " + req.Target)
	for _, p := range f.audit {
		scanned.Add(100)
		emit(p)
	}
	if f.auditGo != nil {
		select {
		case <-f.auditGo:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	return fmt.Sprintf("audit %s %s: %d problems", req.Mode, req.Target, len(f.audit)), nil
}
func (f *fake) FixProblems(ctx context.Context, ps []model.AuditProblem, fixed func(string)) (string, error) {
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
		fixed(p.Key())
	}
	f.record("fix " + strings.Join(names, " "))
	return fmt.Sprintf("fixed %d of %d problems", len(ps), len(ps)), nil
}
func (f *fake) Daemons(ctx context.Context) (model.DaemonStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.daemon
	st.Stopped = maps.Clone(st.Stopped)
	return st, nil
}
func (f *fake) SetStop(ctx context.Context, file string, on bool) (string, error) {
	f.record(fmt.Sprintf("stop %s %v", file, on))
	f.mu.Lock()
	f.daemon.Stopped[file] = on
	f.mu.Unlock()
	return fmt.Sprintf("stop %s %v", file, on), nil
}
func (f *fake) Complete(line string) (string, []string) {
	return (&shell.Shell{}).CompleteLine(line)
}
func (f *fake) Exec(ctx context.Context, line string) (string, int, error) {
	f.record("exec " + line)
	if strings.HasPrefix(line, "bogus") {
		return "frm admin: Invalid command - bogus\n", 2, nil
	}
	var b strings.Builder
	for i := range 40 {
		fmt.Fprintf(&b, "line %d of %s\n", i+1, line)
	}
	return b.String(), 0, nil
}

func newTestApp(f *fake, readOnly bool) *App {
	return newTestAppKeys(f, readOnly, nil)
}

// newTestAppKeys is newTestApp with key overrides ([tui.keys]).
func newTestAppKeys(f *fake, readOnly bool, keys map[string][]string) *App {
	return New(Options{Backend: f, ReadOnly: readOnly, Now: func() time.Time { return t0 }, Loc: time.UTC, Every: -1, Keys: keys})
}

// patience bounds a wait that takes milliseconds on an idle machine; only
// a failure waits that long.
const patience = time.Minute

// settled reports whether nothing the console started is still on its
// way: no load of a view, no directory listing, no space walk, no audit,
// no palette command, no action.
func (a *App) settled() bool {
	return !a.spaces.Refresh.InFlight() && !a.spaces.UseRefresh.InFlight() && !a.ns.Refresh.InFlight() && !a.ns.Loading &&
		!a.queues.Refresh.InFlight() && !a.daemons.Refresh.InFlight() && !a.audit.Running && !a.pal.Running && a.busy == 0
}

// keyed is the console as teatest runs it, with keys that can be waited
// for: send delivers a key and returns once the console has settled after
// it, so that the next key finds what this one loaded, however slow the
// machine (a fixed 20 ms pause failed as soon as a listing took longer).
type keyed struct {
	*App
	st *keyState
}

type keyState struct {
	last      int64        // the last numbered key delivered (runtime goroutine only)
	settledAt atomic.Int64 // the last key after which the console was settled
}

// numberedKey is a key press with its sequence number.
type numberedKey struct {
	tea.KeyMsg
	n int64
}

func (k keyed) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if m, ok := msg.(numberedKey); ok {
		k.st.last, msg = m.n, m.KeyMsg
	}
	_, cmd := k.App.Update(msg)
	if k.App.settled() {
		k.st.settledAt.Store(k.st.last)
	}
	return k, cmd
}

// send presses key (the n-th key, from 1) and waits until the console has
// settled after it.
func (k keyed) send(t *testing.T, tm *teatest.TestModel, key string, n int64) {
	t.Helper()
	tm.Send(numberedKey{keyMsg(key), n})
	deadline := time.Now().Add(patience)
	for k.st.settledAt.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("the console never settled after key %d (%q)", n, key)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// drive runs cmd and feeds the messages it produces back into the app,
// synchronously, until nothing is left (tea.Batch included). It stands in
// for the tea runtime in Update tests.
func drive(a *App, cmd tea.Cmd) {
	queue := []tea.Cmd{cmd}
	for n := 0; len(queue) > 0 && n < 1000; n++ {
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		msg := runFor(c, 300*time.Millisecond)
		switch m := msg.(type) {
		case tea.BatchMsg:
			queue = append(queue, m...)
			continue
		case nil:
			continue
		case eventMsg:
			if !m.end && m.ch != nil && len(m.ch) == 0 {
				// Apply this event but do not wait for the live stream.
				a.Update(m)
				continue
			}
		}
		switch msg.(type) {
		case tickMsg, auditTickMsg:
			continue // periodic: would never end
		}
		_, next := a.Update(msg)
		queue = append(queue, next)
	}
}

// runFor runs a command, giving up (nil) when it blocks longer than d: a
// command that waits on the live event stream.
func runFor(c tea.Cmd, d time.Duration) tea.Msg {
	ch := make(chan tea.Msg, 1)
	go func() { ch <- c() }()
	select {
	case m := <-ch:
		return m
	case <-time.After(d):
		return nil
	}
}

func keyMsg(s string) tea.KeyMsg {
	switch s {
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	case "tab":
		return tea.KeyMsg{Type: tea.KeyTab}
	case "backspace":
		return tea.KeyMsg{Type: tea.KeyBackspace}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	case "ctrl+r":
		return tea.KeyMsg{Type: tea.KeyCtrlR}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}

func press(a *App, keys ...string) {
	for _, k := range keys {
		_, cmd := a.Update(keyMsg(k))
		drive(a, cmd)
	}
}

// TestAppUpdate drives the root model with keys and checks the state and
// the backend calls (no terminal).
func TestAppUpdate(t *testing.T) {
	tests := []struct {
		name     string
		readOnly bool
		custom   map[string][]string // [tui.keys]
		keys     []string
		view     viewID
		sel      string // key of the selected row of the view
		calls    []string
		status   string
	}{
		{name: "starts on spaces", view: viewSpaces, sel: "public"},
		{name: "number keys", keys: []string{"3"}, view: viewQueues, sel: "stage\x00r101\x00/store/aia_0001.fits"},
		{name: "tab cycles", keys: []string{"tab", "tab", "tab", "tab", "tab"}, view: viewSpaces, sel: "public"},
		{name: "enter on space opens namespace filtered", keys: []string{"j", "j", "j", "enter"}, view: viewNamespace, sel: "store", status: "space data"},
		{name: "browse into store", keys: []string{"2", "enter"}, view: viewNamespace, sel: "hmi"},
		{name: "up selects where we came from", keys: []string{"2", "j", "enter", "backspace"}, view: viewNamespace, sel: "tmp"},
		{name: "filter", keys: []string{"2", "enter", "/", "p", "i", "n", "enter"}, view: viewNamespace, sel: "hmi_pinned.fits"},
		{name: "sort by size", keys: []string{"2", "enter", "o", "j"}, view: viewNamespace, sel: "hmi_pinned.fits"},
		{name: "pin form", keys: []string{"2", "enter", "j", "p", "7", "d", "enter"}, view: viewNamespace, sel: "aia_0001.fits",
			calls: []string{"pin 7d /store/aia_0001.fits"}, status: "pinned (7d)"},
		{name: "pin form refuses bad spec", keys: []string{"2", "enter", "j", "p", "x", "enter", "esc"}, view: viewNamespace, sel: "aia_0001.fits", status: "pin cancelled"},
		{name: "unpin", keys: []string{"2", "enter", "j", "u"}, view: viewNamespace, calls: []string{"pin 0 /store/aia_0001.fits"}},
		{name: "mark -p", keys: []string{"2", "enter", "j", "M"}, view: viewNamespace, calls: []string{"mark purgeable=true /store/aia_0001.fits"}},
		{name: "relocate picks a space", keys: []string{"2", "enter", "j", "R", "down", "down", "enter"}, view: viewNamespace,
			calls: []string{"reloc /store/aia_0001.fits public:/srv/pub2"}},
		{name: "remove asks, error reported", keys: []string{"2", "enter", "j", "d", "y"}, view: viewNamespace,
			calls: []string{"rm /store/aia_0001.fits"}, status: "permission denied"},
		{name: "remove declined", keys: []string{"2", "enter", "j", "d", "n"}, view: viewNamespace, status: "cancelled"},
		{name: "no actions on directories", keys: []string{"2", "enter", "d"}, view: viewNamespace, status: "is a directory"},
		{name: "cancel request", keys: []string{"3", "c", "enter"}, view: viewQueues, calls: []string{"cancel r101"}},
		{name: "wake", keys: []string{"3", "w"}, view: viewQueues, calls: []string{"wake"}, status: "woken"},
		{name: "stage", keys: []string{"2", "enter", "j", "j", "S"}, view: viewNamespace, calls: []string{"stage /store/aia_0002.fits"}, status: "queued as frm-1"},
		{name: "migrate now", keys: []string{"2", "enter", "j", "j", "N"}, view: viewNamespace, calls: []string{"migrate /store/aia_0002.fits"}, status: "queued as frm-2"},
		{name: "no stage of a directory", keys: []string{"2", "enter", "S", "N"}, view: viewNamespace, status: "is a directory"},
		{name: "raise priority", keys: []string{"3", "j", "j", "+"}, view: viewQueues, calls: []string{"priority m1 1"}, status: "moved to priority 1"},
		{name: "lower priority", keys: []string{"3", "j", "-"}, view: viewQueues, calls: []string{"priority r102 1"}},
		{name: "priority at the top", keys: []string{"3", "j", "+"}, view: viewQueues, status: "already at priority 2"},
		{name: "priority at the bottom", keys: []string{"3", "j", "j", "-"}, view: viewQueues, status: "already at priority 0"},
		{name: "no priority for a running request", keys: []string{"3", "+"}, view: viewQueues, status: "r101 is running"},
		{name: "remapped keys", custom: map[string][]string{"stage": {"s"}, "pin": {"P"}, "down": {"n"}},
			keys: []string{"2", "enter", "n", "n", "S", "p", "s"}, view: viewNamespace, sel: "aia_0002.fits", calls: []string{"stage /store/aia_0002.fits"}},
		{name: "remapped quit", custom: map[string][]string{"quit": {"Q"}, "priority_up": {"u"}},
			keys: []string{"3", "q", "j", "j", "u"}, view: viewQueues, calls: []string{"priority m1 1"}},
		{name: "read-only ignores actions", readOnly: true, keys: []string{"2", "enter", "j", "p", "u", "m", "M", "R", "d", "S", "N", "3", "c", "w", "+", "-"}, view: viewQueues},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			a := newTestAppKeys(f, tc.readOnly, tc.custom)
			drive(a, a.Init())
			press(a, tc.keys...)
			if a.view != tc.view {
				t.Fatalf("view %v, want %v", a.view, tc.view)
			}
			var sel string
			switch a.view {
			case viewSpaces:
				sel = a.spaces.Table.SelectedKey()
			case viewNamespace:
				sel = a.ns.Table.SelectedKey()
			case viewQueues:
				sel = a.queues.Table.SelectedKey()
			}
			if tc.sel != "" && sel != tc.sel {
				t.Errorf("selected %q, want %q", sel, tc.sel)
			}
			if got := f.Calls(); strings.Join(got, "|") != strings.Join(tc.calls, "|") {
				t.Errorf("calls %q, want %q", got, tc.calls)
			}
			if !strings.Contains(a.status, tc.status) {
				t.Errorf("status %q, want it to contain %q", a.status, tc.status)
			}
			if tc.calls != nil && len(a.log.Entries) == 0 {
				t.Errorf("action not in the log")
			}
		})
	}
}

// TestStaleAndErrors: results of a superseded load are dropped, and rows
// stay visible through a failed refresh.
func TestStaleAndErrors(t *testing.T) {
	f := newFake()
	a := newTestApp(f, false)
	a.view = viewNamespace
	drive(a, a.reloadDir())
	if a.ns.Table.Total() != 2 {
		t.Fatalf("root has %d rows", a.ns.Table.Total())
	}
	// A load of "/" is started, then the user enters /store before it
	// answers: the old load's chunk must be dropped.
	gen, _ := a.ns.Reload()
	stale := listPartMsg{gen: gen, listPart: listPart{rows: []model.FileRow{{Name: "ghost"}}, first: true}}
	press(a, "enter") // into /store, the first directory
	a.Update(stale)
	for _, k := range a.ns.Table.Keys() {
		if k == "ghost" {
			t.Fatal("stale chunk applied")
		}
	}
	// A failing reload keeps the rows and says why.
	n := a.ns.Table.Total()
	f.listErr = errors.New("input/output error")
	press(a, "ctrl+r")
	if a.ns.Table.Total() != n || a.ns.Refresh.Err == nil {
		t.Fatalf("rows %d (want %d), err %v", a.ns.Table.Total(), n, a.ns.Refresh.Err)
	}
	if !strings.Contains(a.View(), "refresh failed: input/output error") {
		t.Fatalf("error not shown:\n%s", a.View())
	}
}

// TestQueueEvents: live events change the Queues view.
func TestQueueEvents(t *testing.T) {
	f := newFake()
	f.events = []model.QueueEvent{
		{Time: t0, Type: "done", Kind: "stage", LFN: "/store/aia_0001.fits", RID: "r101", Bytes: 100 << 20},
		{Time: t0, Type: "queued", Kind: "get", LFN: "/store/x", RID: "g9"},
	}
	a := newTestApp(f, false)
	drive(a, a.Init())
	_, cmd := a.Update(keyMsg("3"))
	drive(a, cmd)
	// drive stops at the live stream; wait for its two events.
	deadline := time.Now().Add(patience)
	for a.queues.Done == 0 || a.queues.Table.Total() != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("events not applied: done %d rows %v", a.queues.Done, a.queues.Table.Keys())
		}
		time.Sleep(10 * time.Millisecond)
	}
	a.stopBackground()
}

// demoPaths gives the fake the partition paths of `make demo` (long, alike
// but for their ends) and the namespace row of public's plain files.
func demoPaths(f *fake) {
	const G = int64(1) << 30
	f.spaces = []model.SpaceRow{
		{Space: "public", Total: 252 * G, Free: 68 * G, Files: 40, Bytes: 63 << 10, MinFree: 12 * G, MaxFree: 25 * G},
		{Space: "public", Partition: "/tmp/frm-demo/spaces/pub1", Total: 252 * G, Free: 68 * G},
		{Space: "public", Partition: "/tmp/frm-demo/spaces/pub2", Total: 252 * G, Free: 68 * G},
		{Space: "public", Partition: "/tmp/frm-demo/ns", Namespace: true, Total: 252 * G, Free: 68 * G, Files: 40, Bytes: 63 << 10},
		{Space: "data", Total: 252 * G, Free: 68 * G, Files: 1500, Bytes: 7 << 20, MinFree: 12 * G, MaxFree: 25 * G},
		{Space: "data", Partition: "/tmp/frm-demo/spaces/data1", Total: 252 * G, Free: 68 * G, Files: 750, Bytes: 3 << 20},
		{Space: "data", Partition: "/tmp/frm-demo/spaces/data2", Total: 252 * G, Free: 68 * G, Files: 750, Bytes: 4 << 20},
	}
}

// withClasses gives the fake a daemon with two request classes, long and
// short: a long stage running on a borrowed slot, 1,912 long requests
// waiting (most of them migrations), one short, and a stage whose class
// waits for its MSS size.
func withClasses(f *fake) {
	rows := []model.QueueRow{
		{Kind: "stage", Priority: 0, LFN: "/store/aia_0001.fits", RID: "r101", TID: "alice.1:23@host", Added: t0.Add(-90 * time.Second).Unix(), Running: true, Size: 100 << 20, Done: 40 << 20, Rate: 10 << 20, Class: "long"},
		{Kind: "get", Priority: 0, LFN: "/store/hmi/c.fits", RID: "r100", TID: "carol.2:9@node", Added: t0.Add(-2 * time.Minute).Unix(), Running: true, Done: -1, Class: "long"},
		{Kind: "stage", Priority: 2, LFN: "/store/hmi/b.fits", RID: "r102", TID: "bob.7:1@node", Added: t0.Add(-5 * time.Minute).Unix(), Done: -1, Class: "short"},
		{Kind: "stage", Priority: 1, LFN: "/store/hmi/big.fits", RID: "r103", TID: "bob.7:1@node", Added: t0.Add(-10 * time.Second).Unix(), Done: -1},
	}
	for i := range 1912 {
		rows = append(rows, model.QueueRow{Kind: "migrate", Priority: 0, LFN: fmt.Sprintf("/store/run/f%04d.fits", i), RID: fmt.Sprintf("m%d", i), TID: "frm",
			Added: t0.Add(-time.Hour + time.Duration(i)*time.Second).Unix(), Done: -1, Class: "long"})
	}
	f.queue = QueueSnapshot{DaemonUp: true, Rows: rows, Classes: []string{"long", "short"}}
	f.daemon.Classes = []model.ClassSlots{{Name: "long", Slots: 1, Running: 2}, {Name: "short", Slots: 1, Running: 0}}
	f.daemon.InUseIn = 2
}

// withFetch makes the first request a stage fetched from a peer site.
func withFetch(f *fake) {
	rows := slices.Clone(f.queue.Rows)
	rows[0].Source = "peer b"
	f.queue.Rows = rows
}

// golden screens at 80x24 (and 120x40: every view), ASCII colour profile,
// through the tea runtime.
func TestGolden(t *testing.T) {
	daemonLog := func(f *fake) {
		f.events = f.daemonEvents
		f.daemon.LogPath = "/var/log/frm/daemon.log"
		f.daemon.LogLines = []string{
			`time=2025-06-01T11:57:00.000Z level=INFO msg="frm daemon started" components=transfer,migrate,purge`,
			`time=2025-06-01T11:58:00.000Z level=WARN msg="transfer failed" kind=stage lfn=/store/hmi/a.fits err="copy_in exited 1"`,
			`time=2025-06-01T11:59:30.000Z level=INFO msg="transfer complete" kind=stage lfn=/store/aia_0001.fits bytes=104857600`,
		}
	}
	tests := []struct {
		name          string
		readOnly      bool
		keys          []string
		wait          string
		setup         func(*fake)
		width, height int // default 80x24
	}{
		{name: "spaces", wait: "pinned 3.0G"},
		{name: "spaces_120x40", wait: "pinned 3.0G", width: 120, height: 40},
		{name: "spaces_demo_paths", wait: "plain files", setup: demoPaths, keys: []string{"j", "j", "j"}},
		{name: "spaces_demo_paths_160x40", wait: "data2", setup: demoPaths, width: 160, height: 40},
		{name: "namespace", keys: []string{"2", "enter", "j"}, wait: "lost.fits"},
		{name: "namespace_120x40", keys: []string{"2", "enter", "j"}, wait: "lost.fits", width: 120, height: 40},
		{name: "queues", keys: []string{"3"}, wait: "r102"},
		{name: "queues_120x40", keys: []string{"3"}, wait: "r102", width: 120, height: 40},
		{name: "queues_classes", keys: []string{"3"}, wait: "r102", setup: withClasses},
		{name: "queues_classes_120x40", keys: []string{"3"}, wait: "r102", setup: withClasses, width: 120, height: 40},
		{name: "queues_fetch", keys: []string{"3"}, wait: "from peer b", setup: withFetch},
		{name: "cancel_confirm", keys: []string{"3", "c"}, wait: "Cancel request"},
		{name: "help", keys: []string{"2", "?"}, wait: "Namespace keys"},
		{name: "pin_dialog", keys: []string{"2", "enter", "j", "p", "+", "3", "d"}, wait: "within 3d"},
		{name: "reloc_dialog", keys: []string{"2", "enter", "j", "R"}, wait: "Relocate /store"},
		{name: "remove_dialog", keys: []string{"2", "enter", "j", "d"}, wait: "Remove 1 file?"},
		{name: "readonly", readOnly: true, keys: []string{"2", "enter"}, wait: "lost.fits"},
		{name: "audit_empty", keys: []string{"4"}, wait: "No audit run yet"},
		{name: "audit_dialog", keys: []string{"4", "a", "tab", "tab"}, wait: "usage of every space"},
		{name: "audit", keys: []string{"4", "a", "enter", "j"}, wait: "4 problems"},
		{name: "audit_120x40", keys: []string{"4", "a", "enter", "j"}, wait: "4 problems", width: 120, height: 40},
		{name: "audit_fix_confirm", keys: []string{"4", "a", "enter", "x", "j", "x", "f"}, wait: "Fix 2 problems?"},
		{name: "daemons", keys: []string{"5"}, wait: "copy_in exited 1", setup: func(f *fake) { f.events = f.daemonEvents }},
		{name: "daemons_classes", keys: []string{"5"}, wait: "copy_in exited 1", setup: func(f *fake) { withClasses(f); f.events = f.daemonEvents }},
		{name: "daemons_log", keys: []string{"5"}, wait: "transfer complete", setup: daemonLog},
		{name: "daemons_log_120x40", keys: []string{"5"}, wait: "transfer complete", setup: daemonLog, width: 120, height: 40},
		{name: "stop_confirm", keys: []string{"5", "j", "j", "s"}, wait: "STOPMIGR?"},
		{name: "palette", keys: []string{":", "l", "s", "enter"}, wait: "of 40"},
		{name: "palette_complete", keys: []string{":", "m", "tab"}, wait: "completions:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			if tc.setup != nil {
				tc.setup(f)
			}
			a := newTestApp(f, tc.readOnly)
			w, h := tc.width, tc.height
			if w == 0 {
				w, h = 80, 24
			}
			k := keyed{App: a, st: &keyState{}}
			tm := teatest.NewTestModel(t, k, teatest.WithInitialTermSize(w, h))
			if len(tc.keys) > 0 {
				teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("public")) },
					teatest.WithDuration(patience))
			}
			for i, key := range tc.keys {
				k.send(t, tm, key, int64(i+1))
			}
			teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(tc.wait)) },
				teatest.WithDuration(patience))
			tm.Send(tea.KeyMsg{Type: tea.KeyCtrlC})
			final := tm.FinalModel(t, teatest.WithFinalTimeout(patience)).(keyed).App
			golden.RequireEqual(t, []byte(final.View()))
		})
	}
}

// TestViewSize: every line of every view fits the terminal, even a
// small one.
func TestViewSize(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {60, 12}, {132, 50}} {
		for _, keys := range [][]string{nil, {"2", "enter"}, {"3"}, {"3", "classes"}, {"4"}, {"4", "a"}, {"4", "a", "enter"}, {"5"}, {"5", "classes"}, {"5", "s"}, {":", "l", "s", "enter"}, {"2", "?"}} {
			f := newFake()
			if keys != nil && keys[len(keys)-1] == "classes" { // the view with request classes
				withClasses(f)
				keys = keys[:len(keys)-1]
			}
			f.daemon.LogPath = "/var/log/frm/daemon.log"
			f.daemon.LogLines = []string{strings.Repeat("time=2025-06-01T12:00:00Z level=ERROR msg=\"long line\" x=y ", 8), "short"}
			a := newTestApp(f, false)
			a.Update(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
			drive(a, a.Init())
			press(a, keys...)
			lines := strings.Split(a.View(), "\n")
			if len(lines) != size[1] {
				t.Errorf("%v %v: %d lines", size, keys, len(lines))
			}
			for i, l := range lines {
				if w := lipgloss.Width(l); w != size[0] {
					t.Errorf("%v %v: line %d is %d wide: %q", size, keys, i, w, l)
				}
			}
		}
	}
}

// TestAdminViews drives the Audit and Daemons views and the command
// palette (no terminal).
func TestAdminViews(t *testing.T) {
	tests := []struct {
		name     string
		readOnly bool
		keys     []string
		calls    []string
		status   string
		check    func(t *testing.T, a *App)
	}{
		{name: "audit runs and lists problems by kind", keys: []string{"4", "a", "enter"}, calls: []string{"audit names /"}, status: "4 problems",
			check: func(t *testing.T, a *App) {
				kinds, n, _ := a.audit.Counts()
				if strings.Join(kinds, ",") != "dangling link,data without xref,no copy time" || n["no copy time"] != 2 || a.audit.Running {
					t.Errorf("kinds %v %v running %v", kinds, n, a.audit.Running)
				}
			}},
		{name: "audit dialog: tab picks space, target typed", keys: []string{"4", "a", "tab", "enter"}, calls: []string{"audit space public"}},
		{name: "audit dialog refuses a relative directory", keys: []string{"4", "a", "backspace", "x", "enter", "esc"}, status: "audit cancelled"},
		{name: "fix one after confirmation", keys: []string{"4", "a", "enter", "f", "y"},
			calls: []string{"audit names /", "fix /srv/ns/store/lost.fits"}, status: "fixed 1 of 1",
			check: func(t *testing.T, a *App) {
				if _, _, fixed := a.audit.Counts(); fixed != 1 {
					t.Errorf("fixed %d", fixed)
				}
			}},
		{name: "fix declined", keys: []string{"4", "a", "enter", "F", "n"}, calls: []string{"audit names /"}, status: "cancelled"},
		{name: "fix a selection", keys: []string{"4", "a", "enter", "x", "j", "x", "f", "enter"},
			calls: []string{"audit names /", "fix /srv/ns/store/lost.fits /srv/ns/store/aia_0002.fits"}},
		{name: "fix all skips the unfixable", keys: []string{"4", "a", "enter", "F", "y"},
			calls: []string{"audit names /", "fix /srv/ns/store/lost.fits /srv/ns/store/new.fits /srv/ns/store/aia_0002.fits"}},
		{name: "no fix for data without xref", keys: []string{"4", "a", "enter", "j", "f"}, calls: []string{"audit names /"}, status: "nothing to fix"},
		{name: "read-only audits but does not fix", readOnly: true, keys: []string{"4", "a", "enter", "x", "f", "F"}, calls: []string{"audit names /"}},
		{name: "daemons rows", keys: []string{"5"}, check: func(t *testing.T, a *App) {
			var states []string
			for _, r := range a.daemons.Table.Rows() {
				states = append(states, r.State)
			}
			if strings.Join(states, ",") != "running,running,suspended,running,running" {
				t.Errorf("states %v", states)
			}
		}},
		{name: "create a stop file", keys: []string{"5", "s", "y"}, calls: []string{"stop STOPSTAGE true"}, check: func(t *testing.T, a *App) {
			if !a.daemons.Status.Stopped["STOPSTAGE"] || a.daemons.Table.Rows()[0].State != "suspended" {
				t.Errorf("not suspended after reload: %+v", a.daemons.Table.Rows()[0])
			}
		}},
		{name: "remove a stop file", keys: []string{"5", "j", "j", "s", "enter"}, calls: []string{"stop STOPMIGR false"}},
		{name: "stop file declined", keys: []string{"5", "s", "n"}, status: "cancelled"},
		{name: "read-only daemons", readOnly: true, keys: []string{"5", "s", "w", ":"}, check: func(t *testing.T, a *App) {
			if a.dlg != nil || a.palOpen {
				t.Errorf("dialog or palette opened in read-only mode")
			}
		}},
		{name: "palette runs a command", keys: []string{":", "d", "f", "enter"}, calls: []string{"exec df"}, check: func(t *testing.T, a *App) {
			if len(a.pal.Output) != 40 || a.pal.Last != "df" || a.pal.Status != 0 {
				t.Errorf("output %d lines, last %q status %d", len(a.pal.Output), a.pal.Last, a.pal.Status)
			}
		}},
		{name: "palette history", keys: []string{":", "d", "f", "enter", "l", "s", "enter", "up", "up", "enter"}, calls: []string{"exec df", "exec ls", "exec df"}},
		{name: "palette completion", keys: []string{":", "q", "u", "e", "tab", "r", "tab"}, check: func(t *testing.T, a *App) {
			if a.palInput.Value() != "query " || !strings.Contains(strings.Join(a.pal.Output, " "), "query queue") {
				t.Errorf("completed to %q", a.palInput.Value())
			}
		}},
		{name: "palette error status and close", keys: []string{":", "b", "o", "g", "u", "s", "enter", "esc"}, calls: []string{"exec bogus"},
			check: func(t *testing.T, a *App) {
				if a.palOpen || a.pal.Status != 2 || len(a.log.Entries) != 1 || !a.log.Entries[0].Err {
					t.Errorf("open %v status %d log %+v", a.palOpen, a.pal.Status, a.log.Entries)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			a := newTestApp(f, tc.readOnly)
			drive(a, a.Init())
			press(a, tc.keys...)
			if got := f.Calls(); strings.Join(got, "|") != strings.Join(tc.calls, "|") {
				t.Errorf("calls %q, want %q", got, tc.calls)
			}
			if !strings.Contains(a.status, tc.status) {
				t.Errorf("status %q, want it to contain %q", a.status, tc.status)
			}
			if tc.check != nil {
				tc.check(t, a)
			}
			a.stopBackground()
		})
	}
}

// TestAuditCancel: esc stops a running audit and drops its late results.
func TestAuditCancel(t *testing.T) {
	f := newFake()
	f.auditGo = make(chan struct{})
	a := newTestApp(f, false)
	drive(a, a.Init())
	press(a, "4", "a", "enter")
	if !a.audit.Running || a.audit.Table.Total() != 4 {
		t.Fatalf("running %v rows %d", a.audit.Running, a.audit.Table.Total())
	}
	if !strings.Contains(a.View(), "scanning… 400 entries") && !strings.Contains(a.View(), "scanning…") {
		t.Errorf("no progress shown:\n%s", a.View())
	}
	press(a, "esc")
	if a.audit.Running || a.views[viewAudit-1].(*auditView).cancel != nil || !strings.Contains(a.status, "audit stopped") {
		t.Fatalf("not stopped: running %v status %q", a.audit.Running, a.status)
	}
}

// TestKeyActions: the console binds exactly the action names the
// configuration accepts ([tui.keys], config.TUIActions), and a remapped
// action shows its new keys in the help.
func TestKeyActions(t *testing.T) {
	k := newKeys(false, nil)
	acts := k.actions()
	for _, name := range config.TUIActions {
		if acts[name] == nil {
			t.Errorf("config action %q has no binding", name)
		}
	}
	for name := range acts {
		if !slices.Contains(config.TUIActions, name) {
			t.Errorf("binding %q is not a config action", name)
		}
	}
	a := newTestAppKeys(newFake(), false, map[string][]string{"pin": {"P", "ctrl+p"}})
	a.view = viewNamespace
	if help := strings.Join(a.fullHelp(30), "\n"); !strings.Contains(help, "P/ctrl+p pin") {
		t.Errorf("help does not show the remapped pin key:\n%s", help)
	}
}

// TestSpaceUse: the bytes needing migration and the pinned bytes of the
// Spaces view come from one background walk, shown as "…" until it ends,
// cached between refreshes (walked again only when due, or on ctrl+r), in
// the detail line and, on wide terminals, in columns.
func TestSpaceUse(t *testing.T) {
	f := newFake()
	f.useGo = make(chan struct{})
	a := newTestApp(f, false)
	drive(a, a.Init()) // the walk blocks: drive gives up waiting for it
	if v := a.View(); !strings.Contains(v, "public [ok] · to migrate … · pinned … · purge below 5.0G free ┃ until 10.0G ╎") {
		t.Errorf("no … while the walk runs:\n%s", v)
	}
	if cmd := a.refreshUse(true); cmd != nil {
		t.Errorf("a second walk started while one runs")
	}
	a.stopBackground()

	f = newFake()
	a = newTestApp(f, false)
	drive(a, a.Init())
	if n := f.useCalls.Load(); n != 1 {
		t.Fatalf("%d walks at start", n)
	}
	if v := a.View(); !strings.Contains(v, "to migrate 1.1G (3) · pinned 3.0G (1)") {
		t.Errorf("use not shown:\n%s", v)
	}
	press(a, "j") // a partition
	if v := a.View(); !strings.Contains(v, "public:/srv/pub1 [ok] · to migrate 1.1G (3) · pinned 0 (0) · not purged") {
		t.Errorf("partition use not shown:\n%s", v)
	}
	for range 10 { // two periodic refreshes of the rows: the walk is not due
		_, cmd := a.Update(tickMsg{})
		drive(a, cmd)
	}
	if n := f.useCalls.Load(); n != 1 {
		t.Errorf("%d walks after refreshes within a minute, want 1", n)
	}
	a.opt.Now = func() time.Time { return t0.Add(2 * time.Minute) }
	for range 5 {
		_, cmd := a.Update(tickMsg{})
		drive(a, cmd)
	}
	if n := f.useCalls.Load(); n != 2 {
		t.Errorf("%d walks once due, want 2", n)
	}
	press(a, "ctrl+r")
	if n := f.useCalls.Load(); n != 3 {
		t.Errorf("%d walks after ctrl+r, want 3", n)
	}
	// A stale result is dropped.
	a.Update(spaceUseMsg{gen: a.spaces.UseRefresh.Gen() - 1, use: map[string]model.SpaceUse{"public": {MigBytes: 1}}})
	if u, _ := a.spaces.UseOf("public"); u.MigBytes != 1200<<20 {
		t.Errorf("stale walk applied: %+v", u)
	}
	// Wide terminals have columns.
	a.Update(tea.WindowSizeMsg{Width: 120, Height: 24})
	lines := strings.Split(a.View(), "\n")
	if !strings.Contains(lines[2], "to mig  pinned") || !strings.HasSuffix(strings.TrimRight(lines[3], " "), "1.1G    3.0G") {
		t.Errorf("no columns at 120:\n%s\n%s", lines[2], lines[3])
	}
}
