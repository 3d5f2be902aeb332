package sites

import (
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"frm/core/fedapi"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

const goodFile = `
[thresholds]
space_warn = 80
failures_critical = 5

[probe]
timeout = "3s"
retries = 2

[[site]]
name = "a"
url = "https://127.0.0.1:8443/"
token_file = "tokens/a"
ca_file = "/etc/frm/ca.pem"
tags = ["tier1", "eu"]

[[site]]
name = "b"
url = "https://b.example:8443"
token_file = "/etc/frm/b.token"
`

func TestParse(t *testing.T) {
	f, err := Parse([]byte(goodFile), "/etc/frm/sites.toml")
	if err != nil {
		t.Fatal(err)
	}
	if f.Thresholds.SpaceWarn != 80 || f.Thresholds.SpaceCritical != DefaultSpaceCritical || f.Thresholds.FailuresCritical != 5 ||
		f.Thresholds.FailuresWarn != 1 || f.Thresholds.NotAnswering != "critical" || f.Timeout() != 3*time.Second || f.Retries() != 2 ||
		f.Probe.Parallel != 16 {
		t.Errorf("defaults: %+v %+v", f.Thresholds, f.Probe)
	}
	if a := f.Sites[0]; a.URL != "https://127.0.0.1:8443" || a.TokenFile != "/etc/frm/tokens/a" || a.CAFile != "/etc/frm/ca.pem" {
		t.Errorf("site a: %+v", a)
	}
	if s, err := f.Select([]string{"eu"}, nil); err != nil || len(s) != 1 || s[0].Name != "a" {
		t.Errorf("select by tag: %v %v", s, err)
	}
	if s, err := f.Select(nil, []string{"b"}); err != nil || len(s) != 1 || s[0].Name != "b" {
		t.Errorf("select by name: %v %v", s, err)
	}
	if _, err := f.Select(nil, []string{"zz"}); err == nil {
		t.Error("an unknown site selected")
	}
}

func TestParseErrors(t *testing.T) {
	site := "[[site]]\nname = \"a\"\nurl = \"https://a:1\"\ntoken_file = \"/t\"\n"
	for _, tc := range []struct{ name, text, want string }{
		{"empty", "", "no [[site]]"},
		{"unknown key", site + "colour = 1\n", "unknown keys: site.colour"},
		{"twice", site + site, `site "a" is listed twice`},
		{"bad url", strings.Replace(site, "https://a:1", "ftp://a", 1), "site[0].url: want https://host:port"},
		{"bad name", strings.Replace(site, `"a"`, `"a/b"`, 1), "invalid site name"},
		{"no token", strings.Replace(site, "token_file = \"/t\"\n", "", 1), "site[0].token_file: must be set"},
		{"warn above critical", site + "[thresholds]\nspace_warn = 99\nspace_critical = 90\n", "space_warn (99) is above space_critical (90)"},
		{"not answering", site + "[thresholds]\nnot_answering = \"fine\"\n", "thresholds.not_answering"},
		{"bad duration", site + "[probe]\ntimeout = \"soon\"\n", "soon"},
		{"syntax", "[[site]\n", "sites.toml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.text), "sites.toml")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(goodFile))
	f.Add([]byte("[[site]]\nname = \"a\"\nurl = \"http://x:1\"\ntoken_file = \"t\"\n[probe]\nretries = -1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse(b, "/d/sites.toml")
		if err != nil {
			return
		}
		if len(file.Sites) == 0 || file.Validate() != nil || file.Timeout() <= 0 {
			t.Fatalf("accepted an invalid file: %+v", file)
		}
		for _, s := range file.Sites {
			if !strings.HasPrefix(s.TokenFile, "/") {
				t.Fatalf("relative token file kept: %q", s.TokenFile)
			}
		}
	})
}

func ptrTime(t time.Time) *time.Time { return &t }

// fixture: results as a run would give them, at a fixed time.
func fixture(now time.Time) []Result {
	th := Thresholds{}
	f := &File{Thresholds: th, Sites: []Site{{Name: "x", URL: "https://x:1", TokenFile: "/t"}}}
	f.withDefaults()
	judge := func(st fedapi.Status) (State, []string) { return f.Thresholds.Judge(st, now) }
	q := func(s, m int) map[string]int { return map[string]int{"stage": s, "get": 0, "migrate": m, "put": 0} }
	okSt := fedapi.Status{Site: "a", Version: "1.4.0", Spaces: []fedapi.SpaceStatus{{Name: "public", Total: 100 << 30, Free: 60 << 30}}, Queue: q(0, 0)}
	warnSt := fedapi.Status{Site: "b", Version: "1.4.0", Spaces: []fedapi.SpaceStatus{{Name: "public", Total: 10 << 40, Free: 1 << 40}, {Name: "tape", Total: 1 << 30, Free: 1 << 29}},
		Queue: q(3, 12), Failures24h: 2, OldestUnmigrated: ptrTime(now.Add(-30 * time.Hour))}
	critSt := fedapi.Status{Site: "c", Version: "1.3.9", Spaces: []fedapi.SpaceStatus{{Name: "public", Total: 1 << 30, Free: 1 << 20}}, Queue: q(0, 0), Failures24h: -1}
	res := func(name string, st fedapi.Status) Result {
		s, why := judge(st)
		return Result{Name: name, URL: "https://" + name + ".example:8443", State: s, Reasons: why, Status: &st, Checked: now, LastSeen: ptrTime(now), Tries: 1}
	}
	return []Result{
		res("a", okSt), res("b", warnSt), res("c", critSt),
		{Name: "d", URL: "https://d.example:8443", State: Critical, Reasons: []string{"not answering: connection refused"}, Checked: now, LastSeen: ptrTime(now.Add(-2 * time.Hour))},
		{Name: "e", URL: "https://e.example:8443", State: Unknown, Reasons: []string{"TLS: the site's certificate is not signed by its ca_file's CA"}, Checked: now},
	}
}

func TestJudge(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	r := fixture(now)
	want := []State{OK, Warning, Critical}
	for i, w := range want {
		if r[i].State != w {
			t.Errorf("%s: %s %v, want %s", r[i].Name, r[i].State, r[i].Reasons, w)
		}
	}
	if got := r[1].Reason(); got != "space public 90% used (warning at 85%); 2 failed transfers in 24h (warning at 1); oldest unmigrated file 30h old (warning at 1d)" {
		t.Errorf("b's reasons: %s", got)
	}
	if Worst(Critical, Unknown) != Critical || Worst(OK, Unknown) != Unknown || Worst(Warning, OK) != Warning {
		t.Error("Worst")
	}
}

func TestReportGolden(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	prevNow := now.Add(-time.Hour)
	prevResults := fixture(prevNow)
	// An hour ago: d answered, b had no failure and less used space.
	prevResults[3] = Result{Name: "d", URL: "https://d.example:8443", State: OK, Status: &fedapi.Status{Version: "1.4.0", Queue: map[string]int{}, Spaces: []fedapi.SpaceStatus{{Name: "public", Total: 100, Free: 50}}}, Checked: prevNow, LastSeen: ptrTime(prevNow)}
	bst := *prevResults[1].Status
	bst.Failures24h = 0
	bst.Spaces = []fedapi.SpaceStatus{{Name: "public", Total: 10 << 40, Free: 5 << 40}, bst.Spaces[1]}
	prevResults[1].Status = &bst
	var th Thresholds
	f := &File{Thresholds: th}
	f.withDefaults()
	prev := NewReport(prevNow, prevResults, nil, f.Thresholds)
	cur := fixture(now)
	cur[3].LastSeen = nil // from the history
	r := NewReport(now, cur, []*Report{prev}, f.Thresholds)
	if r.State != Critical || r.Counts != (Counts{OK: 1, Warning: 1, Critical: 2, Unknown: 1}) {
		t.Errorf("report %s %+v", r.State, r.Counts)
	}
	if r.Results[3].LastSeen == nil || !r.Results[3].LastSeen.Equal(prevNow) {
		t.Errorf("d last seen %v, want the previous run's", r.Results[3].LastSeen)
	}
	txt, _ := RenderText(r)
	golden(t, "report.txt", txt)
	first, _ := RenderText(prev)
	golden(t, "report-first.txt", first)
	js, _ := RenderJSON(r)
	var back Report
	if err := json.Unmarshal(js, &back); err != nil || back.State != Critical || len(back.Results) != 5 || len(back.History) != 2 {
		t.Errorf("JSON round trip: %v %+v", err, back)
	}
	html, err := RenderHTML(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script", "src=", "<link", "@import", "url("} {
		if strings.Contains(string(html), bad) {
			t.Errorf("the HTML report holds %q: not self-contained", bad)
		}
	}
	golden(t, "report.html", html)
}

func TestLock(t *testing.T) {
	l := Locker{Dir: t.TempDir()}
	ctx := context.Background()
	unlock, err := l.Lock(ctx, "a", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := l.Lock(ctx, "a", 100*time.Millisecond); err != ErrBusy {
		t.Errorf("a held lock taken again: %v", err)
	}
	if time.Since(start) < 100*time.Millisecond {
		t.Error("did not wait for the lock")
	}
	u2, err := l.Lock(ctx, "b", 0)
	if err != nil {
		t.Errorf("another site's lock: %v", err)
	} else {
		u2()
	}
	go func() { time.Sleep(50 * time.Millisecond); unlock() }()
	u3, err := l.Lock(ctx, "a", 2*time.Second)
	if err != nil {
		t.Fatalf("lock let go, still busy: %v", err)
	}
	u3()
}

// fakeSite is an httptest site answering /v1/status after delay, counting
// overlapping requests.
type fakeSite struct {
	srv              *httptest.Server
	delay            time.Duration
	body             string
	inflight, maxFly atomic.Int32
	requests         atomic.Int32
}

func newFake(t *testing.T, delay time.Duration, body string) *fakeSite {
	fs := &fakeSite{delay: delay, body: body}
	fs.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := fs.inflight.Add(1)
		defer fs.inflight.Add(-1)
		for {
			m := fs.maxFly.Load()
			if n <= m || fs.maxFly.CompareAndSwap(m, n) {
				break
			}
		}
		fs.requests.Add(1)
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(401)
			return
		}
		select {
		case <-time.After(fs.delay):
		case <-r.Context().Done():
			return
		}
		w.Write([]byte(fs.body))
	}))
	t.Cleanup(fs.srv.Close)
	return fs
}

const okBody = `{"site":"x","version":"1.0","spaces":[{"name":"public","partitions":1,"total":100,"free":90}],"queue":{"stage":0},"failures_24h":0}`

func TestProbe(t *testing.T) {
	dir := t.TempDir()
	tok := filepath.Join(dir, "tok")
	os.WriteFile(tok, []byte("tok\n"), 0o600)
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("nope\n"), 0o600)
	good := newFake(t, 0, okBody)
	slow := newFake(t, 2*time.Second, okBody)
	garbage := newFake(t, 0, "<html>hello</html>")
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	f := &File{Sites: []Site{
		{Name: "good", URL: good.srv.URL, TokenFile: tok},
		{Name: "slow", URL: slow.srv.URL, TokenFile: tok},
		{Name: "garbage", URL: garbage.srv.URL, TokenFile: tok},
		{Name: "down", URL: downURL, TokenFile: tok},
		{Name: "refused", URL: good.srv.URL, TokenFile: bad},
	}}
	f.withDefaults()
	f.Probe.Timeout = 300 * 1e6
	p := &Prober{File: f, Locks: Locker{Dir: t.TempDir()}}
	start := time.Now()
	res := p.Probe(context.Background(), f.Sites)
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("probing took %v with a 300ms timeout", took)
	}
	want := []struct {
		state  State
		reason string
	}{
		{OK, ""}, {Critical, "not answering: no answer within 300ms"}, {Unknown, "garbage answer"},
		{Critical, "not answering: connection refused"}, {Unknown, "token refused: 401"},
	}
	for i, w := range want {
		if res[i].State != w.state || !strings.Contains(res[i].Reason(), w.reason) {
			t.Errorf("%s: %s %q, want %s %q", res[i].Name, res[i].State, res[i].Reason(), w.state, w.reason)
		}
	}
	if res[3].Tries != 2 {
		t.Errorf("a refused connection tried %d times, want 2 (1 retry)", res[3].Tries)
	}
	if res[1].Tries != 1 {
		t.Errorf("a timeout tried %d times, want 1", res[1].Tries)
	}
}

