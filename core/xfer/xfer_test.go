package xfer

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"frm/core/sitegen/sitetest"

	"golang.org/x/sys/unix"

	"frm/core/catalog"
	"frm/core/config"
	"frm/core/meta"
	"frm/core/mss"
	"frm/core/site"
	"frm/core/sitegen"
)

// TestMain doubles as a helper process that holds a file's fcntl lock
// (fcntl locks are per process, so the test needs another one).
func TestMain(m *testing.M) {
	if p := os.Getenv("FRM_TEST_HOLD_LOCK"); p != "" {
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			os.Exit(3)
		}
		lk := unix.Flock_t{Type: unix.F_WRLCK}
		if err := unix.FcntlFlock(f.Fd(), unix.F_SETLKW, &lk); err != nil {
			os.Exit(4)
		}
		os.Stdout.WriteString("locked\n")
		time.Sleep(10 * time.Second)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type env struct {
	s   *site.Site
	l   sitegen.Layout
	e   *Engine
	ctx context.Context
}

func newEnv(t *testing.T, mutate func(*config.Config)) *env {
	t.Helper()
	s, l := sitetest.Open(t, mutate)
	b, err := mss.Open(s.Config())
	if err != nil {
		t.Fatal(err)
	}
	e := New(s, b, nil)
	e.Backoff = time.Millisecond
	return &env{s: s, l: l, e: e, ctx: context.Background()}
}

// putMSS stores content in the MSS as the posix backend would (with its
// checksum recorded).
func (v *env) putMSS(t *testing.T, lfn, content string) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	os.WriteFile(src, []byte(content), 0o644)
	rfn, _ := v.s.Names.RFN(lfn)
	if _, err := v.e.MSS.Store(v.ctx, mss.Request{LFN: lfn, RFN: rfn}, src, "adler32"); err != nil {
		t.Fatal(err)
	}
}

func TestStageIntoXASpace(t *testing.T) {
	v := newEnv(t, nil)
	lfn := "/store/hmi/a.fits"
	v.putMSS(t, lfn, "hello world\n")
	out := v.e.Run(v.ctx, Job{Kind: Stage, LFN: lfn, RID: "r1"})
	if !out.OK() || out.Bytes != 12 || out.Checksum == nil || out.Checksum.Hex != "1e720467" {
		t.Fatalf("stage: %+v", out)
	}
	pfn := v.s.PFN(lfn)
	target, err := os.Readlink(pfn)
	if err != nil || !strings.HasPrefix(target, v.l.Dir+"/spaces/pub") || !strings.HasSuffix(target, "%") {
		t.Fatalf("staged file is not an XA link into public: %q %v", target, err)
	}
	if b, _ := os.ReadFile(pfn); string(b) != "hello world\n" {
		t.Fatalf("content %q", b)
	}
	var st unix.Stat_t
	unix.Stat(pfn, &st)
	if c, ok, _ := meta.GetCopyTime(pfn); !ok || c != st.Mtim.Sec {
		t.Errorf("copy time %d %v, want mtime %d (mig export)", c, ok, st.Mtim.Sec)
	}
	if p, _, _ := meta.GetPfn(target); p != pfn {
		t.Errorf("back reference %q", p)
	}
	if c, ok, _ := meta.GetChecksum(pfn, "adler32"); !ok || c.Hex() != "1e720467" {
		t.Errorf("checksum xattr %+v %v", c, ok)
	}
	if _, err := os.Lstat(pfn + ".anew"); err == nil {
		t.Error("placeholder left behind")
	}
	again := v.e.Run(v.ctx, Job{Kind: Stage, LFN: lfn})
	if !again.OK() || again.Skipped != "file already resident" {
		t.Errorf("second stage: %+v", again)
	}
}

