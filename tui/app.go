// Package tui is frm's full-screen console (frm tui): Spaces, Namespace,
// Queues, Audit and Daemons views over a site, with actions that go
// through the same core functions as `frm admin`.
//
// The state of each view is a plain-Go model (package tui/model, tested
// without a terminal); this package only draws those models and turns key
// presses into model calls and tea.Cmds. Each view is one component (the
// view interface, one file view_*.go each, as in k9s) with its keys, help,
// loads, messages and drawing; App owns what they share: the global keys,
// the filter, dialogs, the command palette, the status line, the key bar
// and the daemon's event stream. Data is loaded by tea.Cmds for the
// visible view only, one load in flight per view, with a generation
// number that drops results of superseded loads; rows stay visible through
// errors and the selection follows its row's key.
package tui

import (
	"context"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"frm/core/sites"
	"frm/tui/model"
)

// viewID is a view's number: its key, and its place in App.views (from 1).
type viewID int

// The built-in views, in the order App.registerViews gives them.
const (
	viewSpaces viewID = iota + 1
	viewNamespace
	viewQueues
	viewAudit
	viewDaemons
)

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
	// Sites, when set ([sites] file), adds the Sites view (key 6): the
	// federation's sites probed through core/sites.
	Sites *sites.Run
}

// App is the root model: the views, and what they share.
type App struct {
	opt    Options
	ctx    context.Context
	keys   keys
	st     styles
	help   help.Model
	width  int
	height int
	views  []view // registerViews
	view   viewID // the view shown

	// The models of the built-in views, which other views read too (the
	// relocation dialog lists the spaces, an audit starts in the
	// namespace's directory).
	spaces  *model.Spaces
	ns      *model.Namespace
	queues  *model.Queues
	audit   *model.Audit
	daemons *model.Daemons

	pal *model.Palette
	log model.Log

	palOpen  bool
	palInput textinput.Model

	status    string
	statusErr bool
	showHelp  bool
	showLog   bool

	filtering bool
	filter    textinput.Model

	dlg dialog // open dialog, or nil

	cancelEvents context.CancelFunc // the daemon's event stream
	eventsGen    uint64
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
	a.registerViews()
	a.layout()
	return a
}

// registerViews makes the views, in the order of their tabs and number
// keys (the viewID constants follow it). A new view is one line here.
func (a *App) registerViews() {
	a.views = []view{
		&spacesView{m: a.spaces},
		&namespaceView{m: a.ns},
		&queuesView{m: a.queues},
		&auditView{m: a.audit},
		&daemonsView{m: a.daemons},
	}
	if a.opt.Sites != nil {
		a.views = append(a.views, &sitesView{m: model.NewSites(a.opt.Sites.File.Path), run: a.opt.Sites})
	}
	a.bindViewKeys()
}

// bindViewKeys binds the number keys to the views (1-9).
func (a *App) bindViewKeys() {
	n := min(len(a.views), 9)
	ks := make([]string, n)
	for i := range ks {
		ks[i] = string(rune('1' + i))
	}
	a.keys.Views.SetKeys(ks...)
	a.keys.Views.SetHelp("1-"+ks[n-1], "view")
}

// current is the view shown.
func (a *App) current() view { return a.views[a.view-1] }

// shown reports whether v is the view shown.
func (a *App) shown(v view) bool { return a.current() == v }

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
// title, column header, detail line, status line(s) and key bar.
func (a *App) bodyHeight() int { return max(a.height-5-len(a.statusLines()), 1) }

// layout sizes the tables to the body (after every message: a long status
// takes rows from it).
func (a *App) layout() {
	h := a.bodyHeight()
	for _, v := range a.views {
		if l := v.List(); l != nil {
			l.SetHeight(h)
		}
	}
	a.palInput.Width = max(a.width-6, 10)
	a.help.Width = a.width
}

// Update implements tea.Model.
func (a *App) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	cmd := a.update(msg)
	a.layout()
	return a, cmd
}

func (a *App) update(msg tea.Msg) tea.Cmd {
	switch m := msg.(type) {
	case tea.WindowSizeMsg:
		a.width, a.height = m.Width, m.Height
		return nil
	case tickMsg:
		a.ticks++
		var cmd tea.Cmd
		if n := a.current().Every(); n > 0 && a.ticks%n == 0 {
			cmd = a.refreshVisible()
		}
		return tea.Batch(cmd, a.tick())
	case execMsg:
		return a.onExec(m)
	case eventMsg:
		return a.onEvent(m)
	case actionMsg:
		a.busy--
		a.report(m.text, m.err)
		return a.refreshVisible()
	case tea.KeyMsg:
		return a.onKey(m)
	}
	for _, v := range a.views {
		if cmd, ok := v.Update(a, msg); ok {
			return cmd
		}
	}
	return nil
}

