// Package tui is frm's full-screen console (frm tui): Spaces, Namespace,
// Queues, Audit and Daemons views over a site, with actions that go
// through the same core functions as `frm admin`.
//
// The state of each view is a plain-Go model (package tui/model, tested
// without a terminal); this package only draws those models and turns key
// presses into model calls and tea.Cmds. Data is loaded by tea.Cmds for the
// visible view only, one load in flight per view, with a generation
// number that drops results of superseded loads; rows stay visible through
// errors and the selection follows its row's key.
package tui

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"frm/tui/model"
)

type viewID int

const (
	viewSpaces viewID = iota + 1
	viewNamespace
	viewQueues
	viewAudit
	viewDaemons
)

var viewNames = []string{viewSpaces: "Spaces", viewNamespace: "Namespace", viewQueues: "Queues", viewAudit: "Audit", viewDaemons: "Daemons"}

// Options configure the console.
type Options struct {
	Backend  Backend
	ReadOnly bool
	// Dir is the directory the Namespace view starts in (default /).
	Dir string
	// Now and Loc are the clock and zone of ages and pin dates; tests
	// fix them.
	Now func() time.Time
	Loc *time.Location
	// Every is the refresh period of the visible view (default 2s for
	// queues, 5 times that for spaces; the namespace is refreshed on
	// demand). Zero keeps the default; negative disables the ticker.
	Every time.Duration
	// Ctx bounds every load and action (default context.Background).
	Ctx context.Context
	// UseEvery is how often the Spaces view recomputes the bytes needing
	// migration and the pinned bytes (a walk of the whole namespace):
	// default 1 minute, and on ctrl+r.
	UseEvery time.Duration
	// Keys overrides key bindings: action name -> keys, as [tui.keys] of
	// the configuration (config.TUI.Keys) gives them.
	Keys map[string][]string
}

// App is the root model.
type App struct {
	opt    Options
	ctx    context.Context
	keys   keys
	st     styles
	help   help.Model
	width  int
	height int
	view   viewID

	spaces  *model.Spaces
	ns      *model.Namespace
	queues  *model.Queues
	audit   *model.Audit
	daemons *model.Daemons
	pal     *model.Palette
	log     model.Log

	palOpen  bool
	palInput textinput.Model

	status    string
	statusErr bool
	showHelp  bool
	showLog   bool

	filtering bool
	filter    textinput.Model

	dlg dialog // open dialog, or nil

	cancelList   context.CancelFunc // the namespace listing in flight
	cancelEvents context.CancelFunc // the event stream of the Queues view
	eventsGen    uint64
	cancelAudit  context.CancelFunc // the audit running
	auditScanned *atomic.Int64
	cancelExec   context.CancelFunc // the palette command running
	busy         int                // actions running
	ticks        int
}

// New returns the console's root model.
func New(o Options) *App {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Loc == nil {
		o.Loc = time.Local
	}
	if o.Every == 0 {
		o.Every = 2 * time.Second
	}
	if o.Ctx == nil {
		o.Ctx = context.Background()
	}
	if o.UseEvery <= 0 {
		o.UseEvery = time.Minute
	}
	ti := textinput.New()
	ti.Prompt = "/"
	pi := textinput.New()
	pi.Prompt = ": "
	pi.CharLimit = 4096
	a := &App{
		opt: o, ctx: o.Ctx, keys: newKeys(o.ReadOnly, o.Keys), st: newStyles(), help: help.New(),
		width: 80, height: 24, view: viewSpaces,
		spaces: model.NewSpaces(), ns: model.NewNamespace(o.Dir), queues: model.NewQueues(),
		audit: model.NewAudit(), daemons: model.NewDaemons(), pal: &model.Palette{},
		filter: ti, palInput: pi,
	}
	a.layout()
	return a
}

// Init implements tea.Model: load the first view and start the ticker.
func (a *App) Init() tea.Cmd {
	return tea.Batch(a.refreshVisible(), a.tick())
}

type tickMsg struct{}

func (a *App) tick() tea.Cmd {
	if a.opt.Every < 0 {
		return nil
	}
	return tea.Tick(a.opt.Every, func(time.Time) tea.Msg { return tickMsg{} })
}

