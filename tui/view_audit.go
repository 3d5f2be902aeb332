package tui

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"frm/core/units"
	"frm/tui/model"
)

// auditView is the Audit view: runs `audit names|space|usage` in the
// background and lists the problems, which are fixed one by one after a
// confirmation.
//
// An audit runs in a goroutine that sends the problems it finds on a
// channel; a tea.Cmd drains what is there into one message, and a ticker
// reads the scanned counter for the progress bar. Esc cancels the run.
type auditView struct {
	m       *model.Audit
	cancel  context.CancelFunc // the audit running
	scanned *atomic.Int64      // its entries examined
}

type auditItem struct {
	p       model.AuditProblem
	end     bool
	summary string
	err     error
}

type auditPartMsg struct {
	gen     uint64
	ps      []model.AuditProblem
	end     bool
	summary string
	err     error
	ch      <-chan auditItem
}

type auditTickMsg struct{ gen uint64 }

type auditFixMsg struct {
	text string
	err  error
	keys []string
}

func (v *auditView) Name() string                       { return "Audit" }
func (v *auditView) Every() int                         { return 0 }
func (v *auditView) List() list                         { return v.m.Table }
func (v *auditView) Loads() *model.Refresh              { return nil }
func (v *auditView) Refresh(a *App, force bool) tea.Cmd { return nil }

func (v *auditView) Keys(k *keys) []key.Binding {
	return []key.Binding{k.NewAudit, k.Mark, k.Fix, k.FixAll, k.Filter, k.Palette}
}

func (v *auditView) Help(k *keys) [][]key.Binding {
	return [][]key.Binding{{k.NewAudit, k.Mark, k.Fix, k.FixAll, k.Filter, k.Clear}}
}

// Busy: q does not quit while an audit runs.
func (v *auditView) Busy() bool { return v.m.Running }

// Close stops the audit running.
func (v *auditView) Close() {
	if v.cancel != nil {
		v.cancel()
		v.cancel = nil
	}
}

// Interrupt: Esc stops a running audit (its late results are dropped).
func (v *auditView) Interrupt(a *App) bool {
	if !v.m.Running {
		return false
	}
	v.Close()
	v.m.Abandon()
	a.report("audit stopped", nil)
	return true
}

func (v *auditView) Update(a *App, msg tea.Msg) (tea.Cmd, bool) {
	switch m := msg.(type) {
	case auditPartMsg:
		return v.onPart(a, m), true
	case auditTickMsg:
		if !v.m.Current(m.gen) {
			return nil, true
		}
		if v.scanned != nil {
			v.m.Scanned = v.scanned.Load()
		}
		return auditTick(m.gen), true
	case auditFixMsg:
		a.busy--
		v.m.SetFixed(m.keys)
		a.report(m.text, m.err)
		return nil, true
	}
	return nil, false
}

// HandleKey: run an audit, mark problems, fix them.
func (v *auditView) HandleKey(a *App, m tea.KeyMsg) (tea.Cmd, bool) {
	k := a.keys
	au := v.m
	switch {
	case key.Matches(m, k.NewAudit):
		a.dlg = newAuditDialog(a, v)
		return textinput.Blink, true
	case key.Matches(m, k.Mark):
		au.Toggle()
		au.Table.Move(1)
		return nil, true
	case key.Matches(m, k.Fix, k.FixAll):
		v.fix(a, key.Matches(m, k.FixAll))
		return nil, true
	}
	return nil, false
}

// fix asks to fix the marked problems, or the selected one, or all.
func (v *auditView) fix(a *App, all bool) {
	if v.m.Running {
		a.report("the audit is still running (esc stops it)", nil)
		return
	}
	ps := v.m.ToFix(all)
	if len(ps) == 0 {
		a.report("nothing to fix here (this problem has no fix, or it is fixed)", nil)
		return
	}
	be := a.opt.Backend
	a.dlg = &confirmDialog{text: model.FixText(ps, max(a.bodyHeight()-8, 3)), run: func() tea.Cmd {
		a.busy++
		a.status, a.statusErr = fmt.Sprintf("fixing %d problems…", len(ps)), false
		ctx := a.ctx
		return func() tea.Msg {
			var keys []string
			text, err := be.FixProblems(ctx, ps, func(k string) { keys = append(keys, k) })
			return auditFixMsg{text: text, err: err, keys: keys}
		}
	}}
}

func waitAudit(gen uint64, ch <-chan auditItem) tea.Cmd {
	return func() tea.Msg {
		it, ok := <-ch
		m := auditPartMsg{gen: gen, ch: ch}
		for {
			if !ok {
				m.end, m.err = true, fmt.Errorf("audit ended")
				return m
			}
			if it.end {
				m.end, m.summary, m.err = true, it.summary, it.err
				return m
			}
			m.ps = append(m.ps, it.p)
			select {
			case it, ok = <-ch:
			default:
				return m
			}
		}
	}
}

