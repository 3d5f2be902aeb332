package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"frm/core/units"
	"frm/tui/model"
)

// spacesView is the Spaces view: every space, then its partitions, with
// usage bars, the purge watermarks, and the bytes needing migration and
// pinned (from a walk of the namespace, less often than the rows).
type spacesView struct{ m *model.Spaces }

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

func (v *spacesView) Name() string          { return "Spaces" }
func (v *spacesView) Every() int            { return 5 }
func (v *spacesView) List() list            { return v.m.Table }
func (v *spacesView) Loads() *model.Refresh { return &v.m.Refresh }

func (v *spacesView) Keys(k *keys) []key.Binding { return []key.Binding{k.Open, k.Filter, k.Refresh} }

func (v *spacesView) Help(k *keys) [][]key.Binding {
	return [][]key.Binding{{k.Open, k.Filter, k.Clear}}
}

// HandleKey: Enter opens the Namespace view on the files of the space.
func (v *spacesView) HandleKey(a *App, m tea.KeyMsg) (tea.Cmd, bool) {
	if !key.Matches(m, a.keys.Open) {
		return nil, false
	}
	sp, ok := v.m.SelectedSpace()
	if !ok {
		return nil, true
	}
	a.view = viewNamespace
	a.ns.SetSpaceOnly(sp)
	a.report("showing files of space "+sp+" (esc shows all)", nil)
	if a.ns.Table.Total() == 0 && !a.ns.Loading {
		return a.reloadDir(), true
	}
	return nil, true
}

func (v *spacesView) Update(a *App, msg tea.Msg) (tea.Cmd, bool) {
	switch m := msg.(type) {
	case spacesMsg:
		if v.m.Refresh.End(m.gen, m.err, a.opt.Now()) && m.err == nil {
			v.m.Table.SetRows(m.rows)
		}
		return a.pending(v), true
	case spaceUseMsg:
		if v.m.UseRefresh.End(m.gen, m.err, a.opt.Now()) && m.use != nil {
			v.m.Use = m.use // partial after walk errors: better than none
		}
		return nil, true
	}
	return nil, false
}

