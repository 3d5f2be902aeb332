package xrdq

// Interoperability tests against xrootd 5.5.3's own tools. They skip (with
// the reason) when the binaries are not installed
// (apt-get install xrootd-server).

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	xfragentBin = "/usr/bin/frm_xfragent"
	adminBin    = "/usr/bin/frm_admin"
	xfrdBin     = "/usr/bin/frm_xfrd"
)

func needBin(t *testing.T, bins ...string) {
	t.Helper()
	for _, b := range bins {
		if _, err := os.Stat(b); err != nil {
			t.Skipf("skipping xrootd interop test: %s not installed (apt-get install xrootd-server)", b)
		}
	}
}

// xrdSite is a scratch xrootd configuration: all.adminpath <base>/admin,
// queues in <base>/admin/frm/Queues.
type xrdSite struct {
	base, cfg string
	dir       *Dir
}

func newSite(t *testing.T, extra ...string) *xrdSite {
	t.Helper()
	base := t.TempDir()
	lines := append([]string{"all.adminpath " + filepath.Join(base, "admin"), "all.pidpath " + base}, extra...)
	cfg := filepath.Join(base, "xrootd.cf")
	if err := os.WriteFile(cfg, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return &xrdSite{base: base, cfg: cfg, dir: Open(filepath.Join(base, "admin", "frm", "Queues"))}
}

func xrdEnv() []string {
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "XRDCONFIGFN=") && !strings.HasPrefix(e, "XRDNAME=") &&
			!strings.HasPrefix(e, "XRDCMSCLUSTERID=") && !strings.HasPrefix(e, "XRDADMINPATH=") {
			env = append(env, e)
		}
	}
	return env
}

// agent feeds lines to frm_xfragent and returns its stdout. It exits 8 at
// the end of its input ("lost request connection"); that is expected.
func (s *xrdSite) agent(t *testing.T, lines ...string) (stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(xfragentBin, "-c", s.cfg)
	cmd.Env = xrdEnv()
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 8 {
		t.Fatalf("frm_xfragent: %v (want exit 8)\n%s", err, errb.String())
	}
	return out.String(), errb.String()
}

func (s *xrdSite) admin(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(adminBin, append([]string{"-c", s.cfg}, args...)...)
	cmd.Env = xrdEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("frm_admin: %v", err)
		}
	}
	return out.String(), errb.String()
}

