package purge

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"frm/core/config"
	"frm/core/site"
	"frm/core/wire"
)

// The tests here race what an operator, a writer and an xrootd server do
// against purges, from another process, as they happen on a real site:
//
//   - pin -k forever through frm's own code (site.Pin): a pin that
//     returned success must never be followed by the removal of the file;
//   - an append (open O_WRONLY|O_APPEND, write, close; never O_CREAT): a
//     write that returned success must never be lost, i.e. the file must
//     still be there with its new data;
//   - a shared fcntl lock held for a while, as xrootd's server holds one
//     on every file it has open: the file must not lose its name while
//     the lock is held.
//
// The racer is this test binary started again with FRM_PURGE_RACER set
// (see TestMain); it takes commands on its standard input and answers
// each on its standard output.

func TestMain(m *testing.M) {
	if cfg := os.Getenv("FRM_PURGE_RACER"); cfg != "" {
		os.Exit(racerMain(cfg, os.Stdin, os.Stdout))
	}
	if cfg := os.Getenv("FRM_PURGE_EXEC"); cfg != "" {
		os.Exit(execMain(cfg))
	}
	if os.Getenv("FRM_PURGE_POLPROG") != "" {
		os.Exit(polprogMain(os.Args[len(os.Args)-1]))
	}
	os.Exit(m.Run())
}

// racerMain serves "ID pin LFN", "ID append LFN" and "ID lock LFN MS"
// concurrently, answering "ID ok", "ID failed ERR" (the action did not
// happen: the file was already gone, which is fine) or "ID wrong DETAIL".
func racerMain(cfgPath string, in io.Reader, out io.Writer) int {
	cfg, err := config.Load(cfgPath, "")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	s, err := wire.Open(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var mu sync.Mutex
	reply := func(id, msg string) {
		mu.Lock()
		fmt.Fprintf(out, "%s %s\n", id, msg)
		mu.Unlock()
	}
	var wg sync.WaitGroup
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			reply(f[0], race(s, f[1], f[2], f[3:]))
		}()
	}
	wg.Wait()
	return 0
}

func race(s *site.Site, action, lfn string, args []string) string {
	ctx := context.Background()
	pfn := s.PFN(lfn)
	switch action {
	case "pin":
		var errs []string
		r, err := s.Pin(ctx, []string{lfn}, "forever", site.ApplyOptions{Force: true, OnError: func(err error) { errs = append(errs, err.Error()) }})
		if err != nil || r.Err != nil || r.Errors > 0 || r.Count != 1 {
			return fmt.Sprintf("failed %v %v %v", err, r.Err, errs)
		}
		return "ok"
	case "append":
		f, err := os.OpenFile(pfn, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return "failed " + err.Error()
		}
		_, err = f.WriteString("APPENDED\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "failed " + err.Error()
		}
		return "ok"
	case "lock":
		ms, _ := strconv.Atoi(args[0])
		f, err := os.Open(pfn)
		if err != nil {
			return "failed " + err.Error()
		}
		defer f.Close()
		// An open file description lock: this racer runs many actions
		// at once in one process, and a classic POSIX lock would be
		// released by the close of any other descriptor of the file here
		// (an append, a pin). The purge sees both kinds alike
		// (TestPolicyProgramCannotOutwaitChanges holds classic ones).
		lk := unix.Flock_t{Type: unix.F_RDLCK}
		if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLKW, &lk); err != nil {
			return "failed lock: " + err.Error()
		}
		if !stillNamed(f, pfn) {
			return "failed: removed before the lock was taken"
		}
		time.Sleep(time.Duration(ms) * time.Millisecond)
		if !stillNamed(f, pfn) {
			return "wrong: removed while a shared fcntl lock was held"
		}
		return "ok"
	}
	return "wrong: unknown action " + action
}

