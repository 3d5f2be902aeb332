package tui

import (
	"context"

	tea "github.com/charmbracelet/bubbletea"

	"frm/tui/model"
)

// Events: a goroutine reads the daemon's event stream into a channel
// while a view that follows it (Queues, Daemons: an eventer) is shown.

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
