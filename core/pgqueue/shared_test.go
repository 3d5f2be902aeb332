package pgqueue

import (
	"context"
	"fmt"
	"testing"
	"time"

	"frm/core/xrdq"
)

func TestReleaseOwnerRequeuesAPreviousLife(t *testing.T) {
	p := newPool(t)
	ctx := context.Background()
	q := New(p, Options{Host: "h1"})
	addN(t, q, "stage", 3)
	mine, err := q.Claim(ctx, "h1", []string{"stage"}, 2, time.Hour)
	if err != nil || len(mine) != 2 {
		t.Fatalf("claim: %v %d", err, len(mine))
	}
	other, err := q.Claim(ctx, "h2", []string{"stage"}, 1, time.Hour)
	if err != nil || len(other) != 1 {
		t.Fatalf("claim h2: %v %d", err, len(other))
	}
	n, err := q.ReleaseOwner(ctx, "h1")
	if err != nil || n != 2 {
		t.Fatalf("ReleaseOwner = %d, %v; want 2", n, err)
	}
	// The old claims are fenced off; h2's is untouched; the two are claimable at once.
	if err := q.Complete(ctx, mine[0], Outcome{OK: true}); err != ErrLeaseLost {
		t.Fatalf("completing a released claim: %v, want ErrLeaseLost", err)
	}
	again, err := q.Claim(ctx, "h1", []string{"stage"}, 5, time.Hour)
	if err != nil || len(again) != 2 {
		t.Fatalf("reclaim: %v %d, want 2", err, len(again))
	}
	if err := q.Complete(ctx, other[0], Outcome{OK: true}); err != nil {
		t.Fatalf("h2's claim survived: %v", err)
	}
}