func auditTick(gen uint64) tea.Cmd {
	return tea.Tick(200*time.Millisecond, func(time.Time) tea.Msg { return auditTickMsg{gen} })
}

// start runs audit mode on target.
func (v *auditView) start(a *App, mode, target string) tea.Cmd {
	v.Close()
	au := v.m
	gen := au.Start(mode, target, a.opt.Now())
	au.Estimate = a.auditEstimate(mode, target)
	ctx, cancel := context.WithCancel(a.ctx)
	v.cancel = cancel
	cnt := new(atomic.Int64)
	v.scanned = cnt
	be, req := a.opt.Backend, AuditRequest{Mode: mode, Target: target}
	ch := make(chan auditItem, 256)
	go func() {
		defer close(ch)
		sum, err := be.Audit(ctx, req, func(p model.AuditProblem) {
			select {
			case ch <- auditItem{p: p}:
			case <-ctx.Done():
			}
		}, cnt)
		select {
		case ch <- auditItem{end: true, summary: sum, err: err}:
		case <-ctx.Done():
		}
	}()
	a.status, a.statusErr = "audit "+mode+" "+target+"…", false
	return tea.Batch(waitAudit(gen, ch), auditTick(gen))
}

// auditEstimate guesses the entries an audit examines from the data file
// counts of the Spaces view (0: unknown).
func (a *App) auditEstimate(mode, target string) int64 {
	name, part, _ := strings.Cut(target, ":")
	var n int64
	for _, r := range a.spaces.Table.Rows() {
		switch {
		case mode == "names" && target == "/" && r.Partition == "":
			n += r.Files
		case mode == "space" && r.Space == name && (part == "" && r.Partition == "" || part != "" && r.Partition == part):
			n += r.Files
		case mode == "usage" && r.Partition == "" && (name == "" || r.Space == name):
			n += r.Files
		}
	}
	return n
}

func (v *auditView) onPart(a *App, m auditPartMsg) tea.Cmd {
	au := v.m
	if !au.Current(m.gen) {
		return nil
	}
	au.Add(m.gen, m.ps)
	if !m.end {
		return waitAudit(m.gen, m.ch)
	}
	if v.scanned != nil {
		au.Scanned = v.scanned.Load()
	}
	au.Finish(m.gen, m.summary, m.err)
	v.cancel = nil
	a.report(m.summary, m.err)
	return nil
}

// auditDialog chooses the audit and its target.
type auditDialog struct {
	v     *auditView
	mode  int
	input textinput.Model
}

func newAuditDialog(a *App, v *auditView) *auditDialog {
	ti := textinput.New()
	ti.Prompt = "target: "
	ti.CharLimit = 1024
	ti.Focus()
	d := &auditDialog{v: v, input: ti}
	for i, m := range model.AuditModes {
		if m == a.audit.Mode {
			d.mode = i
		}
	}
	ti.SetValue(a.audit.Target)
	d.input = ti
	d.input.CursorEnd()
	return d
}

func (d *auditDialog) defaultTarget(a *App) string {
	switch model.AuditModes[d.mode] {
	case "names":
		return a.ns.Dir
	case "space":
		if sp := a.spaces.SpaceNames(); len(sp) > 0 {
			return sp[0].Space
		}
	}
	return ""
}

func (d *auditDialog) check() (string, bool) {
	t := strings.TrimSpace(d.input.Value())
	switch model.AuditModes[d.mode] {
	case "names":
		if !strings.HasPrefix(t, "/") {
			return "a directory of the namespace, from /", false
		}
		return "every file under " + t + " (recursive)", true
	case "space":
		if t == "" {
			return "a space, or space:partition", false
		}
		return "every data file of " + t, true
	}
	if strings.Contains(t, ":") {
		return "a space name (no partition), or empty for all", false
	}
	if t == "" {
		return "the usage of every space", true
	}
	return "the usage of space " + t, true
}

func (d *auditDialog) update(a *App, m tea.KeyMsg) (bool, tea.Cmd) {
	switch m.Type {
	case tea.KeyEsc:
		a.report("audit cancelled", nil)
		return true, nil
	case tea.KeyTab, tea.KeyShiftTab:
		step := 1
		if m.Type == tea.KeyShiftTab {
			step = len(model.AuditModes) - 1
		}
		d.mode = (d.mode + step) % len(model.AuditModes)
		d.input.SetValue(d.defaultTarget(a))
		d.input.CursorEnd()
		return false, nil
	case tea.KeyEnter:
		if _, ok := d.check(); !ok {
			return false, nil
		}
		return true, d.v.start(a, model.AuditModes[d.mode], strings.TrimSpace(d.input.Value()))
	}
	var cmd tea.Cmd
	d.input, cmd = d.input.Update(m)
	return false, cmd
}

