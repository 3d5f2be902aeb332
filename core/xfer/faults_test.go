package xfer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"frm/core/config"
	"frm/core/mss"
	"frm/core/mss/msstest"
)

// countingCommand is a copy command (/bin/sh script) that counts its runs
// in dir/calls and fails with exit status status on runs listed in
// failOn ("1 2" = the first two), copying $SRC to $DST otherwise.
func countingCommand(t *testing.T, dir, failWith string, failOn ...int) []string {
	t.Helper()
	var cases []string
	for _, n := range failOn {
		cases = append(cases, strconv.Itoa(n))
	}
	script := `n=$(( $(cat "` + dir + `/calls" 2>/dev/null || echo 0) + 1 )); echo $n > "` + dir + `/calls"
case " ` + strings.Join(cases, " ") + ` " in *" $n "*) ` + failWith + ` ;; esac
mkdir -p "$(dirname "$2")" && cp "$1" "$2"`
	return []string{"/bin/sh", "-c", script, "copy", "$SRC", "$DST"}
}

func calls(t *testing.T, dir string) int {
	b, _ := os.ReadFile(filepath.Join(dir, "calls"))
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

func commandEnv(t *testing.T, argv []string, retries int, permanent ...int) *env {
	return newEnv(t, func(c *config.Config) {
		c.MSS.Backend = "command"
		c.MSS.CopyIn, c.MSS.CopyOut = argv, argv
		c.MSS.PermanentStatus = permanent
		c.Transfer.Retries = retries
	})
}

func putRemote(t *testing.T, v *env, lfn, content string) {
	t.Helper()
	rfn, _ := v.s.Names.RFN(lfn)
	os.MkdirAll(filepath.Dir(rfn), 0o755)
	if err := os.WriteFile(rfn, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestPassingFaultsAreRetried: a copy command that exits 1 (a tape front
// end failing briefly) is retried, and the file is staged whole, with no
// .fail file. Before, status 1 was permanent: a .fail refused the file
// for 3 hours.
func TestPassingFaultsAreRetried(t *testing.T) {
	dir := t.TempDir()
	v := commandEnv(t, countingCommand(t, dir, "exit 1", 1, 2), 3)
	lfn := "/store/flaky.fits"
	putRemote(t, v, lfn, "tape data\n")
	out := v.e.Run(v.ctx, Job{Kind: Stage, LFN: lfn})
	if !out.OK() || out.Tries != 3 {
		t.Fatalf("stage: %+v", out)
	}
	if b, _ := os.ReadFile(v.s.PFN(lfn)); string(b) != "tape data\n" {
		t.Errorf("staged %q", b)
	}
	if _, err := os.Stat(v.s.PFN(lfn) + ".fail"); err == nil {
		t.Error(".fail file after a passing fault")
	}
}

// TestRetriesDoNotStack: transfer.retries = 3 means 4 runs of a copy
// command that keeps failing (killed by a signal), not 4 × the backend's
// own retries; then the .fail file.
func TestRetriesDoNotStack(t *testing.T) {
	dir := t.TempDir()
	v := commandEnv(t, countingCommand(t, dir, "kill -9 $$", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13), 3)
	lfn := "/store/dying.fits"
	putRemote(t, v, lfn, "x")
	out := v.e.Run(v.ctx, Job{Kind: Stage, LFN: lfn})
	if out.OK() || out.Tries != 4 || calls(t, dir) != 4 {
		t.Fatalf("stage: tries %d, command ran %d times, want 4: %+v", out.Tries, calls(t, dir), out)
	}
	if _, err := os.Stat(v.s.PFN(lfn) + ".fail"); err != nil {
		t.Error("no .fail file once the retries are spent")
	}
}

// TestPermanentStatusIsNotRetried: a status listed in
// mss.permanent_status fails the file at once.
func TestPermanentStatusIsNotRetried(t *testing.T) {
	dir := t.TempDir()
	v := commandEnv(t, countingCommand(t, dir, "exit 14", 1, 2, 3), 3, 14)
	lfn := "/store/bad.fits"
	putRemote(t, v, lfn, "x")
	out := v.e.Run(v.ctx, Job{Kind: Stage, LFN: lfn})
	if out.OK() || out.Tries != 1 || calls(t, dir) != 1 || !mss.IsPermanent(out.Err) {
		t.Fatalf("stage: %+v (command ran %d times)", out, calls(t, dir))
	}
	if _, err := os.Stat(v.s.PFN(lfn) + ".fail"); err != nil {
		t.Error("no .fail file for a permanent failure")
	}
}

// TestOutageFailsNoFile: a copy command that is not there is an outage of
// the MSS: the job ends at once, marked Outage, and no file gets a .fail
// (stage or migration). Before, every request made a .fail file.
func TestOutageFailsNoFile(t *testing.T) {
	v := commandEnv(t, []string{"/nonexistent/mss-copy", "$SRC", "$DST"}, 3)
	lfn := "/store/waiting.fits"
	putRemote(t, v, lfn, "x")
	out := v.e.Run(v.ctx, Job{Kind: Stage, LFN: lfn})
	if out.OK() || !out.Outage || out.Tries != 1 {
		t.Fatalf("stage: %+v", out)
	}
	mig := "/store/tomigrate.fits"
	pfn, err := v.s.Place(v.ctx, mig, "data", strings.NewReader("d"), 1)
	if err != nil {
		t.Fatal(err)
	}
	out = v.e.Run(v.ctx, Job{Kind: Migrate, LFN: mig})
	if out.OK() || !out.Outage {
		t.Fatalf("migrate: %+v", out)
	}
	for _, p := range []string{v.s.PFN(lfn), pfn} {
		if _, err := os.Stat(p + ".fail"); err == nil {
			t.Errorf("%s.fail written for an outage", p)
		}
	}
}

// probingMem is the in-memory MSS with a probe that always succeeds: an
// "outage" error it returns is then the file's own.
type probingMem struct{ *msstest.Mem }

func (probingMem) Probe(context.Context) error { return nil }

// TestOutageProbedFine: an error classified as an outage (AccessDenied on
// one object) while the MSS probes fine is that file's failure.
func TestOutageProbedFine(t *testing.T) {
	v := newEnv(t, nil)
	m := msstest.NewMem()
	m.Fail = func(op, rfn string) error { return mss.Outage(errors.New("AccessDenied")) }
	v.e.MSS = probingMem{m}
	out := v.e.Run(v.ctx, Job{Kind: Stage, LFN: "/store/denied.fits"})
	if out.OK() || out.Outage || !mss.IsPermanent(out.Err) {
		t.Fatalf("stage: %+v", out)
	}
	if _, err := os.Stat(v.s.PFN("/store/denied.fits") + ".fail"); err != nil {
		t.Error("no .fail for the file's own failure")
	}
}

// TestSuccessClearsAnOldFail: a migration that succeeds removes the
// file's old .fail file (ls showed "migrated ... FAILED").
func TestSuccessClearsAnOldFail(t *testing.T) {
	v := newEnv(t, nil)
	lfn := "/store/recovered.fits"
	pfn, err := v.s.Place(v.ctx, lfn, "data", strings.NewReader("d"), 1)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-4 * time.Hour)
	os.WriteFile(pfn+".fail", nil, 0o644)
	os.Chtimes(pfn+".fail", old, old)
	if out := v.e.Run(v.ctx, Job{Kind: Migrate, LFN: lfn}); !out.OK() {
		t.Fatalf("migrate: %+v", out)
	}
	if _, err := os.Stat(pfn + ".fail"); err == nil {
		t.Error("the old .fail file survived a successful migration")
	}
}

// TestBadCGIFailsOnlyTheRequest: one requester's cgi naming a space that
// does not exist fails that request, with a message saying why, and
// writes no .fail: a valid request for the same file then stages it.
func TestBadCGIFailsOnlyTheRequest(t *testing.T) {
	v := newEnv(t, nil)
	lfn := "/store/shared.fits"
	v.putMSS(t, lfn, "data\n")
	out := v.e.Run(v.ctx, Job{Kind: Stage, LFN: lfn, CGI: "oss.cgroup=nosuchspace"})
	if out.OK() || !errors.Is(out.Err, ErrBadRequest) || !strings.Contains(out.Err.Error(), "nosuchspace") || out.Tries != 1 {
		t.Fatalf("bad cgi: %+v", out)
	}
	if _, err := os.Stat(v.s.PFN(lfn) + ".fail"); err == nil {
		t.Fatal(".fail written for one request's bad parameters")
	}
	if out := v.e.Run(v.ctx, Job{Kind: Stage, LFN: lfn}); !out.OK() {
		t.Fatalf("valid request after a bad one: %+v", out)
	}
}

// TestStageRacingRemovalIsNoFailure: the directory of a file being staged
// is removed (rm -r) while the data comes in: the stage ends without a
// .fail file, without recreating the directory, and without leaving its
// data file behind.
func TestStageRacingRemovalIsNoFailure(t *testing.T) {
	v := newEnv(t, nil)
	lfn := "/store/gone/soon.fits"
	v.putMSS(t, lfn, "data\n")
	dir := filepath.Dir(v.s.PFN(lfn))
	var data string
	out := v.e.Run(v.ctx, Job{Kind: Stage, LFN: lfn, OnCopy: func(local string, _ int64) {
		data = local
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
	}})
	if out.OK() || !errors.Is(out.Err, ErrRemoved) || out.Tries != 1 {
		t.Fatalf("stage: %+v", out)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Error("the removed directory was recreated")
	}
	if _, err := os.Stat(data); err == nil {
		t.Errorf("data file %s left behind", data)
	}
}

// TestRestartedStageRemovesTheOldDataFile: a stage that died left its
// placeholder pointing at a half-filled data file. The stage run again
// removes both before it allocates a new data file. Before, only the
// placeholder went, and the data file stayed, referred to by nothing.
func TestRestartedStageRemovesTheOldDataFile(t *testing.T) {
	v := newEnv(t, nil)
	lfn := "/store/again.fits"
	v.putMSS(t, lfn, "data\n")
	pfn := v.s.PFN(lfn)
	sp, _ := v.s.Spaces.Get("public")
	old := filepath.Join(sp.Partitions[0].DataDir(), "00", "half-filled%")
	os.MkdirAll(filepath.Dir(old), 0o755)
	os.WriteFile(old, []byte("da"), 0o644)
	os.MkdirAll(filepath.Dir(pfn), 0o755)
	if err := os.Symlink(old, pfn+".anew"); err != nil {
		t.Fatal(err)
	}
	if out := v.e.Run(v.ctx, Job{Kind: Stage, LFN: lfn}); !out.OK() {
		t.Fatalf("stage: %+v", out)
	}
	if _, err := os.Stat(old); err == nil {
		t.Error("the dead stage's data file is still there")
	}
}

// TestInflightRecover: the stages a killed process was running are
// cleaned up at the next start from their records: placeholder and data
// file go; a stage that finished, and data another name refers to, stay.
func TestInflightRecover(t *testing.T) {
	v := newEnv(t, nil)
	in := OpenInflight(filepath.Join(t.TempDir(), "inflight"))
	sp, _ := v.s.Spaces.Get("public")
	dataDir := filepath.Join(sp.Partitions[0].DataDir(), "01")
	os.MkdirAll(dataDir, 0o755)
	mk := func(name string) (pfn, anew, data string) {
		pfn = v.s.PFN("/store/in/" + name)
		anew, data = pfn+".anew", filepath.Join(dataDir, name+"%")
		os.MkdirAll(filepath.Dir(pfn), 0o755)
		os.WriteFile(data, []byte("partial"), 0o644)
		if err := os.Symlink(data, anew); err != nil {
			t.Fatal(err)
		}
		if _, err := in.add(pfn, anew, data); err != nil {
			t.Fatal(err)
		}
		return
	}
	_, anew1, data1 := mk("dead")
	pfn2, anew2, data2 := mk("finished")
	os.Rename(anew2, pfn2) // it finished; only the record was left
	if n := in.Recover(v.s, func(err error) { t.Error(err) }); n != 2 {
		t.Errorf("Recover cleaned %d stages, want 2", n)
	}
	for _, p := range []string{anew1, data1} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s left behind", p)
		}
	}
	if _, err := os.Stat(data2); err != nil {
		t.Errorf("a finished stage's data file was removed: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(in.dir, "*")); len(left) != 0 {
		t.Errorf("records left: %v", left)
	}
}

// TestNoRoomIsNoFailure: a stage that finds no partition with room ends
// at once (no retries holding a slot), marked NoRoom, with no .fail.
func TestNoRoomIsNoFailure(t *testing.T) {
	v := newEnv(t, func(c *config.Config) {
		for i := range c.Spaces {
			for j := range c.Spaces[i].Partitions {
				c.Spaces[i].Partitions[j].Cap = 1 // one byte
			}
		}
	})
	lfn := "/store/big.fits"
	v.putMSS(t, lfn, "more than one byte\n")
	out := v.e.Run(v.ctx, Job{Kind: Stage, LFN: lfn})
	if out.OK() || !out.NoRoom || out.Tries != 1 || !errors.Is(out.Err, ErrNoRoom) {
		t.Fatalf("stage: %+v", out)
	}
	if _, err := os.Stat(v.s.PFN(lfn) + ".fail"); err == nil {
		t.Error(".fail written for lack of room")
	}
}
