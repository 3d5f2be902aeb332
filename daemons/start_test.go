package daemons

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"frm/core/config"
	"frm/core/control"
)

// breakQueue puts a directory where the transfer daemon's first queue
// file belongs, so that opening the queue fails.
func breakQueue(t *testing.T, s tsite) string {
	t.Helper()
	p := filepath.Join(s.cfg.QueueDir(), "pstgQ.0")
	os.Remove(p)
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestNewRefusesUnusableQueue: a queue the transfer daemon cannot open is
// an error of New, before any socket exists, not a component that dies
// after the daemon announced it runs.
func TestNewRefusesUnusableQueue(t *testing.T) {
	s := newSite(t, nil)
	q := breakQueue(t, s)
	d, err := New(s.cfg, Options{Log: testLog()})
	if err == nil {
		d.Close()
		t.Fatal("New accepted an unusable queue")
	}
	if !strings.Contains(err.Error(), q) {
		t.Errorf("error %q does not name %s", err, q)
	}
}

// runUntilItStops runs d and returns what Run returns; the deadline only
// bounds a failure (a daemon that goes on running without a component).
func runUntilItStops(t *testing.T, d *Daemon) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, time.Second) }()
	select {
	case err := <-done:
		return err
	case <-time.After(60 * time.Second):
		cancel()
		<-done
		t.Fatal("the daemon went on running without its transfer component")
		return nil
	}
}

func checkSocketsRemoved(t *testing.T, s tsite) {
	t.Helper()
	for _, p := range []string{control.SocketPath(s.cfg.AdminDir()), WakeSocket(s.cfg)} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s left behind", p)
		}
	}
}

// TestComponentFailureStopsDaemon: when a component fails (here the
// transfer daemon, whose queue broke between New and Run) the whole daemon
// stops with its error and removes its sockets, instead of running on
// with migrations nobody will ever transfer.
func TestComponentFailureStopsDaemon(t *testing.T) {
	s := newSite(t, nil)
	d, err := New(s.cfg, Options{Log: testLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	q := breakQueue(t, s)
	err = runUntilItStops(t, d)
	if err == nil || !strings.Contains(err.Error(), q) {
		t.Errorf("Run: %v; want the queue's error", err)
	}
	checkSocketsRemoved(t, s)
}

// TestComponentPanicStopsDaemon: a component that panics (here a
// transfer daemon whose queue was taken away: a programming error) stops
// the daemon with an error naming the panic; the sockets are removed, as
// on any other stop.
func TestComponentPanicStopsDaemon(t *testing.T) {
	s := newSite(t, nil)
	d, err := New(s.cfg, Options{Log: testLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	d.Transfer.Queue = nil
	err = runUntilItStops(t, d)
	if err == nil || !strings.Contains(err.Error(), "panic") || !strings.Contains(err.Error(), "nil pointer") {
		t.Errorf("Run: %v; want the panic as an error", err)
	}
	checkSocketsRemoved(t, s)
}

// TestExternalComponentAlone: -only with an external component (frm
// serve) alone starts none of the daemon's own and needs no MSS; the
// component runs until the daemon stops, is listed in the status, and
// one that ends on its own stops the daemon.
func TestExternalComponentAlone(t *testing.T) {
	s := newSite(t, func(c *config.Config) {
		c.RemoteRoot, c.MSS.Backend = "", "" // no MSS configured
	})
	if _, err := New(s.cfg, Options{Log: testLog(), Only: []string{"serve"}}); err == nil || !strings.Contains(err.Error(), `unknown component "serve"`) {
		t.Fatalf("an external name not declared: %v", err)
	}
	d, err := New(s.cfg, Options{Log: testLog(), Only: []string{"serve"}, External: []string{"serve"}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Transfer != nil || d.Migrator != nil || d.Purger != nil || d.Scrubber != nil || !d.Selected("serve") || d.Selected("stage") {
		t.Fatalf("components %v", d.components())
	}
	started := make(chan struct{})
	d.AddComponent("serve", func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, time.Second) }()
	<-started
	st, err := control.New(s.cfg.AdminDir()).Status(ctx)
	if err != nil || strings.Join(st.Components, ",") != "serve" || st.Transfer != nil {
		t.Errorf("status %+v, %v", st, err)
	}
	if cs := d.ControlStatus(); strings.Join(cs.Components, ",") != "serve" || cs.Started.IsZero() {
		t.Errorf("ControlStatus %+v", cs)
	}
	if err := d.WakeQueue(ctx); err == nil {
		t.Error("WakeQueue found a transfer daemon where none runs")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}

	// A component that ends on its own stops the daemon with its error.
	d2, err := New(s.cfg, Options{Log: testLog(), Only: []string{"serve"}, External: []string{"serve"}})
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	d2.AddComponent("serve", func(context.Context) error { return errors.New("listener gone") })
	if err := runUntilItStops(t, d2); err == nil || !strings.Contains(err.Error(), "listener gone") {
		t.Errorf("Run: %v", err)
	}
	checkSocketsRemoved(t, s)
}
