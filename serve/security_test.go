package serve

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"frm/core/config"
	"frm/core/fedapi"
	"frm/serve/servetest"
)

func TestAuthentication(t *testing.T) {
	ts := startServer(t, serverOpts{})
	file := fedapi.FileURLPath("/store/a/xa.fits")
	for _, tc := range []struct {
		name, method, path, tok string
		body                    string
		want                    int
	}{
		{"no token", "GET", fedapi.StatusPath, "", "", 401},
		{"no token, file", "GET", file, "", "", 401},
		{"no token, unknown path", "GET", "/v1/nothing", "", "", 401},
		{"wrong token", "GET", file, "not-a-token", "", 401},
		{"a token's digest as the token", "GET", file, digest(readToken), "", 401},
		{"a prefix of a token", "GET", file, readToken[:10], "", 401},
		{"read token", "GET", file, readToken, "", 200},
		{"outside the token's prefixes", "GET", fedapi.FileURLPath("/store/b/other.fits"), narrowToken, "", 403},
		{"inside the token's prefixes", "GET", file, narrowToken, "", 200},
		{"read token stages", "GET", "/v1/files/store/c/tape.fits?stage=1", readToken, "", 403},
		{"read token stages a resident file", "GET", file + "?stage=1", readToken, "", 403},
		{"read token PUT", "PUT", file, readToken, "data", 403},
		{"read token DELETE", "DELETE", file, readToken, "", 403},
		{"read token POST", "POST", file, readToken, "data", 403},
		{"read token PATCH", "PATCH", fedapi.StatusPath, readToken, "", 403},
		{"admin token PUT: no such endpoint", "PUT", file, adminToken, "data", 405},
		{"admin token DELETE", "DELETE", file, adminToken, "", 405},
		{"OPTIONS", "OPTIONS", file, readToken, "", 405},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body *strings.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			var code int
			var h http.Header
			var b []byte
			if body != nil {
				code, h, b = ts.do(t, tc.method, tc.path, tc.tok, body, nil)
			} else {
				code, h, b = ts.do(t, tc.method, tc.path, tc.tok, nil, nil)
			}
			if code != tc.want {
				t.Errorf("%s %s: %d %s, want %d", tc.method, tc.path, code, b, tc.want)
			}
			if code == 401 && !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without WWW-Authenticate: %v", h)
			}
			if code >= 400 {
				var eb fedapi.ErrorBody
				if json.Unmarshal(b, &eb) != nil || eb.Error == "" || h.Get("Content-Type") != "application/json" {
					t.Errorf("error body %q (%s)", b, h.Get("Content-Type"))
				}
			}
		})
	}
	// The narrow token's locate: the entry is denied, not the request.
	got, err := ts.client(t, narrowToken).Locate(context.Background(), []string{"/store/b/other.fits", "/store/a/xa.fits"})
	if err != nil || got[0].State != fedapi.Denied || got[1].State != fedapi.Resident {
		t.Errorf("locate with a narrow token: %+v %v", got, err)
	}
	// Tokens never reach the log; their names do.
	log := ts.log.String()
	for _, tok := range []string{readToken, adminToken, narrowToken, "not-a-token"} {
		if strings.Contains(log, tok) {
			t.Errorf("the log holds a token %q", tok)
		}
	}
	if !strings.Contains(log, "token=peer-narrow") {
		t.Errorf("the log does not name the token:\n%s", log)
	}
}

