package shell

import (
	"context"
	"fmt"
	"strings"
	"time"

	"frm/core/control"
	"frm/core/units"
)

// Commands that talk to a running frm daemon through its control socket.

var statusCmd = &command{
	name: "status", min: 6, needSite: true,
	usage: usageText("Usage: status", "",
		"Shows the running frm daemon: components, transfer slots, active transfers,",
		"stop files, the last purge cycle and the checksum scrubber."),
	run: func(ctx context.Context, sh *Shell, r *report, c *command, args []string) error {
		st, err := daemonOf(sh).Status(ctx)
		if err != nil {
			return err
		}
		r.result(fmt.Sprintf("frm daemon pid %d, up %s: %s", st.PID, time.Since(st.Started).Round(time.Second), strings.Join(st.Components, ", ")),
			map[string]any{"pid": st.PID, "started": st.Started, "components": st.Components, "stopped": st.Stopped})
		for _, s := range st.Stopped {
			r.result("suspended by "+s, map[string]any{"stop_file": s})
		}
		if t := st.Transfer; t != nil {
			item := map[string]any{"slots_in": t.SlotsIn, "slots_out": t.SlotsOut, "in_use": t.InUse, "internal_waiting": t.Internal, "draining": t.Draining}
			if len(t.Classes) == 0 {
				r.result(fmt.Sprintf("transfers: in %d/%d, out %d/%d, %d found by the migration scan waiting", t.InUse[0], t.SlotsIn, t.InUse[1], t.SlotsOut, t.Internal), item)
			} else {
				// The slots are the classes'; SlotsIn and SlotsOut are 0.
				item["classes"], item["sizing"] = classItems(t.Classes), t.Sizing
				r.result(fmt.Sprintf("transfers: in %d, out %d, %d found by the migration scan waiting", t.InUse[0], t.InUse[1], t.Internal), item)
				for _, c := range t.Classes {
					r.textLine(classLine(c))
				}
				if t.Sizing > 0 {
					r.textLine(plural(int64(t.Sizing), "request waits for its MSS size to know its class",
						"requests wait for their MSS size to know their class"))
				}
			}
			for _, p := range t.Paused {
				what := map[string]string{"in": "stage and copy-in", "out": "migration and copy-out"}[p.Direction]
				r.result(fmt.Sprintf("MSS unavailable: %s paused for %s (%d probes failed): %s", what, time.Since(p.Since).Round(time.Second), p.Probes, p.Cause), p)
			}
			for _, a := range t.Active {
				prog := ""
				if a.Done >= 0 && a.Size > 0 {
					prog = fmt.Sprintf(" %s/%s %s/s", units.Bytes(a.Done), units.Bytes(a.Size), units.Bytes(int64(a.Rate)))
				} else if a.Size > 0 {
					prog = " " + units.Bytes(a.Size)
				}
				class := ""
				if a.Class != "" {
					class = " class=" + a.Class
				}
				r.result(fmt.Sprintf("  %-7s %s  rid=%s tid=%s prty=%d%s running %s%s", a.Kind, a.LFN, a.RID, a.TID, a.Priority, class, time.Since(a.Started).Round(time.Second), prog), a)
			}
		}
		if p := st.Purge; p != nil && !p.At.IsZero() {
			what := fmt.Sprintf("%d files, %d bytes purged", p.Files, p.Bytes)
			if p.Skipped {
				what = "skipped, all policies met"
			}
			r.result(fmt.Sprintf("last purge %s: %s", p.At.Format(time.DateTime), what), p)
		}
		if sc := st.Scrub; sc != nil {
			rate := "unlimited"
			if sc.Rate > 0 {
				rate = units.Bytes(sc.Rate) + "/s"
			}
			r.result(fmt.Sprintf("scrub: rate %s, a pass every %s; %d files marked bad", rate, sc.Interval, sc.Bad),
				map[string]any{"scrub_rate": sc.Rate, "scrub_interval": sc.Interval.Seconds(), "bad_files": sc.Bad})
			if p := sc.Running; p != nil {
				r.result(fmt.Sprintf("  scrub pass running since %s: %d files, %s read, %d mismatches", p.Started.Format(time.DateTime),
					p.Files, units.Bytes(p.Bytes), p.Mismatches), map[string]any{"scrub_running": p})
			}
			if p := sc.Last; p != nil {
				how := "ended"
				if !p.Complete {
					how = "stopped"
				}
				r.result(fmt.Sprintf("  last scrub pass %s %s after %s: %d files, %s read, %d mismatches (%d newly marked bad), %d errors",
					how, p.Ended.Format(time.DateTime), p.Ended.Sub(p.Started).Round(time.Second), p.Files, units.Bytes(p.Bytes), p.Mismatches, p.Marked, p.Errors),
					map[string]any{"scrub_last": p})
			}
		}
		r.done(ExitOK, nil)
		return nil
	},
}

