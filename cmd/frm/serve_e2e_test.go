package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"

	"frm/core/config"
	"frm/core/control"
	"frm/core/fedapi"
	"frm/serve/servetest"
)

func tokenDigest(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

// TestDaemonOnlyServe: frm daemon -only serve runs frm serve alone (no
// transfer daemon, no MSS needed) and answers /v1/status over HTTPS; a
// SIGHUP takes a new token set; -only serve without [serve] listen is a
// configuration error (exit 4).
func TestDaemonOnlyServe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts processes")
	}
	bin := buildBin(t)
	l := agentSite(t)
	base, err := os.ReadFile(l.Config)
	if err != nil {
		t.Fatal(err)
	}
	// No MSS at all: serve does not need one.
	noMSS := regexp.MustCompile(`(?m)^(remote_root = .*|backend = "posix")$`).ReplaceAllString(string(base), "")

	t.Run("without listen", func(t *testing.T) {
		os.WriteFile(l.Config, []byte(noMSS), 0o644)
		st, errs := runDaemon(t, bin, nil, "-c", l.Config, "-only", "serve")
		if st != 4 || !strings.Contains(errs, "-only serve: [serve] listen is not set") {
			t.Errorf("exit %d, stderr %q", st, errs)
		}
	})
	t.Run("non-loopback without TLS", func(t *testing.T) {
		os.WriteFile(l.Config, []byte(noMSS+"\n[serve]\nlisten = \"0.0.0.0:0\"\n"), 0o644)
		st, errs := runDaemon(t, bin, nil, "-c", l.Config, "-only", "serve")
		if st != 4 || !strings.Contains(errs, "serve.listen 0.0.0.0:0 is not loopback: frm serve needs tls_cert/tls_key and at least one [[serve.token]] there (or insecure = true)") {
			t.Errorf("exit %d, stderr %q", st, errs)
		}
	})

	p := servetest.NewPKI(t)
	serveCfg := func(tokens ...string) string {
		s := fmt.Sprintf("\n[serve]\nlisten = \"127.0.0.1:0\"\ntls_cert = %q\ntls_key = %q\n", p.ServerCert, p.ServerKey)
		for _, tok := range tokens {
			s += fmt.Sprintf("\n[[serve.token]]\nname = %q\nsha256 = %q\nscope = \"read\"\n", "peer-"+tokenDigest(tok)[:6], tokenDigest(tok))
		}
		return s
	}
	if err := os.WriteFile(l.Config, []byte(noMSS+serveCfg("first-token")), 0o644); err != nil {
		t.Fatal(err)
	}
	logf := t.TempDir() + "/daemon.log"
	cmd := exec.Command(bin, "daemon", "-c", l.Config, "-only", "serve", "-l", logf, "-d")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	readLog := func() string { b, _ := os.ReadFile(logf); return string(b) }
	urlRe := regexp.MustCompile(`frm serve listening.* url=(https://127\.0\.0\.1:[0-9]+)`)
	waitFor(t, "frm serve listening", func() bool { return urlRe.MatchString(readLog()) && strings.Contains(readLog(), "frm daemon running") })
	url := urlRe.FindStringSubmatch(readLog())[1]
	client := func(tok string) *fedapi.Client {
		c, err := fedapi.NewClient(url, fedapi.ClientOptions{Token: tok, CAFile: p.CA})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.HTTP.CloseIdleConnections)
		return c
	}
	ctx := context.Background()
	st, err := client("first-token").Status(ctx)
	if err != nil {
		t.Fatalf("status: %v\n%s", err, readLog())
	}
	if st.Site != "demo" || st.Version == "" || st.Daemon || len(st.Spaces) == 0 {
		t.Errorf("status %+v", st)
	}
	if _, err := client("").Status(ctx); fedapi.StatusOf(err) != 401 {
		t.Errorf("no token: %v", err)
	}
	cfg, err := config.Load(l.Config, "")
	if err != nil {
		t.Fatal(err)
	}
	ds, err := control.New(cfg.AdminDir()).Status(ctx)
	if err != nil || !slices.Equal(ds.Components, []string{"serve"}) || ds.Transfer != nil {
		t.Errorf("daemon status %+v %v", ds, err)
	}

	// SIGHUP: the new token set at once.
	os.WriteFile(l.Config, []byte(noMSS+serveCfg("second-token")), 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the tokens reloaded", func() bool { return strings.Contains(readLog(), "serve tokens reloaded") })
	if _, err := client("second-token").Status(ctx); err != nil {
		t.Errorf("the new token: %v", err)
	}
	if _, err := client("first-token").Status(ctx); fedapi.StatusOf(err) != 401 {
		t.Errorf("the removed token: %v", err)
	}
	for _, tok := range []string{"first-token", "second-token"} {
		if strings.Contains(readLog(), tok) {
			t.Errorf("the log holds a token:\n%s", readLog())
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v\n%s", err, readLog())
	}
}
