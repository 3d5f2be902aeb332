// Package benchproc holds what the benchmark programs under bench/ share
// to run real frm processes: starting frm daemon on a configuration and
// waiting until it runs, finding a free loopback port, the tail of a log
// for an error message, and writing files as a stage leaves them.
package benchproc

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

var running = regexp.MustCompile(`frm daemon running`)

// Daemon writes cfg as dir/frm.toml, starts bin daemon with args (its log
// in dir/daemon.log) and waits until it runs; stop kills it.
func Daemon(bin, dir, cfg string, args ...string) (stop func(), err error) {
	if err := os.MkdirAll(filepath.Join(dir, "admin"), 0o755); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "frm.toml")
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	logf := filepath.Join(dir, "daemon.log")
	cmd := exec.Command(bin, append([]string{"daemon", "-c", conf, "-l", logf}, args...)...)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop = func() { cmd.Process.Kill(); cmd.Wait() }
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(logf)
		if running.Match(b) {
			return stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("daemon in %s did not start:\n%s", dir, Tail(string(b)))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// FreePort returns a loopback TCP port nobody listens on (now).
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Tail is the last 20 lines of s.
func Tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

// ServeSite starts frm daemon -only serve for a site whose namespace is
// dir/ns, exporting /store over HTTPS with certFile and keyFile, and
// accepting token (read scope, named tokenName). It returns the site's
// base URL.
func ServeSite(bin, dir, site, certFile, keyFile, tokenName, token string) (url string, stop func(), err error) {
	port, err := FreePort()
	if err != nil {
		return "", nil, err
	}
	sum := sha256.Sum256([]byte(token))
	cfg := fmt.Sprintf(`site = %q
admin_path = %q
local_root = %q

[[export]]
path = "/store"

[serve]
listen = "127.0.0.1:%d"
tls_cert = %q
tls_key = %q

[[serve.token]]
name = %q
sha256 = %q
scope = "read"
`, site, filepath.Join(dir, "admin"), filepath.Join(dir, "ns"), port, certFile, keyFile, tokenName, hex.EncodeToString(sum[:]))
	stop, err = Daemon(bin, dir, cfg, "-only", "serve")
	if err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("https://127.0.0.1:%d", port), stop, nil
}
