package tui

import (
	"context"
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// The command palette (:) runs any `frm admin` command line through the
// same shell as `frm admin`, over any view.

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