// TestProbeOneAtATime: two overlapping runs, each with many probes,
// never send two requests to one site at once.
func TestProbeOneAtATime(t *testing.T) {
	dir := t.TempDir()
	tok := filepath.Join(dir, "tok")
	os.WriteFile(tok, []byte("tok"), 0o600)
	var fakes []*fakeSite
	f := &File{}
	for i := range 4 {
		fs := newFake(t, 30*time.Millisecond, okBody)
		fakes = append(fakes, fs)
		f.Sites = append(f.Sites, Site{Name: string(rune('a' + i)), URL: fs.srv.URL, TokenFile: tok})
	}
	f.withDefaults()
	locks := Locker{Dir: t.TempDir()}
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := &Prober{File: f, Locks: locks}
			for _, r := range p.Probe(context.Background(), append(append([]Site{}, f.Sites...), f.Sites...)[:4]) {
				if r.State != OK {
					t.Errorf("%s: %s %s", r.Name, r.State, r.Reason())
				}
			}
		}()
	}
	wg.Wait()
	for i, fs := range fakes {
		if fs.requests.Load() != 3 || fs.maxFly.Load() != 1 {
			t.Errorf("site %d: %d requests, %d at once at most", i, fs.requests.Load(), fs.maxFly.Load())
		}
	}
}