func TestStageMissingFailsAndDenies(t *testing.T) {
	v := newEnv(t, nil)
	lfn := "/store/none.fits"
	out := v.e.Run(v.ctx, Job{Kind: Stage, LFN: lfn})
	if out.OK() || !out.NotFound || out.Tries != 1 {
		t.Fatalf("stage of a missing file: %+v", out)
	}
	pfn := v.s.PFN(lfn)
	fi, err := os.Stat(pfn + ".fail")
	if err != nil || fi.ModTime().Unix() != 2 {
		t.Fatalf(".fail file: %v %v", fi, err)
	}
	if _, err := os.Lstat(pfn); err == nil {
		t.Fatal("a failed stage left a file")
	}
	out = v.e.Run(v.ctx, Job{Kind: Stage, LFN: lfn})
	if !errors.Is(out.Err, ErrPreviouslyFailed) {
		t.Fatalf("request within the deny time: %+v", out)
	}
	v.putMSS(t, lfn, "now it exists")
	// Retry (frm mirror) is not held back by the fail file, and its
	// success removes it.
	if out := v.e.Run(v.ctx, Job{Kind: Stage, LFN: lfn, Retry: true}); !out.OK() {
		t.Fatalf("a retry within the deny time: %+v", out)
	}
	if _, err := os.Stat(pfn + ".fail"); err == nil {
		t.Error(".fail file kept after a retry's success")
	}
	os.Remove(pfn)
	v.e.Run(v.ctx, Job{Kind: Stage, LFN: "/store/none2.fits"}) // a fail file again
	v.s.Config().Transfer.Deny = 0
	lfn = "/store/none2.fits"
	v.putMSS(t, lfn, "now it exists")
	if out := v.e.Run(v.ctx, Job{Kind: Stage, LFN: lfn}); !out.OK() {
		t.Fatalf("stage after the deny time: %+v", out)
	}
	if _, err := os.Stat(v.s.PFN(lfn) + ".fail"); err == nil {
		t.Error("stale .fail file kept")
	}
}

func TestStageChecksumMismatchNeverMarkedGood(t *testing.T) {
	v := newEnv(t, nil)
	lfn := "/store/corrupt.fits"
	v.putMSS(t, lfn, "original")
	rfn, _ := v.s.Names.RFN(lfn)
	// Corrupt the MSS copy behind the recorded checksum's back. The record
	// holds only while the file's mtime is the one it names, so the
	// tampered file gets that mtime: written a second later it would
	// otherwise have another, and nothing would be verified.
	c, ok, err := meta.GetChecksum(rfn, "adler32")
	if err != nil || !ok {
		t.Fatalf("no checksum record on the MSS copy: %v", err)
	}
	if err := os.WriteFile(rfn+".tmp", []byte("tampered"), 0o644); err != nil {
		t.Fatal(err)
	}
	mtime := time.Unix(c.MTime, 0)
	if err := os.Chtimes(rfn+".tmp", mtime, mtime); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(rfn+".tmp", rfn); err != nil {
		t.Fatal(err)
	}
	if err := meta.SetChecksum(rfn, c); err != nil {
		t.Fatal(err)
	}
	out := v.e.Run(v.ctx, Job{Kind: Stage, LFN: lfn})
	if out.OK() {
		t.Fatalf("a corrupt copy was staged: %+v", out)
	}
	pfn := v.s.PFN(lfn)
	if _, err := os.Lstat(pfn); err == nil {
		t.Fatal("corrupt data is visible under the real name")
	}
	if _, err := os.Lstat(pfn + ".anew"); err == nil {
		t.Fatal("placeholder left")
	}
	assertNoDataFiles(t, v)
}

func assertNoDataFiles(t *testing.T, v *env) {
	t.Helper()
	filepath.WalkDir(filepath.Join(v.l.Dir, "spaces"), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			t.Errorf("orphan data file %s", p)
		}
		return nil
	})
}

func TestCancelledStageLeavesNothing(t *testing.T) {
	v := newEnv(t, func(c *config.Config) {
		c.MSS.Backend = "command"
		c.MSS.CopyIn = []string{"/bin/sh", "-c", `sleep 60; cp "$0" "$1"`, "$SRC", "$DST"}
		c.MSS.CopyOut = []string{"/bin/cp", "$SRC", "$DST"}
	})
	lfn := "/store/slow.fits"
	rfn, _ := v.s.Names.RFN(lfn)
	os.MkdirAll(filepath.Dir(rfn), 0o755)
	os.WriteFile(rfn, []byte("slow data"), 0o644)
	ctx, cancel := context.WithTimeout(v.ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	out := v.e.Run(ctx, Job{Kind: Stage, LFN: lfn})
	// The copy sleeps a minute: well under that means the cancellation
	// stopped it (3 s was tight for a loaded machine).
	if out.OK() || time.Since(start) > 30*time.Second {
		t.Fatalf("cancelled stage: %+v after %v", out, time.Since(start))
	}
	pfn := v.s.PFN(lfn)
	for _, p := range []string{pfn, pfn + ".anew", pfn + ".fail"} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s exists after a cancelled stage", p)
		}
	}
	assertNoDataFiles(t, v)
}