// bodyHeight is the number of table rows: the screen less the tab line,
// title, column header, detail line, status line and help bar.
func (a *App) bodyHeight() int { return max(a.height-6, 1) }

func (a *App) layout() {
	h := a.bodyHeight()
	a.spaces.Table.SetHeight(h)
	a.ns.Table.SetHeight(h)
	a.queues.Table.SetHeight(h)
	a.audit.Table.SetHeight(h)
	a.daemons.Table.SetHeight(h)
	a.palInput.Width = max(a.width-6, 10)
	a.help.Width = a.width
}

// Update implements tea.Model.
func (a *App) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch m := msg.(type) {
	case tea.WindowSizeMsg:
		a.width, a.height = m.Width, m.Height
		a.layout()
		return a, nil
	case tickMsg:
		a.ticks++
		var cmd tea.Cmd
		switch {
		case a.view == viewQueues || a.view == viewDaemons:
			cmd = a.refreshVisible()
		case a.view == viewSpaces && a.ticks%5 == 0:
			cmd = a.refreshVisible()
		}
		return a, tea.Batch(cmd, a.tick())
	case spacesMsg:
		if a.spaces.Refresh.End(m.gen, m.err, a.opt.Now()) && m.err == nil {
			a.spaces.Table.SetRows(m.rows)
		}
		return a, a.pending(viewSpaces)
	case spaceUseMsg:
		if a.spaces.UseRefresh.End(m.gen, m.err, a.opt.Now()) && m.use != nil {
			a.spaces.Use = m.use // partial after walk errors: better than none
		}
		return a, nil
	case listPartMsg:
		return a, a.onListPart(m)
	case queueMsg:
		if a.queues.Refresh.End(m.gen, m.err, a.opt.Now()) && m.err == nil {
			a.queues.Table.SetRows(m.snap.Rows)
			a.queues.DaemonUp, a.queues.DaemonErr = m.snap.DaemonUp, m.snap.DaemonErr
			if m.snap.DaemonUp && a.cancelEvents == nil && a.view == viewQueues {
				return a, a.startEvents()
			}
		}
		return a, a.pending(viewQueues)
	case daemonsMsg:
		if a.daemons.Refresh.End(m.gen, m.err, a.opt.Now()) && m.err == nil {
			a.daemons.SetStatus(m.st, a.opt.Now())
			if m.st.Up && a.cancelEvents == nil && a.view == viewDaemons {
				return a, a.startEvents()
			}
		}
		return a, a.pending(viewDaemons)
	case auditPartMsg:
		return a, a.onAuditPart(m)
	case auditTickMsg:
		if !a.audit.Current(m.gen) {
			return a, nil
		}
		if a.auditScanned != nil {
			a.audit.Scanned = a.auditScanned.Load()
		}
		return a, a.auditTick(m.gen)
	case auditFixMsg:
		a.busy--
		a.audit.SetFixed(m.keys)
		a.report(m.text, m.err)
		return a, nil
	case execMsg:
		return a, a.onExec(m)
	case eventMsg:
		if m.gen != a.eventsGen {
			return a, nil // a stream of a view left since
		}
		if m.end {
			a.cancelEvents = nil
			if m.err != nil && a.ctx.Err() == nil {
				a.queues.DaemonErr = m.err.Error()
			}
			return a, nil
		}
		if m.ev.Type == model.QueueChanged {
			var reload tea.Cmd
			if a.view == viewQueues {
				reload = a.refreshVisible()
			}
			return a, tea.Batch(waitEvent(m.gen, m.ch), reload)
		}
		a.queues.Apply(m.ev)
		a.daemons.AddEvent(m.ev)
		return a, waitEvent(m.gen, m.ch)
	case actionMsg:
		a.busy--
		a.report(m.text, m.err)
		return a, a.refreshVisible()
	case tea.KeyMsg:
		return a, a.onKey(m)
	}
	return a, nil
}

// report puts a result in the status line and the action log.
func (a *App) report(text string, err error) {
	if err != nil {
		if text != "" {
			text += "; "
		}
		text += err.Error()
	}
	a.status, a.statusErr = text, err != nil
	a.log.Add(a.opt.Now(), text, err != nil)
}