// onEvent gives an event of the daemon's stream to every view that
// follows it.
func (a *App) onEvent(m eventMsg) tea.Cmd {
	if m.gen != a.eventsGen {
		return nil // a stream of a view left since
	}
	if m.end {
		a.cancelEvents = nil
		if m.err != nil && a.ctx.Err() == nil {
			for _, v := range a.views {
				if e, ok := v.(eventer); ok {
					e.EventsEnded(a, m.err)
				}
			}
		}
		return nil
	}
	cmds := []tea.Cmd{waitEvent(m.gen, m.ch)}
	for _, v := range a.views {
		if e, ok := v.(eventer); ok {
			cmds = append(cmds, e.Event(a, m.ev))
		}
	}
	return tea.Batch(cmds...)
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

// onKey routes a key: to an open dialog, the palette or the filter being
// typed; else the global keys, the list keys of the view's table, and
// last the view's own keys.
func (a *App) onKey(m tea.KeyMsg) tea.Cmd {
	switch {
	case a.dlg != nil:
		return a.dialogKey(m)
	case a.palOpen:
		return a.paletteKey(m)
	case a.filtering:
		return a.filterKey(m)
	case a.showHelp || a.showLog:
		if key.Matches(m, a.keys.Quit) && m.String() == "ctrl+c" {
			return tea.Quit
		}
		a.showHelp, a.showLog = false, false
		return nil
	}
	if cmd, ok := a.globalKey(m); ok {
		return cmd
	}
	if cmd, ok := a.listKey(m); ok {
		return cmd
	}
	cmd, _ := a.current().HandleKey(a, m)
	return cmd
}

// filterKey edits the filter: Enter keeps it, Esc clears it.
func (a *App) filterKey(m tea.KeyMsg) tea.Cmd {
	l := a.current().List()
	switch m.Type {
	case tea.KeyEnter:
		a.filtering = false
		a.filter.Blur()
		return nil
	case tea.KeyEsc:
		a.filtering = false
		a.filter.Blur()
		a.filter.SetValue("")
		l.SetFilter("")
		return nil
	}
	var cmd tea.Cmd
	a.filter, cmd = a.filter.Update(m)
	l.SetFilter(a.filter.Value())
	return cmd
}

// globalKey handles the keys of every view.
func (a *App) globalKey(m tea.KeyMsg) (tea.Cmd, bool) {
	k := a.keys
	v := a.current()
	n := viewID(len(a.views))
	switch {
	case key.Matches(m, k.Quit):
		if a.running() && m.String() != "ctrl+c" {
			a.report("an action or audit is still running; press ctrl+c to quit anyway", nil)
			return nil, true
		}
		a.stopBackground()
		return tea.Quit, true
	case key.Matches(m, k.Help):
		a.showHelp = true
		return nil, true
	case key.Matches(m, k.Palette):
		return a.openPalette(), true
	case m.Type == tea.KeyEsc && interrupts(a, v):
		return nil, true
	case key.Matches(m, k.Log):
		a.showLog = true
		return nil, true
	case key.Matches(m, k.Views):
		return a.switchTo(viewID(m.String()[0] - '0')), true
	case key.Matches(m, k.NextView):
		return a.switchTo(a.view%n + 1), true
	case key.Matches(m, k.PrevView):
		return a.switchTo((a.view+n-2)%n + 1), true
	case key.Matches(m, k.Refresh):
		return v.Refresh(a, true), true
	}
	return nil, false
}

// interrupts stops the running work of v, if it has any.
func interrupts(a *App, v view) bool {
	i, ok := v.(interrupter)
	return ok && i.Interrupt(a)
}

// listKey handles the filter, Esc and the moves in the view's table.
func (a *App) listKey(m tea.KeyMsg) (tea.Cmd, bool) {
	k := a.keys
	l := a.current().List()
	switch {
	case key.Matches(m, k.Filter) && l != nil:
		a.filtering = true
		a.filter.SetValue(l.Filter())
		a.filter.CursorEnd()
		return a.filter.Focus(), true
	case key.Matches(m, k.Clear):
		if l != nil {
			l.SetFilter("")
		}
		a.filter.SetValue("")
		if c, ok := a.current().(clearer); ok {
			c.Clear(a)
		}
		return nil, true
	case l == nil:
		return nil, false
	case key.Matches(m, k.Up):
		l.Move(-1)
	case key.Matches(m, k.Down):
		l.Move(1)
	case key.Matches(m, k.PgUp):
		l.Page(-1)
	case key.Matches(m, k.PgDown):
		l.Page(1)
	case key.Matches(m, k.Home):
		l.Home()
	case key.Matches(m, k.End):
		l.End()
	default:
		return nil, false
	}
	return nil, true
}

// running reports whether an action, a palette command or a view's work
// (an audit) is running: q does not quit then.
func (a *App) running() bool {
	if a.busy > 0 || a.pal.Running {
		return true
	}
	for _, v := range a.views {
		if w, ok := v.(worker); ok && w.Busy() {
			return true
		}
	}
	return false
}

// switchTo shows view v and refreshes it; the event stream runs only
// while a view that follows it is shown.
func (a *App) switchTo(v viewID) tea.Cmd {
	if v < 1 || int(v) > len(a.views) || v == a.view {
		return nil
	}
	_, from := a.current().(eventer)
	_, to := a.views[v-1].(eventer)
	if from && !to {
		a.stopEvents()
	}
	a.view = v
	a.filtering = false
	if s, ok := a.current().(shower); ok {
		return s.Show(a)
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
	for _, v := range a.views {
		if w, ok := v.(worker); ok {
			w.Close()
		}
	}
	if a.cancelExec != nil {
		a.cancelExec()
	}
}

// pending starts the refresh of v asked for while one was in flight, if v
// is still shown.
func (a *App) pending(v view) tea.Cmd {
	r := v.Loads()
	if r == nil || !r.Pending || !a.shown(v) {
		return nil
	}
	r.Pending = false
	return a.refreshVisible()
}

// refreshVisible loads the visible view (only it), unless a load of it is
// in flight.
func (a *App) refreshVisible() tea.Cmd { return a.current().Refresh(a, false) }

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
