package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"frm/core/config"
	"frm/core/fedapi"
	"frm/core/names"
)

// buildFuzz is a server over a test site with symlinks out of the
// exports, called through its handler (no sockets: the fuzzer calls it
// thousands of times a second). Without tokens on loopback it is open
// for reading.
func buildFuzz(f *testing.F) (*Server, *tsite) {
	ts := newSite(f, func(c *config.Config) { c.Serve.Listen = "127.0.0.1:0" })
	ns := ts.s.PFN("/store")
	priv := ts.s.PFN("/private/secret.fits")
	data, err := os.Readlink(priv)
	must(f, err)
	for name, target := range map[string]string{
		"evil": ts.secretPath, "evildir": ts.outside, "privlink": priv, "privdir": filepath.Dir(priv), "xasteal": data, "root": "/",
	} {
		must(f, os.Symlink(target, filepath.Join(ns, name)))
	}
	srv, err := New(ts.s, Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	must(f, err)
	return srv, ts
}

// FuzzLocateBody: whatever the body, the answer is 200, 400 or 413
// (never a panic, never a 5xx), and a 200 has one answer per name asked,
// in order, none of them resident outside the exports.
func FuzzLocateBody(f *testing.F) {
	srv, ts := buildFuzz(f)
	for _, seed := range []string{
		`{"lfns":["/store/a/xa.fits","/store/c/tape.fits","/none","rel","/store/../..","/store/evil"]}`,
		`{"lfns":[]}`, `{"lfns":null}`, `{}`, `[]`, `{"lfns":["\u0000"]}`, `{"lfns":["/store/a/xa.fits"]}{}`,
		`{"lfns":["/store/evildir/secret","/store/xasteal","/store/privdir/secret.fits"]}`, `{"LFNS":["/a"]}`,
		`{"lfns":[1,2]}`, `{"lfns":["` + strings.Repeat("/a", 3000) + `"]}`, ``, `null`, `{"lfns":["/store/a/xa.fits"],"x":1}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", fedapi.LocatePath, bytes.NewReader(body))
		r.Host = "127.0.0.1"
		srv.Handler().ServeHTTP(w, r)
		switch w.Code {
		case 200:
		case 400, 413:
			var eb fedapi.ErrorBody
			if json.Unmarshal(w.Body.Bytes(), &eb) != nil || eb.Error == "" {
				t.Fatalf("%d without an error body: %q", w.Code, w.Body.Bytes())
			}
			return
		default:
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body.Bytes())
		}
		var req fedapi.LocateRequest
		if err := json.Unmarshal(body, &req); err != nil {
			t.Fatalf("200 for a body that does not decode: %q", body)
		}
		var rep fedapi.LocateReply
		if err := json.Unmarshal(w.Body.Bytes(), &rep); err != nil {
			t.Fatal(err)
		}
		if len(rep.Files) != len(req.LFNs) {
			t.Fatalf("%d answers for %d names", len(rep.Files), len(req.LFNs))
		}
		for i, l := range rep.Files {
			if l.LFN != req.LFNs[i] {
				t.Fatalf("answer %d is for %q, asked %q", i, l.LFN, req.LFNs[i])
			}
			if lfn, err := names.Clean(l.LFN); l.State == fedapi.Resident && (err != nil || !strings.HasPrefix(lfn, "/store/")) {
				t.Fatalf("%q resident", l.LFN)
			}
		}
		noSecret(t, ts, w.Body.Bytes())
	})
}

// FuzzFilePath: whatever the URL path after /v1/files/, no panic, no
// 5xx, and no byte of a file outside the exports; a 200 sends the bytes
// of an exported file.
func FuzzFilePath(f *testing.F) {
	srv, ts := buildFuzz(f)
	for _, seed := range []string{
		"store/a/xa.fits", "store/a/plain.fits", "../../etc/passwd", "%2e%2e/%2e%2e/etc/passwd", "store/%2E%2E%2F%2E%2E%2Fprivate/secret.fits",
		"store/a/xa.fits%00", "/etc/passwd", "store\\..\\..\\etc\\passwd", "store/..%5c..%5cetc", "store/evil", "store/evildir/secret",
		"store/privlink", "store/privdir/secret.fits", "store/xasteal", "store/root/etc/passwd", "private/secret.fits",
		"store/c/tape.fits?stage=1", "store/a/xa.fits?stage=1", "%252e%252e/etc/passwd", "", ".", "store/./a/../a/xa.fits",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, rest string) {
		u, err := url.ParseRequestURI(fedapi.FilesPath + "/" + rest)
		if err != nil {
			return // the server's parser refuses it first (400)
		}
		for _, method := range []string{"GET", "HEAD"} {
			r := &http.Request{Method: method, URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
				Header: http.Header{"Range": {"bytes=0-"}}, Body: http.NoBody, Host: "127.0.0.1", RemoteAddr: "127.0.0.1:1", RequestURI: u.RequestURI()}
			r = r.WithContext(context.Background())
			w := httptest.NewRecorder()
			srv.Handler().ServeHTTP(w, r)
			if w.Code >= 500 {
				t.Fatalf("%s %q: %d %s", method, u.RequestURI(), w.Code, w.Body.Bytes())
			}
			noSecret(t, ts, w.Body.Bytes())
			if w.Code == 200 || w.Code == 206 {
				lfn, err := lfnOfPath(u.Path)
				if err != nil || !strings.HasPrefix(lfn, "/store/") || method == "GET" && !bytes.Equal(w.Body.Bytes(), content(lfn)) {
					t.Fatalf("%s %q: %d, %q", method, u.RequestURI(), w.Code, w.Body.Bytes())
				}
			}
		}
	})
}

func noSecret(t *testing.T, ts *tsite, b []byte) {
	t.Helper()
	for _, s := range [][]byte{ts.secret, content("/private/secret.fits"), []byte("root:x:0:0")} {
		if bytes.Contains(b, s) {
			t.Fatalf("a byte outside the exports: %q", b)
		}
	}
}
