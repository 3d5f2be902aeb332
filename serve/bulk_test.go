package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"frm/core/fedapi"
	"frm/core/meta"
)

// bulkAll reads a bulk answer through the client: per name, its content
// or its error record.
func bulkAll(t *testing.T, c *fedapi.Client, lfns []string) ([]fedapi.BulkRecord, [][]byte, error) {
	t.Helper()
	var recs []fedapi.BulkRecord
	var bodies [][]byte
	err := c.Bulk(context.Background(), lfns, func(r fedapi.BulkRecord) error {
		b, err := io.ReadAll(r.Body)
		recs = append(recs, fedapi.BulkRecord{BulkHeader: r.BulkHeader})
		bodies = append(bodies, b)
		return err
	})
	return recs, bodies, err
}

// TestBulk: POST /v1/bulk sends each resident file's bytes with its size,
// mtime, stored adler32 and ETag (those of GET /v1/files), answers each
// name that cannot be served with an error record of the status the GET
// would give, in the order asked, and bounds its request.
func TestBulk(t *testing.T) {
	ts := startServer(t, serverOpts{})
	bad := ts.s.PFN("/store/a/bad.fits")
	must(t, os.WriteFile(bad, []byte("rotten"), 0o644))
	must(t, meta.SetBadChecksum(bad, meta.BadChecksum{Alg: "adler32", Found: 1, MTime: 1, Stored: []byte{1, 2, 3, 4}, Computed: []byte{5, 6, 7, 8}}))
	c := ts.client(t, readToken)
	type want struct {
		status int
		err    string
	}
	cases := []struct {
		lfn string
		want
	}{
		{"/store/a/xa.fits", want{}},
		{"/store/a/plain.fits", want{}},
		{"/store//a/./nocks.fits", want{}}, // cleaned as GET cleans it; the record names it as asked
		{"/store/c/tape.fits", want{404, "absent: not on disk"}},
		{"/store/none.fits", want{404, "absent: not on disk"}},
		{"/private/secret.fits", want{404, "not exported"}},
		{"/store/a/bad.fits", want{409, "marked bad"}},
		{"/store/a", want{404, "not a regular file"}},
		{"/store/a/xa.fits.anew", want{404, "not on disk"}},
		{"relative/name", want{400, "invalid lfn"}},
		{"/store/b/other.fits", want{}},
		{"/store/a/xa.fits", want{}}, // twice: sent twice
	}
	var lfns []string
	for _, tc := range cases {
		lfns = append(lfns, tc.lfn)
	}
	before := time.Now().Add(-time.Second)
	old, mt := time.Unix(1600000000, 0), time.Unix(1700000000, 0)
	xa := ts.s.PFN("/store/a/xa.fits")
	must(t, os.Chtimes(xa, old, mt))
	recs, bodies, err := bulkAll(t, c, lfns)
	if err != nil || len(recs) != len(cases) {
		t.Fatalf("bulk: %d records, %v", len(recs), err)
	}
	for i, tc := range cases {
		r, b := recs[i], bodies[i]
		if r.LFN != tc.lfn {
			t.Errorf("record %d names %q, want %q", i, r.LFN, tc.lfn)
		}
		if tc.status != 0 {
			if r.Status != tc.status || !strings.Contains(r.Error, tc.err) || len(b) != 0 {
				t.Errorf("%s: %d %q (%d bytes), want %d %q", tc.lfn, r.Status, r.Error, len(b), tc.status, tc.err)
			}
			continue
		}
		lfn := strings.Replace(strings.Replace(tc.lfn, "//", "/", 1), "/./", "/", 1)
		f, err := c.Open(context.Background(), lfn, 0, "", false)
		must(t, err)
		f.Body.Close()
		if r.Status != 0 || !bytes.Equal(b, content(lfn)) || r.Size != int64(len(b)) || r.MTime != mt.Unix() || r.ETag != f.ETag || r.Checksum != f.Checksum.String() {
			t.Errorf("%s: %+v, %q; GET says %+v", tc.lfn, r.BulkHeader, b, f)
		}
		if lfn != "/store/a/nocks.fits" && r.Checksum != adlerOf(b) {
			t.Errorf("%s: checksum %q, the bytes' %s", tc.lfn, r.Checksum, adlerOf(b))
		}
	}
	// A file sent is an access (the purger's order), its mtime kept.
	if fi, err := os.Stat(xa); err != nil || accessTime(fi).Before(before) || !fi.ModTime().Equal(mt) {
		t.Errorf("after bulk: %v %v", fi, err)
	}
	// Each file sent is a line of the log, as a GET's request line.
	if n := strings.Count(ts.log.String(), "msg=bulk lfn=/store/a/xa.fits status=200 bytes="); n != 2 {
		t.Errorf("the log has %d lines of xa.fits sent in bulk, want 2", n)
	}

	// The request's bounds.
	many, _ := json.Marshal(fedapi.BulkRequest{LFNs: make([]string, fedapi.MaxBulk+1)})
	huge := `{"lfns":["/store/` + strings.Repeat("a", fedapi.MaxBulkBody) + `"]}`
	for _, tc := range []struct {
		name, method, body string
		want               int
	}{
		{"too many names", "POST", string(many), 413},
		{"body too large", "POST", huge, 413},
		{"not JSON", "POST", "lfns=/store/a/xa.fits", 400},
		{"unknown field", "POST", `{"lfns":[],"stage":true}`, 400},
		{"two objects", "POST", `{"lfns":[]}{"lfns":[]}`, 400},
		{"GET", "GET", "", 405},
		{"empty list", "POST", `{"lfns":[]}`, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			code, h, b := ts.do(t, tc.method, fedapi.BulkPath, readToken, body, nil)
			if code != tc.want {
				t.Errorf("%d %.200s, want %d", code, b, tc.want)
			}
			if code == 200 && (string(b) != `{"end":true}`+"\n" || h.Get("Content-Type") != fedapi.BulkContentType) {
				t.Errorf("empty bulk: %q %v", b, h)
			}
			if code >= 400 && !json.Valid(b) {
				t.Errorf("error body %q", b)
			}
		})
	}
	if _, _, err := bulkAll(t, ts.client(t, "not-a-token"), []string{"/store/a/xa.fits"}); fedapi.StatusOf(err) != 401 {
		t.Errorf("bulk without a valid token: %v", err)
	}
}

