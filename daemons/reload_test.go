package daemons

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"frm/core/catalog"
	"frm/core/config"
	"frm/core/meta"
	"frm/core/wire"
)

// TestReloadTakesEffect changes every reloadable key of a running daemon
// (Daemon.Reload, what SIGHUP calls) and checks its effect on the next
// transfer, scan or cycle — and that a restart-only key keeps its running
// value. Before, only purge.wait_time and the slots were taken.
func TestReloadTakesEffect(t *testing.T) {
	reload := func(r *running, edit func(*config.Config)) {
		t.Helper()
		next := *r.d.Site.Config()
		next.Purge.Policies = append([]config.Policy(nil), next.Purge.Policies...)
		edit(&next)
		r.d.Reload(&next)
	}
	until := func(t *testing.T, what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	ns := func(s tsite, lfn string) string { return filepath.Join(s.cfg.LocalRoot, lfn) }

	t.Run("transfer.copy_max", func(t *testing.T) {
		s := newSite(t, func(c *config.Config) { c.Transfer.CopyMax = 1 })
		r := start(t, s, "stage")
		reload(r, func(c *config.Config) { c.Transfer.CopyMax = 5 })
		if st := r.d.Transfer.Status(); st.SlotsIn != 5 || st.SlotsOut != 5 {
			t.Errorf("slots %d/%d, want 5/5", st.SlotsIn, st.SlotsOut)
		}
		reload(r, func(c *config.Config) { c.Transfer.CopyMaxIn, c.Transfer.CopyMaxOut = 3, 2 })
		if st := r.d.Transfer.Status(); st.SlotsIn != 3 || st.SlotsOut != 2 {
			t.Errorf("split slots %d/%d, want 3/2", st.SlotsIn, st.SlotsOut)
		}
	})

	t.Run("transfer.qcheck", func(t *testing.T) {
		s := newSite(t, nil) // qcheck 1h: only wake-ups would do
		s.mssFile(t, "/store/q/a", "a")
		r := start(t, s, "stage")
		queueAdd(t, s, "+ r1 - 1 r /store/q/a") // no wake-up
		reload(r, func(c *config.Config) { c.Transfer.QCheck = config.Duration(100 * time.Millisecond) })
		r.waitEvent(t, "done", "/store/q/a")
	})

	t.Run("transfer.deny", func(t *testing.T) {
		s := newSite(t, nil)
		s.mssFile(t, "/store/d/a", "a")
		r := start(t, s, "stage")
		pfn := ns(s, "/store/d/a")
		os.MkdirAll(filepath.Dir(pfn), 0o755)
		os.WriteFile(pfn+".fail", nil, 0o644) // failed just now
		queueAdd(t, s, "+ r1 - 1 r /store/d/a")
		r.d.Transfer.Wake()
		r.waitEvent(t, "fail", "/store/d/a") // refused for 3 hours
		os.WriteFile(pfn+".fail", nil, 0o644)
		reload(r, func(c *config.Config) { c.Transfer.Deny = config.Duration(time.Nanosecond) })
		queueAdd(t, s, "+ r2 - 1 r /store/d/a")
		r.d.Transfer.Wake()
		r.waitEvent(t, "done", "/store/d/a")
	})

	t.Run("transfer.retries", func(t *testing.T) {
		count := filepath.Join(t.TempDir(), "runs")
		s := newSite(t, func(c *config.Config) {
			c.MSS.Backend = "command"
			c.MSS.CopyIn = []string{"/bin/sh", "-c", `echo x >> "$0"; exit 1`, count}
			c.Transfer.Retries = 0
		})
		s.mssFile(t, "/store/r/a", "a")
		s.mssFile(t, "/store/r/b", "b")
		r := start(t, s, "stage")
		r.d.Transfer.Engine.Backoff = time.Millisecond
		queueAdd(t, s, "+ r1 - 1 r /store/r/a")
		r.d.Transfer.Wake()
		r.waitEvent(t, "fail", "/store/r/a")
		runs := func() int { b, _ := os.ReadFile(count); return strings.Count(string(b), "x") }
		if n := runs(); n != 1 {
			t.Fatalf("retries 0: %d runs", n)
		}
		reload(r, func(c *config.Config) { c.Transfer.Retries = 2 })
		queueAdd(t, s, "+ r2 - 1 r /store/r/b")
		r.d.Transfer.Wake()
		r.waitEvent(t, "fail", "/store/r/b")
		if n := runs() - 1; n != 3 {
			t.Errorf("retries 2: %d runs, want 3", n)
		}
	})

	t.Run("checksum.default", func(t *testing.T) {
		s := newSite(t, nil)
		s.mssFile(t, "/store/c/a", "a")
		r := start(t, s, "stage")
		reload(r, func(c *config.Config) { c.Checksum.Default = "md5" })
		queueAdd(t, s, "+ r1 - 1 r /store/c/a")
		r.d.Transfer.Wake()
		r.waitEvent(t, "done", "/store/c/a")
		if _, ok, _ := meta.GetChecksum(ns(s, "/store/c/a"), "md5"); !ok {
			t.Error("the stage did not record an md5 checksum after the reload")
		}
	})

	// A modified file, idle for ten minutes.
	modified := func(t *testing.T, s tsite, lfn string) {
		t.Helper()
		st, err := wire.Open(s.cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		pfn, err := st.Place(context.Background(), lfn, "data", strings.NewReader("m"), 1)
		if err != nil {
			t.Fatal(err)
		}
		mt := time.Now().Add(-10 * time.Minute)
		os.Chtimes(pfn, mt, mt)
		meta.SetCopyTime(pfn, mt.Unix()-113)
	}
	migrated := func(s tsite, lfn string) bool {
		c, ok, _ := meta.GetCopyTime(ns(s, lfn))
		var st os.FileInfo
		st, err := os.Stat(ns(s, lfn))
		return err == nil && ok && c >= st.ModTime().Unix()
	}

	t.Run("migrate.idle_hold", func(t *testing.T) {
		s := newSite(t, func(c *config.Config) { c.Migrate.IdleHold = config.Duration(time.Hour) })
		modified(t, s, "/store/m/a")
		r := start(t, s, "stage", "migrate")
		time.Sleep(300 * time.Millisecond) // the first scan passes it over
		if migrated(s, "/store/m/a") {
			t.Fatal("migrated within the idle hold")
		}
		reload(r, func(c *config.Config) { c.Migrate.IdleHold = config.Duration(time.Minute) })
		r.d.Migrator.Wake()
		until(t, "the migration after the reload", func() bool { return migrated(s, "/store/m/a") })
	})

	t.Run("migrate.wait_time", func(t *testing.T) {
		s := newSite(t, nil) // wait_time 1h: one scan at start
		r := start(t, s, "stage", "migrate")
		time.Sleep(300 * time.Millisecond)
		modified(t, s, "/store/w/a")
		reload(r, func(c *config.Config) { c.Migrate.WaitTime = config.Duration(200 * time.Millisecond) })
		until(t, "a scan within the new period", func() bool { return migrated(s, "/store/w/a") })
	})

	// Old migrated files in public, and a purge that wants them gone.
	purgeable := func(t *testing.T, s tsite, dir string, n int) []string {
		t.Helper()
		st, err := wire.Open(s.cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		old := time.Now().Add(-30 * 24 * time.Hour)
		var pfns []string
		for i := 0; i < n; i++ {
			pfn, err := st.Place(context.Background(), fmt.Sprintf("%s/f%d", dir, i), "public", strings.NewReader("old"), 3)
			if err != nil {
				t.Fatal(err)
			}
			os.Chtimes(pfn, old, old)
			meta.SetCopyTime(pfn, old.Unix())
			pfns = append(pfns, pfn)
		}
		return pfns
	}
	gone := func(pfns []string) int {
		n := 0
		for _, p := range pfns {
			if _, err := os.Lstat(p); err != nil {
				n++
			}
		}
		return n
	}
	never := []config.Policy{{Space: "*", Min: "0%", Max: "0%", Hold: config.Duration(time.Hour)}}
	everything := []config.Policy{{Space: "*", Min: "100%", Max: "100%", Hold: 0}}

	t.Run("purge.policy", func(t *testing.T) {
		s := newSite(t, func(c *config.Config) {
			c.Purge.Policies = never
			c.Purge.WaitTime = config.Duration(time.Hour)
		})
		files := purgeable(t, s, "/store/p", 3)
		r := start(t, s, "purge")
		time.Sleep(200 * time.Millisecond)
		if gone(files) != 0 {
			t.Fatal("purged under a policy that wants nothing")
		}
		reload(r, func(c *config.Config) { c.Purge.Policies = everything })
		r.d.Purger.Wake()
		until(t, "the purge under the new policy", func() bool { return gone(files) == len(files) })
	})

	t.Run("purge nopurge (the emergency brake)", func(t *testing.T) {
		s := newSite(t, func(c *config.Config) {
			c.Purge.Policies = everything
			c.Purge.WaitTime = config.Duration(time.Hour)
		})
		r := start(t, s, "purge")
		until(t, "the first cycle", func() bool { return !r.d.Purger.Last().At.IsZero() })
		files := purgeable(t, s, "/store/n", 3)
		reload(r, func(c *config.Config) { c.Purge.Policies = []config.Policy{{Space: "*", NoPurge: true}} })
		r.d.Purger.Wake()
		until(t, "a cycle after the reload", func() bool { return r.d.Purger.Last().At.After(time.Now().Add(-time.Second)) })
		time.Sleep(200 * time.Millisecond)
		if n := gone(files); n != 0 {
			t.Errorf("%d files purged after nopurge was reloaded", n)
		}
	})

	t.Run("purge.wait_time", func(t *testing.T) {
		s := newSite(t, func(c *config.Config) {
			c.Purge.Policies = everything
			c.Purge.WaitTime = config.Duration(time.Hour)
		})
		r := start(t, s, "purge")
		until(t, "the first cycle", func() bool { return !r.d.Purger.Last().At.IsZero() })
		files := purgeable(t, s, "/store/t", 2)
		reload(r, func(c *config.Config) { c.Purge.WaitTime = config.Duration(200 * time.Millisecond) })
		until(t, "a cycle within the new period", func() bool { return gone(files) == len(files) })
	})

	t.Run("purge.polprog", func(t *testing.T) {
		s := newSite(t, func(c *config.Config) {
			c.Purge.Policies = never
			c.Purge.WaitTime = config.Duration(time.Hour)
		})
		files := purgeable(t, s, "/store/g", 2)
		r := start(t, s, "purge")
		prog := filepath.Join(s.l.Dir, "no.sh")
		os.WriteFile(prog, []byte("#!/bin/sh\nwhile read l; do echo n; done\n"), 0o755)
		reload(r, func(c *config.Config) {
			c.Purge.PolProg = []string{prog}
			c.Purge.Policies = []config.Policy{{Space: "*", Min: "100%", Max: "100%", Hold: 0, UsePolProg: true}}
		})
		r.d.Purger.Wake()
		until(t, "a cycle after the reload", func() bool { return r.d.Purger.Last().At.After(time.Now().Add(-time.Second)) })
		if n := gone(files); n != 0 {
			t.Errorf("%d files purged although the reloaded policy program says no", n)
		}
	})

	t.Run("purge.dir_hold", func(t *testing.T) {
		s := newSite(t, func(c *config.Config) {
			c.Purge.Policies = everything
			c.Purge.WaitTime = config.Duration(time.Hour)
			c.Purge.DirHold = config.Duration(1000 * time.Hour)
		})
		files := purgeable(t, s, "/store/e/sub", 1)
		r := start(t, s, "purge")
		until(t, "the first purge", func() bool { return r.d.Purger.Last().Files == 1 })
		dir := filepath.Dir(files[0])
		old := time.Now().Add(-10 * time.Hour)
		os.Chtimes(dir, old, old) // empty, and ten hours old: kept by a 1000 h hold
		reload(r, func(c *config.Config) { c.Purge.DirHold = config.Duration(time.Hour) })
		r.d.Purger.Wake()
		until(t, "the empty directory's removal", func() bool { _, err := os.Stat(dir); return err != nil })
	})

	t.Run("restart-only keys keep their running value", func(t *testing.T) {
		s := newSite(t, nil)
		r := start(t, s, "stage")
		was := r.d.Site.Config().RemoteRoot
		reload(r, func(c *config.Config) {
			c.RemoteRoot = "/elsewhere"
			c.Transfer.QueuePath = "/elsewhere/q"
		})
		if c := r.d.Site.Config(); c.RemoteRoot != was || c.Transfer.QueuePath != s.cfg.Transfer.QueuePath {
			t.Errorf("restart-only keys applied: remote_root %q queue_path %q", c.RemoteRoot, c.Transfer.QueuePath)
		}
		s.mssFile(t, "/store/o/a", "from the running MSS")
		queueAdd(t, s, "+ r1 - 1 r /store/o/a")
		r.d.Transfer.Wake()
		r.waitEvent(t, "done", "/store/o/a")
	})
}

// TestReloadScanInterval: a shorter catalog.scan_interval takes effect at
// once: a file written outside frm reaches the shared catalog within the
// new period, not after the old one.
func TestReloadScanInterval(t *testing.T) {
	s, pool := sharedSite(t, func(c *config.Config) { c.Catalog.ScanInterval = config.Duration(time.Hour) })
	r := start(t, s, "purge")
	ctx := context.Background()
	deadline := time.Now().Add(patience)
	for count(t, pool, `SELECT count(*) FROM dir_stamps`) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no first discovery pass")
		}
		time.Sleep(20 * time.Millisecond)
	}
	pfn := filepath.Join(s.cfg.LocalRoot, "/store/outside/new.fits")
	os.MkdirAll(filepath.Dir(pfn), 0o755)
	os.WriteFile(pfn, []byte("written by a server"), 0o644)
	next := *r.d.Site.Config()
	next.Catalog.ScanInterval = config.Duration(200 * time.Millisecond)
	r.d.Reload(&next)
	for {
		if _, err := r.d.Site.Catalog.Lookup(ctx, "/store/outside/new.fits", catalog.WantStat); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the file written outside frm never reached the catalog after the reload")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