func TestMigrateSetsCopyTimeAndChecksum(t *testing.T) {
	v := newEnv(t, nil)
	lfn := "/store/new.fits"
	pfn, err := v.s.Place(v.ctx, lfn, "data", strings.NewReader("hello world\n"), 12)
	if err != nil {
		t.Fatal(err)
	}
	mt := time.Unix(1700000000, 0)
	os.Chtimes(pfn, mt, mt)
	meta.SetCopyTime(pfn, 1) // as xrootd marks new files in mig paths
	out := v.e.Run(v.ctx, Job{Kind: Migrate, LFN: lfn, Lock: true})
	if !out.OK() || out.Bytes != 12 {
		t.Fatalf("migrate: %+v", out)
	}
	if c, _, _ := meta.GetCopyTime(pfn); c != mt.Unix() {
		t.Errorf("copy time %d, want %d", c, mt.Unix())
	}
	rfn, _ := v.s.Names.RFN(lfn)
	if b, _ := os.ReadFile(rfn); string(b) != "hello world\n" {
		t.Errorf("MSS copy %q", b)
	}
	if c, ok, _ := meta.GetChecksum(pfn, "adler32"); !ok || c.Hex() != "1e720467" {
		t.Errorf("local checksum %v %v", c, ok)
	}
	if out := v.e.Run(v.ctx, Job{Kind: Migrate, LFN: lfn, Lock: true}); out.Skipped != "already migrated" {
		t.Errorf("second migration: %+v", out)
	}
	// Migrate + purge removes link and data file after the copy.
	meta.SetCopyTime(pfn, 1)
	target, _ := os.Readlink(pfn)
	if out := v.e.Run(v.ctx, Job{Kind: Migrate, LFN: lfn, Lock: true, Purge: true}); !out.OK() {
		t.Fatalf("migrate+purge: %+v", out)
	}
	for _, p := range []string{pfn, target} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s kept after migrate+purge", p)
		}
	}
}