// TestExample: the example data file is valid.
func TestExample(t *testing.T) {
	f, err := Load("../../examples/federation/sites.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Sites) != 3 {
		t.Errorf("%d sites", len(f.Sites))
	}
}

// TestHistoryKeeps30: the runs past KeepRuns are dropped, the newest
// kept; a report compares with the last one.
func TestHistoryKeeps30(t *testing.T) {
	h := History{Dir: t.TempDir()}
	t0 := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	var th Thresholds
	for i := range KeepRuns + 5 {
		r := NewReport(t0.Add(time.Duration(i)*time.Minute), []Result{{Name: "a", State: State(i % 4)}}, nil, th)
		if err := h.Save(r); err != nil {
			t.Fatal(err)
		}
	}
	runs, err := h.Runs()
	if err != nil || len(runs) != KeepRuns || !runs[0].Generated.Equal(t0.Add(5*time.Minute)) || !runs[KeepRuns-1].Generated.Equal(t0.Add(34*time.Minute)) {
		t.Fatalf("%d runs %v", len(runs), err)
	}
	r := NewReport(t0.Add(time.Hour), []Result{{Name: "a", State: OK}}, runs, th)
	if len(r.History) != KeepRuns || r.Previous == nil || len(r.Changes) != 1 || r.Changes[0].Text != "CRITICAL → OK" {
		t.Errorf("history %d, changes %+v", len(r.History), r.Changes)
	}
	if err := h.SaveLatest(r); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{LatestJSON, LatestHTML, LatestText} {
		if fi, err := os.Stat(filepath.Join(h.Dir, n)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", n, err)
		}
	}
}