// TestBulkTraversal: the traversal corpus of TestTraversal through a bulk
// body (.., %2e%2e, NUL, backslashes, symlinks out of the root, onto
// another file's data, loops) and a read token's names outside its
// prefixes: each is an error record, and no byte outside what the token
// may read is ever sent.
func TestBulkTraversal(t *testing.T) {
	ts := startServer(t, serverOpts{})
	ns := ts.s.PFN("/store")
	privPFN := ts.s.PFN("/private/secret.fits")
	privData, err := os.Readlink(privPFN)
	must(t, err)
	rel, err := filepath.Rel(ns, ts.secretPath)
	must(t, err)
	for name, target := range map[string]string{
		"evil": ts.secretPath, "rel": rel, "chain": filepath.Join(ns, "evil"), "evildir": ts.outside,
		"etc": "/etc", "privlink": privPFN, "privdir": filepath.Dir(privPFN), "xasteal": privData,
		"root": "/", "loop": filepath.Join(ns, "loop"), "a/up": "../../../" + filepath.Base(ts.l.Dir),
	} {
		must(t, os.Symlink(target, filepath.Join(ns, name)))
	}
	names := []string{
		"/../../../../etc/passwd", "/store/../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
		"/store/%2e%2e/private/secret.fits", "/store/a/xa.fits\x00", "/store/a/xa.fits\x00.jpg", "\x00",
		"//etc/passwd", "//private/secret.fits", "/store//..//..//etc/passwd", "/store\\..\\..\\..\\etc\\passwd",
		"/private/secret.fits", "/store/evil", "/store/rel", "/store/chain", "/store/evildir/secret",
		"/store/etc/passwd", "/store/privlink", "/store/privdir/secret.fits", "/store/xasteal",
		"/store/root/etc/passwd", "/store/loop", "/store/a/up/ns/private/secret.fits",
		"/store/a/up/" + filepath.Base(ts.outside) + "/secret", "/store", "/", "", ".", "..",
		"/store/" + strings.Repeat("x/", 3000),
	}
	secrets := [][]byte{ts.secret, content("/private/secret.fits"), []byte("root:x:0:0")}
	for _, tc := range []struct {
		tok   string
		extra []string // names outside the token's prefixes
	}{
		{adminToken, nil},
		{readToken, nil},
		{narrowToken, []string{"/store/b/other.fits", "/store/nested/n.fits", "/store/a/../b/other.fits", "/store/ab"}},
	} {
		ask := append(append([]string{}, names...), tc.extra...)
		ask = append(ask, "/store/a/xa.fits") // one the token may read, last
		code, _, raw := ts.do(t, "POST", fedapi.BulkPath, tc.tok, bytes.NewReader(mustJSON(t, fedapi.BulkRequest{LFNs: ask})), nil)
		if code != 200 {
			t.Fatalf("%s: %d %s", tc.tok, code, raw)
		}
		for _, s := range secrets {
			if bytes.Contains(raw, s) {
				t.Errorf("%s: a byte outside the exports was sent", tc.tok)
			}
		}
		if tc.tok == narrowToken && bytes.Contains(raw, content("/store/b/other.fits")) {
			t.Errorf("the narrow token read outside its prefixes")
		}
		i := 0
		_, err := fedapi.ReadBulk(bytes.NewReader(raw), func(r fedapi.BulkRecord) error {
			want := ask[i]
			i++
			if r.LFN != want {
				return fmt.Errorf("record %d names %q, want %q", i, r.LFN, want)
			}
			if want == "/store/a/xa.fits" {
				if r.Status != 0 {
					t.Errorf("%s: %s refused: %d %s", tc.tok, want, r.Status, r.Error)
				}
				return nil
			}
			if r.Status != 400 && r.Status != 403 && r.Status != 404 || r.Size != 0 {
				t.Errorf("%s: %q: %d %q %d bytes, want an error record", tc.tok, want, r.Status, r.Error, r.Size)
			}
			return nil
		})
		if err != nil || i != len(ask) {
			t.Errorf("%s: %d records, %v", tc.tok, i, err)
		}
	}
	// The reasons, as GET gives them.
	c := ts.client(t, adminToken)
	recs, _, err := bulkAll(t, c, []string{"/store/evil", "/store/xasteal", "/store/loop", "/%2e%2e/etc/passwd", "/../etc/passwd", "/store/a/xa.fits\x00"})
	must(t, err)
	for i, want := range []string{"404 leads outside the exports", "404 leads outside the exports", "404 a symlink that does not resolve",
		"404 not exported", `400 invalid lfn "/../etc/passwd": climbs above the namespace root with ..`, `400 invalid lfn "/store/a/xa.fits\x00": contains a NUL byte`} {
		if got := fmt.Sprint(recs[i].Status, " ", recs[i].Error); got != want {
			t.Errorf("%s: %s, want %s", recs[i].LFN, got, want)
		}
	}
	narrow, _, err := bulkAll(t, ts.client(t, narrowToken), []string{"/store/b/other.fits"})
	if err != nil || narrow[0].Status != 403 || narrow[0].Error != "outside this token's prefixes" {
		t.Errorf("narrow token: %+v %v", narrow, err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	must(t, err)
	return b
}