func (a *App) onKey(m tea.KeyMsg) tea.Cmd {
	k := a.keys
	if a.dlg != nil {
		return a.dialogKey(m)
	}
	if a.palOpen {
		return a.paletteKey(m)
	}
	if a.filtering {
		switch m.Type {
		case tea.KeyEnter:
			a.filtering = false
			a.filter.Blur()
			return nil
		case tea.KeyEsc:
			a.filtering = false
			a.filter.Blur()
			a.filter.SetValue("")
			a.setFilter("")
			return nil
		}
		var cmd tea.Cmd
		a.filter, cmd = a.filter.Update(m)
		a.setFilter(a.filter.Value())
		return cmd
	}
	if a.showHelp || a.showLog {
		if key.Matches(m, k.Quit) && m.String() == "ctrl+c" {
			return tea.Quit
		}
		a.showHelp, a.showLog = false, false
		return nil
	}
	switch {
	case key.Matches(m, k.Quit):
		if (a.busy > 0 || a.audit.Running || a.pal.Running) && m.String() != "ctrl+c" {
			a.report("an action or audit is still running; press ctrl+c to quit anyway", nil)
			return nil
		}
		a.stopBackground()
		return tea.Quit
	case key.Matches(m, k.Help):
		a.showHelp = true
		return nil
	case key.Matches(m, k.Palette):
		return a.openPalette()
	case a.view == viewAudit && a.audit.Running && m.Type == tea.KeyEsc:
		a.stopAudit()
		a.audit.Abandon()
		a.report("audit stopped", nil)
		return nil
	case key.Matches(m, k.Log):
		a.showLog = true
		return nil
	case key.Matches(m, k.Views):
		return a.switchTo(viewID(m.String()[0] - '0'))
	case key.Matches(m, k.NextView):
		return a.switchTo(a.view%viewDaemons + 1)
	case key.Matches(m, k.PrevView):
		return a.switchTo((a.view+3)%viewDaemons + 1)
	case key.Matches(m, k.Refresh):
		if a.view == viewNamespace {
			return a.reloadDir()
		}
		if a.view == viewSpaces {
			return tea.Batch(a.refreshVisible(), a.refreshUse(true))
		}
		return a.refreshVisible()
	case key.Matches(m, k.Filter) && a.table() != nil:
		a.filtering = true
		a.filter.SetValue(a.currentFilter())
		a.filter.CursorEnd()
		return a.filter.Focus()
	case key.Matches(m, k.Clear):
		a.setFilter("")
		a.filter.SetValue("")
		if a.view == viewNamespace {
			a.ns.SetSpaceOnly("")
		}
		return nil
	}
	if t := a.table(); t != nil {
		switch {
		case key.Matches(m, k.Up):
			t.Move(-1)
			return nil
		case key.Matches(m, k.Down):
			t.Move(1)
			return nil
		case key.Matches(m, k.PgUp):
			t.Page(-1)
			return nil
		case key.Matches(m, k.PgDown):
			t.Page(1)
			return nil
		case key.Matches(m, k.Home):
			t.Home()
			return nil
		case key.Matches(m, k.End):
			t.End()
			return nil
		}
	}
	switch a.view {
	case viewSpaces:
		return a.spacesKey(m)
	case viewNamespace:
		return a.namespaceKey(m)
	case viewQueues:
		return a.queuesKey(m)
	case viewAudit:
		return a.auditKey(m)
	case viewDaemons:
		return a.daemonsKey(m)
	}
	return nil
}

// mover is what the list keys need of a table.
type mover interface {
	Move(int)
	Page(int)
	Home()
	End()
}

func (a *App) table() mover {
	switch a.view {
	case viewSpaces:
		return a.spaces.Table
	case viewNamespace:
		return a.ns.Table
	case viewQueues:
		return a.queues.Table
	case viewAudit:
		return a.audit.Table
	case viewDaemons:
		return a.daemons.Table
	}
	return nil
}

func (a *App) currentFilter() string {
	switch a.view {
	case viewSpaces:
		return a.spaces.Table.Filter()
	case viewNamespace:
		return a.ns.Filter()
	case viewQueues:
		return a.queues.Table.Filter()
	case viewAudit:
		return a.audit.Table.Filter()
	}
	return ""
}