// Refresh loads the rows and, when due (or forced), the use.
func (v *spacesView) Refresh(a *App, force bool) tea.Cmd {
	var rows tea.Cmd
	if gen, ok := v.m.Refresh.Begin(); ok {
		be, ctx := a.opt.Backend, a.ctx
		rows = tea.Batch(func() tea.Msg {
			rows, err := be.Spaces(ctx)
			return spacesMsg{gen: gen, rows: rows, err: err}
		}, a.refreshUse(false))
	}
	if force {
		return tea.Batch(rows, a.refreshUse(true))
	}
	return rows
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

// Column widths of the Spaces view: sizes are units.Bytes (sizeW).
const (
	spacesMinName = len("space / partition")
	spacesMinBar  = 12
	// spacesRest is the width of the columns after the bar, with the
	// blanks before them, and the row's cursor and end margin.
	spacesRest = 1 + 5 + 4*(1+sizeW) + 2 + 2 + 1
	spacesWide = 2 * (1 + sizeW) // to mig, pinned
)

func (v *spacesView) View(a *App, w, h int) screen {
	t := v.m.Table
	title := a.st.Title.Render("Spaces") + fmt.Sprintf("  %d spaces", len(v.m.SpaceNames()))
	if v.m.Refresh.InFlight() && t.Total() == 0 {
		title += "  loading…"
	}
	// Wide terminals get columns for the bytes needing migration and the
	// pinned bytes; every width has them in the detail line.
	wide := w >= 100
	room := w - spacesRest
	if wide {
		room -= spacesWide
	}
	labels, nameW := spaceLabels(t.Rows(), room-spacesMinBar)
	barW := max(room-nameW, 8)
	extraH := ""
	if wide {
		extraH = " " + rcol("to mig", sizeW) + " " + rcol("pinned", sizeW)
	}
	header := a.st.Header.Render("  " + col("space / partition", nameW) + " " + col("usage", barW) + " " + rcol("used", 5) + " " + rcol("free", sizeW) + " " +
		rcol("total", sizeW) + " " + rcol("files", sizeW) + " " + rcol("bytes", sizeW) + extraH)
	rows, sel := t.Visible()
	body := make([]string, 0, len(rows))
	for i, r := range rows {
		name := lcut(labels[r.Key()], nameW)
		if r.Err != "" {
			body = append(body, a.row(name+" "+a.st.Err.Render(r.Err), i == sel))
			continue
		}
		bar := strings.NewReplacer("#", "█", ".", "░", "|", "┃", ":", "╎").Replace(r.Bar(barW))
		if i != sel {
			bar = a.levelStyle(r.Level()).Render(bar)
		}
		pct := "-"
		if r.Total > 0 {
			pct = fmt.Sprintf("%d%%", r.Used()*100/r.Total)
		}
		s := name + " " + bar + " " + rcol(pct, 5) + " " + rcol(units.Bytes(r.Free), sizeW) + " " +
			rcol(units.Bytes(r.Total), sizeW) + " " + rcol(fmt.Sprint(r.Files), sizeW) + " " + rcol(units.Bytes(r.Bytes), sizeW)
		if wide {
			mig, pin := "…", "…"
			if u, ok := v.m.UseOf(r.Key()); ok {
				mig, pin = units.Bytes(u.MigBytes), units.Bytes(u.PinBytes)
			}
			s += " " + rcol(mig, sizeW) + " " + rcol(pin, sizeW)
		}
		body = append(body, a.row(s, i == sel))
	}
	return screen{title: title, header: header, body: body, detail: a.st.Dim.Render(v.detail(a))}
}

// detail describes the selected row, most telling first: a narrow
// terminal cuts the end, and the watermarks are drawn on the bar anyway.
func (v *spacesView) detail(a *App) string {
	r, ok := v.m.Table.Selected()
	if !ok {
		return ""
	}
	purge := "not purged"
	if !r.NoPurge {
		purge = fmt.Sprintf("purge below %s free ┃ until %s ╎", units.Bytes(r.MinFree), units.Bytes(r.MaxFree))
	}
	what := ""
	if r.Namespace {
		what = " · plain files, not XA links"
	}
	return r.Key() + " " + levelWord(r.Level()) + what + " · " + v.useText(r.Key()) + " · " + purge
}

// spaceLabels names the rows in the first column (by row key) and says
// how wide it is: a space by its name; a partition by its path, indented,
// when every path fits in room cells, else by the part of its path that
// tells it from the other partitions of its space (model.PartitionLabels);
// the namespace row of public as "(namespace)".
func spaceLabels(rows []model.SpaceRow, room int) (map[string]string, int) {
	full := make(map[string]string, len(rows))
	w := 0
	for _, r := range rows {
		l := r.Space
		switch {
		case r.Namespace:
			l = "  (namespace)"
		case r.Partition != "":
			l = "  " + r.Partition
		}
		full[r.Key()] = l
		w = max(w, lipgloss.Width(l))
	}
	if w <= room {
		return full, max(w, spacesMinName)
	}
	short := make(map[string]string, len(rows))
	w = 0
	for i := 0; i < len(rows); {
		j := i + 1
		for j < len(rows) && rows[j].Space == rows[i].Space {
			j++
		}
		var paths []string
		for _, r := range rows[i:j] {
			if r.Partition != "" && !r.Namespace {
				paths = append(paths, r.Partition)
			}
		}
		rel := model.PartitionLabels(paths)
		for _, r := range rows[i:j] {
			l := full[r.Key()]
			if r.Partition != "" && !r.Namespace {
				l, rel = "  "+rel[0], rel[1:]
			}
			short[r.Key()] = l
			w = max(w, lipgloss.Width(l))
		}
		i = j
	}
	return short, min(max(w, spacesMinName), max(room, spacesMinName))
}

// useText says how many bytes of row key need migration and are pinned,
// "…" while the first walk runs.
func (v *spacesView) useText(k string) string {
	u, ok := v.m.UseOf(k)
	if !ok {
		if err := v.m.UseRefresh.Err; err != nil {
			return "to migrate, pinned: " + err.Error()
		}
		return "to migrate … · pinned …"
	}
	s := fmt.Sprintf("to migrate %s (%d) · pinned %s (%d)", units.Bytes(u.MigBytes), u.MigFiles, units.Bytes(u.PinBytes), u.PinFiles)
	if v.m.UseRefresh.Err != nil {
		s += " (walk: " + v.m.UseRefresh.Err.Error() + ")"
	}
	return s
}

func levelWord(l model.Level) string {
	switch l {
	case model.LevelOK:
		return "[ok]"
	case model.LevelWarn:
		return "[low]"
	case model.LevelCritical:
		return "[CRITICAL]"
	}
	return "[unknown]"
}

func (a *App) levelStyle(l model.Level) lipgloss.Style {
	switch l {
	case model.LevelOK:
		return a.st.OK
	case model.LevelWarn:
		return a.st.Warn
	case model.LevelCritical:
		return a.st.Crit
	}
	return a.st.Dim
}
