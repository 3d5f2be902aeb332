package tui

// Dialogs: modals over the body of a view that ask before an action.

import (
	"context"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"frm/tui/model"
)

// dialog is a modal over the body of the view.
type dialog interface {
	update(a *App, m tea.KeyMsg) (done bool, cmd tea.Cmd)
	view(a *App, h int) []string
	keys(a *App) []key.Binding
}

func (a *App) dialogKey(m tea.KeyMsg) tea.Cmd {
	if m.String() == "ctrl+c" {
		a.stopBackground()
		return tea.Quit
	}
	done, cmd := a.dlg.update(a, m)
	if done {
		a.dlg = nil
	}
	return cmd
}

func (a *App) dialogView(h int) []string {
	lines := a.dlg.view(a, h)
	box := a.st.Box.Width(min(a.width-4, 72)).Render(strings.Join(lines, "\n"))
	out := append([]string{""}, strings.Split(box, "\n")...)
	for i := range out {
		out[i] = "  " + out[i]
	}
	return out[:min(len(out), h)]
}

// confirmDialog asks a yes/no question that says exactly what will happen.
type confirmDialog struct {
	text string
	run  func() tea.Cmd
}

func (d *confirmDialog) update(a *App, m tea.KeyMsg) (bool, tea.Cmd) {
	switch {
	case key.Matches(m, a.keys.Confirm):
		return true, d.run()
	case key.Matches(m, a.keys.Abort):
		a.report("cancelled", nil)
		return true, nil
	}
	return false, nil
}

func (d *confirmDialog) view(a *App, h int) []string { return strings.Split(d.text, "\n") }

func (d *confirmDialog) keys(a *App) []key.Binding {
	return []key.Binding{a.keys.Confirm, a.keys.Abort}
}

// pinDialog is the keep-spec form, validated as it is typed.
type pinDialog struct {
	lfns  []string
	input textinput.Model
}

func newPinDialog(a *App, lfns []string) *pinDialog {
	ti := textinput.New()
	ti.Prompt = "keep: "
	ti.Placeholder = "forever"
	ti.CharLimit = 40
	ti.Focus()
	return &pinDialog{lfns: lfns, input: ti}
}

func (d *pinDialog) spec() string {
	if v := strings.TrimSpace(d.input.Value()); v != "" {
		return v
	}
	return "forever"
}

func (d *pinDialog) update(a *App, m tea.KeyMsg) (bool, tea.Cmd) {
	switch m.Type {
	case tea.KeyEsc:
		a.report("pin cancelled", nil)
		return true, nil
	case tea.KeyEnter:
		spec := d.spec()
		if _, ok := model.PinCheck(spec, a.opt.Now(), a.opt.Loc); !ok {
			return false, nil // the form shows why
		}
		be, lfns := a.opt.Backend, d.lfns
		return true, a.action("pin -k "+spec+" "+strings.Join(lfns, " "), func(ctx context.Context) (string, error) { return be.Pin(ctx, lfns, spec) })
	}
	var cmd tea.Cmd
	d.input, cmd = d.input.Update(m)
	return false, cmd
}

func (d *pinDialog) view(a *App, h int) []string {
	desc, ok := model.PinCheck(d.spec(), a.opt.Now(), a.opt.Loc)
	mark := "✓ "
	st := a.st.OK
	if !ok {
		mark, st = "✗ ", a.st.Err
	}
	out := []string{a.st.Title.Render("Pin " + strings.Join(d.lfns, " ")), "", d.input.View(), st.Render(mark + desc), "",
		a.st.Dim.Render("forever · +3d keep while read within 3 days · 2h, 7d from now · MM/DD/YYYY · 0 unpins")}
	return out
}

func (d *pinDialog) keys(a *App) []key.Binding {
	return []key.Binding{
		key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "pin")),
		key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
	}
}

// pickDialog chooses from a list (a space to relocate to).
type pickDialog struct {
	p   model.Picker
	run func(value string) tea.Cmd
}

func (d *pickDialog) update(a *App, m tea.KeyMsg) (bool, tea.Cmd) {
	switch {
	case key.Matches(m, a.keys.Up):
		d.p.Move(-1)
	case key.Matches(m, a.keys.Down):
		d.p.Move(1)
	case m.Type == tea.KeyEnter:
		if it, ok := d.p.Selected(); ok {
			return true, d.run(it.Value)
		}
	case m.Type == tea.KeyEsc:
		a.report("relocate cancelled", nil)
		return true, nil
	}
	return false, nil
}

func (d *pickDialog) view(a *App, h int) []string {
	out := []string{a.st.Title.Render(d.p.Title), ""}
	for i, it := range d.p.Items {
		s := it.Label
		switch {
		case i == d.p.Cursor:
			s = a.st.Selected.Render("▸ " + s)
		case it.Disabled:
			s = a.st.Dim.Render("  " + s + " (current)")
		default:
			s = "  " + s
		}
		out = append(out, s)
	}
	return out[:min(len(out), max(h-3, 3))]
}

func (d *pickDialog) keys(a *App) []key.Binding {
	return []key.Binding{a.keys.Up, a.keys.Down,
		key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "relocate")),
		key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel"))}
}
