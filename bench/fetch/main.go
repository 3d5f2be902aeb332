// Command fetch measures fetching files from a peer site (issue "Sites
// serve each other") against curl fetching the same files from the same
// server in the same run, and prints the figures and the ratio:
//
//   - site b: `frm daemon -only serve` over HTTPS (a generated CA) with
//     -files files of -size bytes of random data on its disk, adler32
//     stored; read once first, so both clients read them from b's page
//     cache.
//
//   - curl: one `curl -Z --parallel-max P` for all the URLs (the bearer
//     token, the CA), into a fresh directory, then `sync`: the bytes on
//     disk, nothing verified.
//
//   - frm: site a (no MSS, peers = [b], copy_max and fetch.max_downloads
//     P) with its daemon running; `frm admin stage -wait` of every file:
//     queued, located at b, downloaded, adler32 computed and compared with
//     b's digest, made durable (group flush), placed and named. Timed
//     from the command's start to its end.
//
//     go run ./bench/fetch [-frm bin/frm] [-files 1000] [-size 1048576] [-big 4] [-bigsize 268435456] [-parallel 4]
//
// A measurement, not a test: it prints its figures and exits 0 unless the
// harness itself fails.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"frm/bench/internal/benchproc"
	"frm/core/meta"
	"frm/core/units"
	"frm/serve/servetest"
)

func main() {
	frm := flag.String("frm", "bin/frm", "the frm binary")
	files := flag.Int("files", 1000, "small files")
	size := flag.Int64("size", 1<<20, "bytes per small file")
	big := flag.Int("big", 4, "large files")
	bigSize := flag.Int64("bigsize", 256<<20, "bytes per large file")
	parallel := flag.Int("parallel", 4, "downloads at once (curl --parallel-max, frm copy_max and fetch.max_downloads)")
	flag.Parse()
	bin, err := filepath.Abs(*frm)
	if err != nil {
		fail(err)
	}
	if _, err := os.Stat(bin); err != nil {
		fail(fmt.Errorf("%s: build it first (make build): %w", bin, err))
	}
	if _, err := exec.LookPath("curl"); err != nil {
		fail(fmt.Errorf("curl is not installed (Debian package curl)"))
	}
	for _, sc := range []struct {
		n    int
		size int64
	}{{*files, *size}, {*big, *bigSize}} {
		if sc.n > 0 {
			if err := scenario(bin, sc.n, sc.size, *parallel); err != nil {
				fail(err)
			}
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/fetch:", err)
	os.Exit(1)
}

const token = "bench-token"

func scenario(bin string, n int, size int64, parallel int) error {
	root, err := os.MkdirTemp("", "frm-bench-fetch-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	pki, err := servetest.Generate(root, 24*time.Hour)
	if err != nil {
		return err
	}
	// Site b: the files on disk with their adler32, served.
	bDir := filepath.Join(root, "b")
	var lfns []string
	for i := range n {
		lfn := fmt.Sprintf("/store/bench/f%05d", i)
		if err := benchproc.WriteResident(filepath.Join(bDir, "ns", lfn), size); err != nil {
			return err
		}
		lfns = append(lfns, lfn)
	}
	url, stopB, err := benchproc.ServeSite(bin, bDir, "b", pki.ServerCert, pki.ServerKey, "a", token)
	if err != nil {
		return err
	}
	defer stopB()
	// Warm b's page cache.
	for _, lfn := range lfns {
		os.ReadFile(filepath.Join(bDir, "ns", lfn))
	}

	// curl.
	out := filepath.Join(root, "curl")
	args := []string{"-sS", "--fail", "-Z", "--parallel-max", fmt.Sprint(parallel), "--cacert", pki.CA,
		"-H", "Authorization: Bearer " + token, "--create-dirs"}
	for _, lfn := range lfns {
		args = append(args, "-o", filepath.Join(out, lfn), url+"/v1/files"+lfn)
	}
	t0 := time.Now()
	if o, err := exec.Command("curl", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("curl: %v\n%s", err, o)
	}
	if err := exec.Command("sync").Run(); err != nil {
		return err
	}
	curlSecs := time.Since(t0).Seconds()
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	exec.Command("sync").Run()

	// frm: site a fetches from b.
	aDir := filepath.Join(root, "a")
	tokFile := filepath.Join(root, "token")
	os.WriteFile(tokFile, []byte(token), 0o600)
	os.MkdirAll(filepath.Join(aDir, "ns", "store"), 0o755)
	os.MkdirAll(filepath.Join(aDir, "p1", "public"), 0o755)
	aCfg := fmt.Sprintf(`site = "a"
admin_path = %q
local_root = %q

[[export]]
path = "/store"
stage = true
peers = ["b"]

[[space]]
name = "public"
partitions = [{ path = %q }]

[transfer]
copy_max = %d

[[peer]]
name = "b"
url = %q
token_file = %q
ca_file = %q

[fetch]
max_downloads = %d
`, filepath.Join(aDir, "admin"), filepath.Join(aDir, "ns"), filepath.Join(aDir, "p1"), parallel, url, tokFile, pki.CA, parallel)
	stopA, err := benchproc.Daemon(bin, aDir, aCfg, "-only", "stage")
	if err != nil {
		return err
	}
	defer stopA()
	t0 = time.Now()
	cmd := exec.Command(bin, append([]string{"admin", "-c", filepath.Join(aDir, "frm.toml"), "stage", "-wait"}, lfns...)...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("frm admin stage -wait: %v\n%s", err, benchproc.Tail(se.String()))
	}
	frmSecs := time.Since(t0).Seconds()
	// Check what came.
	for _, lfn := range lfns[:min(len(lfns), 10)] {
		o, ok, _ := meta.GetOrigin(filepath.Join(aDir, "ns", lfn))
		if !ok || o.Peer != "b" {
			return fmt.Errorf("%s at a: not fetched from b", lfn)
		}
	}
	total := float64(n) * float64(size)
	fmt.Printf("fetch: %d × %s from a peer over HTTPS on loopback, %d at once\n", n, units.Bytes(size), parallel)
	fmt.Printf("  curl + sync      %7.3f s  %9.1f MiB/s   (nothing verified)\n", curlSecs, total/curlSecs/(1<<20))
	fmt.Printf("  frm stage -wait  %7.3f s  %9.1f MiB/s   (adler32 verified, durable, placed)\n", frmSecs, total/frmSecs/(1<<20))
	fmt.Printf("  ratio            %7.2f× curl's throughput\n", curlSecs/frmSecs)
	return nil
}
