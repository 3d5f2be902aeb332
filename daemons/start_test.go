package daemons

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
