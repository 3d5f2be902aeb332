package shell

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"frm/core/catalog"
	"frm/core/control"
	"frm/core/site"
	"frm/core/units"
)

var stageCmd = &command{
	name: "stage", min: 5, needSite: true,
	usage: usageText("Usage: stage [-w[ait]] [-p[riority] 0|1|2] lfn [lfn ...]", "",
		"Queues each file to be brought back to disk (from the MSS, or from a peer site",
		"when the MSS does not have it) and wakes the daemon. Files already on disk are skipped.",
		"-wait waits until every file is on disk or failed, showing progress on a terminal",
		"(bytes, rate, source); the exit status is 0 when all came, 3 when some failed, 1 when all did."),
	opts: []optSpec{{name: "wait", min: 1}, {name: "priority", min: 1, hasValue: true}},
	run:  runStage,
}

func runStage(ctx context.Context, sh *Shell, r *report, c *command, args []string) error {
	o, pos, err := parseOpts(args, c.opts)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("stage lfn not specified.")
	}
	prty := 0
	if v := o.value("priority"); v != "" {
		if prty, err = strconv.Atoi(v); err != nil || prty < 0 || prty > 2 {
			return usagef("stage: priority %q: give 0, 1 or 2.", v)
		}
	}
	started := time.Now()
	res, err := sh.Site.Stage(ctx, pos, site.RequestOptions{Priority: prty, OnError: r.fail})
	if err != nil {
		return err
	}
	for _, s := range res.Skipped {
		r.result(fmt.Sprintf("skipped %s: %s", s.LFN, s.Why), map[string]any{"lfn": s.LFN, "outcome": "skipped", "why": s.Why})
	}
	d := daemonOf(sh)
	werr := d.Wake(ctx)
	if !o.has("wait") || res.Queued == 0 {
		text := fmt.Sprintf("%s: %d queued, %d skipped.", res.RID, res.Queued, len(res.Skipped))
		if control.IsNotRunning(werr) && res.Queued > 0 {
			r.note("no daemon is running; the requests wait in the queue until one starts")
		}
		r.done(statusFor(res.Queued+len(res.Skipped), r.nErrs), map[string]any{"rid": res.RID, "queued": res.Queued, "skipped": len(res.Skipped)}, text)
		return nil
	}
	if werr != nil {
		return fmt.Errorf("stage -wait: %s queued %d files, but %w", res.RID, res.Queued, werr)
	}
	w := newStageWait(sh, res.RID, res.LFNs, started)
	done, failed := w.run(ctx, d, r)
	r.done(statusFor(done+len(res.Skipped), r.nErrs), map[string]any{"rid": res.RID, "done": done, "failed": failed, "skipped": len(res.Skipped)},
		fmt.Sprintf("%s: %d on disk, %d failed, %d skipped.", res.RID, done, failed, len(res.Skipped)))
	return nil
}

// stageWait follows the daemon's events until every queued file of a
// stage is on disk or failed.
type stageWait struct {
	sh      *Shell
	rid     string
	started time.Time
	mu      sync.Mutex
	pending map[string]bool // lfn → still waited for
	n       int
	status  string // the progress line's transfer part
}

func newStageWait(sh *Shell, rid string, queued []string, started time.Time) *stageWait {
	w := &stageWait{sh: sh, rid: rid, started: started, pending: map[string]bool{}}
	for _, lfn := range queued {
		w.pending[lfn] = true
	}
	w.n = len(w.pending)
	return w
}

