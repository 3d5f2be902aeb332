package serve

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"hash/adler32"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"frm/core/sitegen/sitetest"

	"frm/core/config"
	"frm/core/fedapi"
	"frm/core/meta"
	"frm/core/site"
	"frm/core/sitegen"
	"frm/serve/servetest"
)

// Tokens of the test server.
const (
	readToken   = "read-token-0123456789"
	adminToken  = "admin-token-0123456789"
	narrowToken = "narrow-token-0123456789" // read, /store/a only
)

func digest(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

// tsite is a test site and what lies around it.
type tsite struct {
	s      *site.Site
	l      sitegen.Layout
	cfg    *config.Config
	secret []byte // the content of the file outside the site
	// secretPath is that file; outside its directory.
	secretPath, outside string
}

// content of the test files.
func content(lfn string) []byte { return []byte("the bytes of " + lfn + strings.Repeat(".", 300)) }

// newSite builds the demo layout with: resident files (an XA file with a
// stored adler32, a plain file), a file only in the MSS, a file of a
// non-staging export only in the MSS, a non-exported file, and a secret
// file outside the site that links in the exports lead to.
func newSite(t testing.TB, mutate func(*config.Config)) *tsite {
	t.Helper()
	var cfg *config.Config
	s, l := sitetest.Open(t, func(c *config.Config) {
		c.Site = "test"
		c.Exports = append(c.Exports, config.Export{Path: "/store/nested", Stage: true})
		if mutate != nil {
			mutate(c)
		}
		cfg = c
	})
	ts := &tsite{s: s, l: l, cfg: cfg, outside: t.TempDir()}
	ts.secret = []byte("TOPSECRET-" + hex.EncodeToString(randBytes(t, 16)))
	ts.secretPath = filepath.Join(ts.outside, "secret")
	must(t, os.WriteFile(ts.secretPath, ts.secret, 0o644))
	ctx := context.Background()
	mt := time.Unix(1700000000, 0)
	for _, f := range []struct{ lfn, space string }{
		{"/store/a/xa.fits", "data"}, {"/store/a/plain.fits", ""}, {"/store/b/other.fits", "data"},
		{"/store/nested/n.fits", ""}, {"/private/secret.fits", "data"}, {"/store/a/nocks.fits", ""},
	} {
		pfn, err := s.Place(ctx, f.lfn, f.space, bytes.NewReader(content(f.lfn)), int64(len(content(f.lfn))))
		must(t, err)
		must(t, os.Chtimes(pfn, mt, mt))
		if f.lfn != "/store/a/nocks.fits" {
			setAdler(t, pfn, content(f.lfn), mt.Unix())
		}
	}
	ts.mssFile(t, "/store/c/tape.fits")
	ts.mssFile(t, "/archive/old.fits")
	return ts
}

func (ts *tsite) mssFile(t testing.TB, lfn string) {
	t.Helper()
	p := filepath.Join(ts.l.RemoteRoot, lfn)
	must(t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(t, os.WriteFile(p, content(lfn), 0o644))
}

func setAdler(t testing.TB, pfn string, data []byte, mtime int64) {
	t.Helper()
	sum := adler32.Checksum(data)
	v := []byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)}
	if err := meta.SetChecksum(pfn, meta.Checksum{Alg: "adler32", Value: v, MTime: mtime}); err != nil {
		if strings.Contains(err.Error(), "not supported") {
			t.Skip("no user xattrs on this filesystem")
		}
		t.Fatal(err)
	}
}

func randBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// tserver is a running test server.
type tserver struct {
	*tsite
	srv  *Server
	url  string
	pki  servetest.PKI
	log  *syncBuffer
	wake chan struct{}

	mu      sync.Mutex
	clients []*fedapi.Client
}

type serverOpts struct {
	plain    bool // no TLS
	clientCA bool
	noTokens bool
	mutate   func(*config.Config)
	status   StatusSource
	metrics  http.Handler
	admin    AdminRunner
}

// startServer runs a server over real HTTPS on 127.0.0.1 with the three
// test tokens.
func startServer(t *testing.T, o serverOpts) *tserver {
	t.Helper()
	p := servetest.NewPKI(t)
	ts := newSite(t, func(c *config.Config) {
		c.Serve.Listen = "127.0.0.1:0"
		if !o.plain {
			c.Serve.TLSCert, c.Serve.TLSKey = p.ServerCert, p.ServerKey
		}
		if o.clientCA {
			c.Serve.ClientCA = p.CA
		}
		if !o.noTokens {
			c.Serve.Tokens = []config.ServeToken{
				{Name: "peer-read", SHA256: digest(readToken), Scope: config.ScopeRead},
				{Name: "peer-admin", SHA256: digest(adminToken), Scope: config.ScopeAdmin},
				{Name: "peer-narrow", SHA256: digest(narrowToken), Scope: config.ScopeRead, Prefixes: []string{"/store/a"}},
			}
		}
		if o.mutate != nil {
			o.mutate(c)
		}
	})
	logb := &syncBuffer{}
	wake := make(chan struct{}, 16)
	srv, err := New(ts.s, Options{Version: "test", Log: slog.New(slog.NewTextHandler(logb, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Status: o.status, Metrics: o.metrics, Admin: o.admin,
		Wake: func(context.Context) error { wake <- struct{}{}; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	tsv := &tserver{tsite: ts, srv: srv, url: srv.URL(), pki: p, log: logb, wake: wake}
	t.Cleanup(func() {
		// Idle HTTP/2 connections closed first: a graceful shutdown
		// waits a second for their clients otherwise.
		tsv.mu.Lock()
		for _, c := range tsv.clients {
			c.HTTP.CloseIdleConnections()
		}
		tsv.mu.Unlock()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return tsv
}

// client returns a fedapi client with tok.
func (ts *tserver) client(t *testing.T, tok string) *fedapi.Client {
	t.Helper()
	c, err := fedapi.NewClient(ts.url, fedapi.ClientOptions{Token: tok, CAFile: ts.pki.CA, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ts.mu.Lock()
	ts.clients = append(ts.clients, c)
	ts.mu.Unlock()
	return c
}

// get sends a raw request (path as is: not cleaned by the client) and
// returns the status, headers and body.
func (ts *tserver) do(t *testing.T, method, rawPath, tok string, body io.Reader, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	c := ts.client(t, tok)
	req, err := http.NewRequest(method, ts.url+"/", body)
	if err != nil {
		t.Fatal(err)
	}
	// The raw request line: Opaque keeps %2e, //, \ as sent.
	req.URL.Opaque = rawPath
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawPath, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, rawPath, err)
	}
	return resp.StatusCode, resp.Header, b
}

// syncBuffer is a buffer written by goroutines (the server's log).
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
