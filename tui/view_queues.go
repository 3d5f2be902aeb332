package tui

import (
	"context"
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"frm/core/units"
	"frm/tui/model"
)

// queuesView is the Queues view: the transfer requests, running ones
// first, with the progress of running transfers from the daemon's event
// stream.
type queuesView struct{ m *model.Queues }

type queueMsg struct {
	gen  uint64
	snap QueueSnapshot
	err  error
}

func (v *queuesView) Name() string          { return "Queues" }
func (v *queuesView) Every() int            { return 1 }
func (v *queuesView) List() list            { return v.m.Table }
func (v *queuesView) Loads() *model.Refresh { return &v.m.Refresh }

func (v *queuesView) Keys(k *keys) []key.Binding {
	return []key.Binding{k.Cancel, k.PrioUp, k.PrioDown, k.Wake, k.Filter}
}

func (v *queuesView) Help(k *keys) [][]key.Binding {
	return [][]key.Binding{{k.Filter, k.Clear, k.Cancel, k.PrioUp, k.PrioDown, k.Wake}}
}

func (v *queuesView) Refresh(a *App, force bool) tea.Cmd {
	gen, ok := v.m.Refresh.Begin()
	if !ok {
		return nil
	}
	be, ctx := a.opt.Backend, a.ctx
	return func() tea.Msg {
		snap, err := be.Queue(ctx)
		return queueMsg{gen: gen, snap: snap, err: err}
	}
}

func (v *queuesView) Update(a *App, msg tea.Msg) (tea.Cmd, bool) {
	m, ok := msg.(queueMsg)
	if !ok {
		return nil, false
	}
	if v.m.Refresh.End(m.gen, m.err, a.opt.Now()) && m.err == nil {
		v.m.Table.SetRows(m.snap.Rows)
		v.m.DaemonUp, v.m.DaemonErr, v.m.Classes = m.snap.DaemonUp, m.snap.DaemonErr, m.snap.Classes
		if m.snap.DaemonUp && a.cancelEvents == nil && a.shown(v) {
			return a.startEvents(), true
		}
	}
	return a.pending(v), true
}

// Event applies a daemon event; a change of a shared queue reloads the
// view if it is shown.
func (v *queuesView) Event(a *App, ev model.QueueEvent) tea.Cmd {
	if ev.Type == model.QueueChanged {
		if a.shown(v) {
			return a.refreshVisible()
		}
		return nil
	}
	v.m.Apply(ev)
	return nil
}

func (v *queuesView) EventsEnded(a *App, err error) { v.m.DaemonErr = err.Error() }

// HandleKey: cancel a request, change its priority, wake the daemon.
func (v *queuesView) HandleKey(a *App, m tea.KeyMsg) (tea.Cmd, bool) {
	k := a.keys
	be := a.opt.Backend
	switch {
	case key.Matches(m, k.Wake):
		return a.action("wake", func(ctx context.Context) (string, error) { return be.Wake(ctx) }), true
	case key.Matches(m, k.Cancel):
		r, ok := v.m.Table.Selected()
		if !ok || r.RID == "" {
			return nil, true
		}
		rid := r.RID
		a.dlg = &confirmDialog{text: "Cancel request " + rid + " (" + r.Kind + " " + r.LFN + ")?\n\nEvery queued record of it is removed and its requester told.", run: func() tea.Cmd {
			return a.action("cancel "+rid, func(ctx context.Context) (string, error) { return be.Cancel(ctx, rid) })
		}}
		return nil, true
	case key.Matches(m, k.PrioUp, k.PrioDown):
		step := 1
		if key.Matches(m, k.PrioDown) {
			step = -1
		}
		return v.priority(a, step), true
	}
	return nil, false
}

// priority moves the selected request step priorities up or down.
func (v *queuesView) priority(a *App, step int) tea.Cmd {
	r, ok := v.m.Table.Selected()
	if !ok || r.RID == "" {
		return nil
	}
	p := r.Priority + step
	switch {
	case r.Running:
		a.report(r.RID+" is running: its priority no longer matters", nil)
		return nil
	case p < 0 || p > model.MaxPriority:
		a.report(fmt.Sprintf("%s is already at priority %d (0 lowest, %d highest)", r.RID, r.Priority, model.MaxPriority), nil)
		return nil
	}
	be, rid := a.opt.Backend, r.RID
	return a.action(fmt.Sprintf("priority %s %d", rid, p), func(ctx context.Context) (string, error) { return be.SetPriority(ctx, rid, p) })
}