func (d *auditDialog) view(a *App, h int) []string {
	var modes []string
	for i, m := range model.AuditModes {
		if i == d.mode {
			modes = append(modes, a.st.Selected.Render("["+m+"]"))
		} else {
			modes = append(modes, " "+m+" ")
		}
	}
	desc, ok := d.check()
	mark, st := "✓ ", a.st.OK
	if !ok {
		mark, st = "✗ ", a.st.Err
	}
	return []string{a.st.Title.Render("Run an audit (nothing is fixed until you ask)"), "",
		"audit:  " + strings.Join(modes, " "), d.input.View(), st.Render(mark + desc), "",
		a.st.Dim.Render("names: namespace links, copy times, back references"),
		a.st.Dim.Render("space: data files against the namespace · usage: usage log vs disk")}
}

func (d *auditDialog) keys(a *App) []key.Binding {
	return []key.Binding{
		key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "audit kind")),
		key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "run")),
		key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
	}
}

func (v *auditView) View(a *App, w, h int) screen {
	au := v.m
	t := au.Table
	if au.Started.IsZero() {
		body := []string{"", "  No audit run yet. Press a to choose one:",
			"", "    names  DIR      namespace links, copy times and back references (recursive)",
			"    space  NAME     data files of a space against the namespace",
			"    usage  [NAME]   the usage log against the data on disk",
			"", "  An audit only reports. Fixes are made with f (the selected or marked",
			"  problems) or F (all), each after a confirmation saying what will change."}
		return screen{title: a.st.Title.Render("Audit"), body: body}
	}
	nameW := max(w-2-(2+20+1+1+sizeW+1+6), 10)
	header := a.st.Header.Render("  " + "  " + col("problem", 20) + " " + col("name", nameW) + " " + rcol("size", sizeW) + " " + col("state", 6))
	rows, sel := t.Visible()
	body := make([]string, 0, len(rows)+2)
	for i, p := range rows {
		mark := "  "
		if au.Marked[p.Key()] {
			mark = "* "
		}
		state := ""
		switch {
		case p.Fixed:
			state = "fixed"
		case p.Fix == "":
			state = "no fix"
		}
		size := ""
		if p.Size > 0 {
			size = units.Bytes(p.Size)
		}
		s := mark + col(p.Kind, 20) + " " + lcut(p.Name, nameW) + " " + rcol(size, sizeW) + " " + col(state, 6)
		body = append(body, a.row(s, i == sel))
	}
	if t.Total() == 0 && !au.Running {
		body = append(body, "", "  no problems found")
	}
	return screen{title: v.title(a), header: header, body: body, detail: a.st.Dim.Render(v.detail(a))}
}

// title says which audit ran and counts the problems by kind.
func (v *auditView) title(a *App) string {
	au := v.m
	kinds, n, fixed := au.Counts()
	title := a.st.Title.Render("Audit") + "  " + au.Mode + " " + au.Target + " · "
	if au.Table.Total() == 0 {
		title += "no problems"
	} else {
		var parts []string
		for _, k := range kinds {
			parts = append(parts, fmt.Sprintf("%s %d", k, n[k]))
		}
		title += strings.Join(parts, " · ")
	}
	if fixed > 0 {
		title += fmt.Sprintf(" · fixed %d", fixed)
	}
	if len(au.Marked) > 0 {
		title += fmt.Sprintf(" · marked %d", len(au.Marked))
	}
	return title
}

// detail is the progress of a running audit, else the fix of the
// selected problem (or why it has none), else the audit's summary.
func (v *auditView) detail(a *App) string {
	au := v.m
	if au.Running {
		detail := fmt.Sprintf("scanning… %d entries", au.Scanned)
		if f := au.Progress(); f >= 0 {
			const w = 20
			detail = progressBar(int64(f*float64(w)), int64(w), w) + fmt.Sprintf(" %3d%% ", int(f*100)) + detail + fmt.Sprintf(" of ~%d", au.Estimate)
		}
		return detail + " · " + model.Duration(a.opt.Now().Sub(au.Started)) + " · esc stops"
	}
	p, ok := au.Table.Selected()
	if !ok {
		return au.Summary
	}
	var detail string
	switch {
	case p.Fixed:
		detail = "fixed: " + p.Fix
	case p.Fix != "":
		detail = "fix: " + p.Fix
	default:
		detail = "no fix from here: " + p.Name
	}
	if p.Other != "" && p.Fix == "" {
		detail += " (" + p.Other + ")"
	}
	return detail
}
