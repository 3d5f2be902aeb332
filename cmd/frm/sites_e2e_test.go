package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"frm/core/fedapi"
	"frm/core/sites"
	"frm/serve/servetest"
)

// Tokens of the sites tests: every site accepts both.
const (
	sitesReadToken  = "manager-read-token"
	sitesAdminToken = "manager-admin-token"
)

// sitesServeCfg is a [serve] section on a fixed loopback port with the
// certificate of pki, the manager's read and admin tokens, and an access
// log (returned).
func sitesServeCfg(t *testing.T, pki servetest.PKI) (string, int, string) {
	port := freePort(t)
	access := filepath.Join(t.TempDir(), "access.log")
	return fmt.Sprintf(`
[serve]
listen = "127.0.0.1:%d"
tls_cert = %q
tls_key = %q
access_log = %q

[[serve.token]]
name = "manager-read"
sha256 = %q
scope = "read"

[[serve.token]]
name = "manager-admin"
sha256 = %q
scope = "admin"
`, port, pki.ServerCert, pki.ServerKey, access, tokenDigest(sitesReadToken), tokenDigest(sitesAdminToken)), port, access
}

// startServeOnly starts `frm daemon -only <only>` for each site at once,
// and waits until they all serve.
func startServeOnly(t *testing.T, bin string, only string, ss ...*fedSite) {
	t.Helper()
	for _, s := range ss {
		os.Remove(s.log)
		s.cmd = exec.Command(bin, "daemon", "-c", s.config, "-only", only, "-l", s.log, "-drain", "1s")
		s.cmd.Env = toolEnv()
		if err := s.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmd, s := s.cmd, s
		t.Cleanup(func() {
			cmd.Process.Signal(syscall.SIGCONT)
			cmd.Process.Kill()
			cmd.Wait()
			if t.Failed() {
				l := s.readLog()
				if len(l) > 4000 {
					l = l[len(l)-4000:]
				}
				t.Logf("%s's daemon log (end):\n%s", s.name, l)
			}
		})
	}
	for _, s := range ss {
		waitFor(t, s.name+" serving", func() bool {
			l := s.readLog()
			return strings.Contains(l, "frm daemon running") && serveURLRe.MatchString(l)
		})
		s.url = serveURLRe.FindStringSubmatch(s.readLog())[1]
	}
}

// runSites runs frm sites.
func runSites(t *testing.T, bin string, args ...string) (int, string, string) {
	t.Helper()
	return runFrm(t, bin, append([]string{"sites"}, args...)...)
}

// interval is one request a site's frm serve logged.
type interval struct {
	path       string
	start, end time.Time
}

// requestsOf reads the requests of an access log ([serve] access_log:
// start end remote token method path status bytes), by start.
func requestsOf(t *testing.T, accessLog string) []interval {
	b, _ := os.ReadFile(accessLog)
	var out []interval
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(l)
		if len(f) != 8 {
			continue
		}
		s, err1 := time.Parse(time.RFC3339Nano, f[0])
		e, err2 := time.Parse(time.RFC3339Nano, f[1])
		if err1 != nil || err2 != nil {
			t.Fatalf("access log line %q", l)
		}
		out = append(out, interval{path: f[5], start: s, end: e})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].start.Before(out[j].start) })
	return out
}

// overlapping returns a description of two requests that overlap ("" when
// none do).
func overlapping(reqs []interval) string {
	for i := 1; i < len(reqs); i++ {
		if reqs[i].start.Before(reqs[i-1].end) {
			return fmt.Sprintf("%s [%s, %s] and %s [%s, %s]", reqs[i-1].path, reqs[i-1].start.Format(time.StampMicro), reqs[i-1].end.Format(time.StampMicro),
				reqs[i].path, reqs[i].start.Format(time.StampMicro), reqs[i].end.Format(time.StampMicro))
		}
	}
	return ""
}

// garbageServer accepts TCP connections on loopback and answers each with
// bytes that are neither TLS nor HTTP.
func garbageServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("\x00\x17garbage \xff\xfe not a TLS record\r\n\r\n"))
			time.Sleep(50 * time.Millisecond)
			c.Close()
		}
	}()
	return "https://" + ln.Addr().String()
}

