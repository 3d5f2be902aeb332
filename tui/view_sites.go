package tui

import (
	"fmt"
	"path/filepath"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"frm/core/sites"
	"frm/tui/model"
)

// sitesView is the Sites view (when [sites] file is set): one row per
// site of the federation with its state, usage and queues, probed again
// every sitesEvery ticks while shown and on r; Enter shows a site's full
// status. It probes through core/sites, under the same per-site locks as
// frm sites.
type sitesView struct {
	m   *model.Sites
	run *sites.Run
}

// sitesEvery is the ticks between probes while the view is shown (30 s
// at the default 2 s tick): a probe is a request to every site.
const sitesEvery = 15

type sitesMsg struct {
	gen uint64
	res []sites.Result
}

func (v *sitesView) Name() string          { return "Sites" }
func (v *sitesView) Every() int            { return sitesEvery }
func (v *sitesView) List() list            { return v.m.Table }
func (v *sitesView) Loads() *model.Refresh { return &v.m.Refresh }

func (v *sitesView) Keys(k *keys) []key.Binding {
	return []key.Binding{k.Open, k.Probe, k.Filter, k.Palette}
}

func (v *sitesView) Help(k *keys) [][]key.Binding { return [][]key.Binding{{k.Open, k.Probe}} }

func (v *sitesView) Refresh(a *App, force bool) tea.Cmd {
	gen, ok := v.m.Refresh.Begin()
	if !ok {
		return nil
	}
	run, ctx := v.run, a.ctx
	return func() tea.Msg { return sitesMsg{gen: gen, res: run.Status(ctx, nil)} }
}

func (v *sitesView) Update(a *App, msg tea.Msg) (tea.Cmd, bool) {
	m, ok := msg.(sitesMsg)
	if !ok {
		return nil, false
	}
	if v.m.Refresh.End(m.gen, nil, a.opt.Now()) {
		v.m.SetResults(m.res)
	}
	return a.pending(v), true
}

// HandleKey: r probes every site again, Enter shows the selected site's
// full status.
func (v *sitesView) HandleKey(a *App, m tea.KeyMsg) (tea.Cmd, bool) {
	k := a.keys
	switch {
	case key.Matches(m, k.Probe):
		a.report("probing "+fmt.Sprint(len(v.run.File.Sites))+" sites", nil)
		return v.Refresh(a, true), true
	case key.Matches(m, k.Open):
		r, ok := v.m.Table.Selected()
		if !ok {
			return nil, true
		}
		a.dlg = &infoDialog{lines: model.SiteDetail(*r, a.opt.Now(), a.opt.Loc)}
		return nil, true
	}
	return nil, false
}

func (v *sitesView) View(a *App, w, h int) screen {
	d := v.m
	reasonW := max(w-2-12-9-22-20-1-5, 10)
	header := a.st.Header.Render("  " + col("site", 12) + " " + col("state", 9) + " " + col("usage", 22) + " " + col("queue", 20) + " " + col("why", reasonW))
	rows, sel := d.Table.Visible()
	body := make([]string, 0, h)
	for i, r := range rows {
		state := col(r.State.String(), 9)
		if i != sel {
			switch r.State {
			case sites.OK:
				state = a.st.OK.Render(state)
			case sites.Warning:
				state = a.st.Warn.Render(state)
			case sites.Critical:
				state = a.st.Crit.Render(state)
			default:
				state = a.st.Err.Render(state)
			}
		}
		s := col(r.Name, 12) + " " + state + " " + col(model.UsageText(*r), 22) + " " + col(model.QueueText(*r), 20) + " " + r.Reason()
		body = append(body, a.row(s, i == sel))
	}
	title := a.st.Title.Render("Sites") + "  "
	switch {
	case d.Refresh.Loaded.IsZero():
		title += "probing…"
	default:
		c := d.Count
		title += fmt.Sprintf("%s · %d ok, %d warning, %d critical, %d unknown · probed %s · %s", d.Worst, c.OK, c.Warning, c.Critical, c.Unknown,
			d.Refresh.Loaded.In(a.opt.Loc).Format("15:04:05"), filepath.Base(v.m.File))
	}
	detail := ""
	if r, ok := d.Table.Selected(); ok {
		detail = r.URL
		if r.Status != nil {
			detail += " · frm " + r.Status.Version
		}
		detail += " · enter: full status"
	}
	return screen{title: title, header: header, body: body, detail: a.st.Dim.Render(detail)}
}

// infoDialog shows lines until Enter or Esc.
type infoDialog struct{ lines []string }

func (d *infoDialog) update(a *App, m tea.KeyMsg) (bool, tea.Cmd) {
	return key.Matches(m, a.keys.Confirm) || key.Matches(m, a.keys.Abort), nil
}

func (d *infoDialog) view(a *App, h int) []string {
	return d.lines[:min(len(d.lines), h)]
}

func (d *infoDialog) keys(a *App) []key.Binding { return []key.Binding{a.keys.Confirm} }