// classLine is the status line of a request class: "class short: 3/2
// running (1 borrowed), 15 waiting, timeout 10m, lends".
func classLine(c control.ClassStatus) string {
	s := fmt.Sprintf("class %s: %d/%d running", c.Name, c.Running, c.Slots)
	if c.Running > c.Slots {
		s += fmt.Sprintf(" (%d borrowed)", c.Running-c.Slots)
	}
	if c.Waiting < 0 {
		s += ", waiting: see queue"
	} else {
		s += fmt.Sprintf(", %d waiting", c.Waiting)
	}
	if c.Internal > 0 {
		s += fmt.Sprintf(", %d found by the migration scan", c.Internal)
	}
	if c.Timeout > 0 {
		s += ", timeout " + shortDuration(c.Timeout)
	}
	if c.Lend {
		s += ", lends"
	} else {
		s += ", does not lend"
	}
	return s
}

// classItems are the JSON of the request classes; waiting is null when
// unknown (a shared queue: see queue).
func classItems(cs []control.ClassStatus) []map[string]any {
	out := make([]map[string]any, 0, len(cs))
	for _, c := range cs {
		var waiting any = c.Waiting
		if c.Waiting < 0 {
			waiting = nil
		}
		out = append(out, map[string]any{"name": c.Name, "slots": c.Slots, "running": c.Running, "waiting": waiting,
			"internal": c.Internal, "lend": c.Lend, "timeout_s": c.Timeout.Seconds()})
	}
	return out
}

// shortDuration renders d without zero units: 10m, 1h30m, 45s, 1.5s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

var queueCmd = &command{
	name: "queue", min: 5, needSite: true,
	opts: []optSpec{{name: "watch", min: 1}},
	usage: usageText("Usage: queue [-watch]", "",
		"Lists queued transfer requests (stage, get, migrate, put) with their age and whether",
		"they are running. With a PostgreSQL catalog it lists the shared queue of every host",
		"(with the host that runs each request); otherwise it asks the daemon, or reads the",
		"queue files when no daemon runs.",
		"",
		"-watch lists the queue again whenever it changes, until interrupted (Ctrl-C): woken by",
		"the database (LISTEN/NOTIFY) or the daemon's event stream; without either the queue",
		"files are read every 2 seconds."),
	run: func(ctx context.Context, sh *Shell, r *report, c *command, args []string) error {
		o, pos, err := parseOpts(args, c.opts)
		if err != nil {
			return err
		}
		if len(pos) > 0 {
			return usagef("queue takes no arguments (%s given).", pos[0])
		}
		if !o.set["watch"] {
			q, err := sh.Site.ListQueue(ctx, daemonOf(sh))
			if q.Note != "" {
				r.note(q.Note)
			}
			if err != nil {
				return err
			}
			classW := classWidth(q.Entries)
			for _, e := range q.Entries {
				r.result(queueLine(e, time.Now(), classW), e)
			}
			r.done(ExitOK, map[string]any{"entries": len(q.Entries), "source": q.Source}, plural(int64(len(q.Entries)), "request", "requests")+" queued.")
			return nil
		}
		snapshots := 0
		show := func() {
			q, err := sh.Site.ListQueue(ctx, daemonOf(sh))
			if err != nil {
				r.fail(err)
				return
			}
			entries := q.Entries
			snapshots++
			now := time.Now()
			if sh.JSON {
				r.result("", map[string]any{"at": now, "entries": nonNilEntries(entries)})
				sh.flush()
				return
			}
			if sh.Term {
				sh.out().WriteString("\x1b[H\x1b[2J") // redraw in place
			}
			r.result(fmt.Sprintf("--- %s: %s queued", now.Format(time.TimeOnly), plural(int64(len(entries)), "request", "requests")), nil)
			classW := classWidth(entries)
			for _, e := range entries {
				r.result(queueLine(e, now, classW), nil)
			}
			sh.flush()
		}
		watchQueue(ctx, sh, show)
		r.done(ExitInterrupted, map[string]any{"snapshots": snapshots})
		return nil
	},
}

func nonNilEntries(e []control.QueueEntry) []control.QueueEntry {
	if e == nil {
		return []control.QueueEntry{}
	}
	return e
}

// classWidth is the width of the class column of a queue listing: the
// longest class name, 0 (no column) when no entry has a class, as at a
// site without request classes.
func classWidth(entries []control.QueueEntry) int {
	w := 0
	for _, e := range entries {
		w = max(w, len(e.Class))
	}
	return w
}

// queueLine is one request of a queue listing: kind, priority, age,
// state, class (when classW > 0; "-" not known yet), request id,
// requester, file, and the host holding it or bound to it.
func queueLine(e control.QueueEntry, now time.Time, classW int) string {
	state := "queued"
	if e.Running {
		state = "running"
	}
	class := ""
	if classW > 0 {
		c := e.Class
		if c == "" {
			c = "-"
		}
		class = fmt.Sprintf("%-*s ", classW, c)
	}
	line := fmt.Sprintf("%-7s %d %8s %-7s %s%-12s %-12s %s", e.Kind, e.Priority, now.Sub(time.Unix(e.Added, 0)).Round(time.Second), state, class, e.RID, e.TID, e.LFN)
	switch {
	case e.Owner != "":
		line += "  @" + e.Owner
	case e.Host != "":
		line += "  for " + e.Host
	}
	return line
}

