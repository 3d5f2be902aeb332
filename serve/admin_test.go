package serve

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"frm/core/config"
	"frm/core/fedapi"
)

// fakeAdmin judges "ls" read-only, "rm" changing, anything else unknown;
// "ls block" waits for release.
type fakeAdmin struct {
	release chan struct{}
	started chan struct{}
	mu      sync.Mutex
	ran     [][]string
}

func (f *fakeAdmin) ReadOnly(args []string) (bool, error) {
	switch args[0] {
	case "ls":
		return true, nil
	case "rm":
		return false, nil
	}
	return false, errors.New("Invalid command - " + args[0])
}

func (f *fakeAdmin) Run(ctx context.Context, args []string, json bool) fedapi.AdminReply {
	f.mu.Lock()
	f.ran = append(f.ran, args)
	f.mu.Unlock()
	if len(args) > 1 && args[1] == "block" {
		f.started <- struct{}{}
		<-f.release
	}
	out := strings.Join(args, " ") + "\n"
	if json {
		out = `{"command":"` + args[0] + `"}`
	}
	return fedapi.AdminReply{Exit: 0, Stdout: out}
}

func TestAdmin(t *testing.T) {
	fa := &fakeAdmin{release: make(chan struct{}), started: make(chan struct{}, 1)}
	ts := startServer(t, serverOpts{admin: fa})
	ctx := context.Background()

	r, err := ts.client(t, readToken).Admin(ctx, []string{"ls", "/store"}, false)
	if err != nil || r.Exit != 0 || r.Stdout != "ls /store\n" || !r.ReadOnly {
		t.Errorf("read-only command with a read token: %+v %v", r, err)
	}
	if r, err := ts.client(t, readToken).Admin(ctx, []string{"ls"}, true); err != nil || r.Stdout != `{"command":"ls"}` {
		t.Errorf("json: %+v %v", r, err)
	}
	_, err = ts.client(t, readToken).Admin(ctx, []string{"rm", "/store/a"}, false)
	if fedapi.StatusOf(err) != http.StatusForbidden || !strings.Contains(err.Error(), "needs an admin token") {
		t.Errorf("changing command with a read token: %v", err)
	}
	if r, err := ts.client(t, adminToken).Admin(ctx, []string{"rm", "/store/a"}, false); err != nil || r.ReadOnly {
		t.Errorf("changing command with an admin token: %+v %v", r, err)
	}
	if _, err := ts.client(t, narrowToken).Admin(ctx, []string{"ls"}, false); fedapi.StatusOf(err) != http.StatusForbidden {
		t.Errorf("a token limited to prefixes: %v", err)
	}
	if _, err := ts.client(t, adminToken).Admin(ctx, []string{"frob"}, false); fedapi.StatusOf(err) != http.StatusBadRequest {
		t.Errorf("unknown command: %v", err)
	}
	if _, err := ts.client(t, "").Admin(ctx, []string{"ls"}, false); fedapi.StatusOf(err) != http.StatusUnauthorized {
		t.Errorf("no token: %v", err)
	}
	if code, hdr, _ := ts.do(t, http.MethodGet, fedapi.AdminPath, adminToken, nil, nil); code != http.StatusMethodNotAllowed || hdr.Get("Allow") != "POST" {
		t.Errorf("GET /v1/admin: %d %v", code, hdr)
	}
	fa.mu.Lock()
	if len(fa.ran) != 3 {
		t.Errorf("ran %v: a refused command ran", fa.ran)
	}
	fa.mu.Unlock()

	// One job at a time, whoever sends it.
	done := make(chan error, 1)
	go func() {
		_, err := ts.client(t, readToken).Admin(ctx, []string{"ls", "block"}, false)
		done <- err
	}()
	<-fa.started
	_, err = ts.client(t, adminToken).Admin(ctx, []string{"ls"}, false)
	var busy *fedapi.BusyError
	if !errors.As(err, &busy) || busy.RetryAfter != AdminRetryAfter*time.Second {
		t.Errorf("a second job while one runs: %v", err)
	}
	close(fa.release)
	if err := <-done; err != nil {
		t.Errorf("the first job: %v", err)
	}
	if _, err := ts.client(t, adminToken).Admin(ctx, []string{"ls"}, false); err != nil {
		t.Errorf("after the first job: %v", err)
	}
}