// run waits; it reports each file's outcome as it comes and returns how
// many came and how many failed.
func (w *stageWait) run(ctx context.Context, d *control.Client, r *report) (done, failed int) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	outcome := make(chan control.Event, 64)
	evErr := make(chan error, 1)
	go func() {
		evErr <- d.Events(ctx, func(ev control.Event) {
			if ev.Kind == "stage" && !ev.Time.Before(w.started.Add(-time.Second)) {
				switch ev.Type {
				case "done", "fail", "skipped":
					select {
					case outcome <- ev:
					case <-ctx.Done(): // the wait is over: nobody reads
					}
				}
			}
		})
	}()
	pr := w.sh.startProgressFunc(w.line)
	defer pr.end(w.sh)
	poll := time.NewTicker(time.Second)
	defer poll.Stop()
	check := 0
	finish := func(lfn string, ok bool, text string, item map[string]any) {
		w.mu.Lock()
		was := w.pending[lfn]
		delete(w.pending, lfn)
		w.mu.Unlock()
		if !was {
			return
		}
		if ok {
			done++
			r.result(text, item)
		} else {
			failed++
			r.fail(errors.New(text))
		}
	}
	for {
		w.mu.Lock()
		left := len(w.pending)
		w.mu.Unlock()
		if left == 0 {
			return done, failed
		}
		select {
		case <-ctx.Done():
			r.fail(fmt.Errorf("stopped waiting: %d files still queued under %s", left, w.rid))
			return done, failed + left
		case err := <-evErr:
			if ctx.Err() == nil {
				r.fail(fmt.Errorf("lost the daemon's events: %w; %d files still queued under %s", err, left, w.rid))
			}
			return done, failed + left
		case ev := <-outcome:
			item := map[string]any{"lfn": ev.LFN, "outcome": ev.Type, "bytes": ev.Bytes, "secs": ev.Secs}
			switch ev.Type {
			case "fail":
				item["error"] = ev.Err
				finish(ev.LFN, false, fmt.Sprintf("failed %s: %s", ev.LFN, ev.Err), item)
			default:
				finish(ev.LFN, true, fmt.Sprintf("%-7s %s (%s in %.1fs)", "on disk", ev.LFN, units.Bytes(ev.Bytes), ev.Secs), item)
			}
		case <-poll.C:
			w.refresh(ctx, d)
			// Every fifth second: a file no longer queued whose event was
			// missed (the daemon restarted) is judged by the file itself.
			if check++; check%5 == 0 {
				w.settle(ctx, d, finish)
			}
		}
	}
}

// refresh reads the daemon's status for the progress line: the waited
// files being transferred, with bytes, rate and source.
func (w *stageWait) refresh(ctx context.Context, d *control.Client) {
	st, err := d.Status(ctx)
	if err != nil || st.Transfer == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var parts []string
	for _, a := range st.Transfer.Active {
		if !w.pending[a.LFN] || a.Kind != "stage" {
			continue
		}
		p := a.LFN
		if a.Done >= 0 && a.Size > 0 {
			p += fmt.Sprintf(" %s of %s", units.Bytes(a.Done), units.Bytes(a.Size))
		}
		if a.Rate > 0 {
			p += fmt.Sprintf(" at %s/s", units.Bytes(int64(a.Rate)))
		}
		if a.Source != "" {
			p += " from " + a.Source
		}
		parts = append(parts, p)
	}
	w.status = strings.Join(parts, "; ")
}

func (w *stageWait) line() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := fmt.Sprintf("stage %s: %d of %d files waited for", w.rid, len(w.pending), w.n)
	if w.status != "" {
		s += "; " + w.status
	}
	return s
}

// settle ends the wait of files no longer queued: on disk is done, else
// failed (with the fail file's verdict when there is one).
func (w *stageWait) settle(ctx context.Context, d *control.Client, finish func(string, bool, string, map[string]any)) {
	l, err := w.sh.Site.ListQueue(ctx, d)
	if err != nil {
		return
	}
	queued := map[string]bool{}
	for _, e := range l.Entries {
		queued[e.LFN] = true
	}
	w.mu.Lock()
	var gone []string
	for lfn := range w.pending {
		if !queued[lfn] {
			gone = append(gone, lfn)
		}
	}
	w.mu.Unlock()
	for _, lfn := range gone {
		e, err := w.sh.Site.Catalog.Lookup(ctx, lfn, catalog.WantLink|catalog.WantStat|catalog.WantFail)
		switch {
		case err == nil && e.Type == catalog.File && !e.Dangling:
			finish(lfn, true, fmt.Sprintf("%-7s %s (%s)", "on disk", lfn, units.Bytes(e.Size)), map[string]any{"lfn": lfn, "outcome": "done", "bytes": e.Size})
		case err == nil && e.Failed:
			finish(lfn, false, fmt.Sprintf("failed %s: its transfer failed (see its .fail file)", lfn), map[string]any{"lfn": lfn, "outcome": "fail"})
		default:
			finish(lfn, false, fmt.Sprintf("failed %s: no longer queued and not on disk (cancelled?)", lfn), map[string]any{"lfn": lfn, "outcome": "fail"})
		}
	}
}