// stillNamed: f has links and pfn leads to it. A file a purge has hidden
// for the grace period counts as named once it is back under its name,
// and as removed once it has no links: it is waited for (a loaded machine
// may take its time between the two; 30 s decide for sure).
func stillNamed(f *os.File, pfn string) bool {
	deadline := time.Now().Add(30 * time.Second)
	for {
		var st, ns unix.Stat_t
		if unix.Fstat(int(f.Fd()), &st) != nil || st.Nlink == 0 {
			return false
		}
		if unix.Stat(pfn, &ns) == nil && ns.Ino == st.Ino {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// liveFile creates a migrated file whose times are relative to the real
// clock (the racer's appends and pins happen now, not at the fixture's
// made-up time).
func (f *fixture) liveFile(lfn string, size int, aAge, mAge time.Duration) {
	f.t.Helper()
	pfn, err := f.s.Place(f.ctx, lfn, "data", strings.NewReader(strings.Repeat("x", size)), int64(size))
	if err != nil {
		f.t.Fatal(err)
	}
	wall := time.Now()
	mt := wall.Add(-mAge)
	if err := os.Chtimes(pfn, wall.Add(-aAge), mt); err != nil {
		f.t.Fatal(err)
	}
	f.setCpy(lfn, mt.Unix())
}

// racer is the test side of the racer process.
type racer struct {
	t   *testing.T
	cmd *exec.Cmd
	in  io.WriteCloser

	mu      sync.Mutex
	next    int
	waiting map[string]chan string
}

func startRacer(t *testing.T, cfgPath string) *racer {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "FRM_PURGE_RACER="+cfgPath)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &racer{t: t, cmd: cmd, in: in, waiting: map[string]chan string{}}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			id, msg, _ := strings.Cut(sc.Text(), " ")
			r.mu.Lock()
			ch := r.waiting[id]
			delete(r.waiting, id)
			r.mu.Unlock()
			if ch != nil {
				ch <- msg
			}
		}
	}()
	t.Cleanup(func() { in.Close(); cmd.Wait() })
	return r
}

// do sends one action and returns where its answer will arrive.
func (r *racer) do(action, lfn string, args ...string) <-chan string {
	ch := make(chan string, 1)
	r.mu.Lock()
	r.next++
	id := strconv.Itoa(r.next)
	r.waiting[id] = ch
	r.mu.Unlock()
	line := strings.Join(append([]string{id, action, lfn}, args...), " ") + "\n"
	if _, err := io.WriteString(r.in, line); err != nil {
		r.t.Fatal(err)
	}
	return ch
}

// verdict checks the outcome of one racer action against the files: 1
// when a file was wrongly purged.
func verdict(t *testing.T, s *site.Site, action, lfn, answer string) int {
	t.Helper()
	if strings.HasPrefix(answer, "wrong") {
		t.Errorf("%s %s: %s", action, lfn, answer)
		return 1
	}
	if answer != "ok" || action == "lock" {
		return 0
	}
	b, err := os.ReadFile(s.PFN(lfn))
	switch {
	case err != nil:
		t.Errorf("%s %s returned success, then the file was purged: %v", action, lfn, err)
		return 1
	case action == "append" && !strings.Contains(string(b), "APPENDED"):
		t.Errorf("append to %s returned success, and the data is not in the file", lfn)
		return 1
	}
	return 0
}

// polprogMain is a policy program that, before it answers "y" for a
// file, has the racer act on it (pin, append or lock by the file's
// name) and waits for that to finish: everything the purge checked
// before asking is then stale.
func polprogMain(cfgPath string) int {
	cfg, err := config.Load(cfgPath, "")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	s, err := wire.Open(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	sc := bufio.NewScanner(os.Stdin)
	var held []*os.File
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			fmt.Println("n")
			continue
		}
		pfn := f[1]
		lfn, _ := s.Names.LFN(pfn)
		switch base := filepath.Base(pfn); {
		case strings.HasPrefix(base, "pin"):
			race(s, "pin", lfn, nil)
		case strings.HasPrefix(base, "append"):
			race(s, "append", lfn, nil)
		case strings.HasPrefix(base, "lock"):
			// Keep the lock while the purge goes on: this process is the
			// xrootd server reading the file.
			if fh, err := os.Open(pfn); err == nil {
				lk := unix.Flock_t{Type: unix.F_RDLCK}
				unix.FcntlFlock(fh.Fd(), unix.F_SETLKW, &lk)
				held = append(held, fh)
			}
		}
		fmt.Println("y")
	}
	return 0
}

