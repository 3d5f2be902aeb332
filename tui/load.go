package tui

import (
	"context"
	"errors"

	tea "github.com/charmbracelet/bubbletea"

	"frm/tui/model"
)

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

// listDir starts listing the namespace's directory for load gen.
func (a *App) listDir(gen uint64) tea.Cmd {
	if a.cancelList != nil {
		a.cancelList()
	}
	ctx, cancel := context.WithCancel(a.ctx)
	a.cancelList = cancel
	be, dir := a.opt.Backend, a.ns.Dir
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
func (a *App) onListPart(m listPartMsg) tea.Cmd {
	if !a.ns.Refresh.Current(m.gen) {
		return nil // stale: the directory changed since
	}
	if m.done {
		if m.first && m.err == nil {
			a.ns.Table.Clear() // an empty directory
		}
		a.ns.Done(m.gen, m.err, a.opt.Now())
		if m.err != nil {
			a.report("list "+a.ns.Dir, m.err)
		}
		return nil
	}
	a.ns.Chunk(m.gen, m.rows, m.first)
	return waitPart(m.gen, m.ch)
}

// enterDir shows directory dir.
func (a *App) enterDir(gen uint64) tea.Cmd { return a.listDir(gen) }

// reloadDir reloads the current directory, keeping its rows meanwhile.
func (a *App) reloadDir() tea.Cmd {
	if a.ns.Table.Total() == 0 {
		return a.listDir(a.ns.Enter(a.ns.Dir))
	}
	gen, ok := a.ns.Reload()
	if !ok {
		return nil
	}
	return a.listDir(gen)
}

// Events: a goroutine reads the daemon's event stream into a channel
// while the Queues view is shown.

type eventMsg struct {
	gen uint64
	ev  model.QueueEvent
	ch  <-chan eventItem
	end bool
	err error
}

type eventItem struct {
	ev  model.QueueEvent
	end bool
	err error
}

func waitEvent(gen uint64, ch <-chan eventItem) tea.Cmd {
	return func() tea.Msg {
		it, ok := <-ch
		if !ok || it.end {
			return eventMsg{gen: gen, end: true, err: it.err}
		}
		return eventMsg{gen: gen, ev: it.ev, ch: ch}
	}
}

func (a *App) startEvents() tea.Cmd {
	a.stopEvents()
	ctx, cancel := context.WithCancel(a.ctx)
	a.cancelEvents = cancel
	gen := a.eventsGen
	be := a.opt.Backend
	ch := make(chan eventItem, 64)
	go func() {
		defer close(ch)
		err := be.Events(ctx, func(ev model.QueueEvent) {
			select {
			case ch <- eventItem{ev: ev}:
			case <-ctx.Done():
			}
		})
		select {
		case ch <- eventItem{end: true, err: err}:
		case <-ctx.Done():
		}
	}()
	return waitEvent(gen, ch)
}
