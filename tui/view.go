package tui

import (
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"frm/tui/model"
)

// view is one screen of the console, a component as in k9s: its keys and
// their help, the loads and messages it owns, and its drawing. App keeps
// what all views share: the global keys (1-9, Tab, ?, :, L, q, ctrl+r),
// the list keys and the filter (through List), dialogs, the palette, the
// status line and the daemon's event stream.
//
// Adding a view is a file with a type implementing view (view_spaces.go
// is a small example) and its line in App.registerViews.
type view interface {
	// Name is the title of the view's tab.
	Name() string
	// Keys are the view's keys in order of importance: the key bar shows
	// as many as the width allows, ? shows them all. A view may list a
	// global key it wants in its bar (ctrl+r, :).
	Keys(k *keys) []key.Binding
	// Help groups the view's keys in columns for ?, shown between the
	// navigation keys and the global keys.
	Help(k *keys) [][]key.Binding
	// HandleKey handles a key that neither a global key nor the list
	// keys took; handled is false when the key means nothing here.
	HandleKey(a *App, m tea.KeyMsg) (cmd tea.Cmd, handled bool)
	// Update handles a message of the view's own (the result of one of
	// its loads), whether the view is shown or not; handled is false for
	// any other message.
	Update(a *App, msg tea.Msg) (cmd tea.Cmd, handled bool)
	// Refresh loads the view unless a load of it is in flight; force
	// (ctrl+r) also redoes what is otherwise reloaded only when due.
	Refresh(a *App, force bool) tea.Cmd
	// Every is the number of ticks between refreshes while the view is
	// shown; 0 refreshes it on demand only.
	Every() int
	// List is the view's table, which the list keys move in and / filters;
	// nil when it has none.
	List() list
	// Loads is the state of the view's loads, whose failure the status
	// line reports; nil when it loads nothing.
	Loads() *model.Refresh
	// View draws the view w cells wide with h rows of body.
	View(a *App, w, h int) screen
}

// screen is what a view draws: a title line, the column headers, the
// body rows and a detail line about the selected row.
type screen struct {
	title, header string
	body          []string
	detail        string
}

// list is what the list keys and the filter need of a view's table
// (*model.Table has it all).
type list interface {
	Move(int)
	Page(int)
	Home()
	End()
	SetHeight(int)
	Filter() string
	SetFilter(string)
}

// Optional capabilities of a view, discovered by type assertion.
type (
	// shower is a view with its own idea of what to load when it is
	// shown (the others are refreshed).
	shower interface{ Show(a *App) tea.Cmd }
	// clearer is a view whose Esc clears more than the filter.
	clearer interface{ Clear(a *App) }
	// interrupter is a view running work that Esc stops before anything
	// else (an audit); Interrupt reports whether there was any.
	interrupter interface{ Interrupt(a *App) bool }
	// worker is a view with background work: q refuses to quit while it
	// is Busy, and Close stops it when the console ends.
	worker interface {
		Busy() bool
		Close()
	}
	// eventer is a view fed by the daemon's event stream, which runs
	// while such a view is shown. Event applies one event (to every
	// eventer, shown or not); EventsEnded says the stream failed.
	eventer interface {
		Event(a *App, ev model.QueueEvent) tea.Cmd
		EventsEnded(a *App, err error)
	}
)

// View implements tea.Model. It formats only the rows in the window, so
// its cost does not depend on the number of rows.
func (a *App) View() string {
	var b strings.Builder
	b.Grow(a.width * a.height * 2)
	line := func(s string) {
		b.WriteString(fit(s, a.width))
		b.WriteByte('\n')
	}
	line(a.tabs())
	h := a.bodyHeight()
	v := a.current()
	sc := v.View(a, a.width, h)
	line(sc.title)
	header, body := sc.header, sc.body
	switch {
	case a.dlg != nil:
		header, body = "", a.dialogView(h)
	case a.palOpen:
		header, body = a.paletteView()
	case a.showHelp:
		header, body = a.st.Title.Render(v.Name()+" keys")+"  (any key closes)", a.fullHelp(h)
	case a.showLog:
		header, body = a.st.Title.Render("Action log")+"  (any key closes)", a.logView(h)
	}
	line(header)
	for i := range h {
		if i < len(body) {
			line(body[i])
		} else {
			line("")
		}
	}
	line(sc.detail)
	for _, s := range a.statusLines() {
		line(s)
	}
	b.WriteString(fit(a.helpBar(), a.width))
	return b.String()
}

// sizeW is the width of a size column: the widest units.Bytes output
// below 10 PiB ("1023.9K", "1023.9T").
const sizeW = 7

// fit truncates s to w cells and pads it with blanks.
func fit(s string, w int) string {
	s = ansi.Truncate(s, w, "…")
	if n := lipgloss.Width(s); n < w {
		s += strings.Repeat(" ", w-n)
	}
	return s
}

// col pads or truncates plain text to w cells (left aligned).
func col(s string, w int) string { return fit(s, w) }

// rcol right-aligns s in w cells.
func rcol(s string, w int) string {
	if n := lipgloss.Width(s); n < w {
		return strings.Repeat(" ", w-n) + s
	}
	return ansi.Truncate(s, w, "")
}

// lcut fits s in w cells by cutting its start ("…spaces/data1"): for
// paths, whose end tells them apart.
func lcut(s string, w int) string {
	if n := lipgloss.Width(s); n > w {
		s = ansi.TruncateLeft(s, n-w+1, "…")
	}
	return col(s, w)
}