// watchDebounce is how long a watcher waits after a change before it
// lists the queue: changes arriving together are shown once, and the
// claim that follows a completion is already there.
const watchDebounce = 250 * time.Millisecond

// watchQueue calls show whenever the queue changes, until ctx ends.
func watchQueue(ctx context.Context, sh *Shell, show func()) {
	if shared, ok := sh.Site.Shared(); ok {
		shared.WatchQueue(ctx, watchDebounce, show)
		return
	}
	kick := make(chan struct{}, 1)
	signal := func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	go func() {
		// The daemon's event stream while there is a daemon; without
		// one, a look at the queue files every 2 seconds.
		for ctx.Err() == nil {
			daemonOf(sh).Events(ctx, func(control.Event) { signal() })
			select {
			case <-ctx.Done():
				return
			case <-time.After(2 * time.Second):
			}
			signal()
		}
	}()
	show()
	for {
		select {
		case <-ctx.Done():
			return
		case <-kick:
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(watchDebounce):
		}
		select { // changes of the debounce interval are covered by this show
		case <-kick:
		default:
		}
		show()
	}
}

var cancelCmd = &command{
	name: "cancel", min: 6, needSite: true,
	usage: usageText("Usage: cancel rid [rid ...]", "",
		"Cancels queued or running requests by request id; their requesters are notified."),
	run: func(ctx context.Context, sh *Shell, r *report, c *command, args []string) error {
		if len(args) == 0 {
			return usagef("cancel rid not specified.")
		}
		total := 0
		for _, rid := range args {
			n, err := sh.Site.CancelRequest(ctx, daemonOf(sh), rid)
			if err != nil {
				r.fail(err)
				continue
			}
			total += n
			r.result(fmt.Sprintf("%s has %d entries; %d removed.", rid, n, n), map[string]any{"rid": rid, "cancelled": n})
		}
		r.done(statusFor(len(args)-r.nErrs, r.nErrs), map[string]any{"cancelled": total})
		return nil
	},
}

var wakeCmd = &command{
	name: "wake", min: 4, needSite: true,
	usage: "Usage: wake\n\nMakes the daemon look at its queue, scan for migrations and check purge policies now.",
	run: func(ctx context.Context, sh *Shell, r *report, c *command, args []string) error {
		if err := daemonOf(sh).Wake(ctx); err != nil {
			return err
		}
		r.done(ExitOK, nil, "daemon woken.")
		return nil
	},
}

// daemonOf is the client of the shell's site's daemon.
func daemonOf(sh *Shell) *control.Client { return control.New(sh.Site.Config().AdminDir()) }

var hostsCmd = &command{
	name: "hosts", min: 5, needSite: true,
	usage: usageText("Usage: hosts", "",
		"Lists the hosts of a site with a PostgreSQL catalog: whether each is alive (a heartbeat",
		"within three heartbeat periods), its pid and version, and its partitions with their",
		"sizes as the host last reported them (every 5 minutes)."),
	run: func(ctx context.Context, sh *Shell, r *report, c *command, args []string) error {
		if len(args) > 0 {
			return usagef("hosts takes no arguments (%s given).", args[0])
		}
		hosts, err := sh.Site.Hosts(ctx)
		if err != nil {
			return err
		}
		silent := 0
		for _, h := range hosts {
			state := "alive"
			if h.Silent() {
				state = "SILENT"
				silent++
			}
			r.result(fmt.Sprintf("%-24s %-6s heartbeat %s ago, pid %d, %s", h.Name, state, h.Age.Round(time.Second), h.PID, h.Version),
				map[string]any{"host": h.Name, "alive": state == "alive", "heartbeat": h.Heartbeat, "age_seconds": h.Age.Seconds(),
					"pid": h.PID, "version": h.Version, "started": h.Started, "partitions": len(h.Partitions)})
			for _, p := range h.Partitions {
				r.result(fmt.Sprintf("  %-12s %10s %10s %10s %5s  %s", p.Space, units.Bytes(p.Total), units.Bytes(p.Total-p.Free), units.Bytes(p.Free), pct(p.Total-p.Free, p.Total), p.Path),
					map[string]any{"host": h.Name, "space": p.Space, "partition": p.Path, "total": p.Total, "free": p.Free, "cap": p.Cap, "updated": p.Updated})
			}
		}
		text := plural(int64(len(hosts)), "host", "hosts") + " registered"
		if silent > 0 {
			text += fmt.Sprintf(", %d silent", silent)
		}
		r.done(ExitOK, map[string]any{"hosts": len(hosts), "silent": silent}, text+".")
		return nil
	},
}
