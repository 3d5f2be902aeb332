package daemons

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"frm/core/retry"
	"frm/core/xrdq"
)

// TestMSSOutagePausesAndResumes: with the MSS gone (the posix tree
// unmounted), stage requests fail no file: the inbound direction pauses
// (status says so, with the cause), the requests stay queued, and once
// the MSS is back a probe resumes the transfers and every file is staged.
// Before, each request got a .fail file that refused it for 3 hours.
func TestMSSOutagePausesAndResumes(t *testing.T) {
	s := newSite(t, nil)
	const n = 5
	for i := 0; i < n; i++ {
		s.mssFile(t, fmt.Sprintf("/store/out/f%d", i), "data")
	}
	root := s.l.RemoteRoot
	if err := os.Rename(root, root+".away"); err != nil {
		t.Fatal(err)
	}
	r := start(t, s, "stage")
	r.d.Transfer.mu.Lock()
	r.d.Transfer.PauseBackoff = retry.Policy{Base: 50 * time.Millisecond, Max: 200 * time.Millisecond}
	r.d.Transfer.mu.Unlock()
	for i := 0; i < n; i++ {
		queueAdd(t, s, fmt.Sprintf("+ r%d - 1 r /store/out/f%d", i, i))
	}
	r.d.Transfer.Wake()
	r.waitEvent(t, "paused", "")
	deadline := time.Now().Add(10 * time.Second)
	for len(r.d.Transfer.Status().Paused) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	st := r.d.Transfer.Status()
	if len(st.Paused) != 1 || st.Paused[0].Direction != "in" || st.Paused[0].Cause == "" {
		t.Fatalf("status during the outage: %+v", st.Paused)
	}
	time.Sleep(300 * time.Millisecond) // a few probes fail
	q := xrdq.Open(s.cfg.QueueDir())
	queued := 0
	q.Queue(xrdq.Stage, 1).Walk(func(xrdq.Request) error { queued++; return nil })
	if queued != n {
		t.Errorf("%d requests queued during the outage, want %d", queued, n)
	}
	for i := 0; i < n; i++ {
		pfn := filepath.Join(s.cfg.LocalRoot, fmt.Sprintf("/store/out/f%d", i))
		if _, err := os.Stat(pfn + ".fail"); err == nil {
			t.Errorf("%s.fail written during an outage", pfn)
		}
	}
	r.mu.Lock()
	paused := 0
	for _, ev := range r.events {
		if ev.Type == "paused" {
			paused++
		}
		if ev.Type == "fail" {
			t.Errorf("a request failed during the outage: %+v", ev)
		}
	}
	r.mu.Unlock()
	if paused != 1 {
		t.Errorf("%d paused events, want 1 (said once)", paused)
	}
	if err := os.Rename(root+".away", root); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		r.waitEvent(t, "done", fmt.Sprintf("/store/out/f%d", i))
	}
	r.waitEvent(t, "resumed", "")
	if p := r.d.Transfer.Status().Paused; len(p) != 0 {
		t.Errorf("still paused: %+v", p)
	}
}

// TestBadCGIFailsOnlyItsRequest: two requests for one file, the first
// with a cgi naming a space that does not exist. That request fails (its
// requester is told why); the other stages the file; no .fail is left.
func TestBadCGIFailsOnlyItsRequest(t *testing.T) {
	s := newSite(t, nil)
	s.mssFile(t, "/store/cgi/f", "data")
	queueAdd(t, s, "+ bad - 1 r /store/cgi/f?oss.cgroup=nosuchspace")
	queueAdd(t, s, "+ good - 1 r /store/cgi/f")
	r := start(t, s, "stage")
	r.d.Transfer.Wake()
	ev := r.waitEvent(t, "done", "/store/cgi/f")
	if ev.RID != "good" {
		t.Errorf("done event for %s", ev.RID)
	}
	r.mu.Lock()
	for _, ev := range r.events {
		if ev.Type == "fail" && ev.RID != "bad" {
			t.Errorf("request %s failed: %+v", ev.RID, ev)
		}
	}
	r.mu.Unlock()
	pfn := filepath.Join(s.cfg.LocalRoot, "/store/cgi/f")
	if _, err := os.Stat(pfn + ".fail"); err == nil {
		t.Error(".fail written for one request's bad cgi")
	}
}
