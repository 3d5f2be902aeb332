package daemons

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"frm/core/config"
	"frm/core/pgqueue"
	"frm/core/xrdq"
)

// ControlSocket is the daemon's control socket: a Unix stream socket in
// the admin directory, mode 0660. The protocol is one JSON request line,
// answered by one JSON line (or, for "events", a stream of lines):
//
//	{"cmd":"status"}             components, slots, active transfers, purge
//	{"cmd":"queue"}              queued requests
//	{"cmd":"cancel","rid":"r1"}  cancel a request (queued or running)
//	{"cmd":"wake"}               look at the queue, scan, purge now
//	{"cmd":"events"}             recent events, then live ones
func ControlSocket(cfg *config.Config) string { return filepath.Join(cfg.AdminDir(), "frm.sock") }

// ControlRequest is a control-socket request.
type ControlRequest struct {
	Cmd string `json:"cmd"`
	RID string `json:"rid,omitempty"`
}

// StatusReply answers "status".
type StatusReply struct {
	PID        int          `json:"pid"`
	Started    time.Time    `json:"started"`
	Components []string     `json:"components"`
	Transfer   *Status      `json:"transfer,omitempty"`
	Purge      *PurgeStatus `json:"purge,omitempty"`
	Scrub      *ScrubReport `json:"scrub,omitempty"`
	Stopped    []string     `json:"stopped,omitempty"` // stop files present
}

// QueueEntry is one queued request in a "queue" reply.
type QueueEntry struct {
	Kind     string `json:"kind"` // stage, migrate, get, put (as events and the shared queue say)
	Priority int    `json:"priority"`
	LFN      string `json:"lfn"`
	RID      string `json:"rid"`
	TID      string `json:"tid"`
	Notify   string `json:"notify,omitempty"`
	Added    int64  `json:"added"`
	Op       string `json:"op"`
	Running  bool   `json:"running"`
	// With a shared queue: the host that must run it ("" any) and the
	// worker holding it while it runs.
	Host  string `json:"host,omitempty"`
	Owner string `json:"owner,omitempty"`
}

// SharedQueueEntries lists the live requests of a shared queue, every
// host's, in claim order.
func SharedQueueEntries(ctx context.Context, q *pgqueue.Queue) ([]QueueEntry, error) {
	reqs, err := q.List(ctx, pgqueue.Filter{})
	if err != nil {
		return nil, fmt.Errorf("shared queue: %w", err)
	}
	out := make([]QueueEntry, 0, len(reqs))
	for _, r := range reqs {
		x := r.Xrdq()
		out = append(out, QueueEntry{Kind: r.Kind, Priority: r.Priority, LFN: r.LFN, RID: r.RID, TID: r.Requester,
			Notify: strings.Join(r.Notify, " "), Added: r.Created.Unix(), Op: string(x.Op),
			Running: r.State == pgqueue.Running, Host: r.Host, Owner: r.LeaseOwner})
	}
	return out, nil
}

func (d *Daemon) serveControl(ctx context.Context) (func(), error) {
	path := ControlSocket(d.Site.Config())
	os.Remove(path) // we hold the instance lock: a leftover socket is stale
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o660); err != nil {
		l.Close()
		return nil, err
	}
	started := time.Now()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go d.handleControl(ctx, c, started)
		}
	}()
	return func() { l.Close(); os.Remove(path) }, nil
}

func (d *Daemon) handleControl(ctx context.Context, c net.Conn, started time.Time) {
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil && len(line) == 0 {
		return
	}
	c.SetReadDeadline(time.Time{})
	var req ControlRequest
	enc := json.NewEncoder(c)
	if err := json.Unmarshal(line, &req); err != nil {
		enc.Encode(map[string]string{"error": "bad request: " + err.Error()})
		return
	}
	switch req.Cmd {
	case "status":
		enc.Encode(d.status(started))
	case "queue":
		q, err := d.queue()
		if err != nil {
			enc.Encode(map[string]string{"error": err.Error()})
			return
		}
		enc.Encode(q)
	case "cancel":
		n, err := d.Cancel(req.RID)
		if err != nil {
			enc.Encode(map[string]any{"error": err.Error()})
			return
		}
		enc.Encode(map[string]any{"cancelled": n})
	case "wake":
		if d.Transfer != nil {
			d.Transfer.Wake()
		}
		if d.Migrator != nil {
			d.Migrator.Wake()
		}
		if d.Purger != nil {
			d.Purger.Wake()
		}
		enc.Encode(map[string]bool{"ok": true})
	case "events":
		ch, unsub := d.subscribe()
		defer unsub()
		d.mu.Lock()
		recent := append([]Event(nil), d.recent...)
		d.mu.Unlock()
		for _, ev := range recent {
			if enc.Encode(ev) != nil {
				return
			}
		}
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-ch:
				c.SetWriteDeadline(time.Now().Add(5 * time.Second))
				if enc.Encode(ev) != nil {
					return
				}
			}
		}
	default:
		enc.Encode(map[string]string{"error": fmt.Sprintf("unknown command %q", req.Cmd)})
	}
}

func (d *Daemon) status(started time.Time) StatusReply {
	st := StatusReply{PID: os.Getpid(), Started: started, Components: d.components()}
	if d.Transfer != nil {
		ts := d.Transfer.Status()
		st.Transfer = &ts
		for _, k := range []xrdq.Kind{xrdq.Stage, xrdq.Get, xrdq.Migrate, xrdq.Put} {
			if d.Transfer.stopped(k) {
				st.Stopped = append(st.Stopped, stopFiles[k])
			}
		}
	}
	if d.Purger != nil {
		ps := d.Purger.Last()
		st.Purge = &ps
		if _, err := os.Stat(filepath.Join(d.Site.Config().AdminDir(), "STOPPURGE")); err == nil {
			st.Stopped = append(st.Stopped, "STOPPURGE")
		}
	}
	if d.Scrubber != nil {
		r := d.Scrubber.Report()
		st.Scrub = &r
	}
	return st
}

