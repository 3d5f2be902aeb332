package purge

import (
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"frm/core/config"
	"frm/core/meta"
	"frm/core/usage"
)

func TestBoundedHeap(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	for round := 0; round < 200; round++ {
		n := 1 + rng.Intn(300)
		need := int64(rng.Intn(20000))
		var all []Candidate
		h := &boundedHeap{need: need}
		dropped := 0
		for i := 0; i < n; i++ {
			c := Candidate{PFN: fmt.Sprintf("/f%04d", i), Atime: int64(rng.Intn(50)), Size: int64(rng.Intn(200))}
			all = append(all, c)
			h.add(c, func(Candidate) { dropped++ })
			// Bounded: without its last file, the heap is short of need.
			if len(h.items) > 1 && h.bytes-h.items[0].Size >= need {
				t.Fatalf("round %d: heap holds %d bytes beyond its last file, need %d", round, h.bytes-h.items[0].Size, need)
			}
		}
		got := h.sorted()
		sort.Slice(all, func(i, j int) bool { return purgeBefore(&all[i], &all[j]) })
		// want: the shortest prefix of the full order reaching need.
		var want []Candidate
		var sum int64
		for _, c := range all {
			if need <= 0 || sum >= need {
				break
			}
			want = append(want, c)
			sum += c.Size
		}
		if len(got) != len(want) {
			t.Fatalf("round %d: %d kept, want %d (need %d)", round, len(got), len(want), need)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("round %d: item %d is %v, want %v", round, i, got[i], want[i])
			}
		}
		if dropped+len(got) != n {
			t.Fatalf("round %d: %d dropped + %d kept != %d", round, dropped, len(got), n)
		}
	}
}

func (f *fixture) exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func TestExecuteRemovesAndStopsAtMax(t *testing.T) {
	f := newFixture(t)
	var data []string
	for i := 0; i < 5; i++ {
		pfn := f.file(fmt.Sprintf("/store/e/f%d", i), "data", 100, time.Duration(10-i)*day, 20*day)
		target, _ := os.Readlink(pfn)
		data = append(data, target)
	}
	// Usage log with 500 bytes used in data.
	if err := usage.SetAdjust(f.s.UsagePath(), "data", 500); err != nil {
		t.Fatal(err)
	}
	// Need 250 bytes: f0, f1, f2 are planned (300 >= 250), the purge stops
	// once 250 are freed, i.e. after f2.
	p := f.build(Options{Spaces: []string{"data"}, SpaceUsage: fakeDisk(10_000, 750), Override: &Watermark{Bytes: 1000}})
	sp, _ := p.Space("data")
	if len(sp.Candidates) != 3 {
		t.Fatalf("%d candidates", len(sp.Candidates))
	}
	// The plan's figures are used (no Refresh): 750 + 3×100 reaches 1000
	// with the third file.
	var purged []string
	res, err := Execute(f.ctx, f.s, p, ExecOptions{Now: func() time.Time { return now }, NoDirs: true,
		OnPurged: func(c Candidate) { purged = append(purged, filepath.Base(c.LFN)) }})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(purged, ",") != "f0,f1,f2" || res.Files != 3 || res.Bytes != 300 {
		t.Errorf("purged %v (%d files, %d bytes)", purged, res.Files, res.Bytes)
	}
	for i := 0; i < 5; i++ {
		gone := i < 3
		if f.exists(f.s.PFN(fmt.Sprintf("/store/e/f%d", i))) == gone || f.exists(data[i]) == gone {
			t.Errorf("f%d: link or data file state wrong (want gone=%v)", i, gone)
		}
	}
	if len(res.Spaces) != 1 || !res.Spaces[0].Met() || res.Spaces[0].Free != 1050 {
		t.Errorf("space result %+v", res.Spaces)
	}
	es, _ := usage.Read(f.s.UsagePath())
	for _, e := range es {
		if e.Name == "data" && (e.Purged != 300 || e.Effective() != 200) {
			t.Errorf("usage log: purged %d effective %d", e.Purged, e.Effective())
		}
	}

	// Stopping at max: with the plan saying 950 free, one 100-byte file
	// reaches 1000.
	p = f.build(Options{Spaces: []string{"data"}, SpaceUsage: fakeDisk(10_000, 850), Override: &Watermark{Bytes: 1000}})
	sp, _ = p.Space("data")
	sp.Free = 950
	res, err = Execute(f.ctx, f.s, p, ExecOptions{Now: func() time.Time { return now }, NoDirs: true})
	if err != nil || res.Files != 1 {
		t.Errorf("stop at max: %d files, %v", res.Files, err)
	}
}

