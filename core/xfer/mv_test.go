package xfer

import (
	"os"
	"testing"
	"time"

	"frm/core/mss"
	"frm/core/purge"
)

// noRename shows only the Backend methods of the MSS it wraps: an MSS
// that cannot rename.
type noRename struct{ mss.Backend }

// TestMvThenPurgeThenStage is issue 15's scenario end to end: a staged
// (so migrated) file is renamed, a purge removes everything it may, and
// the new name is staged again. It must come back from the MSS (xrootd's
// mv leaves it "migrated" under a name the MSS never saw, the purge
// removes the only copy, and the stage fails with "no such file" and a
// .fail file). Where the MSS cannot rename, the renamed file is not purged
// until it has been migrated again under its new name.
func TestMvThenPurgeThenStage(t *testing.T) {
	for _, tc := range []struct {
		name      string
		canRename bool
	}{{"MSS renames", true}, {"MSS cannot rename", false}} {
		t.Run(tc.name, func(t *testing.T) {
			v := newEnv(t, nil)
			from, to := "/store/a.fits", "/store/renamed.fits"
			v.putMSS(t, from, "hello world\n")
			if out := v.e.Run(v.ctx, Job{Kind: Stage, LFN: from}); !out.OK() {
				t.Fatalf("stage: %+v", out)
			}
			if !tc.canRename {
				v.s.SetMSS(noRename{v.e.MSS})
			}
			if _, err := v.s.Mv(v.ctx, from, to); err != nil {
				t.Fatalf("mv: %v", err)
			}
			purgeAll := func() int {
				t.Helper()
				w, hold := purge.Watermark{Percent: 100, IsPercent: true}, time.Duration(0)
				p, err := purge.Build(v.ctx, v.s, purge.Options{Override: &w, HoldOverride: &hold, Now: time.Now().Add(time.Minute)})
				if err != nil {
					t.Fatal(err)
				}
				res, err := purge.Execute(v.ctx, v.s, p, purge.ExecOptions{Now: func() time.Time { return time.Now().Add(time.Minute) }})
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for _, r := range res.Spaces {
					n += r.Files
				}
				return n
			}
			if !tc.canRename {
				if n := purgeAll(); n != 0 {
					t.Fatalf("purged %d files before the renamed file was migrated again", n)
				}
				if out := v.e.Run(v.ctx, Job{Kind: Migrate, LFN: to, Lock: true}); !out.OK() {
					t.Fatalf("migrate: %+v", out)
				}
			}
			if n := purgeAll(); n != 1 {
				t.Fatalf("purged %d files, want the renamed one", n)
			}
			if _, err := os.Lstat(v.s.PFN(to)); err == nil {
				t.Fatal("the renamed file is still on disk")
			}
			if out := v.e.Run(v.ctx, Job{Kind: Stage, LFN: to}); !out.OK() {
				t.Fatalf("stage of the renamed file after the purge: %+v", out)
			}
			if b, _ := os.ReadFile(v.s.PFN(to)); string(b) != "hello world\n" {
				t.Errorf("staged content %q", b)
			}
			if _, err := os.Lstat(v.s.FailPath(v.s.PFN(to))); err == nil {
				t.Error("a .fail file was written")
			}
		})
	}
}
