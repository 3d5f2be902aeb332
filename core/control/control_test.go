package control

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeHandler answers as a daemon with two queued requests would.
type fakeHandler struct {
	woken  atomic.Int32
	events chan Event
}

func (f *fakeHandler) Status() StatusReply {
	return StatusReply{PID: 42, Components: []string{"transfer"}, Transfer: &TransferStatus{SlotsIn: 2, SlotsOut: 1}}
}
func (f *fakeHandler) Queue(context.Context) ([]QueueEntry, error) {
	return []QueueEntry{{Kind: "stage", LFN: "/a", RID: "r1"}, {Kind: "migrate", LFN: "/b", RID: "r2", Running: true}}, nil
}
func (f *fakeHandler) Cancel(_ context.Context, rid string) (int, error) {
	switch rid {
	case "r1":
		return 1, nil
	case "broken":
		return 0, errors.New("queue file unreadable")
	}
	return 0, nil
}
func (f *fakeHandler) Wake() { f.woken.Add(1) }
func (f *fakeHandler) Subscribe() ([]Event, <-chan Event, func()) {
	return []Event{{Type: "done", LFN: "/old"}}, f.events, func() {}
}

// TestClientServer: every request through the real socket, typed both
// ways; refusals and an absent daemon are told apart.
func TestClientServer(t *testing.T) {
	dir := t.TempDir()
	h := &fakeHandler{events: make(chan Event, 2)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop, err := Serve(ctx, SocketPath(dir), h)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	c := New(dir)
	st, err := c.Status(ctx)
	if err != nil || st.PID != 42 || st.Transfer == nil || st.Transfer.SlotsIn != 2 {
		t.Fatalf("status %+v %v", st, err)
	}
	q, err := c.Queue(ctx)
	if err != nil || len(q) != 2 || !q[1].Running || q[0].RID != "r1" {
		t.Fatalf("queue %+v %v", q, err)
	}
	if n, err := c.Cancel(ctx, "r1"); n != 1 || err != nil {
		t.Errorf("cancel r1: %d %v", n, err)
	}
	if n, err := c.Cancel(ctx, "none"); n != 0 || err != nil {
		t.Errorf("cancel of nothing: %d %v", n, err)
	}
	var de *DaemonError
	if _, err := c.Cancel(ctx, "broken"); !errors.As(err, &de) || de.Msg != "queue file unreadable" || IsNotRunning(err) {
		t.Errorf("a refusal: %v", err)
	}
	if _, err := c.Cancel(ctx, ""); !errors.As(err, &de) {
		t.Errorf("cancel without an id: %v", err)
	}
	if err := c.Wake(ctx); err != nil || h.woken.Load() != 1 {
		t.Errorf("wake: %v, woken %d", err, h.woken.Load())
	}
	// Events: the recent one first, then live ones; the event of a
	// failed transfer (it carries "error") is an event, not the end of
	// the stream.
	h.events <- Event{Type: "fail", LFN: "/bad", Err: "no such file"}
	h.events <- Event{Type: "start", LFN: "/new"}
	ectx, ecancel := context.WithTimeout(ctx, 5*time.Second)
	var got []string
	err = c.Events(ectx, func(ev Event) {
		got = append(got, ev.Type+" "+ev.LFN)
		if len(got) == 3 {
			ecancel()
		}
	})
	if !errors.Is(err, context.Canceled) || strings.Join(got, ",") != "done /old,fail /bad,start /new" {
		t.Errorf("events %v: %v", got, err)
	}
	// Raw misuse of the socket: an unknown command, a bad line, a line
	// too long.
	for _, tc := range []struct{ line, want string }{
		{`{"cmd":"reboot"}`, `unknown command \"reboot\"`},
		{`not json`, "bad request"},
		{`{"cmd":"status","rid":"` + strings.Repeat("x", maxRequest) + `"}`, "bad request"},
	} {
		conn, err := net.Dial("unix", SocketPath(dir))
		if err != nil {
			t.Fatal(err)
		}
		conn.Write([]byte(tc.line + "\n"))
		buf := make([]byte, 4096)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _ := conn.Read(buf)
		conn.Close()
		if !strings.Contains(string(buf[:n]), tc.want) {
			t.Errorf("%.40q: reply %q, want %q", tc.line, buf[:n], tc.want)
		}
	}
}

// TestNotRunning: with no daemon, every call says so, in a way faces can
// test for (and fall back to the files).
func TestNotRunning(t *testing.T) {
	c := New(filepath.Join(t.TempDir(), "nowhere"))
	ctx := context.Background()
	_, err := c.Status(ctx)
	if !IsNotRunning(err) || !strings.Contains(err.Error(), "is 'frm daemon' running?") {
		t.Errorf("status: %v", err)
	}
	if err := c.Events(ctx, func(Event) {}); !IsNotRunning(err) {
		t.Errorf("events: %v", err)
	}
}