func (d *Daemon) queue() ([]QueueEntry, error) {
	if d.Transfer == nil {
		return nil, fmt.Errorf("this daemon runs no transfer component")
	}
	if sh := d.Transfer.Shared; sh != nil {
		ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
		defer cancel()
		return SharedQueueEntries(ctx, sh.Queue)
	}
	running := map[string]bool{}
	for _, a := range d.Transfer.Status().Active {
		running[a.RID+"\x00"+a.LFN] = true
	}
	var out []QueueEntry
	err := d.Transfer.Queue.Walk([]xrdq.Kind{xrdq.Stage, xrdq.Get, xrdq.Migrate, xrdq.Put}, -1, func(r xrdq.Request) error {
		k, _ := xrdq.KindForOp(r.Op)
		out = append(out, QueueEntry{Kind: pgqueue.KindName(k), Priority: int(r.Priority), LFN: r.Path(), RID: r.ID, TID: r.User, Notify: r.Notify,
			Added: r.Added, Op: string(r.Op), Running: running[r.ID+"\x00"+r.Path()]})
		return nil
	})
	return out, err
}

// Cancel removes every queued record of request rid from all queues,
// tells their notification targets, and stops a running transfer of it.
// It returns how many records it cancelled.
func (d *Daemon) Cancel(rid string) (int, error) {
	if d.Transfer == nil {
		return 0, fmt.Errorf("this daemon runs no transfer component")
	}
	if rid == "" {
		return 0, fmt.Errorf("cancel: no request id")
	}
	if sh := d.Transfer.Shared; sh != nil {
		return d.cancelShared(sh, rid)
	}
	kinds := []xrdq.Kind{xrdq.Stage, xrdq.Get, xrdq.Migrate, xrdq.Put}
	var victims []xrdq.Request
	d.Transfer.Queue.Walk(kinds, -1, func(r xrdq.Request) error {
		if r.ID == rid {
			victims = append(victims, r)
		}
		return nil
	})
	n, err := d.Transfer.Queue.Cancel(kinds, rid)
	if err != nil {
		return n, err
	}
	for _, r := range victims {
		for _, err := range notify(r, false, false, "request cancelled") {
			d.Log.Warn("notification failed", "rid", rid, "err", err)
		}
	}
	d.stopRunning(rid, false)
	d.publish(Event{Time: time.Now(), Type: "cancel", RID: rid})
	return n, nil
}

// stopRunning cancels this daemon's running transfers of request rid;
// lost marks them as no longer this host's to complete.
func (d *Daemon) stopRunning(rid string, lost bool) {
	d.Transfer.mu.Lock()
	defer d.Transfer.mu.Unlock()
	for _, j := range d.Transfer.running {
		if j.x.RID == rid && j.cancel != nil {
			j.lost.Store(lost)
			j.cancel()
		}
	}
}

// cancelShared cancels request rid in the shared queue, every host's
// live requests of it, and notifies their requesters. A transfer of it
// running here stops now; one running on another host stops when that
// host next renews its lease.
func (d *Daemon) cancelShared(sh *Shared, rid string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
	defer cancel()
	victims, err := sh.Queue.List(ctx, pgqueue.Filter{RID: rid})
	if err != nil {
		return 0, err
	}
	n, err := sh.Queue.Cancel(ctx, rid)
	if err != nil {
		return n, err
	}
	d.stopRunning(rid, true)
	for _, r := range victims {
		for _, err := range notify(r.Xrdq(), false, false, "request cancelled") {
			d.Log.Warn("notification failed", "rid", rid, "err", err)
		}
	}
	d.publish(Event{Time: time.Now(), Type: "cancel", RID: rid})
	return n, nil
}

// Dial sends one control request and returns the daemon's reply line.
func Dial(ctx context.Context, cfg *config.Config, req ControlRequest) ([]byte, error) {
	var dl net.Dialer
	c, err := dl.DialContext(ctx, "unix", ControlSocket(cfg))
	if err != nil {
		return nil, fmt.Errorf("daemon not reachable at %s (is 'frm daemon' running?): %w", ControlSocket(cfg), err)
	}
	defer c.Close()
	b, _ := json.Marshal(req)
	if _, err := c.Write(append(b, '\n')); err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		c.SetReadDeadline(dl)
	}
	return bufio.NewReader(c).ReadBytes('\n')
}

// Events streams the daemon's events (the recent ones first, then live
// ones) to fn until ctx ends or the daemon goes away; it returns the
// reason the stream ended.
func Events(ctx context.Context, cfg *config.Config, fn func(Event)) error {
	var dl net.Dialer
	c, err := dl.DialContext(ctx, "unix", ControlSocket(cfg))
	if err != nil {
		return fmt.Errorf("daemon not reachable at %s (is 'frm daemon' running?): %w", ControlSocket(cfg), err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if _, err := c.Write([]byte(`{"cmd":"events"}` + "\n")); err != nil {
		return err
	}
	dec := json.NewDecoder(bufio.NewReader(c))
	for {
		var ev Event
		if err := dec.Decode(&ev); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("daemon event stream: %w", err)
		}
		fn(ev)
	}
}
