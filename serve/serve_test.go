package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/adler32"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"frm/core/config"
	"frm/core/control"
	"frm/core/fedapi"
	"frm/core/site"
	"frm/core/xrdq"
)

func adlerOf(b []byte) string { return fmt.Sprintf("adler32:%08x", adler32.Checksum(b)) }

func TestStatus(t *testing.T) {
	purged := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ts := startServer(t, serverOpts{status: StatusFunc(func() control.StatusReply {
		return control.StatusReply{Transfer: &control.TransferStatus{}, Purge: &control.PurgeStatus{At: purged, Files: 3, Bytes: 300}}
	})})
	// A transfer that failed an hour ago, one that failed two days ago.
	fresh := ts.s.FailPath(ts.s.PFN("/store/a/broken.fits"))
	stale := ts.s.FailPath(ts.s.PFN("/store/b/old.fits"))
	must(t, os.WriteFile(fresh, []byte("x"), 0o644))
	must(t, os.WriteFile(stale, []byte("x"), 0o644))
	old := time.Now().Add(-48 * time.Hour)
	must(t, os.Chtimes(stale, old, old))
	// Two queued requests.
	if _, err := ts.s.Stage(context.Background(), []string{"/store/c/tape.fits", "/scratch/q.fits"}, siteOpts()); err != nil {
		t.Fatal(err)
	}
	st, err := ts.client(t, readToken).Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Site != "test" || st.Version != "test" || st.UptimeSecs < 0 || st.Started.IsZero() {
		t.Errorf("status %+v", st)
	}
	var spaces []string
	for _, sp := range st.Spaces {
		spaces = append(spaces, sp.Name)
		if sp.Total <= 0 || sp.Partitions < 1 && sp.Name != "public" {
			t.Errorf("space %+v", sp)
		}
	}
	slices.Sort(spaces)
	if !slices.Equal(spaces, []string{"data", "fast", "public"}) {
		t.Errorf("spaces %v", spaces)
	}
	if st.Queue["stage"] != 2 || st.Queue["migrate"] != 0 || len(st.Queue) != 4 {
		t.Errorf("queue %v", st.Queue)
	}
	if st.Failures24h != 1 {
		t.Errorf("failures in 24h = %d, want 1", st.Failures24h)
	}
	if st.LastPurge == nil || !st.LastPurge.At.Equal(purged) || st.LastPurge.Files != 3 || !st.Daemon {
		t.Errorf("daemon part %+v %v", st.LastPurge, st.Daemon)
	}
}

func siteOpts() site.RequestOptions { return site.RequestOptions{} }

func accessTime(fi os.FileInfo) time.Time {
	st := fi.Sys().(*syscall.Stat_t)
	return time.Unix(st.Atim.Unix())
}