// TestPolicyProgramCannotOutwaitChanges: while the policy program
// considers a file, it is pinned, appended to, or locked by a reader
// (xrootd's server). The purge must see each change after the program's
// answer: 0 of 75 purged. Before the fix all 75 were.
func TestPolicyProgramCannotOutwaitChanges(t *testing.T) {
	f := newFixture(t)
	const n = 25
	var lfns []string
	for _, kind := range []string{"pin", "append", "lock"} {
		for i := 0; i < n; i++ {
			lfn := fmt.Sprintf("/store/pol/%s%02d", kind, i)
			f.liveFile(lfn, 100, 10*day, 20*day)
			lfns = append(lfns, lfn)
		}
	}
	f.s.Config().Purge.PolProg = []string{os.Args[0], "-test.run=^$", f.l.Config}
	t.Setenv("FRM_PURGE_POLPROG", "1")
	f.s.Config().Purge.Policies = append(f.s.Config().Purge.Policies, config.Policy{Space: "data", Min: "5%", Max: "10%", Hold: config.Duration(time.Hour), UsePolProg: true})
	w := Watermark{Percent: 100, IsPercent: true}
	p := f.build(Options{Spaces: []string{"data"}, Override: &w, Now: time.Now()})
	if sp, _ := p.Space("data"); len(sp.Candidates) != 3*n {
		t.Fatalf("%d candidates, want %d", len(sp.Candidates), 3*n)
	}
	kept := map[Reason]int{}
	res, err := Execute(f.ctx, f.s, p, ExecOptions{Now: time.Now, NoDirs: true, PolicyStderr: os.Stderr,
		OnKept: func(k Kept) { kept[k.Reason]++ }})
	if err != nil {
		t.Fatal(err)
	}
	wrong := 0
	for _, lfn := range lfns {
		if !f.exists(f.s.PFN(lfn)) {
			wrong++
			t.Errorf("%s purged", lfn)
		}
	}
	t.Logf("purged %d of %d (wrongly: %d); kept %v", res.Files, len(lfns), wrong, kept)
	if kept[PinnedForever] != n || kept[InUse] != n || kept[NotMigrated]+kept[Changed] != n {
		t.Errorf("kept %v: want %d pinned_forever, %d in_use, %d not_migrated or changed", kept, n, n, n)
	}
}

// TestActionsWhileThePurgeHoldsTheFile: a pin, an append and a reader's
// lock arrive at the worst moment, after the file passed its last check
// and while the purge holds it. The pin waits and then fails (the file is
// gone) or the file stays; the append's open waits on the lease, which the
// purge sees, so the file is put back and the data lands in it; the lock
// is seen after the grace and the file is put back.
func TestActionsWhileThePurgeHoldsTheFile(t *testing.T) {
	f := newFixture(t)
	r := startRacer(t, f.l.Config)
	for _, action := range []string{"pin", "append", "lock"} {
		t.Run(action, func(t *testing.T) {
			lfn := "/store/held/" + action
			f.liveFile(lfn, 100, 10*day, 20*day)
			var answer <-chan string
			testHookChecked = func(c Candidate) {
				var args []string
				if action == "lock" {
					args = []string{"300"}
				}
				answer = r.do(action, lfn, args...)
				time.Sleep(50 * time.Millisecond) // the action reaches the file
			}
			defer func() { testHookChecked = nil }()
			w := Watermark{Percent: 100, IsPercent: true}
			p := f.build(Options{Spaces: []string{"data"}, Override: &w, Now: time.Now(), Paths: []string{"/store/held"}})
			var kept []string
			res, err := Execute(f.ctx, f.s, p, ExecOptions{Now: time.Now, NoDirs: true,
				OnKept: func(k Kept) { kept = append(kept, filepath.Base(k.LFN)+":"+k.Reason.String()) }})
			if err != nil {
				t.Fatal(err)
			}
			got := <-answer
			if verdict(t, f.s, action, lfn, got) != 0 {
				return
			}
			t.Logf("%s: answer %q, purged %d, kept %v", action, got, res.Files, kept)
			if action != "pin" && (res.Files != 0 || !f.exists(f.s.PFN(lfn))) {
				t.Errorf("%s during the hold: purged %d, kept %v", action, res.Files, kept)
			}
			if action == "pin" && got == "ok" == (res.Files == 1) {
				t.Errorf("pin answered %q and the purge removed %d files", got, res.Files)
			}
		})
	}
}