// TestTraversal: names that climb out of the root, hide NULs, double
// slashes or backslashes, or symlinks that lead out of the exports
// (outside the site, into a directory that is not exported, onto another
// file's data) answer 400 or 404, and no byte of a file outside the
// exports is ever sent, whatever the token.
func TestTraversal(t *testing.T) {
	ts := startServer(t, serverOpts{})
	ns := ts.s.PFN("/store")
	privPFN := ts.s.PFN("/private/secret.fits")
	privData, err := os.Readlink(privPFN) // an XA file: its data file in a partition
	must(t, err)
	rel, err := filepath.Rel(ns, ts.secretPath)
	must(t, err)
	links := map[string]string{
		"evil":     ts.secretPath,                         // final component, absolute
		"rel":      rel,                                   // final component, relative ../../..
		"chain":    filepath.Join(ns, "evil"),             // a link to a link outside
		"evildir":  ts.outside,                            // a directory outside
		"etc":      "/etc",                                // a system directory
		"privlink": privPFN,                               // a name that is not exported
		"privdir":  filepath.Dir(privPFN),                 // a directory that is not exported
		"xasteal":  privData,                              // straight onto another file's data
		"root":     "/",                                   // the machine's root
		"loop":     filepath.Join(ns, "loop"),             // a loop
		"a/up":     "../../../" + filepath.Base(ts.l.Dir), // relative, up to the site directory
	}
	for name, target := range links {
		must(t, os.Symlink(target, filepath.Join(ns, name)))
	}
	secrets := [][]byte{ts.secret, content("/private/secret.fits"), []byte("root:x:0:0")}
	leaks := func(what string, h http.Header, b []byte) {
		t.Helper()
		var all bytes.Buffer
		h.Write(&all)
		all.Write(b)
		for _, s := range secrets {
			if bytes.Contains(all.Bytes(), s) {
				t.Errorf("%s: a byte outside the exports was sent: %q", what, b)
			}
		}
	}
	paths := []string{
		"/v1/files/../../../../etc/passwd",
		"/v1/files/store/../../../etc/passwd",
		"/v1/files/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
		"/v1/files/store/%2E%2E%2F%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
		"/v1/files/store/%2e%2e/private/secret.fits",
		"/v1/files/store/a/xa.fits%00",
		"/v1/files/store/a/xa.fits%00.jpg",
		"/v1/files/%00",
		"/v1/files//etc/passwd",
		"/v1/files//private/secret.fits",
		"/v1/files/store//..//..//etc/passwd",
		"/v1/files/store\\..\\..\\..\\etc\\passwd",
		"/v1/files/store/..%5c..%5c..%5cetc%5cpasswd",
		"/v1/files/store%5c..%5cprivate%5csecret.fits",
		"/v1/files/%252e%252e/%252e%252e/etc/passwd",
		"/v1/files/%2fetc%2fpasswd",
		"/v1/files/private/secret.fits",
		"/v1/files/store/evil",
		"/v1/files/store/rel",
		"/v1/files/store/chain",
		"/v1/files/store/evildir/secret",
		"/v1/files/store/etc/passwd",
		"/v1/files/store/privlink",
		"/v1/files/store/privdir/secret.fits",
		"/v1/files/store/xasteal",
		"/v1/files/store/root/etc/passwd",
		"/v1/files/store/loop",
		"/v1/files/store/a/up/ns/private/secret.fits",
		"/v1/files/store/a/up/" + filepath.Base(ts.outside) + "/secret",
		"/v1/files/store/evil?stage=1",
		"/v1/files/store",
		"/v1/files/",
		"/v1/files/.",
	}
	for _, tok := range []string{readToken, adminToken} {
		for _, p := range paths {
			code, h, b := ts.do(t, "GET", p, tok, nil, nil)
			if code == 403 && tok == readToken && strings.Contains(p, "stage=1") {
				// Refused before the name is looked at.
			} else if code != 400 && code != 404 {
				t.Errorf("GET %s: %d %s, want 400 or 404", p, code, b)
			}
			leaks("GET "+p, h, b)
			code, h, b = ts.do(t, "GET", p, tok, nil, map[string]string{"Range": "bytes=0-"})
			if code != 400 && code != 404 && code != 403 {
				t.Errorf("GET %s (range): %d", p, code)
			}
			leaks("GET range "+p, h, b)
		}
	}
	// Why, for some: the links are seen for what they are.
	for p, want := range map[string]string{
		"/v1/files/store/evil":                "404 leads outside the exports",
		"/v1/files/store/chain":               "404 leads outside the exports",
		"/v1/files/store/privlink":            "404 leads outside the exports",
		"/v1/files/store/privdir/secret.fits": "404 leads outside the exports",
		"/v1/files/store/xasteal":             "404 leads outside the exports",
		"/v1/files/store/evildir/secret":      "404 leads outside the exports",
		"/v1/files/store/loop":                "404 a symlink that does not resolve",
		"/v1/files/private/secret.fits":       "404 not exported",
		"/v1/files//etc/passwd":               "404 not exported",
		"/v1/files/store/a/xa.fits%00":        `400 invalid lfn "/store/a/xa.fits\x00": contains a NUL byte`,
		"/v1/files/%2e%2e/%2e%2e/etc/passwd":  `400 invalid lfn "/../../etc/passwd": climbs above the namespace root with ..`,
	} {
		code, _, b := ts.do(t, "GET", p, adminToken, nil, nil)
		var eb fedapi.ErrorBody
		json.Unmarshal(b, &eb)
		if got := fmt.Sprint(code, " ", eb.Error); got != want {
			t.Errorf("GET %s: %s, want %s", p, got, want)
		}
	}
	// The symlinks' names through locate: never resident, never a size.
	var lfns []string
	for name := range links {
		lfns = append(lfns, "/store/"+name)
	}
	lfns = append(lfns, "/store/evildir/secret", "/store/privdir/secret.fits", "/store/etc/passwd", "/store/../private/secret.fits", "/store/a/up/ns/private/secret.fits")
	got, err := ts.client(t, adminToken).Locate(context.Background(), lfns)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range got {
		if l.State == fedapi.Resident || l.State == fedapi.Stageable || l.Size != 0 {
			t.Errorf("locate %s: %+v", l.LFN, l)
		}
	}
	body, _ := json.Marshal(got)
	leaks("locate", http.Header{}, body)
	// Nor through the manifest.
	var listed []string
	_, err = ts.client(t, adminToken).Manifest(context.Background(), "/", "", func(e fedapi.ManifestEntry) error {
		listed = append(listed, e.LFN)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range listed {
		for name := range links {
			if strings.HasPrefix(l, "/store/"+name) {
				t.Errorf("the manifest lists %s", l)
			}
		}
	}
	for _, p := range []string{"/v1/manifest?prefix=/store/evildir", "/v1/manifest?prefix=/store/privdir", "/v1/manifest?prefix=/store/a/up", "/v1/manifest?prefix=/store/root/etc", "/v1/manifest?prefix=/store/../private"} {
		code, h, b := ts.do(t, "GET", p, adminToken, nil, nil)
		leaks(p, h, b)
		if code == 200 && strings.Count(string(b), "\n") != 1 {
			t.Errorf("%s lists files: %s", p, b)
		}
	}
}

// TestOpenLoopback: a loopback listener without tokens is open for
// reading, by loopback Host names only (no DNS rebinding from a web
// page), and never stages.
func TestOpenLoopback(t *testing.T) {
	ts := startServer(t, serverOpts{noTokens: true})
	if code, _, b := ts.do(t, "GET", fedapi.StatusPath, "", nil, nil); code != 200 {
		t.Errorf("status without a token: %d %s", code, b)
	}
	if code, _, _ := ts.do(t, "GET", fedapi.FileURLPath("/store/a/xa.fits"), "", nil, nil); code != 200 {
		t.Errorf("a file without a token: %d", code)
	}
	if code, _, _ := ts.do(t, "GET", "/v1/files/store/c/tape.fits?stage=1", "", nil, nil); code != 403 {
		t.Errorf("stage without a token: %d", code)
	}
	for host, want := range map[string]int{"localhost:1": 200, "[::1]:1": 200, "127.0.0.1": 200, "evil.example:8443": 403, "127.0.0.1.evil.example": 403} {
		if code, _, _ := ts.do(t, "GET", fedapi.StatusPath, "", nil, map[string]string{"Host": host}); code != want {
			t.Errorf("Host %s: %d, want %d", host, code, want)
		}
	}
}

// TestNonLoopbackRefused: a listener that others can reach needs TLS and
// tokens, or insecure = true (which is logged).
func TestNonLoopbackRefused(t *testing.T) {
	p := servetest.NewPKI(t)
	tokens := []config.ServeToken{{Name: "a", SHA256: digest("x"), Scope: config.ScopeRead}}
	for _, tc := range []struct {
		name  string
		serve config.Serve
		err   string
		warn  string
	}{
		{"plain HTTP with tokens", config.Serve{Listen: "0.0.0.0:8443", Tokens: tokens},
			"serve.listen 0.0.0.0:8443 is not loopback: frm serve needs tls_cert/tls_key and at least one [[serve.token]] there (or insecure = true)", ""},
		{"TLS without tokens", config.Serve{Listen: "192.0.2.1:8443", TLSCert: p.ServerCert, TLSKey: p.ServerKey},
			"serve.listen 192.0.2.1:8443 is not loopback", ""},
		{"an empty host is every address", config.Serve{Listen: ":8443", TLSCert: p.ServerCert, TLSKey: p.ServerKey},
			"serve.listen :8443 is not loopback", ""},
		{"insecure plain HTTP", config.Serve{Listen: "0.0.0.0:8443", Tokens: tokens, Insecure: true}, "", "serving plain HTTP on a non-loopback address"},
		{"insecure without tokens", config.Serve{Listen: "0.0.0.0:8443", TLSCert: p.ServerCert, TLSKey: p.ServerKey, Insecure: true}, "", "anyone who reaches it may read every export"},
		{"TLS and tokens", config.Serve{Listen: "0.0.0.0:8443", TLSCert: p.ServerCert, TLSKey: p.ServerKey, Tokens: tokens}, "", ""},
		{"plain HTTP on loopback", config.Serve{Listen: "127.0.0.1:8443"}, "", ""},
		{"no listen", config.Serve{}, "serve.listen is not set", ""},
		{"a certificate that does not load", config.Serve{Listen: "127.0.0.1:8443", TLSCert: p.CA, TLSKey: p.ServerKey}, "serve.tls_cert", ""},
		{"a client CA that is no CA", config.Serve{Listen: "127.0.0.1:8443", TLSCert: p.ServerCert, TLSKey: p.ServerKey, ClientCA: p.ServerKey}, "serve.client_ca", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newSite(t, func(c *config.Config) { c.Serve = tc.serve })
			var logb syncBuffer
			_, err := New(ts.s, Options{Log: slog.New(slog.NewTextHandler(&logb, nil))})
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v, want %q", err, tc.err)
			}
			if tc.err != "" {
				var ce *ConfigError
				if !errors.As(err, &ce) {
					t.Errorf("not a ConfigError: %T", err)
				}
			}
			if tc.warn != "" && !strings.Contains(logb.String(), tc.warn) || tc.warn != "" && !strings.Contains(logb.String(), "level=WARN") {
				t.Errorf("log %q, want a warning %q", logb.String(), tc.warn)
			}
		})
	}
}