// TestSites is issue 12's proof on loopback: 12 sites, 11 of them real
// `frm daemon -only serve` processes with their own roots and ports, of
// which one has a failed transfer (WARNING), one a certificate from
// another CA, one is stopped (answers after the timeout) and one killed
// (down); the twelfth answers garbage. Two `frm sites report` runs
// started together give every site the right state and reason within the
// timeout, and the sites' request logs show never two requests at once
// at any site. frm sites run collects every site's audit; a command that
// changes state is refused for a read token at the site and runs with an
// admin token. The HTML report is read by headless Chromium.
func TestSites(t *testing.T) {
	if testing.Short() {
		t.Skip("starts eleven daemons")
	}
	bin := buildBin(t)
	pki := servetest.NewPKI(t)
	otherPKI := servetest.NewPKI(t)
	dir := t.TempDir()
	readTok := filepath.Join(dir, "read.token")
	adminTok := filepath.Join(dir, "admin.token")
	os.WriteFile(readTok, []byte(sitesReadToken+"\n"), 0o600)
	os.WriteFile(adminTok, []byte(sitesAdminToken+"\n"), 0o600)

	var real []*fedSite
	urls := map[string]string{}
	access := map[string]string{} // site -> its access log
	for i := 1; i <= 11; i++ {
		name := fmt.Sprintf("s%02d", i)
		p := pki
		switch i {
		case 9:
			name, p = "wrongca", otherPKI
		case 10:
			name = "slow"
		case 11:
			name = "down"
		}
		cfg, port, acc := sitesServeCfg(t, p)
		s := newFedSite(t, name, cfg)
		real = append(real, s)
		access[name] = acc
		urls[name] = fmt.Sprintf("https://127.0.0.1:%d", port)
	}
	urls["garbage"] = garbageServer(t)
	// s03 had a transfer fail an hour ago.
	os.WriteFile(filepath.Join(real[2].local, "store", "lost.dat.fail"), []byte("fail\n"), 0o644)
	startServeOnly(t, bin, "serve", real...)
	slow, down := real[9], real[10]
	if err := slow.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	down.cmd.Process.Kill()
	down.cmd.Wait()

	names := []string{"s01", "s02", "s03", "s04", "s05", "s06", "s07", "s08", "wrongca", "slow", "down", "garbage"}
	writeSitesFile := func(path, token string) {
		var b strings.Builder
		b.WriteString("[probe]\ntimeout = \"2s\"\n")
		for i, n := range names {
			tags := `["tier2"]`
			if i < 4 {
				tags = `["tier1", "eu"]`
			}
			fmt.Fprintf(&b, "\n[[site]]\nname = %q\nurl = %q\ntoken_file = %q\nca_file = %q\ntags = %s\n", n, urls[n], token, pki.CA, tags)
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sitesFile := filepath.Join(dir, "sites.toml")
	adminSitesFile := filepath.Join(dir, "admin-sites.toml")
	writeSitesFile(sitesFile, readTok)
	writeSitesFile(adminSitesFile, adminTok)
	state := filepath.Join(dir, "state")
	const timeout = 2 * time.Second
	want := map[string]struct {
		state  sites.State
		reason string
	}{
		"s03":     {sites.Warning, "1 failed transfers in 24h (warning at 1)"},
		"wrongca": {sites.Unknown, "TLS: the site's certificate is not signed by its ca_file's CA"},
		"slow":    {sites.Critical, "not answering: no answer within 2s"},
		"down":    {sites.Critical, "not answering: connection refused"},
		"garbage": {sites.Unknown, "garbage answer"},
	}
	check := func(t *testing.T, rep sites.Report, busyOK bool) {
		t.Helper()
		if len(rep.Results) != 12 {
			t.Fatalf("%d sites in the report", len(rep.Results))
		}
		for _, r := range rep.Results {
			w, ok := want[r.Name]
			if !ok {
				w.state = sites.OK
			}
			if busyOK && r.State == sites.Unknown && strings.HasPrefix(r.Reason(), "busy") {
				continue
			}
			if r.State != w.state || !strings.Contains(r.Reason(), w.reason) {
				t.Errorf("%s: %s %q, want %s %q", r.Name, r.State, r.Reason(), w.state, w.reason)
			}
			if w.state == sites.OK && (r.Status == nil || r.Status.Site != r.Name || r.Status.Version == "" || len(r.Status.Spaces) != 1 || r.LastSeen == nil) {
				t.Errorf("%s: status %+v", r.Name, r.Status)
			}
		}
		if rep.State != sites.Critical || rep.Counts != (sites.Counts{OK: 7, Warning: 1, Critical: 2, Unknown: 2}) && !busyOK {
			t.Errorf("report %s %+v", rep.State, rep.Counts)
		}
	}

	t.Run("two reports at once", func(t *testing.T) {
		type out struct {
			code   int
			stdout string
			stderr string
			took   time.Duration
		}
		outs := make([]out, 2)
		var wg sync.WaitGroup
		for i := range outs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				start := time.Now()
				c, o, e := runSites(t, bin, "--sites", sitesFile, "--state-dir", state, "report", "-o", "json")
				outs[i] = out{c, o, e, time.Since(start)}
			}()
		}
		wg.Wait()
		slowCritical := 0
		for i, o := range outs {
			if o.code != 2 {
				t.Errorf("run %d: exit %d, want 2 (CRITICAL)\n%s", i, o.code, o.stderr)
			}
			var rep sites.Report
			if err := json.Unmarshal([]byte(o.stdout), &rep); err != nil {
				t.Fatalf("run %d: %v\n%s", i, err, o.stdout)
			}
			check(t, rep, true)
			for _, r := range rep.Results {
				if r.Name == "slow" && r.State == sites.Critical {
					slowCritical++
				}
			}
			// Each run waits for the slow site once (its probe, or the
			// other run's lock), plus the start of the process.
			if o.took > 2*timeout+3*time.Second {
				t.Errorf("run %d took %v", i, o.took)
			}
		}
		if slowCritical == 0 {
			t.Error("no run found the slow site not answering")
		}
		// The lock, from the sites' side: every site answered both runs,
		// one request at a time (wrongca's handshake fails before any
		// request).
		for _, s := range real[:8] {
			reqs := requestsOf(t, access[s.name])
			n := 0
			for _, r := range reqs {
				if r.path == fedapi.StatusPath {
					n++
				}
			}
			if n != 2 {
				t.Errorf("%s: %d status requests, want 2 (one per run)", s.name, n)
			}
			if o := overlapping(reqs); o != "" {
				t.Errorf("%s: two requests at once: %s", s.name, o)
			}
		}
	})

	t.Run("report alone", func(t *testing.T) {
		start := time.Now()
		code, stdout, stderr := runSites(t, bin, "--sites", sitesFile, "--state-dir", state, "report", "-o", "json", "--parallel", "16")
		took := time.Since(start)
		if code != 2 {
			t.Errorf("exit %d\n%s", code, stderr)
		}
		var rep sites.Report
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
			t.Fatal(err)
		}
		check(t, rep, false)
		if took > timeout+3*time.Second {
			t.Errorf("the report took %v with a %v timeout", took, timeout)
		}
		if len(rep.History) != 3 || rep.Previous == nil {
			t.Errorf("history %d runs, previous %v", len(rep.History), rep.Previous)
		}
		// Text: one line per site with its state and why.
		code, stdout, _ = runSites(t, bin, "--sites", sitesFile, "--state-dir", state, "status")
		if code != 2 || !strings.HasPrefix(stdout, "SITES CRITICAL - 12 sites: 7 ok, 1 warning, 2 critical, 2 unknown\n") {
			t.Errorf("status: exit %d\n%s", code, stdout)
		}
		for _, n := range names {
			w, ok := want[n]
			if !ok {
				w.state = sites.OK
			}
			if !regexp.MustCompile(`(?m)^` + n + ` +` + w.state.String() + ` .*` + regexp.QuoteMeta(w.reason)).MatchString(stdout) {
				t.Errorf("status has no line for %s %s %q:\n%s", n, w.state, w.reason, stdout)
			}
		}
		// Exit codes as a Nagios plugin: the tier1 sites are s01..s04.
		if code, stdout, _ := runSites(t, bin, "--sites", sitesFile, "--state-dir", state, "status", "--tag", "tier1"); code != 1 {
			t.Errorf("tier1 (s03 WARNING): exit %d\n%s", code, stdout)
		}
		if code, stdout, _ := runSites(t, bin, "--sites", sitesFile, "--state-dir", state, "status", "--site", "s01,s02"); code != 0 {
			t.Errorf("s01, s02: exit %d\n%s", code, stdout)
		}
		if code, stdout, _ := runSites(t, bin, "--sites", sitesFile, "--state-dir", state, "status", "--site", "garbage"); code != 3 {
			t.Errorf("garbage: exit %d\n%s", code, stdout)
		}
	})

	t.Run("run audit everywhere", func(t *testing.T) {
		code, stdout, stderr := runSites(t, bin, "--sites", sitesFile, "--state-dir", state, "run", "--", "audit", "-r", "names", "/store")
		if code != 1 {
			t.Errorf("exit %d, want 1 (four sites ran nothing)\n%s", code, stderr)
		}
		for _, n := range names[:8] {
			if !strings.Contains(stdout, "=== "+n+": exit 0\n") {
				t.Errorf("no audit output from %s:\n%s", n, stdout)
			}
		}
		for _, n := range []string{"wrongca", "slow", "down", "garbage"} {
			if !strings.Contains(stdout, "=== "+n+": not run: ") {
				t.Errorf("%s not said not run:\n%s", n, stdout)
			}
		}
		// JSON: each site's JSON document as the site made it.
		code, stdout, _ = runSites(t, bin, "--sites", sitesFile, "--state-dir", state, "run", "--site", "s01,s02", "--json", "--", "audit", "-r", "names", "/store")
		var doc struct {
			Exit  int
			Sites []struct {
				Site     string
				Exit     int
				ReadOnly bool `json:"read_only"`
				Output   map[string]any
			}
		}
		if err := json.Unmarshal([]byte(stdout), &doc); err != nil || code != 0 || len(doc.Sites) != 2 {
			t.Fatalf("json: %d %v\n%s", code, err, stdout)
		}
		for _, s := range doc.Sites {
			if s.Exit != 0 || !s.ReadOnly || s.Output == nil || s.Output["command"] != "audit" {
				t.Errorf("%s: %+v", s.Site, s)
			}
		}
	})

	t.Run("admin command needs an admin token", func(t *testing.T) {
		real[0].resident(t, bin, "/store/keep.dat", []byte("data\n"), 0)
		code, stdout, _ := runSites(t, bin, "--sites", sitesFile, "--state-dir", state, "run", "--site", "s01", "--", "mark", "-p", "/store/keep.dat")
		if code != 1 || !strings.Contains(stdout, "=== s01: not run: refused by the site: ") || !strings.Contains(stdout, "needs an admin token") {
			t.Errorf("mark with a read token: exit %d\n%s", code, stdout)
		}
		if b, _ := os.ReadFile(access["s01"]); !regexp.MustCompile(` manager-read POST /v1/admin 403 `).Match(b) {
			t.Errorf("s01 did not log the refusal:\n%s", b)
		}
		code, stdout, _ = runSites(t, bin, "--sites", adminSitesFile, "--state-dir", state, "run", "--site", "s01", "--", "mark", "-p", "/store/keep.dat")
		if code != 0 || !strings.Contains(stdout, "=== s01: exit 0") {
			t.Errorf("mark with an admin token: exit %d\n%s", code, stdout)
		}
		// The lock held for jobs too: s01 never saw two requests at once.
		if o := overlapping(requestsOf(t, access["s01"])); o != "" {
			t.Errorf("s01: two requests at once: %s", o)
		}
	})

	t.Run("html in chromium", func(t *testing.T) {
		html := filepath.Join(dir, "report.html")
		code, stdout, stderr := runSites(t, bin, "--sites", sitesFile, "--state-dir", state, "report", "-o", "html", "--out", html)
		if code != 2 || !strings.HasPrefix(stdout, "SITES CRITICAL") {
			t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
		}
		chromiumCheck(t, html, names, want)
	})
}