// TestJobs: a site running another job (409) is asked again after its
// Retry-After; a 403 is a refusal; each site's reply is collected.
func TestJobs(t *testing.T) {
	dir := t.TempDir()
	tok := filepath.Join(dir, "tok")
	os.WriteFile(tok, []byte("tok"), 0o600)
	var calls atomic.Int32
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusConflict)
			w.Write([]byte(`{"error":"another admin command is running at this site"}`))
			return
		}
		var req fedapi.AdminRequest
		json.NewDecoder(r.Body).Decode(&req)
		json.NewEncoder(w).Encode(fedapi.AdminReply{Exit: 0, Stdout: strings.Join(req.Args, " ") + "\n", ReadOnly: true})
	}))
	defer busy.Close()
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"error":"'rm' changes the site: it needs an admin token (this one is read-only)"}`))
	}))
	defer refusing.Close()
	f := &File{Sites: []Site{{Name: "busy", URL: busy.URL, TokenFile: tok}, {Name: "refusing", URL: refusing.URL, TokenFile: tok}}}
	f.withDefaults()
	r := &Run{File: f, StateDir: t.TempDir()}
	start := time.Now()
	jobs := r.Jobs(context.Background(), f.Sites, []string{"ls", "/store"}, false, 10*time.Second)
	if jobs[0].Reply == nil || jobs[0].Reply.Stdout != "ls /store\n" || calls.Load() != 2 || time.Since(start) < time.Second {
		t.Errorf("busy site: %+v after %d calls", jobs[0], calls.Load())
	}
	if !jobs[1].Refused || jobs[1].Exit() != 1 || !strings.Contains(jobs[1].Error, "needs an admin token") {
		t.Errorf("refusing site: %+v", jobs[1])
	}
	// A job that cannot wait for the busy site's Retry-After gives up.
	calls.Store(0)
	jobs = r.Jobs(context.Background(), f.Sites[:1], []string{"ls"}, false, 500*time.Millisecond)
	if jobs[0].Reply != nil || !strings.HasPrefix(jobs[0].Error, "busy: ") {
		t.Errorf("busy past the timeout: %+v", jobs[0])
	}
}
