package daemons

import (
	"net"
	"testing"
	"time"

	"frm/core/config"
)

// TestPurgeWakeSocket: a datagram on <admin>/purg.udp, where xrootd's
// frm_purged takes its wake-ups, starts a purge cycle now; the socket goes
// with the daemon.
func TestPurgeWakeSocket(t *testing.T) {
	s := newSite(t, func(c *config.Config) { c.Purge.WaitTime = config.Duration(time.Hour) })
	r := start(t, s, "purge")
	deadline := time.Now().Add(patience)
	for r.d.Purger.Last().At.IsZero() {
		if time.Now().After(deadline) {
			t.Fatal("no first purge cycle")
		}
		time.Sleep(10 * time.Millisecond)
	}
	first := r.d.Purger.Last().At
	c, err := net.Dial("unixgram", PurgeWakeSocket(s.cfg))
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("!"))
	c.Close()
	for !r.d.Purger.Last().At.After(first) {
		if time.Now().After(deadline) {
			t.Fatal("the datagram did not start a cycle")
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.stop(t)
	if _, err := net.Dial("unixgram", PurgeWakeSocket(s.cfg)); err == nil {
		t.Error("the socket outlived the daemon")
	}
}