// chromiumCheck opens the HTML report in headless Chromium: the rendered
// DOM has every site with its state, and a screenshot is a non-empty PNG.
// Skipped without chromium unless FRM_REQUIRE_CHROMIUM=1 (CI).
func chromiumCheck(t *testing.T, html string, names []string, want map[string]struct {
	state  sites.State
	reason string
}) {
	t.Helper()
	chromium := ""
	for _, c := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(c); err == nil {
			chromium = p
			break
		}
	}
	if chromium == "" {
		if os.Getenv("FRM_REQUIRE_CHROMIUM") == "1" {
			t.Fatal("chromium is not installed and FRM_REQUIRE_CHROMIUM=1")
		}
		t.Skip("chromium is not installed")
	}
	profile := t.TempDir()
	run := func(args ...string) []byte {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, chromium, append([]string{"--headless", "--no-sandbox", "--disable-gpu",
			"--user-data-dir=" + profile, "--no-first-run", "--disable-extensions"}, args...)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		cmd.Env = append(os.Environ(), "HOME="+profile)
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium %v: %v\n%s", args, err, errb.String())
		}
		return out.Bytes()
	}
	dom := string(run("--dump-dom", "file://"+html))
	for _, n := range names {
		w, ok := want[n]
		if !ok {
			w.state = sites.OK
		}
		re := regexp.MustCompile(`<tr id="site-` + n + `" data-state="` + w.state.String() + `">(?s:.*?)<td class="state [a-z]+">` + w.state.String() + `</td>`)
		if !re.MatchString(dom) {
			t.Errorf("the rendered DOM has no row for %s %s", n, w.state)
		}
	}
	if !strings.Contains(dom, "7 OK") || !strings.Contains(dom, "2 CRITICAL") || !strings.Contains(dom, "<svg") {
		t.Errorf("the rendered DOM lacks the summary or the bars:\n%.2000s", dom)
	}
	png := filepath.Join(t.TempDir(), "report.png")
	run("--screenshot="+png, "--window-size=1200,900", "file://"+html)
	b, err := os.ReadFile(png)
	if err != nil || len(b) < 1000 || !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("screenshot: %d bytes, %v", len(b), err)
	}
}