func TestLocate(t *testing.T) {
	ts := startServer(t, serverOpts{})
	ctx := context.Background()
	asked := []string{
		"/store/a/xa.fits",      // resident, an XA file
		"/store/a/plain.fits",   // resident, a plain file
		"/store/a/nocks.fits",   // resident, no checksum
		"/store/c/tape.fits",    // stageable
		"/store/none.fits",      // absent
		"/archive/old.fits",     // in the MSS, but its export does not stage
		"/private/secret.fits",  // not exported
		"relative",              // not a name
		"/store/../../etc",      // above the root
		"/store/a/x\x00y",       // NUL
		"//store///a/./xa.fits", // canonicalised: resident
		"/store/a",              // a directory
	}
	got, err := ts.client(t, readToken).Locate(ctx, asked)
	if err != nil {
		t.Fatal(err)
	}
	want := []fedapi.State{fedapi.Resident, fedapi.Resident, fedapi.Resident, fedapi.Stageable, fedapi.Absent, fedapi.Absent,
		fedapi.Denied, fedapi.Denied, fedapi.Denied, fedapi.Denied, fedapi.Resident, fedapi.Absent}
	for i, l := range got {
		if l.LFN != asked[i] || l.State != want[i] {
			t.Errorf("%q: %+v, want %s", asked[i], l, want[i])
		}
	}
	xa := got[0]
	if c := content("/store/a/xa.fits"); xa.Size != int64(len(c)) || xa.MTime != 1700000000 || xa.Checksum != adlerOf(c) {
		t.Errorf("resident %+v, want size %d checksum %s", xa, len(c), adlerOf(c))
	}
	if got[2].Checksum != "" {
		t.Errorf("a file without a stored checksum: %+v", got[2])
	}
	if tape := got[3]; tape.Size != int64(len(content("/store/c/tape.fits"))) || tape.Error != "" {
		t.Errorf("stageable %+v", tape)
	}
	if got[6].Error != "not exported" {
		t.Errorf("not exported: %+v", got[6])
	}

	// A token's prefixes: the rest is denied, entry by entry.
	got, err = ts.client(t, narrowToken).Locate(ctx, []string{"/store/a/xa.fits", "/store/b/other.fits", "/store/ab"})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].State != fedapi.Resident || got[1].State != fedapi.Denied || got[1].Error != "outside this token's prefixes" || got[2].State != fedapi.Denied {
		t.Errorf("narrow token: %+v", got)
	}

	// A full batch is one request; one more name is refused.
	names := make([]string, fedapi.MaxLocate)
	for i := range names {
		names[i] = fmt.Sprintf("/store/a/f%05d", i)
	}
	names[fedapi.MaxLocate-1] = "/store/a/xa.fits"
	body, _ := json.Marshal(fedapi.LocateRequest{LFNs: names})
	code, _, b := ts.do(t, "POST", fedapi.LocatePath, readToken, bytes.NewReader(body), nil)
	var rep fedapi.LocateReply
	if code != 200 || json.Unmarshal(b, &rep) != nil || len(rep.Files) != fedapi.MaxLocate || rep.Files[fedapi.MaxLocate-1].State != fedapi.Resident {
		t.Fatalf("full batch: %d, %d answers", code, len(rep.Files))
	}
	body, _ = json.Marshal(fedapi.LocateRequest{LFNs: append(names, "/store/x")})
	if code, _, b := ts.do(t, "POST", fedapi.LocatePath, readToken, bytes.NewReader(body), nil); code != 400 || !strings.Contains(string(b), "at most 10000") {
		t.Errorf("10001 names: %d %s", code, b)
	}
	big := `{"lfns":["` + strings.Repeat("x", fedapi.MaxLocateBody) + `"]}`
	if code, _, b := ts.do(t, "POST", fedapi.LocatePath, readToken, strings.NewReader(big), nil); code != 413 {
		t.Errorf("a body past the limit: %d %s", code, b)
	}
	for _, bad := range []string{`{"lfns":["/a"],"x":1}`, `{"lfns":["/a"]} {}`, `[`, `{"lfns":"/a"}`, ``} {
		if code, _, b := ts.do(t, "POST", fedapi.LocatePath, readToken, strings.NewReader(bad), nil); code != 400 || !json.Valid(b) {
			t.Errorf("body %q: %d %s", bad, code, b)
		}
	}
	if code, h, _ := ts.do(t, "GET", fedapi.LocatePath, readToken, nil, nil); code != 405 || h.Get("Allow") != "POST" {
		t.Errorf("GET locate: %d %v", code, h)
	}
}