// render lists kinds (in the given order, repeats kept, as the agent does)
// with our reader and formats each request as xrootd would.
func render(t *testing.T, d *Dir, kinds []Kind, prty int, vars []string, now time.Time) string {
	t.Helper()
	var sb strings.Builder
	for _, k := range kinds {
		err := d.List([]Kind{k}, prty, func(r Request) error {
			line, err := FormatVars(r, vars, now)
			sb.WriteString(line + "\n")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return sb.String()
}

var agentLines = []string{
	"+ req1 - 0 r /stg/new1.dat",
	"<me@host r2 file:///x 1 wfn /g/a?x=1 root://h.ex//u/v?c=d bad",
	"= r3 - 7 w /p/b",
	"& r4 file:///n 0 q /m/c",
	"^ r5 udp://h:1/m 1 qs /m/d",
	"> r6 file:///n 128 r /p/e",
	"+ r7 - 0 r /stg/gone",
	"-r7",
	"+ r8 - 2 w /stg/second",
}

// TestInteropAgentWritesWeRead: frm_xfragent writes, we read.
func TestInteropAgentWritesWeRead(t *testing.T) {
	needBin(t, xfragentBin)
	s := newSite(t)
	start := time.Now().Unix()
	_, stderr := s.agent(t, agentLines...)
	end := time.Now().Unix()
	if !strings.Contains(stderr, "xfr_Agent_Add: Invalid url - bad") {
		t.Errorf("agent stderr lacks the invalid url message:\n%s", stderr)
	}
	if !s.dir.Exists() {
		t.Fatal("Exists() false after frm_xfragent")
	}
	// What we expect, built by our own parser and BuildRequest.
	var want []Request
	for _, line := range agentLines {
		cmd, err := ParseAgentLine(line)
		if err != nil {
			t.Fatal(err)
		}
		if cmd.Type != CmdAdd || cmd.ReqID == "r7" {
			continue
		}
		for _, p := range cmd.Paths {
			want = append(want, BuildRequest(cmd, p, "", time.Unix(start, 0)))
		}
	}
	var got []Request
	if err := s.dir.List(ListOrder, -1, func(r Request) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	key := func(r Request) string { return r.ID + " " + r.Path() }
	slices.SortFunc(want, func(a, b Request) int { return strings.Compare(key(a), key(b)) })
	slices.SortFunc(got, func(a, b Request) int { return strings.Compare(key(a), key(b)) })
	if len(got) != len(want) {
		t.Fatalf("read %d requests, want %d: %v", len(got), len(want), ids(got))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Added < start || g.Added > end {
			t.Errorf("%s: addTOD %d outside [%d,%d]", key(g), g.Added, start, end)
		}
		if g.Path() != w.Path() || g.CGI() != w.CGI() || g.Object() != w.Object() {
			t.Errorf("%s: path/cgi/object %q %q %q want %q %q %q", key(g), g.Path(), g.CGI(), g.Object(), w.Path(), w.CGI(), w.Object())
		}
		// frm_xfragent 5.5.3 keeps the ?cgi inside the LFN; frm does not.
		if w.Opaque != 0 && g.LFN != strings.Replace(w.LFN, "\x00", "?", 1) {
			t.Errorf("%s: LFN %q", key(g), g.LFN)
		}
		g.LFN, w.LFN, g.Added, w.Added, g.Offset = "", "", 0, 0, 0
		if g != w {
			t.Errorf("record differs from BuildRequest's:\n got %+v\nwant %+v", g, w)
		}
	}
	// The agent's untouched queue files are exactly what Init writes.
	for _, q := range []*Queue{s.dir.Queue(Stage, 1), s.dir.Queue(Put, 1), s.dir.Queue(Migrate, 2)} {
		b, err := os.ReadFile(q.Path())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, freshQueueFile()) {
			t.Errorf("%s: frm_xfragent's empty queue file differs from Init's", q.Path())
		}
	}
	// The files are structurally what we produce (chain, free list).
	chain := fileState(t, s.dir.Queue(Stage, 0))
	if len(chain) != 2 || !chain[1].Tombstone() || chain[1].ID != "r7" {
		t.Errorf("pstgQ.0 chain: %+v", ids(chain))
	}
	if got := ids(walkAll(t, s.dir.Queue(Get, 1))); !slices.Equal(got, []string{"r2:/g/a", "r2:/u/v"}) {
		t.Errorf("getfQ.1 chain %v", got)
	}
}

// TestInteropAgentListsLikeFormatVars: the agent's '?' output equals our
// List + FormatVars, for its own records and for records we add (free
// slot reuse, frm's cgi layout, URLs).
func TestInteropAgentListsLikeFormatVars(t *testing.T) {
	needBin(t, xfragentBin)
	s := newSite(t)
	s.agent(t, agentLines...)
	now := time.Now()
	for _, line := range []string{
		"+ f1 file:///n 0 wn /stg/frm?oss.cgroup=fast",
		"< f2 - 1 r root://srv.example:1094//g/url?a=1&b=2",
		"& f3 - 0 w /m/frm",
		"+ f4 - 0 r /stg/taken",
		"+ f5 - 0 r /stg/reuse",
	} {
		cmd, err := ParseAgentLine(line)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range cmd.Paths {
			if cmd.ReqID == "f5" { // take f4 first so f5 reuses its slot
				if _, ok, err := s.dir.Take(Stage, 0, func(r Request) bool { return r.ID == "f4" }); !ok || err != nil {
					t.Fatal("take f4", ok, err)
				}
			}
			if err := s.dir.Add(BuildRequest(cmd, p, "", now)); err != nil {
				t.Fatal(err)
			}
		}
	}
	vars := "lfn lfncgi obj objcgi mode note op prty rid tid tod"
	out, stderr := s.agent(t, "?+<>&^= "+vars+" nosuchvar", "?", "?x")
	var want strings.Builder
	want.WriteString(render(t, s.dir, []Kind{Stage, Get, Put, Migrate, Migrate, Put}, -1, strings.Fields(vars), now) + "\n")
	want.WriteString(render(t, s.dir, []Kind{Stage, Get}, -1, nil, now) + "\n")
	want.WriteString("\n")
	if out != want.String() {
		t.Errorf("frm_xfragent list differs\n--- xrootd\n%s--- ours\n%s--- stderr\n%s", out, want.String(), stderr)
	}
}

// TestInteropAdminReadsOurs: we write, frm_admin query xfrq reads.
func TestInteropAdminReadsOurs(t *testing.T) {
	needBin(t, adminBin)
	s := newSite(t)
	if err := s.dir.Init(); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	lines := []string{
		"+ s1 - 0 r /stg/a",
		"+ s2 file:///n 0 wfn /stg/b?x=1 /stg/c",
		"< g1 - 1 r root://host.example//x/y.dat?z=9",
		"> p1 file:///srv/frmsite-notify 2 rfn /mig/m_cpy_ok.dat",
		"= p2 - 2 w /mig/purge",
		"& m1 - 0 r /mig/m1",
		"^ m2 udp://h:9/x 1 q /mig/m2",
		"+ s3 - 0 r /stg/d",
	}
	for i, line := range lines {
		cmd, err := ParseAgentLine(line)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range cmd.Paths {
			if err := s.dir.Add(BuildRequest(cmd, p, "", now.Add(time.Duration(i)*time.Second))); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Reuse a slot and leave a tombstone, so slot and chain order differ.
	if _, ok, err := s.dir.Take(Stage, 0, func(r Request) bool { return r.ID == "s1" }); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if n, err := s.dir.Cancel([]Kind{Migrate, Put}, "m2"); n != 1 || err != nil {
		t.Fatal(n, err)
	}
	add := func(line string) {
		cmd, _ := ParseAgentLine(line)
		if err := s.dir.Add(BuildRequest(cmd, cmd.Paths[0], "", now)); err != nil {
			t.Fatal(err)
		}
	}
	add("+ s4 - 0 r /stg/e")

	for _, args := range []string{
		"all lfn rid prty op",
		"",
		"get migr put stage lfn lfncgi obj objcgi op mode note prty rid tid tod",
		"stage 0 rid lfn",
		"put 2",
		"migrate stage 1 mode note",
	} {
		kinds, prty, vars, err := ParseXfrqArgs(strings.Fields(args))
		if err != nil {
			t.Fatal(err)
		}
		want := render(t, s.dir, kinds, prty, vars, now)
		stdout, stderr := s.admin(t, append([]string{"query", "xfrq"}, strings.Fields(args)...)...)
		if stdout != want {
			t.Errorf("query xfrq %s\n--- frm_admin\n%s--- ours\n%s--- stderr\n%s", args, stdout, want, stderr)
		}
	}
	// Errors and the empty case.
	for _, args := range []string{"stage 3", "stage bad", "put 0"} {
		_, _, _, perr := ParseXfrqArgs(strings.Fields(args))
		_, stderr := s.admin(t, append([]string{"query", "xfrq"}, strings.Fields(args)...)...)
		want := "No entries found."
		if perr != nil {
			want = "frm_admin: " + perr.Error()
		}
		if strings.TrimSpace(stderr) != want {
			t.Errorf("query xfrq %s: frm_admin said %q, we say %q", args, stderr, want)
		}
	}
}

// TestInteropCancelBothWays: the agent cancels what we queued, we cancel
// what the agent queued; the agent's "- id" bug is visible.
func TestInteropCancelBothWays(t *testing.T) {
	needBin(t, xfragentBin)
	s := newSite(t)
	s.agent(t, "+ a1 - 0 r /a1", "< a1 - 1 r /a1g", "+ a2 - 0 r /a2", "< a3 - 0 r /a3g")
	now := time.Now()
	for _, line := range []string{"+ o1 - 0 r /o1", "< o1 - 2 r /o1g", "+ o2 - 0 r /o2", "< o3 - 0 r /o3g"} {
		cmd, _ := ParseAgentLine(line)
		if err := s.dir.Add(BuildRequest(cmd, cmd.Paths[0], "", now)); err != nil {
			t.Fatal(err)
		}
	}
	// We cancel the agent's a1 (both queues) and a3.
	if n, err := s.dir.Cancel([]Kind{Stage, Get}, "a1"); n != 2 || err != nil {
		t.Fatalf("cancel a1: %d %v", n, err)
	}
	cmd, err := ParseAgentLine("- a3") // our fix: both queues
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := s.dir.Cancel(cmd.Kinds, cmd.ReqID); n != 1 {
		t.Errorf("cancel '- a3' removed %d", n)
	}
	// The agent cancels ours: "-o1" (glued: both queues), "- o3" (5.5.3 bug:
	// the getf queue is not searched).
	_, stderr := s.agent(t, "-o1", "- o3")
	if !strings.Contains(stderr, "xfr_Can: o1 has 1 entries; 1 removed (0 failures).") ||
		!strings.Contains(stderr, "xfr_Del: request id missing in cancel request.") {
		t.Errorf("agent stderr:\n%s", stderr)
	}
	var got []string
	s.dir.List(ListOrder, -1, func(r Request) error { got = append(got, r.ID+":"+r.Path()); return nil })
	if want := []string{"o3:/o3g", "a2:/a2", "o2:/o2"}; !slices.Equal(got, want) {
		t.Errorf("after cancels: %v want %v", got, want)
	}
	out, _ := s.agent(t, "?+< rid lfn")
	if want := "a2 /a2 \no2 /o2 \no3 /o3g \n\n"; out != want {
		t.Errorf("agent list %q want %q", out, want)
	}
}

// TestInteropCompactMatchesXfrd: frm_xfrd's start-up compaction and ours
// produce the same files. frm_xfrd's queue threads start as its
// initialization ends and may take a request before the test kills it
// (seen under load: its outbound threads do not always wait for the stop
// files), which changes its file after the compaction; compaction is
// deterministic, so a run in which frm_xfrd took nothing decides: up to
// three are made.
func TestInteropCompactMatchesXfrd(t *testing.T) {
	needBin(t, xfrdBin)
	var diffs []string
	for attempt := 0; attempt < 3; attempt++ {
		if diffs = compactAgainstXfrd(t); len(diffs) == 0 {
			return
		}
		t.Logf("attempt %d: %v (frm_xfrd may have served a request meanwhile; trying again)", attempt+1, diffs)
	}
	t.Errorf("compacted files differ in every attempt: %v", diffs)
}

// compactAgainstXfrd runs frm_xfrd's start-up compaction and ours on the
// same queue files and returns the differences.
func compactAgainstXfrd(t *testing.T) []string {
	t.Helper()
	var diffs []string
	s := newSite(t,
		"frm.xfr.copycmd in /bin/false $SRC $DST",
		"frm.xfr.copycmd out /bin/false $SRC $DST",
		"frm.xfr.qcheck 3600")
	adminFrm := filepath.Join(s.base, "admin", "frm")
	if err := s.dir.Init(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"STOPSTAGE", "STOPMIGR", "STOPCOPYIN", "STOPCOPYOUT"} {
		os.WriteFile(filepath.Join(adminFrm, f), nil, 0o644)
	}
	// Records with equal and unordered addTODs, tombstones, free slots and
	// a registration record.
	tod := []int64{50, 10, 30, 10, 20, 10, 5, 40}
	for i, t0 := range tod {
		for _, op := range []byte{'+', '>', '&'} {
			r := Request{LFN: fmt.Sprintf("/q/%c%d", op, i), ID: fmt.Sprint("id", i), Notify: "-", User: "frm",
				Op: op, Added: t0, Priority: int8(i % 2)}
			if err := s.dir.Add(r); err != nil {
				t.Fatal(err)
			}
		}
	}
	s.dir.Queue(Put, 0).Add(Request{LFN: "cluster", ID: "1", Op: '@', Options: Register, Added: 99, Instance: "anon"})
	s.dir.Cancel([]Kind{Stage, Put, Migrate}, "id2")
	s.dir.Take(Migrate, 0, func(r Request) bool { return r.ID == "id4" })
	s.dir.Take(Stage, 1, func(r Request) bool { return r.ID == "id5" })

	ours := Open(filepath.Join(s.base, "ours"))
	if err := os.MkdirAll(ours.Path, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(s.dir.Path)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(s.dir.Path, e.Name()))
		os.WriteFile(filepath.Join(ours.Path, e.Name()), b, 0o644)
	}

	cmd := exec.Command(xfrdBin, "-c", s.cfg, "-d")
	cmd.Env = xrdEnv()
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	done := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		ok := false
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if strings.HasPrefix(sc.Text(), "------ frm_xfrd") && strings.Contains(sc.Text(), "initialization completed") {
				ok = true
				break
			}
			if strings.HasPrefix(sc.Text(), "------ frm_xfrd") && strings.Contains(sc.Text(), "initialization failed") {
				break
			}
		}
		done <- ok
	}()
	var ok bool
	select {
	case ok = <-done:
	case <-time.After(20 * time.Second):
	}
	cmd.Process.Kill()
	cmd.Wait()
	if !ok {
		t.Fatalf("frm_xfrd did not start:\n%s", log.String())
	}
	recovered := map[string]string{}
	for _, l := range strings.Split(log.String(), "\n") {
		if i := strings.Index(l, "Init "); i >= 0 && strings.Contains(l, "recovered from") {
			f := strings.Fields(l[i:])
			recovered[filepath.Base(f[len(f)-1])] = f[1]
		}
	}
	for _, k := range []Kind{Stage, Migrate, Get, Put} {
		for p := 0; p <= MaxPriority; p++ {
			q := ours.Queue(k, p)
			n, err := q.Compact()
			if err != nil {
				t.Fatal(err)
			}
			name := filepath.Base(q.Path())
			if recovered[name] != fmt.Sprint(n) {
				t.Errorf("%s: frm_xfrd recovered %s, we %d", name, recovered[name], n)
			}
			theirs, _ := os.ReadFile(s.dir.Queue(k, p).Path())
			mine, _ := os.ReadFile(q.Path())
			// frm_xfrd's queue threads may already have taken requests
			// (Get moves header First only), so compare from byte 4 on.
			if len(theirs) != len(mine) || !bytes.Equal(theirs[4:], mine[4:]) {
				diffs = append(diffs, fmt.Sprintf("%s: compacted files differ (len %d vs %d)", name, len(theirs), len(mine)))
			}
		}
	}
	return diffs
}

// TestInteropAgentBadNames records what frm_xfragent 5.5.3 does with
// names frm refuses at intake (compat.md 37): it queues a name climbing
// above the root, queues a name with a NUL byte cut at the NUL (another
// file) and loses the line after it. frm's intake (AgentReader and
// ParseAgentLine) refuses both and keeps the next line.
func TestInteropAgentBadNames(t *testing.T) {
	needBin(t, xfragentBin)
	lines := []string{"+ r2 - 0 r /stg/../../etc/passwd", "+ r1 - 0 r /stg/nul\x00.dat", "+ r3 - 0 r /stg/ok"}
	s := newSite(t)
	s.agent(t, lines...)
	var theirs []string
	s.dir.List([]Kind{Stage}, -1, func(r Request) error { theirs = append(theirs, r.ID+" "+r.Path()); return nil })
	if want := []string{"r2 /stg/../../etc/passwd", "r1 /stg/nul"}; !slices.Equal(theirs, want) {
		t.Errorf("frm_xfragent queued %q; compat.md 37 says %q", theirs, want)
	}
	var ours, refused []string
	in := NewAgentReader(strings.NewReader(strings.Join(lines, "\n")+"\n"), 0)
	for {
		line, num, err := in.Next()
		if err != nil {
			break
		}
		cmd, err := ParseAgentLine(line)
		if err != nil || len(cmd.PathErrors) > 0 {
			refused = append(refused, fmt.Sprint(num))
		}
		for _, p := range cmd.Paths {
			ours = append(ours, cmd.ReqID+" "+p)
		}
	}
	if !slices.Equal(ours, []string{"r3 /stg/ok"}) || !slices.Equal(refused, []string{"1", "2"}) {
		t.Errorf("frm queues %q and refuses lines %q", ours, refused)
	}
}
