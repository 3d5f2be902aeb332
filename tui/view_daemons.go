package tui

import (
	"context"
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"frm/tui/model"
)

// daemonsView is the Daemons view: the daemon's status, one row per kind
// of work with its stop file, the tail of its event stream and of its log.
type daemonsView struct{ m *model.Daemons }

type daemonsMsg struct {
	gen uint64
	st  model.DaemonStatus
	err error
}

func (v *daemonsView) Name() string          { return "Daemons" }
func (v *daemonsView) Every() int            { return 1 }
func (v *daemonsView) List() list            { return v.m.Table }
func (v *daemonsView) Loads() *model.Refresh { return &v.m.Refresh }

func (v *daemonsView) Keys(k *keys) []key.Binding {
	return []key.Binding{k.Stop, k.Wake, k.Refresh, k.Palette}
}

func (v *daemonsView) Help(k *keys) [][]key.Binding { return [][]key.Binding{{k.Stop, k.Wake}} }

func (v *daemonsView) Refresh(a *App, force bool) tea.Cmd {
	gen, ok := v.m.Refresh.Begin()
	if !ok {
		return nil
	}
	be, ctx := a.opt.Backend, a.ctx
	return func() tea.Msg {
		st, err := be.Daemons(ctx)
		return daemonsMsg{gen: gen, st: st, err: err}
	}
}

func (v *daemonsView) Update(a *App, msg tea.Msg) (tea.Cmd, bool) {
	m, ok := msg.(daemonsMsg)
	if !ok {
		return nil, false
	}
	if v.m.Refresh.End(m.gen, m.err, a.opt.Now()) && m.err == nil {
		v.m.SetStatus(m.st, a.opt.Now())
		if m.st.Up && a.cancelEvents == nil && a.shown(v) {
			return a.startEvents(), true
		}
	}
	return a.pending(v), true
}

// Event adds a daemon event to the tail (not the queue's change notices).
func (v *daemonsView) Event(a *App, ev model.QueueEvent) tea.Cmd {
	if ev.Type != model.QueueChanged {
		v.m.AddEvent(ev)
	}
	return nil
}

func (v *daemonsView) EventsEnded(a *App, err error) {}

// HandleKey: create or remove the selected work's stop file, wake the
// daemon.
func (v *daemonsView) HandleKey(a *App, m tea.KeyMsg) (tea.Cmd, bool) {
	k := a.keys
	be := a.opt.Backend
	switch {
	case key.Matches(m, k.Wake):
		return a.action("wake", func(ctx context.Context) (string, error) { return be.Wake(ctx) }), true
	case key.Matches(m, k.Stop):
		r, ok := v.m.Table.Selected()
		if !ok {
			return nil, true
		}
		st := v.m.Status
		file, on := r.StopFile, !st.Stopped[r.StopFile]
		p := st.AdminDir + "/" + file
		text := "Create " + p + "?\n\nNo new " + r.Name + " work is started while it exists\n(work already running finishes)."
		verb := "create "
		if !on {
			text = "Remove " + p + "?\n\n" + r.Name + " work resumes (the daemon is woken)."
			verb = "remove "
		}
		a.dlg = &confirmDialog{text: text, run: func() tea.Cmd {
			return a.action(verb+file, func(ctx context.Context) (string, error) { return be.SetStop(ctx, file, on) })
		}}
		return nil, true
	}
	return nil, false
}

func (v *daemonsView) View(a *App, w, h int) screen {
	d := v.m
	header := a.st.Header.Render("  " + col("work", 15) + " " + col("state", 10) + " " + col("stop file", 12) + " " + col("", max(w-2-40, 10)))
	rows, sel := d.Table.Visible()
	body := make([]string, 0, h)
	for i, r := range rows {
		state := col(r.State, 10)
		if i != sel {
			switch r.State {
			case "running":
				state = a.st.OK.Render(state)
			case "suspended":
				state = a.st.Warn.Render(state)
			case "down", "paused":
				state = a.st.Err.Render(state)
			}
		}
		s := col(r.Name, 15) + " " + state + " " + col(r.StopFile, 12) + " " + r.Detail
		body = append(body, a.row(s, i == sel))
	}
	body = append(body, "")
	body = v.tails(a, body, max(h-len(body)-2, 0))
	detail := ""
	if r, ok := d.Table.Selected(); ok {
		if st := d.Status; st.Stopped[r.StopFile] {
			detail = r.StopFile + " present in " + st.AdminDir + ": " + r.Name + " suspended"
		} else {
			detail = "no " + r.StopFile + " in " + st.AdminDir
		}
	}
	return screen{title: v.title(a), header: header, body: body, detail: a.st.Dim.Render(detail)}
}

func (v *daemonsView) title(a *App) string {
	st := v.m.Status
	title := a.st.Title.Render("Daemons") + "  "
	switch {
	case v.m.Refresh.Loaded.IsZero():
		title += "loading…"
	case st.Up:
		title += fmt.Sprintf("frm daemon pid %d, up %s · %s", st.PID, model.Duration(a.opt.Now().Sub(st.Started)), strings.Join(st.Components, ", "))
		if st.Draining {
			title += " · draining"
		}
	default:
		title += a.st.Err.Render("daemon down")
	}
	return title
}

// tails adds to body the tail of the event stream and of the daemon's
// log, sharing left lines (plus a title line each; without a log file,
// one line says how to get one): the events take what they need up to
// half, the log the rest.
func (v *daemonsView) tails(a *App, body []string, left int) []string {
	d := v.m
	st := d.Status
	evN := left
	if st.LogPath != "" {
		evN = min((left+1)/2, len(d.Events)) // the log gets what the events leave
	}
	logN := left - evN
	evTitle := fmt.Sprintf("recent events (%d failures)", d.Errors())
	if !st.Up {
		evTitle = "recent events: none (" + trimErr(st.Err) + ")"
	}
	body = append(body, a.st.Title.Render(evTitle))
	for _, e := range d.Events[max(len(d.Events)-evN, 0):] {
		s := "  " + model.EventText(e, a.opt.Loc)
		if e.Type == "fail" || e.Type == "mirror_fail" {
			s = a.st.Err.Render(s)
		}
		body = append(body, s)
	}
	switch {
	case st.LogPath == "":
		return append(body, a.st.Dim.Render("daemon log: not configured (tui.daemon_log, or frm tui --daemon-log FILE)"))
	case st.LogErr != "":
		return append(body, a.st.Title.Render("daemon log ")+a.st.Err.Render(st.LogErr))
	}
	body = append(body, a.st.Title.Render("daemon log "+st.LogPath))
	for _, l := range st.LogLines[max(len(st.LogLines)-logN, 0):] {
		s, bad := model.LogLine(l, a.opt.Loc)
		s = "  " + s
		if bad {
			s = a.st.Err.Render(s)
		}
		body = append(body, s)
	}
	return body
}

func trimErr(s string) string {
	if i := strings.Index(s, " (is 'frm daemon' running?)"); i >= 0 {
		return s[:i]
	}
	if i := strings.Index(s, ": dial unix"); i >= 0 {
		return s[:i]
	}
	return s
}
