package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"frm/core/units"
	"frm/tui/model"
)

// namespaceView is the Namespace view: a directory browser with the
// residency of each file, and the actions on the selected file.
type namespaceView struct {
	m      *model.Namespace
	cancel context.CancelFunc // the listing in flight
}

func (v *namespaceView) Name() string          { return "Namespace" }
func (v *namespaceView) Every() int            { return 0 } // a directory may hold a million files: on demand
func (v *namespaceView) List() list            { return nsList{v.m} }
func (v *namespaceView) Loads() *model.Refresh { return &v.m.Refresh }

// nsList is the namespace's table with its filter (the namespace's own,
// which combines with the space restriction).
type nsList struct{ *model.Namespace }

func (l nsList) Move(n int)           { l.Table.Move(n) }
func (l nsList) Page(n int)           { l.Table.Page(n) }
func (l nsList) Home()                { l.Table.Home() }
func (l nsList) End()                 { l.Table.End() }
func (l nsList) SetHeight(h int)      { l.Table.SetHeight(h) }
func (l nsList) Filter() string       { return l.Namespace.Filter() }
func (l nsList) SetFilter(f string)   { l.Namespace.SetFilter(f) }
func (v *namespaceView) Clear(a *App) { v.m.SetSpaceOnly("") }

func (v *namespaceView) Keys(k *keys) []key.Binding {
	return []key.Binding{k.Open, k.Back, k.Filter, k.Pin, k.Stage, k.Migrate, k.Remove, k.Reloc, k.Unpin, k.MarkMig, k.MarkPurge, k.Sort, k.Reverse}
}

func (v *namespaceView) Help(k *keys) [][]key.Binding {
	return [][]key.Binding{{k.Open, k.Back, k.Filter, k.Clear, k.Sort, k.Reverse},
		{k.Pin, k.Unpin, k.MarkMig, k.MarkPurge, k.Reloc, k.Remove, k.Stage, k.Migrate}}
}

// Show lists the directory the first time; later it is reloaded on demand
// (ctrl+r) only.
func (v *namespaceView) Show(a *App) tea.Cmd {
	if v.m.Table.Total() == 0 && !v.m.Loading {
		return v.reload(a)
	}
	return nil
}

func (v *namespaceView) Refresh(a *App, force bool) tea.Cmd { return v.reload(a) }

func (v *namespaceView) Update(a *App, msg tea.Msg) (tea.Cmd, bool) {
	if m, ok := msg.(listPartMsg); ok {
		return v.onListPart(a, m), true
	}
	return nil, false
}

// Busy: a listing does not keep q from quitting.
func (v *namespaceView) Busy() bool { return false }

// Close stops the listing in flight.
func (v *namespaceView) Close() {
	if v.cancel != nil {
		v.cancel()
	}
}

// HandleKey: moves in the tree, sorting, and the actions on a file.
func (v *namespaceView) HandleKey(a *App, m tea.KeyMsg) (tea.Cmd, bool) {
	k := a.keys
	n := v.m
	switch {
	case key.Matches(m, k.Open):
		if gen, ok := n.Open(); ok {
			return v.list(a, gen), true
		}
		return nil, true
	case key.Matches(m, k.Back):
		if gen, ok := n.Up(); ok {
			return v.list(a, gen), true
		}
		return nil, true
	case key.Matches(m, k.Sort):
		n.SetSort(n.Sort.Next())
		return nil, true
	case key.Matches(m, k.Reverse):
		n.SetSort(n.Sort)
		return nil, true
	}
	if !key.Matches(m, k.Pin, k.Unpin, k.MarkMig, k.MarkPurge, k.Reloc, k.Remove, k.Stage, k.Migrate) {
		return nil, false
	}
	lfn, r, ok := n.SelectedLFN()
	switch {
	case !ok:
		return nil, true
	case r.Dir:
		a.report("actions apply to files; "+lfn+" is a directory (use frm admin for whole trees)", nil)
		return nil, true
	}
	return v.act(a, m, lfn, r), true
}