func (a *App) setFilter(f string) {
	switch a.view {
	case viewSpaces:
		a.spaces.Table.SetFilter(f)
	case viewNamespace:
		a.ns.SetFilter(f)
	case viewQueues:
		a.queues.Table.SetFilter(f)
	case viewAudit:
		a.audit.Table.SetFilter(f)
	}
}

// switchTo shows view v and refreshes it; the event stream runs only
// while Queues is shown.
func (a *App) switchTo(v viewID) tea.Cmd {
	if v < viewSpaces || v > viewDaemons || v == a.view {
		return nil
	}
	if (a.view == viewQueues || a.view == viewDaemons) && v != viewQueues && v != viewDaemons {
		a.stopEvents()
	}
	a.view = v
	a.filtering = false
	if v == viewNamespace && a.ns.Table.Total() == 0 && !a.ns.Loading {
		return a.reloadDir()
	}
	if v == viewNamespace {
		return nil // big directories are reloaded on demand (^r)
	}
	return a.refreshVisible()
}

func (a *App) stopEvents() {
	if a.cancelEvents != nil {
		a.cancelEvents()
		a.cancelEvents = nil
	}
	a.eventsGen++
}

func (a *App) stopBackground() {
	a.stopEvents()
	a.stopAudit()
	if a.cancelExec != nil {
		a.cancelExec()
	}
	if a.cancelList != nil {
		a.cancelList()
	}
}

// pending starts the refresh asked for while one was in flight.
func (a *App) pending(v viewID) tea.Cmd {
	var r *model.Refresh
	switch v {
	case viewSpaces:
		r = &a.spaces.Refresh
	case viewQueues:
		r = &a.queues.Refresh
	case viewDaemons:
		r = &a.daemons.Refresh
	}
	if r == nil || !r.Pending || a.view != v {
		return nil
	}
	r.Pending = false
	return a.refreshVisible()
}

// refreshVisible loads the visible view (only it), unless a load of it is
// in flight.
func (a *App) refreshVisible() tea.Cmd {
	be := a.opt.Backend
	ctx := a.ctx
	switch a.view {
	case viewSpaces:
		gen, ok := a.spaces.Refresh.Begin()
		if !ok {
			return nil
		}
		return tea.Batch(func() tea.Msg {
			rows, err := be.Spaces(ctx)
			return spacesMsg{gen: gen, rows: rows, err: err}
		}, a.refreshUse(false))
	case viewQueues:
		gen, ok := a.queues.Refresh.Begin()
		if !ok {
			return nil
		}
		return func() tea.Msg {
			snap, err := be.Queue(ctx)
			return queueMsg{gen: gen, snap: snap, err: err}
		}
	case viewNamespace:
		return a.reloadDir()
	case viewDaemons:
		gen, ok := a.daemons.Refresh.Begin()
		if !ok {
			return nil
		}
		return func() tea.Msg {
			st, err := be.Daemons(ctx)
			return daemonsMsg{gen: gen, st: st, err: err}
		}
	}
	return nil
}

type spacesMsg struct {
	gen  uint64
	rows []model.SpaceRow
	err  error
}

type spaceUseMsg struct {
	gen uint64
	use map[string]model.SpaceUse
	err error
}

// refreshUse recomputes the Spaces view's bytes needing migration and
// pinned bytes in the background when they are due (or force), one walk
// at a time; the rows show the cached figures meanwhile.
func (a *App) refreshUse(force bool) tea.Cmd {
	s := a.spaces
	if !force && !s.UseDue(a.opt.Now(), a.opt.UseEvery) {
		return nil
	}
	gen, ok := s.UseRefresh.Begin()
	if !ok {
		return nil
	}
	be, ctx := a.opt.Backend, a.ctx
	return func() tea.Msg {
		use, err := be.SpaceUse(ctx)
		return spaceUseMsg{gen: gen, use: use, err: err}
	}
}

type queueMsg struct {
	gen  uint64
	snap QueueSnapshot
	err  error
}

type actionMsg struct {
	text string
	err  error
}

// action runs fn in the background; its result lands in the status line.
func (a *App) action(what string, fn func(ctx context.Context) (string, error)) tea.Cmd {
	a.busy++
	a.status, a.statusErr = what+"…", false
	ctx := a.ctx
	return func() tea.Msg {
		text, err := fn(ctx)
		if text == "" && err != nil {
			text = what
		}
		return actionMsg{text: text, err: err}
	}
}