// TestPurgeRaceStress races pins, appends and readers' locks from another
// process against real purges, round after round, with and without a
// slow policy program. Every action that returned success must hold:
// 0 files wrongly purged. FRM_STRESS_ROUNDS sets the rounds per variant
// (default 60; 10 with -short).
func TestPurgeRaceStress(t *testing.T) {
	rounds := 60
	if testing.Short() {
		rounds = 10
	}
	if v, err := strconv.Atoi(os.Getenv("FRM_STRESS_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	for _, variant := range []struct {
		name   string
		polled bool
	}{{"no policy program", false}, {"slow policy program", true}} {
		t.Run(variant.name, func(t *testing.T) {
			f := newFixture(t)
			if variant.polled {
				script := filepath.Join(f.l.Dir, "slow.sh")
				os.WriteFile(script, []byte("#!/bin/sh\nwhile read l; do sleep 0.002; echo y; done\n"), 0o755)
				f.s.Config().Purge.PolProg = []string{script}
				f.s.Config().Purge.Policies = append(f.s.Config().Purge.Policies, config.Policy{Space: "data", Min: "5%", Max: "10%", Hold: config.Duration(time.Hour), UsePolProg: true})
			}
			r := startRacer(t, f.l.Config)
			rng := rand.New(rand.NewSource(int64(rounds) + 17))
			const files = 16
			var raced, purged, wrong int
			actions := map[string]int{}
			for round := 0; round < rounds; round++ {
				var lfns []string
				for i := 0; i < files; i++ {
					lfn := fmt.Sprintf("/store/r%03d/f%02d", round, i)
					f.liveFile(lfn, 100+i, time.Duration(30-i)*day, 40*day)
					lfns = append(lfns, lfn)
				}
				w := Watermark{Percent: 100, IsPercent: true}
				p := f.build(Options{Spaces: []string{"data"}, Override: &w, Now: time.Now(), Paths: []string{fmt.Sprintf("/store/r%03d", round)}})
				type pending struct {
					action, lfn string
					answer      <-chan string
				}
				var sent []pending
				done := make(chan Result, 1)
				go func() {
					res, err := Execute(f.ctx, f.s, p, ExecOptions{Now: time.Now, NoDirs: true})
					if err != nil {
						t.Error(err)
					}
					done <- res
				}()
				// Act on a few files at random moments of the purge: its
				// checks and removals take a few milliseconds (then the
				// grace), its policy program about 3 ms a file.
				window := 6 * time.Millisecond
				if variant.polled {
					window = 60 * time.Millisecond
				}
				start := time.Now()
				for k := 0; k < 6; k++ {
					at := time.Duration(rng.Int63n(int64(window)))
					time.Sleep(time.Until(start.Add(at)))
					action := []string{"pin", "append", "lock"}[rng.Intn(3)]
					lfn := lfns[rng.Intn(files)]
					var args []string
					if action == "lock" {
						args = []string{strconv.Itoa(20 + rng.Intn(100))}
					}
					sent = append(sent, pending{action, lfn, r.do(action, lfn, args...)})
				}
				res := <-done
				purged += res.Files
				for _, s := range sent {
					answer := <-s.answer
					if answer == "ok" {
						actions[s.action]++
					}
					raced++
					wrong += verdict(t, f.s, s.action, s.lfn, answer)
				}
				if t.Failed() {
					break
				}
			}
			t.Logf("%s: %d rounds, %d files, %d purged, %d actions raced (%v took effect), wrongly purged: %d",
				variant.name, rounds, rounds*files, purged, raced, actions, wrong)
		})
	}
}

// TestKilledDuringTheGraceIsRepaired: a purge killed (SIGKILL) while its
// files wait under their hidden names leaves them there; the next purge
// on the host puts them back under their names before it does anything
// else, from its journal.
func TestKilledDuringTheGraceIsRepaired(t *testing.T) {
	f := newFixture(t)
	var lfns []string
	for i := 0; i < 5; i++ {
		lfn := fmt.Sprintf("/store/k/f%d", i)
		f.liveFile(lfn, 100, 10*day, 20*day)
		lfns = append(lfns, lfn)
	}
	if err := os.MkdirAll(f.s.PFN("/store/none"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "FRM_PURGE_EXEC="+f.l.Config)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(f.s.PFN(lfns[0]))
	deadline := time.Now().Add(30 * time.Second)
	for {
		hidden, _ := filepath.Glob(filepath.Join(dir, ".*.frm-purging"))
		if len(hidden) == len(lfns) {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the purge never hid its files (%d hidden)", len(hidden))
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	for _, lfn := range lfns {
		if f.exists(f.s.PFN(lfn)) {
			t.Fatalf("%s visible after the kill; the test did not kill during the grace", lfn)
		}
	}
	// The next purge (of something else entirely) repairs first.
	w := Watermark{Percent: 100, IsPercent: true}
	p := f.build(Options{Spaces: []string{"data"}, Override: &w, Now: time.Now(), Paths: []string{"/store/none"}})
	if _, err := Execute(f.ctx, f.s, p, ExecOptions{Now: time.Now, NoDirs: true}); err != nil {
		t.Fatal(err)
	}
	for _, lfn := range lfns {
		if !f.exists(f.s.PFN(lfn)) {
			t.Errorf("%s not put back", lfn)
		}
		if e, err := f.s.Catalog.Lookup(f.ctx, lfn, 0xff); err != nil || e.Dangling {
			t.Errorf("%s after repair: %+v %v", lfn, e, err)
		}
	}
	if hidden, _ := filepath.Glob(filepath.Join(dir, ".*.frm-purging")); len(hidden) > 0 {
		t.Errorf("hidden names left: %v", hidden)
	}
	journals, _ := filepath.Glob(filepath.Join(f.s.Config().AdminDir(), journalDir, "journal.*"))
	if len(journals) != 0 {
		t.Errorf("journals left: %v", journals)
	}
}

// execMain purges /store/k with a grace of a minute (to be killed in it).
func execMain(cfgPath string) int {
	cfg, err := config.Load(cfgPath, "")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	s, err := wire.Open(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	w := Watermark{Percent: 100, IsPercent: true}
	p, err := Build(context.Background(), s, Options{Spaces: []string{"data"}, Override: &w, Now: time.Now(), Paths: []string{"/store/k"},
		SpaceUsage: fakeDisk(1_000_000, 10_000)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if _, err := Execute(context.Background(), s, p, ExecOptions{Now: time.Now, NoDirs: true, Grace: time.Minute}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func TestRecoverLine(t *testing.T) {
	f := newFixture(t)
	mk := func(lfn string) (ns, data string) {
		f.liveFile(lfn, 10, day, 2*day)
		ns = f.s.PFN(lfn)
		data, _ = os.Readlink(ns)
		return ns, data
	}
	line := func(ns, hidden, data string) string {
		return "hide " + strconv.Quote(ns) + " " + strconv.Quote(hidden) + " " + strconv.Quote(data)
	}
	// Hidden: back under its name.
	ns, data := mk("/store/j/a")
	hidden := hiddenName(ns, 1)
	os.Rename(ns, hidden)
	if _, err := recoverLine(line(ns, hidden, data)); err != nil || !f.exists(ns) || f.exists(hidden) {
		t.Errorf("hidden file: %v, ns %v hidden %v", err, f.exists(ns), f.exists(hidden))
	}
	// The hidden name went, the data file did not: the purge is finished.
	ns, data = mk("/store/j/b")
	os.Remove(ns)
	if _, err := recoverLine(line(ns, hiddenName(ns, 2), data)); err != nil || f.exists(data) {
		t.Errorf("half-removed file: %v, data left %v", err, f.exists(data))
	}
	// Never hidden (killed before the rename): nothing happens.
	ns, data = mk("/store/j/c")
	if _, err := recoverLine(line(ns, hiddenName(ns, 3), data)); err != nil || !f.exists(ns) || !f.exists(data) {
		t.Errorf("untouched file: %v", err)
	}
	// Hidden, and a new file took the name meanwhile: both stay, and the
	// problem is reported.
	ns, data = mk("/store/j/d")
	hidden = hiddenName(ns, 4)
	os.Rename(ns, hidden)
	os.WriteFile(ns, []byte("new"), 0o644)
	if _, err := recoverLine(line(ns, hidden, data)); err == nil || !f.exists(hidden) {
		t.Errorf("name taken: %v, hidden kept %v", err, f.exists(hidden))
	}
	if _, err := recoverLine("bogus"); err == nil {
		t.Error("a malformed line was accepted")
	}
}