// act runs the action of key m on file lfn (row r).
func (v *namespaceView) act(a *App, m tea.KeyMsg, lfn string, r *model.FileRow) tea.Cmd {
	k := a.keys
	be := a.opt.Backend
	lfns := []string{lfn}
	switch {
	case key.Matches(m, k.Pin):
		a.dlg = newPinDialog(a, lfns)
		return textinput.Blink
	case key.Matches(m, k.Unpin):
		return a.action("unpin "+lfn, func(ctx context.Context) (string, error) { return be.Pin(ctx, lfns, "0") })
	case key.Matches(m, k.MarkMig):
		return a.action("mark -m "+lfn, func(ctx context.Context) (string, error) { return be.Mark(ctx, lfns, false) })
	case key.Matches(m, k.MarkPurge):
		return a.action("mark -p "+lfn, func(ctx context.Context) (string, error) { return be.Mark(ctx, lfns, true) })
	case key.Matches(m, k.Stage):
		return a.action("stage "+lfn, func(ctx context.Context) (string, error) { return be.Stage(ctx, lfns) })
	case key.Matches(m, k.Migrate):
		return a.action("migrate "+lfn, func(ctx context.Context) (string, error) { return be.MigrateNow(ctx, lfns) })
	case key.Matches(m, k.Reloc):
		p := model.RelocChoices(a.spaces.Table.Rows(), r.Space)
		if len(p.Items) == 0 {
			a.report("no spaces known yet: open the Spaces view (1) first", nil)
			return nil
		}
		p.Title = "Relocate " + lfn + " to"
		a.dlg = &pickDialog{p: p, run: func(target string) tea.Cmd {
			return a.action("reloc "+lfn+" "+target, func(ctx context.Context) (string, error) { return be.Reloc(ctx, lfn, target) })
		}}
	case key.Matches(m, k.Remove):
		a.dlg = &confirmDialog{text: model.ConfirmText("Remove", lfns) + "\n\nThe namespace entry and its data file are deleted.", run: func() tea.Cmd {
			return a.action("rm "+lfn, func(ctx context.Context) (string, error) { return be.Remove(ctx, lfns) })
		}}
	}
	return nil
}

// Column widths of the Namespace view after the name.
const (
	nsSpaceW = 8
	nsStateW = 10
	nsPinW   = 11
	nsAgeW   = 5
	nsFailW  = 4
	nsRest   = 1 + sizeW + 1 + nsSpaceW + 1 + nsStateW + 1 + nsPinW + 1 + nsAgeW + 1 + nsAgeW + 1 + nsFailW
)

func (v *namespaceView) View(a *App, w, h int) screen {
	n := v.m
	t := n.Table
	nameW := max(w-2-nsRest, 10)
	header := a.st.Header.Render("  " + col("name", nameW) + " " + rcol("size", sizeW) + " " + col("space", nsSpaceW) + " " + col("state", nsStateW) + " " +
		col("pin", nsPinW) + " " + rcol("age", nsAgeW) + " " + rcol("atime", nsAgeW) + " " + col("fail", nsFailW))
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
		s := col(name, nameW) + " " + rcol(size, sizeW) + " " + col(r.Space, nsSpaceW) + " " + col(r.Res.String(), nsStateW) + " " +
			col(r.PinText(now, a.opt.Loc), nsPinW) + " " + rcol(a.age(r.Mtime), nsAgeW) + " " + rcol(a.age(r.Atime), nsAgeW) + " " + col(fail, nsFailW)
		body = append(body, a.row(s, i == sel))
	}
	return screen{title: v.title(a), header: header, body: body, detail: a.st.Dim.Render(v.detail(a))}
}

// title is the breadcrumbs, the counts, the sort and the filters.
func (v *namespaceView) title(a *App) string {
	n := v.m
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
	return title + a.st.Dim.Render(info)
}