func TestExecuteRecheck(t *testing.T) {
	f := newFixture(t)
	f.file("/store/c/accessed", "data", 100, 10*day, 20*day)
	f.file("/store/c/pinned", "data", 100, 9*day, 20*day)
	f.file("/store/c/locked", "data", 100, 8*day, 20*day)
	f.file("/store/c/vanished", "data", 100, 7*day, 20*day)
	f.file("/store/c/ok", "data", 100, 6*day, 20*day)
	w := Watermark{Percent: 100, IsPercent: true}
	p := f.build(Options{Spaces: []string{"data"}, Override: &w})
	if sp, _ := p.Space("data"); len(sp.Candidates) != 5 {
		t.Fatalf("%d candidates", len(sp.Candidates))
	}
	f.setAtime("/store/c/accessed", now.Add(-2*day))
	f.pin("/store/c/pinned", metaForever())
	os.Remove(f.s.PFN("/store/c/vanished"))
	fd, err := unix.Open(f.s.PFN("/store/c/locked"), unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Flock(fd, unix.LOCK_SH); err != nil {
		t.Fatal(err)
	}
	kept := map[string]Reason{}
	res, err := Execute(f.ctx, f.s, p, ExecOptions{Now: func() time.Time { return now }, NoDirs: true,
		OnKept: func(k Kept) { kept[filepath.Base(k.LFN)] = k.Reason }})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Reason{"accessed": Changed, "pinned": PinnedForever, "locked": InUse, "vanished": Gone}
	for n, r := range want {
		if kept[n] != r {
			t.Errorf("%s kept for %v, want %v", n, kept[n], r)
		}
	}
	if res.Files != 1 || res.Kept != 4 || f.exists(f.s.PFN("/store/c/ok")) || !f.exists(f.s.PFN("/store/c/locked")) {
		t.Errorf("result %+v", res)
	}
	if res.Spaces[0].Stopped != "candidates exhausted" {
		t.Errorf("stopped %q", res.Spaces[0].Stopped)
	}
}

func TestExecuteLockedByRecordLock(t *testing.T) {
	f := newFixture(t)
	f.file("/store/l/f", "data", 100, 10*day, 20*day)
	w := Watermark{Percent: 100, IsPercent: true}
	p := f.build(Options{Override: &w})
	// An open file description lock stands for an xrootd server's shared
	// fcntl lock (another process's POSIX lock conflicts the same way).
	fd, err := unix.Open(f.s.PFN("/store/l/f"), unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	lk := unix.Flock_t{Type: unix.F_RDLCK}
	if err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &lk); err != nil {
		t.Skipf("no OFD locks: %v", err)
	}
	var kept []Reason
	res, err := Execute(f.ctx, f.s, p, ExecOptions{Now: func() time.Time { return now }, NoDirs: true,
		OnKept: func(k Kept) { kept = append(kept, k.Reason) }})
	if err != nil || res.Files != 0 || len(kept) != 1 || kept[0] != InUse {
		t.Errorf("files %d kept %v err %v", res.Files, kept, err)
	}
}

func TestStopPurge(t *testing.T) {
	f := newFixture(t)
	f.file("/store/s/f", "data", 100, 10*day, 20*day)
	w := Watermark{Percent: 100, IsPercent: true}
	p := f.build(Options{Override: &w})
	stop := StopFile(f.s)
	if err := os.MkdirAll(filepath.Dir(stop), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(stop, nil, 0o644)
	res, err := Execute(f.ctx, f.s, p, ExecOptions{Now: func() time.Time { return now }})
	var se *StoppedError
	if !errors.Is(err, ErrStopped) || !errors.As(err, &se) || se.Path != stop || res.Files != 0 {
		t.Fatalf("with STOPPURGE: %v, %d files", err, res.Files)
	}
	if !strings.Contains(err.Error(), "STOPPURGE") || !f.exists(f.s.PFN("/store/s/f")) {
		t.Errorf("message %q", err)
	}
	os.Remove(stop)
	if res, err := Execute(f.ctx, f.s, p, ExecOptions{Now: func() time.Time { return now }}); err != nil || res.Files != 1 {
		t.Errorf("without STOPPURGE: %v, %d files", err, res.Files)
	}
}

func TestPolicyProgram(t *testing.T) {
	f := newFixture(t)
	for i, n := range []string{"yes1", "no", "yes2", "stop", "never"} {
		f.file("/store/p/"+n, "data", 100, time.Duration(10-i)*day, 20*day)
	}
	log := filepath.Join(f.l.Dir, "polprog.log")
	script := filepath.Join(f.l.Dir, "pol.sh")
	// Answers by file name; logs every request line.
	os.WriteFile(script, []byte(`#!/bin/sh
while read sname pfn size atime mtime; do
  echo "$sname $pfn $size $atime $mtime" >> "$1"
  case "$pfn" in
    */no) echo n ;;
    */stop) echo stop ;;
    *) echo y ;;
  esac
done
`), 0o755)
	f.s.Config().Purge.PolProg = []string{script, log}
	f.s.Config().Purge.Policies = append(f.s.Config().Purge.Policies, config.Policy{Space: "data", Min: "5%", Max: "10%", Hold: config.Duration(time.Hour), UsePolProg: true})
	w := Watermark{Percent: 100, IsPercent: true}
	p := f.build(Options{Spaces: []string{"data"}, Override: &w})
	var purged []string
	var kept []string
	res, err := Execute(f.ctx, f.s, p, ExecOptions{Now: func() time.Time { return now }, NoDirs: true,
		OnPurged: func(c Candidate) { purged = append(purged, filepath.Base(c.LFN)) },
		OnKept:   func(k Kept) { kept = append(kept, filepath.Base(k.LFN)+":"+k.Reason.String()) }})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(purged, ",") != "yes1,yes2" || strings.Join(kept, ",") != "no:policy_refused" {
		t.Errorf("purged %v kept %v", purged, kept)
	}
	if !strings.HasPrefix(res.Spaces[0].Stopped, "policy program: answered") || !f.exists(f.s.PFN("/store/p/never")) {
		t.Errorf("stopped %q", res.Spaces[0].Stopped)
	}
	b, _ := os.ReadFile(log)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 4 {
		t.Fatalf("policy program saw %d lines: %q", len(lines), b)
	}
	want := fmt.Sprintf("data %s 100 %d %d", f.s.PFN("/store/p/yes1"), now.Add(-10*day).Unix(), now.Add(-20*day).Unix())
	if lines[0] != want {
		t.Errorf("request line %q, want %q", lines[0], want)
	}

	// Custom variables.
	if got := polLine([]string{"fname", "fsize", "fspace", "tspace", "usage", "ctime", "bogus"},
		polValues{pfn: "/a/b.dat", size: 5, fspace: 6, tspace: 7, usage: -1, ctime: 9}); got != "b.dat 5 6 7 -1 9" {
		t.Errorf("polLine %q", got)
	}

	// A program that dies stops the space (and is reported).
	f.file("/store/p/more", "data", 100, 30*day, 40*day)
	f.s.Config().Purge.PolProg = []string{"/bin/false"}
	p = f.build(Options{Spaces: []string{"data"}, Override: &w})
	res, err = Execute(f.ctx, f.s, p, ExecOptions{Now: func() time.Time { return now }, NoDirs: true})
	if err != nil || res.Files != 0 || res.ErrorCount != 1 || !strings.HasPrefix(res.Spaces[0].Stopped, "policy program:") {
		t.Errorf("dead program: %+v %v", res, err)
	}
}

func TestEmptyDirs(t *testing.T) {
	f := newFixture(t)
	root := f.s.PFN("/store")
	mk := func(lfn string, age time.Duration) string {
		p := f.s.PFN(lfn)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	age := func(p string, a time.Duration) {
		tm := now.Add(-a)
		os.Chtimes(p, tm, tm)
	}
	a := mk("/store/old/a/b", 0)
	f.file("/store/busy/file", "data", 10, day, day)
	newDir := mk("/store/old/new", 0)
	keepDir := mk("/store/keep/x", 0) // inside a non-purge export
	f.s.Config().Exports = append(f.s.Config().Exports, config.Export{Path: "/store/keep"})
	mk("/scratch", 0)
	for _, p := range []string{a, filepath.Dir(a), keepDir, f.s.PFN("/store/keep"), f.s.PFN("/store/busy")} {
		age(p, 3*day)
	}
	age(newDir, time.Hour)
	age(f.s.PFN("/store/old"), 3*day)
	age(root, 5*day)
	age(f.s.PFN("/scratch"), 5*day)
	var rootSt unix.Stat_t
	unix.Stat(root, &rootSt)
	cutoff := now.Add(-40 * time.Hour).Unix()
	roots := []string{"/scratch", "/store"}

	var seen []string
	n, err := EmptyDirs(f.ctx, f.s, roots, cutoff, false, func(d EmptyDir) { seen = append(seen, d.LFN) }, func(err error) { t.Error(err) })
	if err != nil || n != 2 || strings.Join(seen, ",") != "/store/old/a/b,/store/old/a" {
		t.Fatalf("dry: %d %v %v", n, seen, err)
	}
	if !f.exists(a) {
		t.Fatal("dry run removed a directory")
	}
	seen = nil
	n, err = EmptyDirs(f.ctx, f.s, roots, cutoff, true, func(d EmptyDir) { seen = append(seen, d.LFN) }, func(err error) { t.Error(err) })
	if err != nil || n != 2 || f.exists(filepath.Dir(a)) || !f.exists(newDir) || !f.exists(keepDir) || !f.exists(f.s.PFN("/scratch")) {
		t.Fatalf("remove: %d %v %v", n, seen, err)
	}
	var st unix.Stat_t
	unix.Stat(f.s.PFN("/store/old"), &st)
	if st.Mtim.Sec != now.Add(-3*day).Unix() {
		t.Errorf("parent mtime changed: %d", st.Mtim.Sec)
	}
	// The new dir ages; now /store/old/new then /store/old go, in one pass.
	age(newDir, 3*day)
	n, _ = EmptyDirs(f.ctx, f.s, roots, cutoff, true, nil, nil)
	if n != 2 || f.exists(f.s.PFN("/store/old")) || !f.exists(root) {
		t.Errorf("second pass removed %d", n)
	}

	// Execute runs the sweep with the configured dir hold.
	mk("/store/late/z", 0)
	age(f.s.PFN("/store/late/z"), 3*day)
	age(f.s.PFN("/store/late"), 3*day)
	p := f.build(Options{SpaceUsage: fakeDisk(10, 10)})
	res, err := Execute(f.ctx, f.s, p, ExecOptions{Now: func() time.Time { return now }})
	if err != nil || res.Dirs != 2 || f.exists(f.s.PFN("/store/late")) {
		t.Errorf("Execute dirs: %d %v", res.Dirs, err)
	}
}

func metaForever() meta.Pin { return meta.Pin{Flags: meta.PinForever} }

func TestPolicyProgramAnswersThenExits(t *testing.T) {
	f := newFixture(t)
	f.file("/store/q/a", "data", 100, 10*day, 20*day)
	f.file("/store/q/b", "data", 100, 9*day, 20*day)
	// Answers one request, then exits: the answer must not be lost, the
	// second request finds the program gone and stops the space.
	script := filepath.Join(f.l.Dir, "once.sh")
	os.WriteFile(script, []byte("#!/bin/sh\nread line\necho y\n"), 0o755)
	f.s.Config().Purge.PolProg = []string{script}
	f.s.Config().Purge.Policies = append(f.s.Config().Purge.Policies, config.Policy{Space: "data", Min: "5%", Max: "10%", Hold: config.Duration(time.Hour), UsePolProg: true})
	w := Watermark{Percent: 100, IsPercent: true}
	p := f.build(Options{Spaces: []string{"data"}, Override: &w})
	res, err := Execute(f.ctx, f.s, p, ExecOptions{Now: func() time.Time { return now }, NoDirs: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Files != 1 || f.exists(f.s.PFN("/store/q/a")) || !f.exists(f.s.PFN("/store/q/b")) {
		t.Errorf("%d files purged", res.Files)
	}
	if st := res.Spaces[0].Stopped; !strings.HasPrefix(st, "policy program: ") || strings.Contains(st, "answered") {
		t.Errorf("stopped %q", st)
	}
}

func TestConfirm(t *testing.T) {
	f := newFixture(t)
	f.file("/store/k/a", "data", 100, 10*day, 20*day)
	w := Watermark{Percent: 100, IsPercent: true}
	p := f.build(Options{Override: &w})
	var asked []string
	res, err := Execute(f.ctx, f.s, p, ExecOptions{Now: func() time.Time { return now }, NoDirs: true,
		Confirm: func(sp *SpacePlan) (bool, error) { asked = append(asked, sp.Space); return false, nil }})
	// Only spaces with candidates are asked about; declining keeps the file.
	if err != nil || strings.Join(asked, ",") != "data" || res.Files != 0 || !f.exists(f.s.PFN("/store/k/a")) {
		t.Errorf("asked %v, %d files, %v", asked, res.Files, err)
	}
	stop := errors.New("abort")
	res, err = Execute(f.ctx, f.s, p, ExecOptions{Now: func() time.Time { return now }, NoDirs: true,
		Confirm: func(*SpacePlan) (bool, error) { return false, stop }})
	if err != stop || res.Files != 0 {
		t.Errorf("abort: %v", err)
	}
	for _, sr := range res.Spaces {
		if sr.Space == "data" && sr.Stopped != "aborted" {
			t.Errorf("data stopped %q", sr.Stopped)
		}
	}
}
