package daemons

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"frm/core/config"
	"frm/core/meta"
	"frm/core/purge"
	"frm/core/retry"
	"frm/core/wire"
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

// TestNoRoomWaitsForThePurger: a stage that finds no room on disk is no
// failure: the request waits (holding no slot), the purger is woken,
// frees space, and the stage then goes through. Before, the file got a
// .fail that refused it for 3 hours, even after the purge.
func TestNoRoomWaitsForThePurger(t *testing.T) {
	s := newSite(t, func(c *config.Config) {
		for i := range c.Spaces {
			if c.Spaces[i].Name == "public" {
				for j := range c.Spaces[i].Partitions {
					c.Spaces[i].Partitions[j].Cap = 4000
				}
			}
		}
		c.Purge.WaitTime = config.Duration(time.Hour) // only the wake-up purges
		c.Purge.Policies = []config.Policy{{Space: "*", Min: "10%", Max: "90%", Hold: 0}}
	})
	st, err := wire.Open(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sp, _ := st.Spaces.Get("public")
	old := time.Now().Add(-30 * 24 * time.Hour)
	// Every partition full of old migrated files.
	for i := 0; i < 4*len(sp.Partitions); i++ {
		lfn := fmt.Sprintf("/store/old/f%d", i)
		pfn, err := st.Place(context.Background(), lfn, "public", strings.NewReader(strings.Repeat("o", 990)), 990)
		if err != nil {
			t.Fatal(err)
		}
		os.Chtimes(pfn, old, old)
		if err := meta.SetCopyTime(pfn, old.Unix()); err != nil {
			t.Fatal(err)
		}
	}
	s.mssFile(t, "/store/new/big", strings.Repeat("n", 2000))
	// The purger's first cycle, at start, would free the room before the
	// stage looks for it on a loaded machine: STOPPURGE holds it until
	// the stage has found no room.
	stop := purge.StopFile(st)
	os.MkdirAll(filepath.Dir(stop), 0o700)
	if err := os.WriteFile(stop, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := start(t, s, "stage", "purge")
	queueAdd(t, s, "+ r1 - 1 r /store/new/big")
	r.d.Transfer.Wake()
	r.waitEvent(t, "requeued", "/store/new/big")
	os.Remove(stop)
	r.d.Purger.Wake() // the wake the stage gave found purging suspended
	r.waitEvent(t, "done", "/store/new/big")
	pfn := filepath.Join(s.cfg.LocalRoot, "/store/new/big")
	if _, err := os.Stat(pfn + ".fail"); err == nil {
		t.Error(".fail written for lack of room")
	}
	if b, _ := os.ReadFile(pfn); len(b) != 2000 {
		t.Errorf("staged %d bytes", len(b))
	}
}