func (a *App) tabs() string {
	var parts []string
	parts = append(parts, a.st.Title.Render("frm")+" ")
	for i, v := range a.views {
		t := string(rune('1'+i)) + " " + v.Name()
		if viewID(i+1) == a.view {
			parts = append(parts, a.st.ActiveTab.Render("["+t+"]"))
		} else {
			parts = append(parts, a.st.Tab.Render(t))
		}
	}
	s := strings.Join(parts, "")
	right := a.opt.Backend.Name() + " "
	if a.opt.ReadOnly {
		right = "[read-only] " + right
	}
	if pad := a.width - lipgloss.Width(s) - lipgloss.Width(right); pad > 0 {
		s += strings.Repeat(" ", pad) + right
	}
	return s
}

// maxStatusLines is how many lines a long status may take (from the
// body): an action's result is not cut short of the key it names.
const maxStatusLines = 3

// statusLines is the status line: the filter being typed, why the last
// refresh of the view failed, or the last action's result, wrapped to
// the width (at most maxStatusLines lines, the last one cut).
func (a *App) statusLines() []string {
	if a.filtering {
		return []string{a.filter.View()}
	}
	text, style := a.status, a.st.Status
	if r := a.current().Loads(); r != nil && r.Err != nil {
		text, style = "refresh failed: "+r.Err.Error(), a.st.Err
		if !r.Loaded.IsZero() {
			text += " (rows from " + r.Loaded.In(a.opt.Loc).Format("15:04:05") + ")"
		}
	} else if a.statusErr {
		text, style = "! "+text, a.st.Err
	}
	if text == "" {
		return []string{""}
	}
	lines := strings.Split(ansi.Wrap(text, max(a.width, 1), ""), "\n")
	if len(lines) > maxStatusLines {
		lines[maxStatusLines-1] = strings.Join(lines[maxStatusLines-1:], " ")
		lines = lines[:maxStatusLines]
	}
	for i, l := range lines {
		lines[i] = style.Render(l)
	}
	return lines
}

// helpBar is the key bar: the keys of the dialog, the palette or the view
// by importance, as many as fit, then the global keys while room is left,
// and always ? (every key) last.
func (a *App) helpBar() string {
	var bs []key.Binding
	switch {
	case a.dlg != nil:
		return a.help.ShortHelpView(a.dlg.keys(a))
	case a.palOpen:
		return a.help.ShortHelpView(a.paletteKeys())
	}
	k := &a.keys
	bs = append(a.current().Keys(k), k.Views, k.Refresh, k.Palette, k.Quit)
	var hints []model.Hint
	byKey := map[string]key.Binding{}
	for _, b := range bs {
		if b.Enabled() && b.Help().Key != "" {
			hints = append(hints, model.Hint{Key: b.Help().Key, Desc: b.Help().Desc})
			byKey[b.Help().Key] = b
		}
	}
	byKey[k.Help.Help().Key] = k.Help
	var shown []key.Binding
	for _, h := range model.FitHints(hints, model.Hint{Key: k.Help.Help().Key, Desc: k.Help.Help().Desc}, a.width) {
		shown = append(shown, byKey[h.Key])
	}
	return a.help.ShortHelpView(shown)
}

// fullHelp is the ? screen: navigation, the view's keys, global keys.
func (a *App) fullHelp(h int) []string {
	k := &a.keys
	cols := [][]key.Binding{{k.Up, k.Down, k.PgUp, k.PgDown, k.Home, k.End}}
	cols = append(cols, a.current().Help(k)...)
	cols = append(cols, []key.Binding{k.Views, k.NextView, k.PrevView, k.Refresh, k.Palette, k.Log, k.Help, k.Quit})
	// As many columns side by side as the width holds, the others below.
	hm := a.help
	hm.Width = 0
	var lines []string
	for len(cols) > 0 {
		n := 1
		for n < len(cols) && lipgloss.Width(hm.FullHelpView(cols[:n+1])) <= a.width {
			n++
		}
		if len(lines) > 0 {
			lines = append(lines, "")
		}
		lines = append(lines, strings.Split(hm.FullHelpView(cols[:n]), "\n")...)
		cols = cols[n:]
	}
	if a.opt.ReadOnly {
		lines = append(lines, "", "read-only: actions are hidden")
	}
	return lines[:min(len(lines), h)]
}

func (a *App) logView(h int) []string {
	es := a.log.Entries
	if len(es) == 0 {
		return []string{"", "  no actions yet"}
	}
	es = es[max(len(es)-h, 0):]
	out := make([]string, 0, len(es))
	for _, e := range es {
		mark := " "
		if e.Err {
			mark = "!"
		}
		out = append(out, e.Time.In(a.opt.Loc).Format("15:04:05")+" "+mark+" "+e.Text)
	}
	return out
}

// row renders one table row with the cursor glyph and selection style.
func (a *App) row(s string, selected bool) string {
	if selected {
		return a.st.Selected.Render(fit("▸ "+s, a.width))
	}
	return "  " + s
}

func (a *App) age(epoch int64) string {
	if epoch == 0 {
		return "-"
	}
	return model.Duration(a.opt.Now().Sub(time.Unix(epoch, 0)))
}

// progressBar draws done/size in w cells.
func progressBar(done, size int64, w int) string {
	f := int(done * int64(w) / max(size, 1))
	f = min(max(f, 0), w)
	return strings.Repeat("█", f) + strings.Repeat("░", w-f)
}
