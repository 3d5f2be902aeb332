package model

import (
	"strings"
	"testing"
	"time"
)

// TestMirrorEvents: the daemon's mirror runs show in the Daemons view's
// event tail, a failed one counted with the failures.
func TestMirrorEvents(t *testing.T) {
	d := NewDaemons()
	at := time.Unix(1e9, 0)
	d.AddEvent(QueueEvent{Time: at, Type: "mirror_run", Kind: "mirror", LFN: "ps1", Bytes: 3 << 20})
	d.AddEvent(QueueEvent{Time: at, Type: "mirror_fail", Kind: "mirror", LFN: "ps1", Err: "the source's manifest: connection refused"})
	if n := d.Errors(); n != 1 {
		t.Errorf("failures: %d, want 1", n)
	}
	if s := EventText(d.Events[0], time.UTC); !strings.Contains(s, "mirror_run mirror ps1 3.0M") {
		t.Errorf("event line %q", s)
	}
	if s := EventText(d.Events[1], time.UTC); !strings.Contains(s, "mirror ps1: the source's manifest: connection refused") {
		t.Errorf("event line %q", s)
	}
}
