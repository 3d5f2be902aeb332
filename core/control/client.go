package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"
)

// DefaultTimeout bounds a request whose context has no deadline.
const DefaultTimeout = 10 * time.Second

// Client speaks to the daemon of one admin directory. The zero value is
// not usable; New makes one. A Client holds no connection: each call
// dials, so it works across daemon restarts.
type Client struct {
	socket string
}

// New returns a client for the daemon whose admin directory is adminDir.
func New(adminDir string) *Client { return &Client{socket: SocketPath(adminDir)} }

// Socket is the control socket the client dials.
func (c *Client) Socket() string { return c.socket }

// Status asks what the daemon is doing.
func (c *Client) Status(ctx context.Context) (StatusReply, error) {
	var st StatusReply
	err := c.call(ctx, request{Cmd: cmdStatus}, &st)
	return st, err
}

// Queue lists the daemon's queued requests (the shared queue's, with a
// PostgreSQL catalog).
func (c *Client) Queue(ctx context.Context) ([]QueueEntry, error) {
	var q []QueueEntry
	err := c.call(ctx, request{Cmd: cmdQueue}, &q)
	return q, err
}

// Cancel cancels request rid, queued or running, and returns how many
// queue records it removed (0: no such request).
func (c *Client) Cancel(ctx context.Context, rid string) (int, error) {
	var r cancelReply
	err := c.call(ctx, request{Cmd: cmdCancel, RID: rid}, &r)
	return r.Cancelled, err
}

// Wake makes the daemon look at its queue, scan for migrations and check
// purge policies now.
func (c *Client) Wake(ctx context.Context) error {
	return c.call(ctx, request{Cmd: cmdWake}, &wakeReply{})
}

// Events streams the daemon's events (the recent ones first, then live
// ones) to fn until ctx ends or the daemon goes away; it returns the
// reason the stream ended.
func (c *Client) Events(ctx context.Context, fn func(Event)) error {
	conn, closeConn, err := c.open(ctx, request{Cmd: cmdEvents})
	if err != nil {
		return err
	}
	defer closeConn()
	dec := json.NewDecoder(bufio.NewReader(conn))
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("daemon event stream: %w", err)
		}
		var ev Event
		if err := json.Unmarshal(raw, &ev); err != nil {
			return fmt.Errorf("daemon event stream: %w", err)
		}
		if ev.Type == "" {
			// Not an event: the daemon's refusal of the stream (an event
			// of a failed transfer carries "error" too, and a type).
			if err := replyError(raw); err != nil {
				return err
			}
			continue
		}
		fn(ev)
	}
}

func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.socket)
	if err != nil {
		return nil, fmt.Errorf("%w at %s (is 'frm daemon' running?): %w", ErrNotRunning, c.socket, err)
	}
	return conn, nil
}

// open dials the daemon and sends req; the connection closes when ctx
// ends (so a read blocked on it returns) or when closeConn is called.
func (c *Client) open(ctx context.Context, req request) (conn net.Conn, closeConn func(), err error) {
	if conn, err = c.dial(ctx); err != nil {
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	closeConn = func() { stop(); conn.Close() }
	if err := send(conn, req); err != nil {
		closeConn()
		return nil, nil, err
	}
	return conn, closeConn, nil
}

// call sends one request and decodes its one reply line into v.
func (c *Client) call(ctx context.Context, req request, v any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	conn, closeConn, err := c.open(ctx, req)
	if err != nil {
		return err
	}
	defer closeConn()
	dl, _ := ctx.Deadline()
	conn.SetReadDeadline(dl)
	line, err := bufio.NewReader(conn).ReadBytes('\n')
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("daemon %s: %w", req.Cmd, ctx.Err())
		}
		return fmt.Errorf("daemon %s: no reply: %w", req.Cmd, err)
	}
	if err := replyError(line); err != nil {
		return err
	}
	if err := json.Unmarshal(line, v); err != nil {
		return fmt.Errorf("daemon %s: bad reply: %w", req.Cmd, err)
	}
	return nil
}

func send(conn net.Conn, req request) error {
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if _, err := conn.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("daemon %s: %w", req.Cmd, err)
	}
	return nil
}

// replyError returns the daemon's refusal carried by a reply, if it is
// one. Replies that are arrays or other objects are not errors.
func replyError(line []byte) error {
	var e errorReply
	if json.Unmarshal(line, &e) == nil && e.Error != "" {
		return &DaemonError{Msg: e.Error}
	}
	return nil
}

// IsNotRunning reports whether err says no daemon could be reached.
func IsNotRunning(err error) bool { return errors.Is(err, ErrNotRunning) }
