package tui

import (
	"context"
	"testing"
	"time"

	"frm/core/config"
	"frm/core/site"
	"frm/core/sitegen"
	"frm/tui/model"
)

// TestSiteBackend runs the real backend against a demo site: spaces with
// watermarks, a listing in chunks with residency columns, the queue
// without a daemon, and an action through core/site.
func TestSiteBackend(t *testing.T) {
	ctx := context.Background()
	l, sum, err := sitegen.Demo(ctx, t.TempDir(), sitegen.DemoOptions{Files: 200, Seed: 1, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(l.Config, "")
	if err != nil {
		t.Fatal(err)
	}
	s, err := site.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	be := &SiteBackend{Site: s, ChunkSize: 7}
	sp, err := be.Spaces(ctx)
	if err != nil || len(sp) == 0 {
		t.Fatalf("spaces %v %v", sp, err)
	}
	var files int64
	for _, r := range sp {
		if r.Partition == "" {
			files += r.Files
			if r.Space == "fast" && !r.NoPurge || r.Space == "public" && (r.NoPurge || r.MinFree <= 0 || r.MaxFree < r.MinFree) {
				t.Errorf("watermarks of %s: %+v", r.Space, r)
			}
		}
	}
	if files == 0 {
		t.Errorf("no data files counted")
	}

	// Walk the whole tree through List, in chunks.
	var total, chunks int
	var lfn string
	states := map[model.Residency]int{}
	var walk func(dir string)
	walk = func(dir string) {
		err := be.List(ctx, dir, func(rows []model.FileRow) error {
			chunks++
			for _, r := range rows {
				if r.Dir {
					walk(dir + "/" + r.Name)
					continue
				}
				total++
				states[r.Res]++
				if lfn == "" && r.Res == model.ResMigrated {
					lfn = dir + "/" + r.Name
				}
			}
			return nil
		})
		if err != nil {
			t.Errorf("list %s: %v", dir, err)
		}
	}
	walk("")
	if total < sum.Files || chunks < 2 || states[model.ResMigrated] == 0 || states[model.ResNeedsMig] == 0 || states[model.ResNone] == 0 {
		t.Errorf("listed %d files (demo %d) in %d chunks: %v", total, sum.Files, chunks, states)
	}

	snap, err := be.Queue(ctx)
	if err != nil || snap.DaemonUp || snap.DaemonErr == "" {
		t.Errorf("queue without a daemon: %+v %v", snap, err)
	}

	// An action goes through site.Pin.
	if lfn == "" {
		t.Fatal("no migrated file found")
	}
	if txt, err := be.Pin(ctx, []string{lfn}, "forever"); err != nil || txt != "1 of 1 file pinned (forever)" {
		t.Errorf("pin: %q %v", txt, err)
	}
	if _, err := be.Pin(ctx, []string{lfn}, "bad"); err == nil {
		t.Errorf("a bad keep spec must fail")
	}
}