// TestWatchSeesCompletionsAndCancels: watchers hear of what workers do
// not listen for: a request finishing or being cancelled.
func TestWatchSeesCompletionsAndCancels(t *testing.T) {
	p := newPool(t)
	q := New(p, Options{Host: "h1"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := make(chan struct{}, 100)
	go Watch(ctx, p, 50*time.Millisecond, func() { calls <- struct{}{} })
	wait := func(what string) {
		t.Helper()
		select {
		case <-calls:
		case <-time.After(time.Minute): // bounds a failure only
			t.Fatalf("no watch call after %s", what)
		}
	}
	wait("connecting")
	if _, err := q.Add(ctx, NewRequest{Kind: "stage", LFN: "/a", RID: "r1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Add(ctx, NewRequest{Kind: "stage", LFN: "/b", RID: "r2"}); err != nil {
		t.Fatal(err)
	}
	wait("add")
	c, err := q.Claim(ctx, "w", []string{"stage"}, 1, time.Hour)
	if err != nil || len(c) != 1 {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // a claim alone does not notify
	for len(calls) > 0 {
		<-calls
	}
	if err := q.Complete(ctx, c[0], Outcome{OK: true}); err != nil {
		t.Fatal(err)
	}
	wait("complete")
	if n, err := q.Cancel(ctx, "r2"); err != nil || n != 1 {
		t.Fatalf("cancel = %d, %v", n, err)
	}
	wait("cancel")
}

func TestXrdqRoundTrip(t *testing.T) {
	cmd, err := xrdq.ParseAgentLine("+ req7 udp://h:1/m 2 s /store/a?x=1")
	if err != nil {
		t.Fatal(err)
	}
	rec := xrdq.BuildRequest(cmd, cmd.Paths[0], "inst", time.Unix(1700000000, 0))
	nr, ok := FromXrdq(rec)
	if !ok {
		t.Fatal("a stage record was not taken")
	}
	if nr.Kind != "stage" || nr.LFN != "/store/a" || nr.RID != "req7" || nr.Priority != 2 || nr.Notify != "udp://h:1/m" || nr.Requester != rec.User || nr.Requester == "" {
		t.Fatalf("FromXrdq = %+v", nr)
	}
	r := Request{Kind: nr.Kind, Priority: nr.Priority, LFN: nr.LFN, RID: nr.RID, Requester: nr.Requester,
		Notify: []string{nr.Notify}, Options: nr.Options, Created: nr.Created}
	back := r.Xrdq()
	for _, c := range []struct{ name, got, want string }{
		{"path", back.Path(), rec.Path()}, {"cgi", back.CGI(), rec.CGI()}, {"id", back.ID, rec.ID},
		{"user", back.User, rec.User}, {"notify", back.Notify, rec.Notify}, {"op", string(back.Op), string(rec.Op)},
	} {
		if c.got != c.want {
			t.Errorf("%s: %q after the round trip, want %q", c.name, c.got, c.want)
		}
	}
	if back.Options != rec.Options || back.Priority != rec.Priority || back.Added != rec.Added {
		t.Errorf("options %v prty %d added %d, want %v %d %d", back.Options, back.Priority, back.Added, rec.Options, rec.Priority, rec.Added)
	}
	// Native requests (not from a queue file) notify on failure and success.
	if o := (Request{LFN: "/x"}).Xrdq().Options; o&xrdq.NotifyFail == 0 || o&xrdq.NotifySucc == 0 {
		t.Errorf("native request options %v", o)
	}
}

func TestLeaderLease(t *testing.T) {
	p := newPool(t)
	ctx := context.Background()
	q := New(p, Options{Site: "s"})
	other := New(p, Options{Site: "other-site"})
	steps := []struct {
		q      *Queue
		holder string
		ttl    time.Duration
		sleep  time.Duration
		lead   bool
	}{
		{q, "h1", time.Minute, 0, true},                      // free: taken (for long enough that h2 below finds it held however slow the machine)
		{q, "h2", time.Minute, 0, false},                     // held by h1
		{other, "h2", time.Minute, 0, true},                  // another site's lease of the same name
		{q, "h1", 500 * time.Millisecond, 0, true},           // renewal
		{q, "h2", time.Minute, 700 * time.Millisecond, true}, // h1 silent past its ttl: taken over
		{q, "h1", time.Minute, 0, false},                     // h1 comes back: too late
	}
	for i, s := range steps {
		time.Sleep(s.sleep)
		got, err := s.q.Lead(ctx, "purge/data", s.holder, s.ttl)
		if err != nil || got != s.lead {
			t.Fatalf("step %d: %s leads = %v, %v; want %v", i, s.holder, got, err, s.lead)
		}
	}
	if h, _, err := q.Leader(ctx, "purge/data"); h != "h2" || err != nil {
		t.Fatalf("leader %q %v, want h2", h, err)
	}
	if err := q.Resign(ctx, "purge/data", "h1"); err != nil { // not the holder: no effect
		t.Fatal(err)
	}
	if ok, _ := q.Lead(ctx, "purge/data", "h1", time.Minute); ok {
		t.Fatal("a resignation by a non-holder freed the lease")
	}
	if err := q.Resign(ctx, "purge/data", "h2"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := q.Lead(ctx, "purge/data", "h1", time.Minute); !ok {
		t.Fatal("the lease is not free after its holder resigned")
	}
}

func TestSetPriority(t *testing.T) {
	p := newPool(t)
	ctx := context.Background()
	q := New(p, Options{})
	for i, lfn := range []string{"/a", "/b", "/c"} {
		if _, err := q.Add(ctx, NewRequest{Kind: "stage", LFN: lfn, RID: fmt.Sprintf("r%d", i), Created: time.Unix(int64(1000+i), 0)}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := q.SetPriority(ctx, "r2", 2); err != nil || n != 1 {
		t.Fatalf("SetPriority = %d, %v", n, err)
	}
	if n, _ := q.SetPriority(ctx, "r2", 2); n != 0 {
		t.Errorf("setting the same priority again changed %d", n)
	}
	c, err := q.Claim(ctx, "w", []string{"stage"}, 1, time.Minute)
	if err != nil || len(c) != 1 || c[0].LFN != "/c" {
		t.Fatalf("the raised request is not claimed first: %+v %v", c, err)
	}
	if n, _ := q.SetPriority(ctx, "r2", 0); n != 0 {
		t.Errorf("a running request's priority changed (%d)", n)
	}
}