// TestClientCertificates: with client_ca, a client without a certificate
// from that CA is refused in the handshake; with one (and a token) it is
// served.
func TestClientCertificates(t *testing.T) {
	ts := startServer(t, serverOpts{clientCA: true})
	ctx := context.Background()
	if _, err := ts.client(t, readToken).Status(ctx); err == nil {
		t.Fatal("a client without a certificate was served")
	}
	// A certificate from another CA: refused too.
	other := servetest.NewPKI(t)
	c, err := fedapi.NewClient(ts.url, fedapi.ClientOptions{Token: readToken, CAFile: ts.pki.CA, CertFile: other.ClientCert, KeyFile: other.ClientKey})
	must(t, err)
	if _, err := c.Status(ctx); err == nil {
		t.Error("a client certificate from another CA was accepted")
	}
	c.HTTP.CloseIdleConnections()
	c, err = fedapi.NewClient(ts.url, fedapi.ClientOptions{Token: readToken, CAFile: ts.pki.CA, CertFile: ts.pki.ClientCert, KeyFile: ts.pki.ClientKey})
	must(t, err)
	defer c.HTTP.CloseIdleConnections()
	if _, err := c.Status(ctx); err != nil {
		t.Errorf("a client with a certificate: %v", err)
	}
	// The certificate does not replace the token.
	c.Token = ""
	if _, err := c.Status(ctx); fedapi.StatusOf(err) != 401 {
		t.Errorf("a certificate without a token: %v", err)
	}
}