// detail is the selected file's lfn, partition, copy time and checksum.
func (v *namespaceView) detail(a *App) string {
	lfn, r, ok := v.m.SelectedLFN()
	if !ok || r.Dir {
		return ""
	}
	parts := []string{lfn}
	if r.Partition != "" {
		parts = append(parts, "on "+r.Partition)
	}
	if r.CopyTime > 0 {
		parts = append(parts, "copied "+time.Unix(r.CopyTime, 0).In(a.opt.Loc).Format("2006-01-02 15:04"))
	}
	if r.Checksum != "" {
		parts = append(parts, r.Checksum)
	}
	if r.Origin != "" {
		parts = append(parts, "fetched from peer "+r.Origin+" "+time.Unix(r.OriginAt, 0).In(a.opt.Loc).Format("2006-01-02 15:04"))
	}
	if r.Failed {
		parts = append(parts, "last transfer failed (.fail)")
	}
	return strings.Join(parts, " · ")
}

// A directory is listed by a goroutine that sends chunks on a channel; a
// tea.Cmd waits for the next chunk, so the console stays responsive and
// draws the rows as they arrive. Leaving the directory cancels the
// listing, and any chunk already on its way carries an old generation and
// is dropped.

type listPart struct {
	rows  []model.FileRow
	first bool // the first chunk of this load (replaces the old rows)
	done  bool
	err   error
}

type listPartMsg struct {
	gen uint64
	listPart
	ch <-chan listPart
}

func waitPart(gen uint64, ch <-chan listPart) tea.Cmd {
	return func() tea.Msg {
		p, ok := <-ch
		if !ok {
			return listPartMsg{gen: gen, listPart: listPart{done: true, err: errors.New("listing ended")}}
		}
		return listPartMsg{gen: gen, listPart: p, ch: ch}
	}
}

// list starts listing the namespace's directory for load gen.
func (v *namespaceView) list(a *App, gen uint64) tea.Cmd {
	v.Close()
	ctx, cancel := context.WithCancel(a.ctx)
	v.cancel = cancel
	be, dir := a.opt.Backend, v.m.Dir
	ch := make(chan listPart, 2)
	go func() {
		defer close(ch)
		first := true
		send := func(p listPart) bool {
			select {
			case ch <- p:
				return true
			case <-ctx.Done():
				return false
			}
		}
		err := be.List(ctx, dir, func(rows []model.FileRow) error {
			if !send(listPart{rows: rows, first: first}) {
				return ctx.Err()
			}
			first = false
			return nil
		})
		send(listPart{done: true, first: first, err: err})
	}()
	return waitPart(gen, ch)
}

// onListPart applies a chunk (or the end) of a listing.
func (v *namespaceView) onListPart(a *App, m listPartMsg) tea.Cmd {
	n := v.m
	if !n.Refresh.Current(m.gen) {
		return nil // stale: the directory changed since
	}
	if m.done {
		if m.first && m.err == nil {
			n.Table.Clear() // an empty directory
		}
		n.Done(m.gen, m.err, a.opt.Now())
		if m.err != nil {
			a.report("list "+n.Dir, m.err)
		}
		return nil
	}
	n.Chunk(m.gen, m.rows, m.first)
	return waitPart(m.gen, m.ch)
}

// reload reloads the current directory, keeping its rows meanwhile.
func (v *namespaceView) reload(a *App) tea.Cmd {
	if v.m.Table.Total() == 0 {
		return v.list(a, v.m.Enter(v.m.Dir))
	}
	gen, ok := v.m.Reload()
	if !ok {
		return nil
	}
	return v.list(a, gen)
}

// reloadDir reloads the Namespace view's directory (the Spaces view opens
// it on a space).
func (a *App) reloadDir() tea.Cmd { return a.views[viewNamespace-1].(*namespaceView).reload(a) }