func TestFiles(t *testing.T) {
	ts := startServer(t, serverOpts{})
	ctx := context.Background()
	c := ts.client(t, readToken)
	for _, lfn := range []string{"/store/a/xa.fits", "/store/a/plain.fits"} {
		want := content(lfn)
		f, err := c.Open(ctx, lfn, 0, "", false)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(f.Body)
		f.Body.Close()
		if err != nil || !bytes.Equal(b, want) {
			t.Fatalf("%s: %q, %v", lfn, b, err)
		}
		if f.Checksum.String() != adlerOf(b) || f.Size != int64(len(want)) || f.ETag == "" || !f.Modified.Equal(time.Unix(1700000000, 0)) {
			t.Errorf("%s: %+v (adler32 of the bytes %s)", lfn, f, adlerOf(b))
		}
		// Resume from an offset of the same version: 206.
		r, err := c.Open(ctx, lfn, 10, f.ETag, false)
		if err != nil {
			t.Fatal(err)
		}
		rest, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if !bytes.Equal(rest, want[10:]) || r.Offset != 10 || r.Size != int64(len(want)) || r.Checksum != f.Checksum {
			t.Errorf("%s from 10: %d bytes, %+v", lfn, len(rest), r)
		}
		// Another version: 412, as JSON.
		_, err = c.Open(ctx, lfn, 10, `"1-1"`, false)
		var he *fedapi.HTTPError
		if !errors.As(err, &he) || he.Status != 412 {
			t.Errorf("If-Match of another version: %v", err)
		}
	}
	// The digests: both headers, read back by the client's parser.
	code, h, b := ts.do(t, "GET", fedapi.FileURLPath("/store/a/xa.fits"), readToken, nil, nil)
	sum := adler32.Checksum(b)
	if code != 200 || h.Get("Digest") != fmt.Sprintf("adler32=%08x", sum) || !strings.HasPrefix(h.Get("Repr-Digest"), "adler=:") ||
		fedapi.ParseDigests(h.Get("Repr-Digest"), "").String() != adlerOf(b) || h.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("GET: %d %v", code, h)
	}
	// HEAD: the headers, no body.
	code, h, b = ts.do(t, "HEAD", fedapi.FileURLPath("/store/a/xa.fits"), readToken, nil, nil)
	if code != 200 || len(b) != 0 || h.Get("Content-Length") != fmt.Sprint(len(content("/store/a/xa.fits"))) || h.Get("Etag") == "" {
		t.Errorf("HEAD: %d %v %q", code, h, b)
	}
	// A byte range.
	code, h, b = ts.do(t, "GET", fedapi.FileURLPath("/store/a/xa.fits"), readToken, nil, map[string]string{"Range": "bytes=4-8"})
	if code != 206 || string(b) != string(content("/store/a/xa.fits")[4:9]) || !strings.HasPrefix(h.Get("Content-Range"), "bytes 4-8/") {
		t.Errorf("Range: %d %v %q", code, h, b)
	}
	code, _, b = ts.do(t, "GET", fedapi.FileURLPath("/store/a/xa.fits"), readToken, nil, map[string]string{"Range": "bytes=9999-"})
	if code != 416 || !json.Valid(b) {
		t.Errorf("unsatisfiable range: %d %s", code, b)
	}
	// No stored checksum: no digest headers.
	code, h, _ = ts.do(t, "GET", fedapi.FileURLPath("/store/a/nocks.fits"), readToken, nil, nil)
	if code != 200 || h.Get("Digest") != "" || h.Get("Repr-Digest") != "" {
		t.Errorf("without a checksum: %d %v", code, h)
	}
	// Not on disk.
	for lfn, want := range map[string]string{
		"/store/c/tape.fits": "not on disk; stageable: GET with ?stage=1",
		"/store/none.fits":   "absent: not on disk and not in this site's MSS",
		"/archive/old.fits":  "absent: not on disk (its export does not stage)",
	} {
		_, err := c.Open(ctx, lfn, 0, "", false)
		var he *fedapi.HTTPError
		if !errors.As(err, &he) || he.Status != 404 || he.Msg != want {
			t.Errorf("%s: %v, want 404 %q", lfn, err, want)
		}
	}
}

// TestServeIsAnAccess: a GET sets the data file's access time (what the
// purger orders by), and keeps its modification time; a HEAD does not.
func TestServeIsAnAccess(t *testing.T) {
	ts := startServer(t, serverOpts{})
	pfn := ts.s.PFN("/store/a/xa.fits")
	old, mt := time.Unix(1600000000, 0), time.Unix(1700000000, 0)
	must(t, os.Chtimes(pfn, old, mt))
	atime := func() (time.Time, time.Time) {
		var fi os.FileInfo
		fi, err := os.Stat(pfn)
		must(t, err)
		return accessTime(fi), fi.ModTime()
	}
	ts.do(t, "HEAD", fedapi.FileURLPath("/store/a/xa.fits"), readToken, nil, nil)
	if a, _ := atime(); !a.Equal(old) {
		t.Errorf("HEAD changed the access time to %v", a)
	}
	before := time.Now().Add(-time.Second)
	if code, _, _ := ts.do(t, "GET", fedapi.FileURLPath("/store/a/xa.fits"), readToken, nil, nil); code != 200 {
		t.Fatal(code)
	}
	a, m := atime()
	if a.Before(before) || !m.Equal(mt) {
		t.Errorf("after GET: atime %v (want after %v), mtime %v (want %v)", a, before, m, mt)
	}
}

