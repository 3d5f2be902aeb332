package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"frm/core/units"
	"frm/tui/model"
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
	title, header, body, detail := a.viewParts()
	line(title)
	h := a.bodyHeight()
	switch {
	case a.dlg != nil:
		header, body = "", a.dialogView(h)
	case a.palOpen:
		header, body = a.paletteView()
	case a.showHelp:
		header, body = a.st.Title.Render(viewNames[a.view]+" keys")+"  (any key closes)", a.fullHelp(h)
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
	line(detail)
	line(a.statusLine())
	b.WriteString(fit(a.helpBar(), a.width))
	return b.String()
}

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

func (a *App) tabs() string {
	var parts []string
	parts = append(parts, a.st.Title.Render("frm")+" ")
	for v := viewSpaces; v <= viewDaemons; v++ {
		t := fmt.Sprintf("%d %s", v, viewNames[v])
		if v == a.view {
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

func (a *App) viewParts() (title, header string, body []string, detail string) {
	switch a.view {
	case viewSpaces:
		return a.spacesView()
	case viewNamespace:
		return a.namespaceView()
	case viewQueues:
		return a.queuesView()
	case viewAudit:
		return a.auditView()
	case viewDaemons:
		return a.daemonsView()
	}
	return "", "", nil, ""
}

func (a *App) statusLine() string {
	if a.filtering {
		return a.filter.View()
	}
	var r *model.Refresh
	switch a.view {
	case viewSpaces:
		r = &a.spaces.Refresh
	case viewNamespace:
		r = &a.ns.Refresh
	case viewQueues:
		r = &a.queues.Refresh
	case viewDaemons:
		r = &a.daemons.Refresh
	}
	if r != nil && r.Err != nil {
		since := ""
		if !r.Loaded.IsZero() {
			since = " (rows from " + r.Loaded.In(a.opt.Loc).Format("15:04:05") + ")"
		}
		return a.st.Err.Render("refresh failed: "+r.Err.Error()) + since
	}
	if a.status != "" {
		if a.statusErr {
			return a.st.Err.Render("! " + a.status)
		}
		return a.status
	}
	return ""
}

func (a *App) helpBar() string {
	if a.dlg != nil {
		return a.help.ShortHelpView(a.dlg.keys(a))
	}
	if a.palOpen {
		return a.help.ShortHelpView(a.paletteKeys())
	}
	return a.help.ShortHelpView(a.keyMap().ShortHelp())
}

func (a *App) fullHelp(h int) []string {
	s := a.help.FullHelpView(a.keyMap().FullHelp())
	lines := strings.Split(s, "\n")
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

// ---- Spaces ----

func (a *App) spacesView() (string, string, []string, string) {
	t := a.spaces.Table
	title := a.st.Title.Render("Spaces") + fmt.Sprintf("  %d spaces", len(a.spaces.SpaceNames()))
	if a.spaces.Refresh.InFlight() && t.Total() == 0 {
		title += "  loading…"
	}
	// Wide terminals get columns for the bytes needing migration and the
	// pinned bytes; every width has them in the detail line.
	wide := a.width >= 100
	barW := max(a.width-65, 8)
	extraH := ""
	if wide {
		barW = max(a.width-81, 8)
		extraH = " " + rcol("to mig", 7) + " " + rcol("pinned", 7)
	}
	header := a.st.Header.Render("  " + col("space / partition", 22) + " " + col("usage", barW) + " " + rcol("used", 5) + " " + rcol("free", 7) + " " + rcol("total", 7) + " " + rcol("files", 7) + " " + rcol("bytes", 7) + extraH)
	rows, sel := t.Visible()
	body := make([]string, 0, len(rows))
	for i, r := range rows {
		name := r.Space
		if r.Partition != "" {
			name = "  " + r.Partition
		}
		lvl := r.Level()
		bar := strings.NewReplacer("#", "█", ".", "░", "|", "┃", ":", "╎").Replace(r.Bar(barW))
		pct := "-"
		if r.Total > 0 {
			pct = fmt.Sprintf("%d%%", r.Used()*100/r.Total)
		}
		if i != sel {
			bar = a.levelStyle(lvl).Render(bar)
		}
		s := col(ansi.TruncateLeft(name, max(lipgloss.Width(name)-22, 0), "…"), 22) + " " + bar + " " + rcol(pct, 5) + " " + rcol(units.Bytes(r.Free), 7) + " " +
			rcol(units.Bytes(r.Total), 7) + " " + rcol(fmt.Sprint(r.Files), 7) + " " + rcol(units.Bytes(r.Bytes), 7)
		if wide {
			mig, pin := "…", "…"
			if u, ok := a.spaces.UseOf(r.Key()); ok {
				mig, pin = units.Bytes(u.MigBytes), units.Bytes(u.PinBytes)
			}
			s += " " + rcol(mig, 7) + " " + rcol(pin, 7)
		}
		if r.Err != "" {
			s = col(name, 22) + " " + a.st.Err.Render(r.Err)
		}
		body = append(body, a.row(s, i == sel))
	}
	detail := ""
	if r, ok := t.Selected(); ok {
		// Most telling first: a narrow terminal cuts the end, and the
		// watermarks are drawn on the bar anyway.
		purge := "not purged"
		if !r.NoPurge {
			purge = fmt.Sprintf("purge below %s free ┃ until %s ╎", units.Bytes(r.MinFree), units.Bytes(r.MaxFree))
		}
		detail = r.Key() + " " + levelWord(r.Level()) + " · " + a.useText(r.Key()) + " · " + purge
	}
	return title, header, body, a.st.Dim.Render(detail)
}

// useText says how many bytes of row key need migration and are pinned,
// "…" while the first walk runs.
func (a *App) useText(k string) string {
	u, ok := a.spaces.UseOf(k)
	if !ok {
		if err := a.spaces.UseRefresh.Err; err != nil {
			return "to migrate, pinned: " + err.Error()
		}
		return "to migrate … · pinned …"
	}
	s := fmt.Sprintf("to migrate %s (%d) · pinned %s (%d)", units.Bytes(u.MigBytes), u.MigFiles, units.Bytes(u.PinBytes), u.PinFiles)
	if a.spaces.UseRefresh.Err != nil {
		s += " (walk: " + a.spaces.UseRefresh.Err.Error() + ")"
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

// ---- Namespace ----

func (a *App) namespaceView() (string, string, []string, string) {
	n := a.ns
	t := n.Table
	crumbs := n.Breadcrumbs()
	title := a.st.Title.Render("/") + strings.Join(crumbs[1:], " / ")
	if len(crumbs) > 1 {
		title = a.st.Title.Render("/ ") + strings.Join(crumbs[1:], " / ")
	}
	info := fmt.Sprintf("  %d", t.Len())
	if t.Len() != t.Total() {
		info += fmt.Sprintf("/%d", t.Total())
	}
	info += " entries · sort " + n.Sort.String()
	if n.Reverse {
		info += "↑"
	}
	if n.SpaceOnly != "" {
		info += " · space " + n.SpaceOnly
	}
	if n.Filter() != "" {
		info += " · /" + n.Filter()
	}
	if n.Loading {
		info += " · loading…"
	}
	nameW := max(a.width-2-(1+8+1+8+1+10+1+11+1+5+1+5+1+4), 10)
	header := a.st.Header.Render("  " + col("name", nameW) + " " + rcol("size", 8) + " " + col("space", 8) + " " + col("state", 10) + " " + col("pin", 11) + " " + rcol("age", 5) + " " + rcol("atime", 5) + " " + col("fail", 4))
	rows, sel := t.Visible()
	body := make([]string, 0, len(rows))
	now := a.opt.Now()
	for i, r := range rows {
		name := r.Name
		size := units.Bytes(r.Size)
		if r.Dir {
			name += "/"
			size = ""
		}
		fail := ""
		if r.Failed {
			fail = "FAIL"
		}
		s := col(name, nameW) + " " + rcol(size, 8) + " " + col(r.Space, 8) + " " + col(r.Res.String(), 10) + " " +
			col(r.PinText(now, a.opt.Loc), 11) + " " + rcol(a.age(r.Mtime), 5) + " " + rcol(a.age(r.Atime), 5) + " " + col(fail, 4)
		body = append(body, a.row(s, i == sel))
	}
	detail := ""
	if lfn, r, ok := n.SelectedLFN(); ok && !r.Dir {
		var parts []string
		parts = append(parts, lfn)
		if r.Partition != "" {
			parts = append(parts, "on "+r.Partition)
		}
		if r.CopyTime > 0 {
			parts = append(parts, "copied "+time.Unix(r.CopyTime, 0).In(a.opt.Loc).Format("2006-01-02 15:04"))
		}
		if r.Checksum != "" {
			parts = append(parts, r.Checksum)
		}
		if r.Failed {
			parts = append(parts, "last transfer failed (.fail)")
		}
		detail = strings.Join(parts, " · ")
	}
	return title + a.st.Dim.Render(info), header, body, a.st.Dim.Render(detail)
}

// ---- Queues ----

func (a *App) queuesView() (string, string, []string, string) {
	q := a.queues
	t := q.Table
	per, running := q.Counts()
	title := a.st.Title.Render("Queues") + fmt.Sprintf("  stage %d · migrate %d · get %d · put %d · running %d", per["stage"], per["migrate"], per["get"], per["put"], running)
	state := "daemon up"
	if !q.DaemonUp {
		state = a.st.Err.Render("daemon down") + a.st.Dim.Render(" (queue files)")
	}
	if q.Refresh.Loaded.IsZero() && q.Refresh.InFlight() {
		state = "loading…"
	}
	title += "  " + state
	lfnW := max(a.width-2-(7+1+2+1+10+1+10+1+5+1+16+1), 10)
	header := a.st.Header.Render("  " + col("kind", 7) + " " + rcol("p", 2) + " " + col("rid", 10) + " " + col("requester", 10) + " " + rcol("age", 5) + " " + col("progress", 16) + " " + col("lfn", lfnW))
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
		s := col(r.Kind, 7) + " " + rcol(fmt.Sprint(r.Priority), 2) + " " + col(r.RID, 10) + " " + col(r.TID, 10) + " " +
			rcol(a.age(r.Added), 5) + " " + col(prog, 16) + " " + col(ansi.TruncateLeft(r.LFN, max(lipgloss.Width(r.LFN)-lfnW, 0), "…"), lfnW)
		body = append(body, a.row(s, i == sel))
	}
	if t.Total() == 0 && !q.Refresh.InFlight() {
		body = append(body, "", "  no requests queued")
	}
	detail := fmt.Sprintf("done %d · failed %d · last 5 min ", q.Done, q.Failed) + "[" + q.Sparkline() + "]"
	if n := len(q.Events); n > 0 {
		ev := q.Events[n-1]
		detail += "  " + ev.Type + " " + ev.LFN
	}
	return title, header, body, a.st.Dim.Render(detail)
}

// progressBar draws done/size in w cells.
func progressBar(done, size int64, w int) string {
	f := int(done * int64(w) / max(size, 1))
	f = min(max(f, 0), w)
	return strings.Repeat("█", f) + strings.Repeat("░", w-f)
}