func TestAdminWithoutRunner(t *testing.T) {
	ts := startServer(t, serverOpts{})
	if _, err := ts.client(t, adminToken).Admin(context.Background(), []string{"ls"}, false); fedapi.StatusOf(err) != http.StatusNotFound {
		t.Errorf("%v", err)
	}
}

func TestSitesReport(t *testing.T) {
	state := t.TempDir()
	ts := startServer(t, serverOpts{mutate: func(c *config.Config) { c.Sites.StateDir = state }})
	if code, _, _ := ts.do(t, http.MethodGet, fedapi.SitesReportHTML, readToken, nil, nil); code != http.StatusNotFound {
		t.Errorf("no report yet: %d", code)
	}
	os.WriteFile(filepath.Join(state, "report.html"), []byte("<!DOCTYPE html><p>report</p>"), 0o644)
	os.WriteFile(filepath.Join(state, "report.json"), []byte(`{"version":1}`), 0o644)
	code, hdr, body := ts.do(t, http.MethodGet, fedapi.SitesReportHTML, readToken, nil, nil)
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") || string(body) != "<!DOCTYPE html><p>report</p>" ||
		!strings.Contains(hdr.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("html: %d %v %q", code, hdr, body)
	}
	code, hdr, body = ts.do(t, http.MethodGet, fedapi.SitesReportJSON, readToken, nil, nil)
	if code != 200 || hdr.Get("Content-Type") != "application/json" || string(body) != `{"version":1}` {
		t.Errorf("json: %d %v %q", code, hdr, body)
	}
	if code, _, _ := ts.do(t, http.MethodGet, fedapi.SitesReportJSON, "", nil, nil); code != http.StatusUnauthorized {
		t.Errorf("without a token: %d", code)
	}
}

// TestStatusOldestUnmigrated: /v1/status tells the mtime of the oldest
// file of a mig export without a copy in the MSS.
func TestStatusOldestUnmigrated(t *testing.T) {
	ts := startServer(t, serverOpts{})
	p := ts.s.PFN("/store/old/unmigrated.dat")
	must(t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(t, os.WriteFile(p, []byte("waiting for tape"), 0o644))
	old := time.Now().Add(-72 * time.Hour).Truncate(time.Second)
	must(t, os.Chtimes(p, old, old))
	st, err := ts.client(t, readToken).Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The demo layout has older unmigrated files still.
	if st.OldestUnmigrated == nil || st.OldestUnmigrated.After(old) {
		t.Errorf("oldest unmigrated %v, want %v or before", st.OldestUnmigrated, old)
	}
}

// TestAccessLog: [serve] access_log gets one line per request with its
// start and end, and is reopened on Reconfigure (log rotation).
func TestAccessLog(t *testing.T) {
	p := filepath.Join(t.TempDir(), "access.log")
	ts := startServer(t, serverOpts{mutate: func(c *config.Config) { c.Serve.AccessLog = p }})
	if _, err := ts.client(t, readToken).Status(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts.do(t, http.MethodGet, "/v1/files/store/has space", "", nil, nil)
	b, _ := os.ReadFile(p)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 {
		t.Fatalf("access log:\n%s", b)
	}
	f := strings.Fields(lines[0])
	start, err1 := time.Parse(time.RFC3339Nano, f[0])
	end, err2 := time.Parse(time.RFC3339Nano, f[1])
	if len(f) != 8 || err1 != nil || err2 != nil || end.Before(start) || f[3] != "peer-read" || f[4] != "GET" || f[5] != "/v1/status" || f[6] != "200" {
		t.Errorf("line %q", lines[0])
	}
	if !strings.Contains(lines[1], ` - GET "/v1/files/store/has space" 401 `) {
		t.Errorf("line %q", lines[1])
	}
	os.Rename(p, p+".1")
	ts.srv.Reconfigure(ts.cfg)
	ts.client(t, readToken).Status(context.Background())
	if b, err := os.ReadFile(p); err != nil || strings.Count(string(b), "\n") != 1 {
		t.Errorf("after rotation: %q %v", b, err)
	}
}
