package daemons

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"frm/core/control"
	"frm/core/pgqueue"
	"frm/core/site"
	"frm/core/xrdq"
)

// The daemon's side of the control socket (package control owns the
// protocol): controlHandler answers it from the daemon's components.

// serveControl opens the control socket in the admin directory.
func (d *Daemon) serveControl(ctx context.Context) (func(), error) {
	return control.Serve(ctx, control.SocketPath(d.Site.Config().AdminDir()), &controlHandler{d: d, started: d.started})
}

// controlHandler implements control.Handler for a daemon.
type controlHandler struct {
	d       *Daemon
	started time.Time
}

func (h *controlHandler) Status() control.StatusReply { return h.d.status(h.started) }
func (h *controlHandler) Queue(ctx context.Context) ([]control.QueueEntry, error) {
	return h.d.queue(ctx)
}
func (h *controlHandler) Cancel(ctx context.Context, rid string) (int, error) {
	return h.d.Cancel(rid)
}
func (h *controlHandler) Wake() {
	d := h.d
	if d.Transfer != nil {
		d.Transfer.Wake()
	}
	if d.Migrator != nil {
		d.Migrator.Wake()
	}
	if d.Purger != nil {
		d.Purger.Wake()
	}
}
func (h *controlHandler) Subscribe() ([]control.Event, <-chan control.Event, func()) {
	return h.d.subscribe()
}

func (d *Daemon) status(started time.Time) control.StatusReply {
	st := control.StatusReply{PID: os.Getpid(), Started: started, Components: d.components()}
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

func (d *Daemon) queue(ctx context.Context) ([]control.QueueEntry, error) {
	if d.Transfer == nil {
		return nil, fmt.Errorf("this daemon runs no transfer component")
	}
	if sh := d.Transfer.Shared; sh != nil {
		ctx, cancel := context.WithTimeout(ctx, dbTimeout)
		defer cancel()
		return site.SharedQueueEntries(ctx, sh.Queue)
	}
	running := map[string]bool{}
	for _, a := range d.Transfer.Status().Active {
		running[a.RID+"\x00"+a.LFN] = true
	}
	classes := d.Transfer.queueClasses()
	return site.QueueFileEntries(d.Transfer.Queue, func(e *control.QueueEntry) {
		k := e.RID + "\x00" + e.LFN
		e.Running, e.Class = running[k], classes[k]
	})
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
	kinds := xrdq.ListOrder
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
	d.cancelled(rid, n, d.stopRunning(rid, false), lfnsOf(victims, func(r xrdq.Request) string { return r.Path() }))
	return n, nil
}

// stopRunning cancels this daemon's running transfers of request rid and
// returns how many it stopped; lost marks them as no longer this host's to
// complete.
func (d *Daemon) stopRunning(rid string, lost bool) int {
	d.Transfer.mu.Lock()
	defer d.Transfer.mu.Unlock()
	n := 0
	for _, j := range d.Transfer.running {
		if j.x.RID == rid && j.cancel != nil {
			j.lost.Store(lost)
			j.cancel()
			n++
		}
	}
	return n
}

// cancelled logs and publishes a cancelled request: records queue records
// removed, running transfers stopped, the files it named. A cancel that
// found nothing is not logged (the requester is told 0 records).
func (d *Daemon) cancelled(rid string, records, running int, lfns []string) {
	if records == 0 && running == 0 {
		return
	}
	d.Log.Info("request cancelled", "rid", rid, "records", records, "running_stopped", running, "lfns", lfns)
	d.publish(control.Event{Time: time.Now(), Type: "cancel", RID: rid})
}

// lfnsOf lists the distinct files of cancelled records, at most 10 (a
// log line, not an inventory).
func lfnsOf[R any](recs []R, lfn func(R) string) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range recs {
		if l := lfn(r); !seen[l] && len(out) < 10 {
			seen[l] = true
			out = append(out, l)
		}
	}
	return out
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
	stopped := d.stopRunning(rid, true)
	for _, r := range victims {
		for _, err := range notify(r.Xrdq(), false, false, "request cancelled") {
			d.Log.Warn("notification failed", "rid", rid, "err", err)
		}
	}
	d.cancelled(rid, n, stopped, lfnsOf(victims, func(r pgqueue.Request) string { return r.LFN }))
	return n, nil
}