// TestMigratePurgeKeepsPinnedAndOpenFiles: a migrate-and-purge request
// copies the file out and removes the disk copy with the last check of a
// purge: a pinned file, or one a writer has open, stays on disk (the
// copy out still succeeds).
func TestMigratePurgeKeepsPinnedAndOpenFiles(t *testing.T) {
	v := newEnv(t, nil)
	for _, c := range []struct {
		name  string
		setup func(pfn string) func()
	}{
		{"pinned", func(pfn string) func() {
			if err := meta.SetPin(pfn, meta.Pin{Flags: meta.PinForever}); err != nil {
				t.Fatal(err)
			}
			return func() {}
		}},
		{"open for writing", func(pfn string) func() {
			f, err := os.OpenFile(pfn, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			return func() { f.Close() }
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			lfn := "/store/keep-" + strings.ReplaceAll(c.name, " ", "-")
			pfn, err := v.s.Place(v.ctx, lfn, "data", strings.NewReader("data\n"), 5)
			if err != nil {
				t.Fatal(err)
			}
			mt := time.Unix(1700000000, 0)
			os.Chtimes(pfn, mt, mt)
			meta.SetCopyTime(pfn, 1)
			done := c.setup(pfn)
			defer done()
			if out := v.e.Run(v.ctx, Job{Kind: Migrate, LFN: lfn, Purge: true}); !out.OK() {
				t.Fatalf("migrate+purge: %+v", out)
			}
			if _, err := os.Stat(pfn); err != nil {
				t.Errorf("%s file removed by migrate+purge: %v", c.name, err)
			}
		})
	}
}

// TestMigrationClaimHoldsForLaterWrites: a file written just now is
// migrated and written to again at once. The copy time (whole seconds)
// must not make the second write look migrated: it is set only after the
// second of the file's mtime is over, so any later write has a later
// mtime. Before, both writes shared a second and the file read as
// migrated — purgeable with its new data only on disk.
func TestMigrationClaimHoldsForLaterWrites(t *testing.T) {
	v := newEnv(t, nil)
	lfn := "/store/fresh.fits"
	pfn, err := v.s.Place(v.ctx, lfn, "data", strings.NewReader("first\n"), 6)
	if err != nil {
		t.Fatal(err)
	}
	meta.SetCopyTime(pfn, 1)
	if out := v.e.Run(v.ctx, Job{Kind: Migrate, LFN: lfn, Lock: true}); !out.OK() {
		t.Fatalf("migrate: %+v", out)
	}
	f, err := os.OpenFile(pfn, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("second\n")
	f.Close()
	e, err := v.s.Catalog.Lookup(v.ctx, lfn, catalog.WantStat|catalog.WantCopy|catalog.WantLink)
	if err != nil {
		t.Fatal(err)
	}
	if e.Migrated() {
		t.Errorf("a write after the migration reads as migrated: copy time %d, mtime %d", e.CopyTime, e.Mtime)
	}
}

func TestMigrateNotResidentAndInUse(t *testing.T) {
	v := newEnv(t, nil)
	if out := v.e.Run(v.ctx, Job{Kind: Migrate, LFN: "/store/none"}); !errors.Is(out.Err, ErrNotResident) {
		t.Errorf("missing file: %+v", out)
	}
	lfn := "/store/busy.fits"
	pfn, _ := v.s.Place(v.ctx, lfn, "", strings.NewReader("busy"), 4)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "FRM_TEST_HOLD_LOCK="+pfn)
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	if line, _ := bufio.NewReader(pipe).ReadString('\n'); line != "locked\n" {
		t.Fatalf("lock holder said %q", line)
	}
	out := v.e.Run(v.ctx, Job{Kind: Migrate, LFN: lfn, Lock: true})
	if !errors.Is(out.Err, ErrInUse) {
		t.Fatalf("locked file: %+v", out)
	}
	if _, err := os.Stat(pfn + ".fail"); err == nil {
		t.Error("a busy file got a .fail file")
	}
}

func TestMigrateModifiedDuringCopy(t *testing.T) {
	v := newEnv(t, func(c *config.Config) {
		c.MSS.Backend = "command"
		c.MSS.CopyIn = []string{"/bin/cp", "$SRC", "$DST"}
		// The copy command appends to its source: the file changes under it.
		c.MSS.CopyOut = []string{"/bin/sh", "-c", `mkdir -p "$(dirname "$1")" && cp "$0" "$1" && echo more >> "$0"`, "$SRC", "$DST"}
	})
	lfn := "/store/growing.fits"
	pfn, _ := v.s.Place(v.ctx, lfn, "", strings.NewReader("data"), 4)
	mt := time.Unix(1700000000, 0)
	os.Chtimes(pfn, mt, mt)
	out := v.e.Run(v.ctx, Job{Kind: Migrate, LFN: lfn, Lock: true})
	if !errors.Is(out.Err, ErrModified) && !mss.IsTransient(out.Err) {
		t.Fatalf("modified during copy: %+v", out)
	}
	if c, ok, _ := meta.GetCopyTime(pfn); ok && c >= mt.Unix() {
		t.Errorf("copy time set although the file changed: %d", c)
	}
}

func TestNameWithShellCharactersReachesCommandIntact(t *testing.T) {
	dir := t.TempDir()
	logf := filepath.Join(dir, "argv")
	script := filepath.Join(dir, "copy.sh")
	os.WriteFile(script, []byte("#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\" >> "+logf+"; done\nmkdir -p \"$(dirname \"$2\")\"; cp \"$1\" \"$2\"\n"), 0o755)
	v := newEnv(t, func(c *config.Config) {
		c.MSS.Backend = "command"
		c.MSS.CopyIn = []string{script, "$SRC", "$DST", "$LFN"}
		c.MSS.CopyOut = []string{script, "$SRC", "$DST", "$LFN"}
	})
	lfn := "/store/a b;rm -rf x'$(id)\".fits"
	pfn, err := v.s.Place(v.ctx, lfn, "", strings.NewReader("x"), 1)
	if err != nil {
		t.Fatal(err)
	}
	_ = pfn
	if out := v.e.Run(v.ctx, Job{Kind: Put, LFN: lfn}); !out.OK() {
		t.Fatalf("put: %+v", out)
	}
	b, _ := os.ReadFile(logf)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 3 || lines[2] != lfn {
		t.Fatalf("argv seen by the copy command: %q", lines)
	}
}

// TestStageReplacesDanglingLink: a namespace link whose data file is gone
// is what a stage restores; the link is replaced by the staged file
// (before, the final no-replace rename failed with "appeared during the
// stage" and the file got a .fail mark).
func TestStageReplacesDanglingLink(t *testing.T) {
	v := newEnv(t, nil)
	lfn := "/store/hmi/lost.fits"
	v.putMSS(t, lfn, "back from tape\n")
	pfn := v.s.PFN(lfn)
	if err := os.MkdirAll(filepath.Dir(pfn), 0o755); err != nil {
		t.Fatal(err)
	}
	gone := filepath.Join(v.l.Dir, "spaces", "gone%")
	if err := os.Symlink(gone, pfn); err != nil {
		t.Fatal(err)
	}
	out := v.e.Run(v.ctx, Job{Kind: Stage, LFN: lfn, RID: "r1"})
	if !out.OK() || out.Tries != 1 {
		t.Fatalf("stage over a dangling link: %+v", out)
	}
	target, err := os.Readlink(pfn)
	if err != nil || target == gone || !strings.HasSuffix(target, "%") {
		t.Fatalf("link %q %v", target, err)
	}
	if b, _ := os.ReadFile(pfn); string(b) != "back from tape\n" {
		t.Errorf("content %q", b)
	}
	if _, err := os.Lstat(v.s.FailPath(pfn)); err == nil {
		t.Error("marked failed")
	}
}