func TestStage(t *testing.T) {
	ts := startServer(t, serverOpts{})
	ctx := context.Background()
	admin := ts.client(t, adminToken)
	_, err := admin.Open(ctx, "/store/c/tape.fits", 0, "", true)
	var pe *fedapi.PendingError
	if !errors.As(err, &pe) || pe.Request == "" || pe.RetryAfter != StageRetryAfter*time.Second {
		t.Fatalf("stage: %v", err)
	}
	select {
	case <-ts.wake:
	case <-time.After(10 * time.Second):
		t.Error("the daemon was not woken")
	}
	queued := func() []string {
		var q []string
		must(t, xrdq.Open(ts.cfg.QueueDir()).List([]xrdq.Kind{xrdq.Stage}, -1, func(r xrdq.Request) error {
			q = append(q, r.ID+" "+r.Path()+" "+r.User)
			return nil
		}))
		return q
	}
	want := []string{pe.Request + " /store/c/tape.fits serve:peer-admin"}
	if q := queued(); !slices.Equal(q, want) {
		t.Errorf("queue %v, want %v", q, want)
	}
	// Asked again while queued: the same request, not a second one.
	_, err = admin.Open(ctx, "/store/c/tape.fits", 0, "", true)
	var again *fedapi.PendingError
	if !errors.As(err, &again) || again.Request != pe.Request {
		t.Errorf("again: %v", err)
	}
	if q := queued(); !slices.Equal(q, want) {
		t.Errorf("queue after asking again %v", q)
	}
	// What cannot be staged is said so.
	for _, lfn := range []string{"/store/none.fits", "/archive/old.fits"} {
		if _, err := admin.Open(ctx, lfn, 0, "", true); fedapi.StatusOf(err) != 404 {
			t.Errorf("stage %s: %v", lfn, err)
		}
	}
	// A resident file is served, stage or not.
	f, err := admin.Open(ctx, "/store/a/xa.fits", 0, "", true)
	if err != nil {
		t.Fatal(err)
	}
	f.Body.Close()
	// HEAD never queues.
	if code, _, _ := ts.do(t, "HEAD", "/v1/files/store/c/tape.fits?stage=1", adminToken, nil, nil); code != 404 {
		t.Errorf("HEAD ?stage=1: %d", code)
	}
	if q := queued(); len(q) != 1 {
		t.Errorf("queue %v", q)
	}
}