// TestLimits: the server runs with its limits (slowloris: the header
// and read timeouts; no overall write timeout, which would cut large
// downloads), refuses TLS below 1.2 and headers past MaxHeaderBytes.
func TestLimits(t *testing.T) {
	ts := startServer(t, serverOpts{})
	srv := ts.srv.srv
	if srv.ReadHeaderTimeout != ReadHeaderTimeout || srv.ReadTimeout != ReadTimeout || srv.IdleTimeout != IdleTimeout ||
		srv.MaxHeaderBytes != MaxHeaderBytes || srv.WriteTimeout != 0 {
		t.Errorf("server limits %v %v %v %v %v", srv.ReadHeaderTimeout, srv.ReadTimeout, srv.IdleTimeout, srv.MaxHeaderBytes, srv.WriteTimeout)
	}
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(ts.pki.CA)
	pool.AppendCertsFromPEM(pem)
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}}, Timeout: 10 * time.Second}
	if _, err := old.Get(ts.url + fedapi.StatusPath); err == nil {
		t.Error("TLS 1.1 accepted")
	}
	// Headers past MaxHeaderBytes: refused (HTTP/1.1: 431; HTTP/2
	// ends the connection).
	h1 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	defer h1.CloseIdleConnections()
	req, _ := http.NewRequest("GET", ts.url+fedapi.StatusPath, nil)
	req.Header.Set("Authorization", "Bearer "+readToken)
	req.Header.Set("X-Big", strings.Repeat("x", 2*MaxHeaderBytes))
	resp, err := h1.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 431 || resp.ProtoMajor != 1 {
		t.Errorf("huge headers: %s %s", resp.Proto, resp.Status)
	}
	req.Header.Del("X-Big")
	if resp, err := h1.Do(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("HTTP/1.1: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}