func (v *queuesView) View(a *App, w, h int) screen {
	q := v.m
	t := q.Table
	title := v.title(a, w)
	// The class column, when some request has a class: as wide as the
	// longest name, within 5 (its header) and 8 cells.
	classW, class := 0, func(string) string { return "" }
	if n := q.ClassWidth(); n > 0 {
		classW = min(max(n, 5), 8)
		class = func(c string) string {
			if c == "" {
				c = "-" // not known yet
			}
			return col(c, classW) + " "
		}
	}
	fixed, classH := 7+1+2+1+10+1+10+1+5+1+16+1, ""
	if classW > 0 {
		fixed += classW + 1
		classH = col("class", classW) + " "
	}
	lfnW := max(w-2-fixed, 10)
	header := a.st.Header.Render("  " + col("kind", 7) + " " + classH + rcol("p", 2) + " " + col("rid", 10) + " " + col("requester", 10) + " " + rcol("age", 5) + " " + col("progress", 16) + " " + col("lfn", lfnW))
	rows, sel := t.Visible()
	body := make([]string, 0, len(rows))
	for i, r := range rows {
		prog := "queued"
		if r.Running {
			prog = "running"
			if r.Size > 0 && r.Done >= 0 {
				prog = progressBar(r.Done, r.Size, 8) + " " + rcol(fmt.Sprintf("%d%%", r.Done*100/r.Size), 4)
				if eta := r.ETA(); eta >= 0 {
					prog += " " + model.Duration(eta)
				}
			}
		}
		s := col(r.Kind, 7) + " " + class(r.Class) + rcol(fmt.Sprint(r.Priority), 2) + " " + col(r.RID, 10) + " " + col(r.TID, 10) + " " +
			rcol(a.age(r.Added), 5) + " " + col(prog, 16) + " " + lcut(r.LFN, lfnW)
		body = append(body, a.row(s, i == sel))
	}
	if t.Total() == 0 && !q.Refresh.InFlight() {
		body = append(body, "", "  no requests queued")
	}
	detail := fmt.Sprintf("done %d · failed %d · last 5 min ", q.Done, q.Failed) + "[" + q.Sparkline() + "]"
	if sel >= 0 && sel < len(rows) && rows[sel].Running && rows[sel].Source != "" {
		// The selected fetch: where from, how far, how fast.
		r := rows[sel]
		detail = r.LFN + " from " + r.Source
		if r.Size > 0 && r.Done >= 0 {
			detail += " · " + units.Bytes(r.Done) + " of " + units.Bytes(r.Size)
		}
		if r.Rate > 0 {
			detail += " at " + units.Bytes(int64(r.Rate)) + "/s"
		}
	}
	if n := len(q.Events); n > 0 {
		ev := q.Events[n-1]
		detail += "  " + ev.Type + " " + ev.LFN
	}
	return screen{title: title, header: header, body: body, detail: a.st.Dim.Render(detail)}
}

// title is the view's title: the requests per kind and those running;
// with request classes, the requests waiting per class first and the
// kinds only when the line has room for them.
func (v *queuesView) title(a *App, w int) string {
	q := v.m
	per, running := q.Counts()
	kinds := "stage " + model.Count(per["stage"]) + " · migrate " + model.Count(per["migrate"]) + " · get " + model.Count(per["get"]) + " · put " + model.Count(per["put"])
	state := "daemon up"
	if !q.DaemonUp {
		state = a.st.Err.Render("daemon down") + a.st.Dim.Render(" (queue files)")
	}
	if q.Refresh.Loaded.IsZero() && q.Refresh.InFlight() {
		state = "loading…"
	}
	name := a.st.Title.Render("Queues") + "  "
	depths := q.Depths()
	if depths == nil {
		return name + kinds + fmt.Sprintf(" · running %d", running) + "  " + state
	}
	parts := make([]string, 0, len(depths))
	for _, d := range depths {
		c := d.Name
		if c == "" {
			c = "unclassified"
		}
		parts = append(parts, c+" "+model.Count(d.Waiting))
	}
	counts := strings.Join(parts, " · ") + fmt.Sprintf(" · running %d", running)
	if full := name + counts + " · " + kinds + "  " + state; lipgloss.Width(full) <= w {
		return full
	}
	return name + counts + "  " + state
}