// TestSitesSchedule: frm daemon with [sites] schedule runs the report
// (an interval's first run at the start) into [sites] state_dir, and its
// frm serve serves the latest at /v1/sites/report.html and .json to read
// tokens.
func TestSitesSchedule(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a daemon")
	}
	bin := buildBin(t)
	pki := servetest.NewPKI(t)
	dir := t.TempDir()
	tok := filepath.Join(dir, "read.token")
	os.WriteFile(tok, []byte(sitesReadToken), 0o600)
	serveCfg, port, _ := sitesServeCfg(t, pki)
	sitesFile := filepath.Join(dir, "sites.toml")
	os.WriteFile(sitesFile, []byte(fmt.Sprintf("[[site]]\nname = \"m\"\nurl = \"https://127.0.0.1:%d\"\ntoken_file = %q\nca_file = %q\n", port, tok, pki.CA)), 0o644)
	state := filepath.Join(dir, "state")
	m := newFedSite(t, "m", serveCfg+fmt.Sprintf("\n[sites]\nfile = %q\nstate_dir = %q\nschedule = \"1h\"\n", sitesFile, state))
	startServeOnly(t, bin, "serve,sites", m)
	waitFor(t, "the scheduled report", func() bool { return strings.Contains(m.readLog(), "msg=\"sites report\"") })
	if !regexp.MustCompile(`msg="sites report" component=sites state=OK ok=1 `).MatchString(m.readLog()) {
		t.Errorf("the daemon's log does not tell the report:\n%s", m.readLog())
	}
	c, err := fedapi.NewClient(m.url, fedapi.ClientOptions{Token: sitesReadToken, CAFile: pki.CA})
	if err != nil {
		t.Fatal(err)
	}
	defer c.HTTP.CloseIdleConnections()
	get := func(path, tok string) (int, string, string) {
		req, _ := http.NewRequest(http.MethodGet, m.url+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := c.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	code, ctype, body := get(fedapi.SitesReportHTML, sitesReadToken)
	if code != 200 || !strings.HasPrefix(ctype, "text/html") || !strings.Contains(body, `<tr id="site-m" data-state="OK">`) {
		t.Errorf("report.html: %d %s\n%.1000s", code, ctype, body)
	}
	code, _, body = get(fedapi.SitesReportJSON, sitesReadToken)
	var rep sites.Report
	if code != 200 || json.Unmarshal([]byte(body), &rep) != nil || rep.State != sites.OK || len(rep.Results) != 1 || rep.Results[0].Status.Site != "m" {
		t.Errorf("report.json: %d %s", code, body)
	}
	if code, _, _ := get(fedapi.SitesReportJSON, ""); code != http.StatusUnauthorized {
		t.Errorf("report.json without a token: %d", code)
	}
	if runs, _ := os.ReadDir(filepath.Join(state, "runs")); len(runs) != 1 {
		t.Errorf("%d runs kept", len(runs))
	}
}
