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
	"github.com/charmbracelet/x/ansi"

	"frm/core/units"
	"frm/tui/model"
)

// ---- Audit ----

// An audit runs in a goroutine that sends the problems it finds on a
// channel; a tea.Cmd drains what is there into one message, and a ticker
// reads the Scanned counter for the progress bar. Esc cancels the run.

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

func (a *App) auditTick(gen uint64) tea.Cmd {
	return tea.Tick(200*time.Millisecond, func(time.Time) tea.Msg { return auditTickMsg{gen} })
}

// startAudit runs audit mode on target.
func (a *App) startAudit(mode, target string) tea.Cmd {
	a.stopAudit()
	au := a.audit
	gen := au.Start(mode, target, a.opt.Now())
	au.Estimate = a.auditEstimate(mode, target)
	ctx, cancel := context.WithCancel(a.ctx)
	a.cancelAudit = cancel
	cnt := new(atomic.Int64)
	a.auditScanned = cnt
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
	return tea.Batch(waitAudit(gen, ch), a.auditTick(gen))
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

func (a *App) stopAudit() {
	if a.cancelAudit != nil {
		a.cancelAudit()
		a.cancelAudit = nil
	}
}

func (a *App) onAuditPart(m auditPartMsg) tea.Cmd {
	au := a.audit
	if !au.Current(m.gen) {
		return nil
	}
	au.Add(m.gen, m.ps)
	if !m.end {
		return waitAudit(m.gen, m.ch)
	}
	if a.auditScanned != nil {
		au.Scanned = a.auditScanned.Load()
	}
	au.Finish(m.gen, m.summary, m.err)
	a.cancelAudit = nil
	a.report(m.summary, m.err)
	return nil
}

func (a *App) auditKey(m tea.KeyMsg) tea.Cmd {
	k := a.keys
	au := a.audit
	switch {
	case key.Matches(m, k.NewAudit):
		a.dlg = newAuditDialog(a)
		return textinput.Blink
	case key.Matches(m, k.Mark):
		au.Toggle()
		a.audit.Table.Move(1)
		return nil
	case key.Matches(m, k.Fix, k.FixAll):
		if au.Running {
			a.report("the audit is still running (esc stops it)", nil)
			return nil
		}
		ps := au.ToFix(key.Matches(m, k.FixAll))
		if len(ps) == 0 {
			a.report("nothing to fix here (this problem has no fix, or it is fixed)", nil)
			return nil
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
		return nil
	}
	return nil
}

// auditDialog chooses the audit and its target.
type auditDialog struct {
	mode  int
	input textinput.Model
}

func newAuditDialog(a *App) *auditDialog {
	ti := textinput.New()
	ti.Prompt = "target: "
	ti.CharLimit = 1024
	ti.Focus()
	d := &auditDialog{input: ti}
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
		return true, a.startAudit(model.AuditModes[d.mode], strings.TrimSpace(d.input.Value()))
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

func (a *App) auditView() (string, string, []string, string) {
	au := a.audit
	t := au.Table
	title := a.st.Title.Render("Audit")
	if au.Started.IsZero() {
		body := []string{"", "  No audit run yet. Press a to choose one:",
			"", "    names  DIR      namespace links, copy times and back references (recursive)",
			"    space  NAME     data files of a space against the namespace",
			"    usage  [NAME]   the usage log against the data on disk",
			"", "  An audit only reports. Fixes are made with f (the selected or marked",
			"  problems) or F (all), each after a confirmation saying what will change."}
		return title, "", body, ""
	}
	kinds, n, fixed := au.Counts()
	title += "  " + au.Mode + " " + au.Target + " · "
	if t.Total() == 0 {
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
	nameW := max(a.width-2-(2+20+1+1+8+1+6), 10)
	header := a.st.Header.Render("  " + "  " + col("problem", 20) + " " + col("name", nameW) + " " + rcol("size", 8) + " " + col("state", 6))
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
		s := mark + col(p.Kind, 20) + " " + col(ansi.TruncateLeft(p.Name, max(len(p.Name)-nameW, 0), "…"), nameW) + " " + rcol(size, 8) + " " + col(state, 6)
		body = append(body, a.row(s, i == sel))
	}
	if t.Total() == 0 && !au.Running {
		body = append(body, "", "  no problems found")
	}
	detail := ""
	switch {
	case au.Running:
		scanned := au.Scanned
		detail = fmt.Sprintf("scanning… %d entries", scanned)
		if f := au.Progress(); f >= 0 {
			w := 20
			detail = progressBar(int64(f*float64(w)), int64(w), w) + fmt.Sprintf(" %3d%% ", int(f*100)) + detail + fmt.Sprintf(" of ~%d", au.Estimate)
		}
		detail += " · " + model.Duration(a.opt.Now().Sub(au.Started)) + " · esc stops"
	default:
		if p, ok := t.Selected(); ok {
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
		} else if au.Summary != "" {
			detail = au.Summary
		}
	}
	return title, header, body, a.st.Dim.Render(detail)
}

// ---- Daemons ----

type daemonsMsg struct {
	gen uint64
	st  model.DaemonStatus
	err error
}

func (a *App) daemonsKey(m tea.KeyMsg) tea.Cmd {
	k := a.keys
	be := a.opt.Backend
	switch {
	case key.Matches(m, k.Wake):
		return a.action("wake", func(ctx context.Context) (string, error) { return be.Wake(ctx) })
	case key.Matches(m, k.Stop):
		r, ok := a.daemons.Table.Selected()
		if !ok {
			return nil
		}
		file, on := r.StopFile, !a.daemons.Status.Stopped[r.StopFile]
		p := a.daemons.Status.AdminDir + "/" + file
		text := "Create " + p + "?\n\nNo new " + r.Name + " work is started while it exists\n(work already running finishes)."
		verb := "create "
		if !on {
			text = "Remove " + p + "?\n\n" + r.Name + " work resumes (the daemon is woken)."
			verb = "remove "
		}
		a.dlg = &confirmDialog{text: text, run: func() tea.Cmd {
			return a.action(verb+file, func(ctx context.Context) (string, error) { return be.SetStop(ctx, file, on) })
		}}
	}
	return nil
}

func (a *App) daemonsView() (string, string, []string, string) {
	d := a.daemons
	st := d.Status
	title := a.st.Title.Render("Daemons") + "  "
	switch {
	case d.Refresh.Loaded.IsZero():
		title += "loading…"
	case st.Up:
		title += fmt.Sprintf("frm daemon pid %d, up %s · %s", st.PID, model.Duration(a.opt.Now().Sub(st.Started)), strings.Join(st.Components, ", "))
		if st.Draining {
			title += " · draining"
		}
	default:
		title += a.st.Err.Render("daemon down")
	}
	header := a.st.Header.Render("  " + col("work", 15) + " " + col("state", 10) + " " + col("stop file", 12) + " " + col("", max(a.width-2-40, 10)))
	rows, sel := d.Table.Visible()
	body := make([]string, 0, a.bodyHeight())
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
	// The rest is shared by the event tail and the log tail (one title
	// line each; without a log file, one line says how to get one).
	left := max(a.bodyHeight()-len(body)-2, 0)
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
	evs := d.Events[max(len(d.Events)-evN, 0):]
	for _, e := range evs {
		s := "  " + model.EventText(e, a.opt.Loc)
		if e.Type == "fail" {
			s = a.st.Err.Render(s)
		}
		body = append(body, s)
	}
	switch {
	case st.LogPath == "":
		body = append(body, a.st.Dim.Render("daemon log: not configured (tui.daemon_log, or frm tui --daemon-log FILE)"))
	case st.LogErr != "":
		body = append(body, a.st.Title.Render("daemon log ")+a.st.Err.Render(st.LogErr))
	default:
		body = append(body, a.st.Title.Render("daemon log "+st.LogPath))
		for _, l := range st.LogLines[max(len(st.LogLines)-logN, 0):] {
			s, bad := model.LogLine(l, a.opt.Loc)
			s = "  " + s
			if bad {
				s = a.st.Err.Render(s)
			}
			body = append(body, s)
		}
	}
	detail := ""
	if r, ok := d.Table.Selected(); ok {
		if st.Stopped[r.StopFile] {
			detail = r.StopFile + " present in " + st.AdminDir + ": " + r.Name + " suspended"
		} else {
			detail = "no " + r.StopFile + " in " + st.AdminDir
		}
	}
	return title, header, body, a.st.Dim.Render(detail)
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

// ---- Command palette ----

type execMsg struct {
	line   string
	out    string
	status int
	err    error
}

func (a *App) openPalette() tea.Cmd {
	a.palOpen = true
	a.palInput.SetValue("")
	return a.palInput.Focus()
}

func (a *App) paletteKey(m tea.KeyMsg) tea.Cmd {
	p := a.pal
	h := a.paletteOutHeight()
	switch m.String() {
	case "ctrl+c":
		a.stopBackground()
		return tea.Quit
	case "esc":
		if p.Running && a.cancelExec != nil {
			a.cancelExec()
			return nil
		}
		a.palOpen = false
		a.palInput.Blur()
		return a.refreshVisible()
	case "enter":
		line := strings.TrimSpace(a.palInput.Value())
		if line == "" || p.Running {
			return nil
		}
		p.Push(line)
		a.palInput.SetValue("")
		p.Running, p.Last = true, line
		ctx, cancel := context.WithCancel(a.ctx)
		a.cancelExec = cancel
		be := a.opt.Backend
		return func() tea.Msg {
			defer cancel()
			out, st, err := be.Exec(ctx, line)
			return execMsg{line: line, out: out, status: st, err: err}
		}
	case "up":
		if s, ok := p.Prev(a.palInput.Value()); ok {
			a.palInput.SetValue(s)
			a.palInput.CursorEnd()
		}
		return nil
	case "down":
		if s, ok := p.Next(); ok {
			a.palInput.SetValue(s)
			a.palInput.CursorEnd()
		}
		return nil
	case "tab":
		line, cands := a.opt.Backend.Complete(a.palInput.Value())
		a.palInput.SetValue(line)
		a.palInput.CursorEnd()
		if len(cands) > 1 {
			p.SetOutput("", "completions: "+strings.Join(cands, " "), 0)
		}
		return nil
	case "pgup", "ctrl+b":
		p.ScrollBy(-max(h-1, 1), h)
		return nil
	case "pgdown", "ctrl+f":
		p.ScrollBy(max(h-1, 1), h)
		return nil
	}
	var cmd tea.Cmd
	a.palInput, cmd = a.palInput.Update(m)
	return cmd
}

func (a *App) onExec(m execMsg) tea.Cmd {
	out := m.out
	if m.err != nil {
		out += m.err.Error()
	}
	a.pal.SetOutput(m.line, out, m.status)
	a.cancelExec = nil
	text := ": " + m.line
	if m.status != 0 {
		text += fmt.Sprintf(" (exit %d)", m.status)
	}
	a.log.Add(a.opt.Now(), text, m.status != 0 || m.err != nil)
	return nil
}

func (a *App) paletteOutHeight() int { return max(a.bodyHeight()-3, 1) }

func (a *App) paletteView() (string, []string) {
	p := a.pal
	header := a.st.Title.Render("Command palette") + "  any frm admin command line"
	body := []string{a.palInput.View(),
		a.st.Dim.Render("questions are answered no (site.Always(site.No)); text output"), ""}
	h := a.paletteOutHeight()
	switch {
	case p.Running:
		body = append(body, "running "+p.Last+"…  (esc interrupts)")
	case p.Last != "" || len(p.Output) > 0:
		if p.Last != "" {
			st := "ok"
			if p.Status != 0 {
				st = fmt.Sprintf("exit %d", p.Status)
			}
			body[2] = a.st.Dim.Render("> " + p.Last + "  [" + st + "]")
		}
		end := min(p.Scroll+h, len(p.Output))
		body = append(body, p.Output[p.Scroll:end]...)
		if len(p.Output) > h {
			body[2] += a.st.Dim.Render(fmt.Sprintf("  lines %d-%d of %d", p.Scroll+1, end, len(p.Output)))
		}
	}
	return header, body
}

func (a *App) paletteKeys() []key.Binding {
	b := key.NewBinding
	return []key.Binding{
		b(key.WithKeys("enter"), key.WithHelp("enter", "run")),
		b(key.WithKeys("tab"), key.WithHelp("tab", "complete")),
		b(key.WithKeys("up"), key.WithHelp("↑/↓", "history")),
		b(key.WithKeys("pgup"), key.WithHelp("pgup/pgdn", "scroll")),
		b(key.WithKeys("esc"), key.WithHelp("esc", "close")),
	}
}