func TestManifest(t *testing.T) {
	ts := startServer(t, serverOpts{})
	ctx := context.Background()
	list := func(tok, prefix string) ([]string, string, error) {
		var got []string
		gen, err := ts.client(t, tok).Manifest(ctx, prefix, "", func(e fedapi.ManifestEntry) error {
			if e.State != fedapi.Resident || e.Size != int64(len(content(e.LFN))) || e.MTime != 1700000000 {
				t.Errorf("entry %+v", e)
			}
			if e.LFN != "/store/a/nocks.fits" && e.Checksum != adlerOf(content(e.LFN)) {
				t.Errorf("entry %+v: checksum, want %s", e, adlerOf(content(e.LFN)))
			}
			got = append(got, e.LFN)
			return nil
		})
		slices.Sort(got)
		return got, gen, err
	}
	got, gen, err := list(readToken, "/store")
	want := []string{"/store/a/nocks.fits", "/store/a/plain.fits", "/store/a/xa.fits", "/store/b/other.fits", "/store/nested/n.fits"}
	if err != nil || !slices.Equal(got, want) || len(gen) != 32 {
		t.Fatalf("manifest /store: %v %q %v", got, gen, err)
	}
	// The whole site: every export (a top-level prefix holds them).
	if all, _, err := list(readToken, "/"); err != nil || !slices.Equal(all, want) {
		t.Errorf("manifest /: %v %v", all, err)
	}
	// Same files, same generation; a change, another.
	if _, gen2, _ := list(readToken, "/store"); gen2 != gen {
		t.Errorf("generation changed without a change: %s %s", gen, gen2)
	}
	must(t, os.Chtimes(ts.s.PFN("/store/b/other.fits"), time.Unix(1700000000, 0), time.Unix(1700000000, 0)))
	if _, gen2, _ := list(readToken, "/store"); gen2 != gen {
		t.Errorf("generation changed with the same mtime: %s %s", gen, gen2)
	}
	must(t, os.WriteFile(ts.s.PFN("/store/b/new.fits"), content("/store/b/new.fits"), 0o644))
	must(t, os.Chtimes(ts.s.PFN("/store/b/new.fits"), time.Unix(1700000000, 0), time.Unix(1700000000, 0)))
	setAdler(t, ts.s.PFN("/store/b/new.fits"), content("/store/b/new.fits"), 1700000000)
	if got, gen2, _ := list(readToken, "/store"); gen2 == gen || len(got) != 6 {
		t.Errorf("a new file: %v %s", got, gen2)
	}
	// A token sees its prefixes only.
	if got, _, err := list(narrowToken, "/store"); err != nil || !slices.Equal(got, want[:3]) {
		t.Errorf("narrow token: %v %v", got, err)
	}
	if _, _, err := list(narrowToken, "/store/b"); fedapi.StatusOf(err) != 403 {
		t.Errorf("narrow token, other prefix: %v", err)
	}
	if _, _, err := list(readToken, "/private"); fedapi.StatusOf(err) != 404 {
		t.Errorf("not exported: %v", err)
	}
	// The raw stream: NDJSON, the end line last, the generation in a
	// trailer too.
	c := ts.client(t, readToken)
	req, _ := http.NewRequest("GET", ts.url+fedapi.ManifestPath+"?prefix=/store/a", nil)
	req.Header.Set("Authorization", "Bearer "+readToken)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	var end fedapi.ManifestEnd
	if resp.Header.Get("Content-Type") != "application/x-ndjson" || len(lines) != 4 || json.Unmarshal([]byte(lines[3]), &end) != nil ||
		!end.End || end.Files != 3 || resp.Trailer.Get(fedapi.HeaderGeneration) != end.Generation {
		t.Errorf("stream %v %v trailer %v", resp.Header, lines, resp.Trailer)
	}
}

func TestMetricsOnTheSameListener(t *testing.T) {
	ts := startServer(t, serverOpts{metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "frm_test_metric 1\n")
	})})
	if code, _, b := ts.do(t, "GET", fedapi.MetricsPath, readToken, nil, nil); code != 200 || string(b) != "frm_test_metric 1\n" {
		t.Errorf("metrics: %d %q", code, b)
	}
	if code, _, _ := ts.do(t, "GET", fedapi.MetricsPath, "", nil, nil); code != 401 {
		t.Errorf("metrics without a token: %d", code)
	}
	plain := startServer(t, serverOpts{})
	if code, _, _ := plain.do(t, "GET", fedapi.MetricsPath, readToken, nil, nil); code != 404 {
		t.Errorf("metrics when not enabled: %d", code)
	}
}

// TestReconfigure: SIGHUP's new token set replaces the old one at once.
func TestReconfigure(t *testing.T) {
	ts := startServer(t, serverOpts{})
	next := *ts.cfg
	next.Serve.Tokens = []config.ServeToken{{Name: "new", SHA256: digest("new-token"), Scope: config.ScopeRead}}
	ts.srv.Reconfigure(&next)
	if code, _, _ := ts.do(t, "GET", fedapi.StatusPath, readToken, nil, nil); code != 401 {
		t.Errorf("a removed token: %d", code)
	}
	if code, _, _ := ts.do(t, "GET", fedapi.StatusPath, "new-token", nil, nil); code != 200 {
		t.Errorf("a new token: %d", code)
	}
	// No token left on a loopback listener that had some: open for
	// reading, as a loopback listener without tokens starts.
	next.Serve.Tokens = nil
	ts.srv.Reconfigure(&next)
	if code, _, _ := ts.do(t, "GET", fedapi.StatusPath, "", nil, nil); code != 200 {
		t.Errorf("no tokens on loopback: %d", code)
	}
	if !strings.Contains(ts.log.String(), "serve tokens reloaded") {
		t.Error("the reload is not logged")
	}
}
