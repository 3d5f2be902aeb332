package daemons

import (
	"context"
	"time"

	"frm/core/control"
	"frm/core/mss"
	"frm/core/retry"
)

// When the MSS as a whole fails (an error classified mss.Outage: it cannot
// be reached, refuses our credentials, its bucket or tree or copy program
// is gone), every transfer of that direction would fail the same way.
// Failing each file would write a .fail that refuses it for hours after
// the MSS is back, so the direction pauses instead: its requests stay
// queued, the cause is logged once and shown by status, the TUI and the
// metrics (frm_mss_up 0), and a probe with backoff resumes the transfers
// by itself. A backend that cannot probe (mss.Prober) gets one trial
// transfer instead: when it does not fail with an outage, the direction
// resumes.

// defaultPauseBackoff is how long a paused direction waits between
// probes (Transfer.PauseBackoff).
var defaultPauseBackoff = retry.Policy{Base: 2 * time.Second, Max: 30 * time.Second}

// mssPause is a paused direction (guarded by Transfer.mu).
type mssPause struct {
	Since time.Time `json:"since"`
	Cause string    `json:"cause"`
	// Probes counts the probes (or trial transfers) that failed since.
	Probes  int `json:"probes"`
	backoff retry.Policy
	// trial: a backend that cannot probe may start one transfer to test
	// the MSS; trialRunning: it has started.
	trial, trialRunning bool
}

var dirNames = [2]string{"in", "out"}

// pausedLocked reports whether no transfer may start in direction dir, and
// for a trial, lets exactly one through. t.mu is held.
func (t *Transfer) pausedLocked(dir int) (paused bool, trialOnly bool) {
	p := t.paused[dir]
	switch {
	case p == nil:
		return false, false
	case p.trial && !p.trialRunning:
		return false, true
	}
	return true, false
}

// outage pauses direction dir after a transfer failed with an outage of
// the MSS. trial says the transfer was the trial of a paused direction.
// t.mu is held.
func (t *Transfer) outageLocked(dir int, cause error, trial bool) {
	if p := t.paused[dir]; p != nil {
		if trial {
			p.trial, p.trialRunning = false, false
			p.Probes++
		}
		return
	}
	p := &mssPause{Since: time.Now(), Cause: cause.Error(), backoff: t.PauseBackoff}
	t.paused[dir] = p
	t.Log.Error("the MSS is unavailable; transfers of this direction are paused and their requests stay queued until it answers again",
		"direction", dirNames[dir], "err", cause)
	t.emit(control.Event{Type: "paused", Kind: dirNames[dir], Err: cause.Error()})
	if t.OnPause != nil {
		t.OnPause(dir, true)
	}
	go t.probeLoop(dir, p)
}

// resumeLocked ends a pause. t.mu is held.
func (t *Transfer) resumeLocked(dir int, how string) {
	p := t.paused[dir]
	if p == nil {
		return
	}
	t.paused[dir] = nil
	t.Log.Info("the MSS answers again; transfers resume", "direction", dirNames[dir], "paused", time.Since(p.Since).Round(time.Second), "by", how)
	t.emit(control.Event{Type: "resumed", Kind: dirNames[dir]})
	if t.OnPause != nil {
		t.OnPause(dir, false)
	}
	t.Wake()
}

// probeLoop probes the MSS with backoff until direction dir resumes (or
// the daemon stops).
func (t *Transfer) probeLoop(dir int, p *mssPause) {
	ctx := t.runCtx
	if ctx == nil {
		ctx = context.Background()
	}
	for n := 1; ; n++ {
		if retry.Sleep(ctx, p.backoff.Wait(n)) != nil {
			return
		}
		t.mu.Lock()
		if t.paused[dir] != p {
			t.mu.Unlock()
			return // resumed (a trial transfer went through)
		}
		waiting := p.trial
		t.mu.Unlock()
		if waiting {
			continue // a trial is due or running; its outcome decides
		}
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		probed, err := mss.ProbeOf(pctx, t.Engine.MSS)
		cancel()
		t.mu.Lock()
		if t.paused[dir] != p {
			t.mu.Unlock()
			return
		}
		switch {
		case probed && err == nil:
			t.resumeLocked(dir, "probe")
			t.mu.Unlock()
			return
		case probed:
			p.Probes++
			t.Log.Debug("MSS probe failed", "direction", dirNames[dir], "err", err)
		default:
			p.trial = true // no probe: one transfer tries
			t.Wake()
		}
		t.mu.Unlock()
	}
}
