package control

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

// Handler is what a daemon offers its control socket. Serve calls it from
// one goroutine per connection.
type Handler interface {
	Status() StatusReply
	Queue(ctx context.Context) ([]QueueEntry, error)
	// Cancel cancels request rid and returns how many queue records it
	// removed (0: no such request, not an error).
	Cancel(ctx context.Context, rid string) (int, error)
	Wake()
	// Subscribe returns the recent events, a channel of the events that
	// follow, and a function that ends the subscription.
	Subscribe() (recent []Event, live <-chan Event, unsubscribe func())
}

// requestTimeout bounds the reading of a request line and the answering
// of a request (not an event stream).
const requestTimeout = 10 * time.Second

// maxRequest bounds a request line.
const maxRequest = 64 << 10

// Serve listens on the control socket at path (removing a stale one: the
// caller holds the daemon's instance lock) with mode 0660 and answers
// requests with h until ctx ends or stop is called; stop closes the
// socket and removes it.
func Serve(ctx context.Context, path string, h Handler) (stop func(), err error) {
	os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o660); err != nil {
		l.Close()
		os.Remove(path)
		return nil, err
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go handle(ctx, c, h)
		}
	}()
	return func() { l.Close(); os.Remove(path) }, nil
}

func handle(ctx context.Context, c net.Conn, h Handler) {
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(requestTimeout))
	line, err := bufio.NewReader(io.LimitReader(c, maxRequest)).ReadBytes('\n')
	if err != nil && len(line) == 0 {
		return
	}
	c.SetReadDeadline(time.Time{})
	enc := json.NewEncoder(c)
	fail := func(err error) { enc.Encode(errorReply{Error: err.Error()}) }
	var req request
	if err := json.Unmarshal(line, &req); err != nil {
		fail(fmt.Errorf("bad request: %w", err))
		return
	}
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	c.SetWriteDeadline(time.Now().Add(requestTimeout))
	switch req.Cmd {
	case cmdStatus:
		enc.Encode(h.Status())
	case cmdQueue:
		q, err := h.Queue(rctx)
		if err != nil {
			fail(err)
			return
		}
		if q == nil {
			q = []QueueEntry{}
		}
		enc.Encode(q)
	case cmdCancel:
		if req.RID == "" {
			fail(fmt.Errorf("cancel: no request id"))
			return
		}
		n, err := h.Cancel(rctx, req.RID)
		if err != nil {
			fail(err)
			return
		}
		enc.Encode(cancelReply{Cancelled: n})
	case cmdWake:
		h.Wake()
		enc.Encode(wakeReply{OK: true})
	case cmdEvents:
		streamEvents(ctx, c, enc, h)
	default:
		fail(fmt.Errorf("unknown command %q", req.Cmd))
	}
}

func streamEvents(ctx context.Context, c net.Conn, enc *json.Encoder, h Handler) {
	recent, live, unsubscribe := h.Subscribe()
	defer unsubscribe()
	for _, ev := range recent {
		if enc.Encode(ev) != nil {
			return
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-live:
			c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if enc.Encode(ev) != nil {
				return
			}
		}
	}
}
