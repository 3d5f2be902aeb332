// Command sites measures frm sites' probing (issue "frm sites") and prints
// the figures and the ratio:
//
//   - -sites simulated sites (default 100): HTTPS listeners in this
//     process, each answering /v1/status -delay after the request
//     (default 50 ms) with a status document, behind a test CA and a
//     bearer token, as frm serve does;
//
//   - probed by core/sites as frm sites status does (a client, a TLS
//     connection and the per-site lock for each site) with -parallel
//     probes at once (default 16; the target is under 5 s for all), and
//     one after the other as the seed's get-site-status.sh does
//     (sequential); the best of -runs runs of each.
//
//     go run ./bench/sites [-sites 100] [-delay 50ms] [-parallel 16] [-runs 3]
//
// These are measurements, not tests: they print their figures and exit 0
// unless the harness itself fails.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"frm/core/fedapi"
	"frm/core/sites"
	"frm/serve/servetest"
)

func main() {
	n := flag.Int("sites", 100, "simulated sites")
	delay := flag.Duration("delay", 50*time.Millisecond, "answer time of each site")
	parallel := flag.Int("parallel", 16, "probes at once")
	runs := flag.Int("runs", 3, "runs of each (the best is shown)")
	flag.Parse()
	if err := run(*n, *delay, *parallel, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "bench/sites:", err)
		os.Exit(1)
	}
}

func run(n int, delay time.Duration, parallel, runs int) error {
	dir, err := os.MkdirTemp("", "frm-bench-sites-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	pki, err := servetest.Generate(dir, time.Hour)
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(pki.ServerCert, pki.ServerKey)
	if err != nil {
		return err
	}
	const token = "bench-token"
	tokFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokFile, []byte(token), 0o600); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("[probe]\ntimeout = \"10s\"\n")
	for i := range n {
		name := fmt.Sprintf("site%03d", i)
		body, _ := json.Marshal(fedapi.Status{Site: name, Version: "bench", Started: time.Now(),
			Spaces: []fedapi.SpaceStatus{{Name: "public", Partitions: 1, Total: 100 << 30, Free: 40 << 30}},
			Queue:  map[string]int{"stage": 0, "get": 0, "migrate": 0, "put": 0}})
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+token {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			time.Sleep(delay)
			w.Header().Set("Content-Type", "application/json")
			w.Write(body)
		}), TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		go srv.ServeTLS(ln, "", "")
		defer srv.Close()
		fmt.Fprintf(&b, "\n[[site]]\nname = %q\nurl = \"https://%s\"\ntoken_file = %q\nca_file = %q\n", name, ln.Addr(), tokFile, pki.CA)
	}
	path := filepath.Join(dir, "sites.toml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return err
	}
	f, err := sites.Load(path)
	if err != nil {
		return err
	}
	measure := func(par int) (time.Duration, error) {
		best := time.Duration(0)
		for range runs {
			r := &sites.Run{File: f, StateDir: filepath.Join(dir, "state"), Parallel: par}
			start := time.Now()
			res := r.Status(context.Background(), nil)
			took := time.Since(start)
			for _, x := range res {
				if x.State != sites.OK {
					return 0, fmt.Errorf("%s: %s %s", x.Name, x.State, x.Reason())
				}
			}
			if best == 0 || took < best {
				best = took
			}
		}
		return best, nil
	}
	fmt.Printf("frm sites status: %d sites answering after %v, over HTTPS on loopback, best of %d runs\n", n, delay, runs)
	par, err := measure(parallel)
	if err != nil {
		return err
	}
	seq, err := measure(1)
	if err != nil {
		return err
	}
	verdict := "meets"
	if par >= 5*time.Second {
		verdict = "MISSES"
	}
	fmt.Printf("  parallel %-3d %8.3f s  (%s the target of < 5 s)\n", parallel, par.Seconds(), verdict)
	fmt.Printf("  sequential   %8.3f s  (get-site-status.sh's one site after the other)\n", seq.Seconds())
	fmt.Printf("  speedup      %8.1fx   (ideal %dx: %d sites × %v / %d = %.2f s)\n", seq.Seconds()/par.Seconds(), parallel,
		n, delay, parallel, (time.Duration(n) * delay / time.Duration(parallel)).Seconds())
	return nil
}
