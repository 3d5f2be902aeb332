// Command mirror measures frm mirror (issue 11) against rsync mirroring
// the same tree in the same run, and prints the figures and the ratios:
//
//   - the distribution: a tree of -files files of -size random bytes
//     (adler32 stored) under one product, served by `frm daemon -only
//     serve` over HTTPS (a generated CA) and by an `rsync --daemon` on
//     loopback (a module on the same directory); read once first, so both
//     read it from the page cache.
//
//   - rsync: `rsync -a rsync://127.0.0.1:PORT/dist/PRODUCT/ DIR/` into a
//     fresh directory, then `sync` (rsync verifies each file's transfer
//     with its own checksum; it fsyncs nothing).
//
//   - frm: a mirror site (one public space, no MSS) whose [[mirror]] has
//     the serving site as source and transfers = -parallel; `frm mirror`
//     timed from start to end: the manifest read, each file downloaded,
//     adler32 compared with the manifest's, made durable, named, the
//     product's manifest written last.
//
//   - then, for the no-change scenario, both are run again over the
//     mirrored tree (rsync compares size and mtime of every file; frm
//     reads the product's manifest and compares its generation).
//
//   - for reference, the floor: the on-disk work alone of landing the
//     same files in frm's format (landingFloor), and curl -Z fetching
//     them one GET each from the same frm serve (run last, as its tree
//     is removed).
//
//   - the CPU seconds of each side besides the wall time: rsync's client
//     and daemon, frm's mirror and serve, and the floor's (source and
//     mirror share the machine's cores).
//
//     TMPDIR=/ go run ./bench/mirror [-frm bin/frm] [-scenario big|small|nochange|all] [-parallel 4] [-layout space|plain]
//
// -layout plain gives the mirror site no space: files land in the
// namespace, as on a site that configures none. TMPDIR=/ puts the trees
// in a fresh top-level directory: on ext4 without a journal (this
// machine's), inode allocation slows down for minutes after a large
// delete in the same block groups, such as an earlier run's cleanup
// under /tmp (docs/mirror.md).
//
// Scenarios (all: each in turn): big = 1000 × 1 MiB initial mirror,
// small = 20,000 × 4 KiB initial mirror, nochange = a no-change rerun
// over 100,000 files (after an initial mirror that is reported too).
//
// A measurement, not a test: it prints its figures and exits 0 unless the
// harness itself fails.
package main

import (
	"bytes"
	"crypto/rand"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"frm/bench/internal/benchproc"
	"frm/core/meta"
	"frm/core/space"
	"frm/core/units"
	"frm/serve/servetest"
)

func main() {
	frm := flag.String("frm", "bin/frm", "the frm binary")
	scenario := flag.String("scenario", "all", "big, small, nochange or all")
	parallel := flag.Int("parallel", 4, "frm mirror's transfers")
	nochangeFiles := flag.Int("nochange-files", 100000, "files of the no-change scenario")
	layout := flag.String("layout", "space", "where the mirror site lands files: space (a public space: XA data files and links) or plain (no space configured: files in the namespace)")
	flag.Parse()
	bin, err := filepath.Abs(*frm)
	if err != nil {
		fail(err)
	}
	if _, err := os.Stat(bin); err != nil {
		fail(fmt.Errorf("%s: build it first (make build): %w", bin, err))
	}
	if _, err := exec.LookPath("rsync"); err != nil {
		fail(fmt.Errorf("rsync is not installed (Debian package rsync)"))
	}
	type sc struct {
		name     string
		n        int
		size     int64
		nochange bool
	}
	all := []sc{{"big", 1000, 1 << 20, false}, {"small", 20000, 4 << 10, false}, {"nochange", *nochangeFiles, 1 << 10, true}}
	for _, s := range all {
		if *scenario == "all" || *scenario == s.name {
			if err := run(bin, s.name, s.n, s.size, *parallel, s.nochange, *layout != "plain"); err != nil {
				fail(err)
			}
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/mirror:", err)
	os.Exit(1)
}

const token = "bench-token"

func run(bin, name string, n int, size int64, parallel int, nochange, withSpace bool) error {
	root, err := os.MkdirTemp("", "frm-bench-mirror-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	pki, err := servetest.Generate(root, 24*time.Hour)
	if err != nil {
		return err
	}
	// The distribution.
	dDir := filepath.Join(root, "dist")
	prodDir := filepath.Join(dDir, "ns", "store", "prod")
	if err := writeTree(prodDir, n, size); err != nil {
		return err
	}
	url, stopD, err := benchproc.ServeSite(bin, dDir, "dist", pki.ServerCert, pki.ServerKey, "mirror", token)
	if err != nil {
		return err
	}
	defer stopD()
	stopR, rport, rsyncdPid, err := rsyncd(root, filepath.Join(dDir, "ns", "store"))
	if err != nil {
		return err
	}
	defer stopR()
	exec.Command("sh", "-c", "cat "+prodDir+"/*/* > /dev/null").Run() // warm the page cache

	// rsync.
	out := filepath.Join(root, "rsync")
	src := fmt.Sprintf("rsync://127.0.0.1:%d/dist/prod/", rport)
	// The CPU each side spends (its processes and those they waited
	// for), besides the wall time: on two cores shared by source and
	// mirror, what bounds the rate.
	var rsyncCPU, frmCPU, serveCPU float64
	rsyncRun := func() (float64, error) {
		d0 := procCPU(rsyncdPid)
		t0 := time.Now()
		cmd := exec.Command("rsync", "-a", src, out+"/")
		if o, err := cmd.CombinedOutput(); err != nil {
			return 0, fmt.Errorf("rsync: %v\n%s", err, o)
		}
		sync := exec.Command("sync") // its writeback counts, as frm's syncfs does
		if err := sync.Run(); err != nil {
			return 0, err
		}
		secs := time.Since(t0).Seconds()
		time.Sleep(200 * time.Millisecond) // the daemon reaps its child
		rsyncCPU = cpuOf(cmd.ProcessState) + cpuOf(sync.ProcessState) + procCPU(rsyncdPid) - d0
		return secs, nil
	}
	rsyncSecs, err := rsyncRun()
	if err != nil {
		return err
	}
	servePid := pidOf(filepath.Join(dDir, "frm.toml"))

	// frm mirror.
	mDir := filepath.Join(root, "m")
	tokFile := filepath.Join(root, "token")
	os.WriteFile(tokFile, []byte(token), 0o600)
	os.MkdirAll(filepath.Join(mDir, "ns", "store"), 0o755)
	os.MkdirAll(filepath.Join(mDir, "p1", "public"), 0o755)
	os.MkdirAll(filepath.Join(mDir, "admin"), 0o755)
	spaceSection := ""
	if withSpace {
		spaceSection = fmt.Sprintf("[[space]]\nname = \"public\"\npartitions = [{ path = %q }]\n\n", filepath.Join(mDir, "p1"))
	}
	mCfg := fmt.Sprintf(`site = "m"
admin_path = %q
local_root = %q

[[export]]
path = "/store"

%s[[peer]]
name = "dist"
url = %q
token_file = %q
ca_file = %q

[[mirror]]
name = "dist"
source = "dist"
products = ["/store/prod"]
transfers = %d
`, filepath.Join(mDir, "admin"), filepath.Join(mDir, "ns"), spaceSection, url, tokFile, pki.CA, parallel)
	conf := filepath.Join(mDir, "frm.toml")
	if err := os.WriteFile(conf, []byte(mCfg), 0o644); err != nil {
		return err
	}
	frmRun := func() (float64, string, error) {
		s0 := procCPU(servePid)
		t0 := time.Now()
		cmd := exec.Command(bin, "mirror", "-c", conf)
		var so, se bytes.Buffer
		cmd.Stdout, cmd.Stderr = &so, &se
		if err := cmd.Run(); err != nil {
			return 0, "", fmt.Errorf("frm mirror: %v\n%s", err, benchproc.Tail(se.String()))
		}
		secs := time.Since(t0).Seconds()
		frmCPU, serveCPU = cpuOf(cmd.ProcessState), procCPU(servePid)-s0
		return secs, so.String(), nil
	}
	frmSecs, summary, err := frmRun()
	if err != nil {
		return err
	}
	if !strings.Contains(summary, fmt.Sprintf("%d new", n)) {
		return fmt.Errorf("frm mirror did not bring the %d files: %s", n, summary)
	}
	// The on-disk work of frm's landing alone, for reference.
	f0 := selfCPU()
	floorSecs, err := landingFloor(filepath.Join(root, "floor"), n, size, parallel, withSpace)
	if err != nil {
		return err
	}
	floorCPU := selfCPU() - f0
	// curl of the same files from the same frm serve, for reference
	// (what the server can give: nothing verified, nothing durable).
	// It runs last, as its tree is removed: on ext4 without a journal
	// a mass delete slows the inode allocations of the minutes after it.
	curlDir := filepath.Join(root, "curl")
	var cfg strings.Builder
	for i := range n {
		lfn := fmt.Sprintf("/store/prod/d%04d/f%06d", i/100, i)
		fmt.Fprintf(&cfg, "url = \"%s/v1/files%s\"\noutput = \"%s%s\"\n", url, lfn, curlDir, lfn)
	}
	curlCfg := filepath.Join(root, "curl.cfg")
	os.WriteFile(curlCfg, []byte(cfg.String()), 0o644)
	t0 := time.Now()
	if o, err := exec.Command("curl", "-sS", "--fail", "-Z", "--parallel-max", fmt.Sprint(parallel), "--cacert", pki.CA,
		"-H", "Authorization: Bearer "+token, "--create-dirs", "-K", curlCfg).CombinedOutput(); err != nil {
		return fmt.Errorf("curl: %v\n%s", err, benchproc.Tail(string(o)))
	}
	curlSecs := time.Since(t0).Seconds()
	os.RemoveAll(curlDir)

	total := float64(n) * float64(size)
	fmt.Printf("mirror %s: initial mirror of %d × %s over loopback (frm: HTTPS, %d at once, layout %s)\n", name, n, units.Bytes(size), parallel, map[bool]string{true: "space", false: "plain"}[withSpace])
	fmt.Printf("  rsync -a + sync  %8.3f s  %9.1f MiB/s  %9.0f files/s\n", rsyncSecs, total/rsyncSecs/(1<<20), float64(n)/rsyncSecs)
	fmt.Printf("  frm mirror       %8.3f s  %9.1f MiB/s  %9.0f files/s   (adler32 verified, durable, published)\n", frmSecs, total/frmSecs/(1<<20), float64(n)/frmSecs)
	fmt.Printf("  ratio            %8.2f× rsync's throughput\n", rsyncSecs/frmSecs)
	what := "an XA data file with its checksum and back reference, a link renamed to its name"
	if !withSpace {
		what = "written with its checksum, renamed to its name"
	}
	fmt.Printf("  (frm's on-disk work alone, no network, no check: %d at once, each file %s, one syncfs: %.3f s, %.0f files/s, %.2f× rsync's time)\n", parallel, what, floorSecs, float64(n)/floorSecs, floorSecs/rsyncSecs)
	fmt.Printf("  CPU seconds: rsync %.2f (client, daemon and sync), frm %.2f (mirror %.2f, serve %.2f), the on-disk work alone %.2f\n", rsyncCPU, frmCPU+serveCPU, frmCPU, serveCPU, floorCPU)
	fmt.Printf("  (curl -Z of the same files from the same frm serve, %d at once, nothing verified or synced: %.3f s, %.0f files/s)\n", parallel, curlSecs, float64(n)/curlSecs)
	if !nochange {
		return nil
	}
	best := func(f func() (float64, error)) (float64, error) {
		b := 0.0
		for i := range 3 {
			s, err := f()
			if err != nil {
				return 0, err
			}
			if i == 0 || s < b {
				b = s
			}
		}
		return b, nil
	}
	rsyncNo, err := best(func() (float64, error) {
		t0 := time.Now()
		if o, err := exec.Command("rsync", "-a", src, out+"/").CombinedOutput(); err != nil {
			return 0, fmt.Errorf("rsync: %v\n%s", err, o)
		}
		return time.Since(t0).Seconds(), nil
	})
	if err != nil {
		return err
	}
	// frmQuiet is a no-change run of frm mirror, which must print nothing.
	frmQuiet := func() (float64, error) {
		s, out, err := frmRun()
		if err == nil && out != "" {
			err = fmt.Errorf("the no-change run printed %q", out)
		}
		return s, err
	}
	frmNo, err := best(frmQuiet)
	if err != nil {
		return err
	}
	manifestSecs, err := best(func() (float64, error) {
		t0 := time.Now()
		o, err := exec.Command("curl", "-sS", "--fail", "-o", "/dev/null", "--cacert", pki.CA, "-H", "Authorization: Bearer "+token,
			url+"/v1/manifest?prefix=/store/prod").CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("curl: %v %s", err, o)
		}
		return time.Since(t0).Seconds(), nil
	})
	if err != nil {
		return err
	}
	// The distribution publishes the product (frm manifest build): the
	// mirror then reads that manifest, a conditional request.
	t0 = time.Now()
	if o, err := exec.Command(bin, "manifest", "build", prodDir).CombinedOutput(); err != nil {
		return fmt.Errorf("frm manifest build: %v %s", err, o)
	}
	buildSecs := time.Since(t0).Seconds()
	if _, out, err := frmRun(); err != nil || out != "" {
		return fmt.Errorf("the first run after publishing: %v %q", err, out)
	}
	frmPub, err := best(frmQuiet)
	if err != nil {
		return err
	}
	fmt.Printf("mirror %s: no-change rerun over %d files (best of 3)\n", name, n)
	fmt.Printf("  rsync -a         %8.3f s\n", rsyncNo)
	fmt.Printf("  frm mirror       %8.3f s   (the source lists the product: GET /v1/manifest)\n", frmNo)
	fmt.Printf("  ratio            %8.2f× faster than rsync\n", rsyncNo/frmNo)
	fmt.Printf("  (of which the source's manifest alone, curl: %.3f s)\n", manifestSecs)
	fmt.Printf("  frm mirror, product published at the source (frm manifest build, %.3f s once): %.3f s\n", buildSecs, frmPub)
	fmt.Printf("  ratio            %8.2f× faster than rsync\n", rsyncNo/frmPub)
	return nil
}

// writeTree writes n files of size random bytes under dir (100 per
// directory), each with its adler32 stored as a stage leaves it.
func writeTree(dir string, n int, size int64) error {
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				p := filepath.Join(dir, fmt.Sprintf("d%04d", i/100), fmt.Sprintf("f%06d", i))
				if err := benchproc.WriteResident(p, size); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// landingFloor does, for n files of size bytes, only the on-disk work
// that frm mirror does to land each one as an frm file, the least any
// implementation of that format can do: in a space (withSpace), the data
// file created and written in a partition, its checksum and
// back-reference attributes set, the placeholder link made and renamed
// to the file's name; without, the file written under a placeholder
// name, its checksum attribute set, renamed to its name. Then one syncfs
// (frm mirror makes each file durable before its name appears, which
// this does not). It runs workers at once and returns the seconds taken.
func landingFloor(dir string, n int, size int64, workers int, withSpace bool) (float64, error) {
	ns, part := filepath.Join(dir, "ns"), space.Partition{Path: filepath.Join(dir, "p1"), Space: "public"}
	for d := range (n + 99) / 100 {
		if err := os.MkdirAll(filepath.Join(ns, fmt.Sprintf("d%04d", d)), 0o755); err != nil {
			return 0, err
		}
	}
	for i := range 256 {
		if err := os.MkdirAll(filepath.Join(part.DataDir(), fmt.Sprintf("%02X", i)), 0o755); err != nil {
			return 0, err
		}
	}
	buf := make([]byte, size)
	rand.Read(buf)
	cksName := meta.ChecksumAttr("adler32")
	cksVal, err := meta.EncodeChecksum(meta.Checksum{Alg: "adler32", Value: []byte{1, 2, 3, 4}, MTime: time.Now().Unix()})
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	// As few system calls as the format takes, on descriptors where it
	// can: create, write, the attributes, close, then the link and its
	// rename (plain: the rename only).
	land := func(i int) error {
		data := space.NewDataPath(part, t0)
		pfn := filepath.Join(ns, fmt.Sprintf("d%04d/f%06d", i/100, i))
		if !withSpace {
			data = pfn + ".anew"
		}
		fd, err := unix.Open(data, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o644)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		if _, err := unix.Pwrite(fd, buf, 0); err != nil {
			return err
		}
		if err := unix.Fsetxattr(fd, cksName, cksVal, 0); err != nil {
			return err
		}
		if withSpace {
			if err := unix.Fsetxattr(fd, meta.AttrPfn, meta.EncodePfn(pfn), 0); err != nil {
				return err
			}
			if err := unix.Symlink(data, pfn+".anew"); err != nil {
				return err
			}
		}
		return unix.Rename(pfn+".anew", pfn)
	}
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				if err := land(i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, fmt.Errorf("landing floor: %w", err)
	}
	f, err := os.Open(dir)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return 0, err
	}
	return time.Since(t0).Seconds(), nil
}

// rsyncd runs rsync --daemon on a loopback port with module dist = dir.
func rsyncd(root, dir string) (stop func(), port, pid int, err error) {
	port, err = benchproc.FreePort()
	if err != nil {
		return nil, 0, 0, err
	}
	conf := filepath.Join(root, "rsyncd.conf")
	text := fmt.Sprintf("use chroot = no\nuid = root\ngid = root\npid file = %s\n[dist]\npath = %s\nread only = yes\n", filepath.Join(root, "rsyncd.pid"), dir)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return nil, 0, 0, err
	}
	cmd := exec.Command("rsync", "--daemon", "--no-detach", "--address=127.0.0.1", fmt.Sprintf("--port=%d", port), "--config="+conf)
	if err := cmd.Start(); err != nil {
		return nil, 0, 0, err
	}
	stop = func() { cmd.Process.Kill(); cmd.Wait() }
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			return stop, port, cmd.Process.Pid, nil
		}
		if time.Now().After(deadline) {
			stop()
			return nil, 0, 0, fmt.Errorf("rsync --daemon did not listen: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cpuOf is the CPU time of an ended process and of those it waited for.
func cpuOf(ps *os.ProcessState) float64 {
	if ps == nil {
		return 0
	}
	return (ps.UserTime() + ps.SystemTime()).Seconds()
}

// procCPU is the CPU time so far of process pid and of the children it
// has reaped (/proc/pid/stat utime, stime, cutime, cstime); 0 when it
// cannot be read.
func procCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which may hold spaces.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 15 {
		return 0
	}
	ticks := 0
	for _, v := range f[11:15] { // fields 14 to 17
		n, _ := strconv.Atoi(v)
		ticks += n
	}
	return float64(ticks) / 100 // USER_HZ
}

// pidOf is the process whose command line contains arg (0: none).
func pidOf(arg string) int {
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if b, err := os.ReadFile("/proc/" + d.Name() + "/cmdline"); err == nil && bytes.Contains(b, []byte(arg)) {
			return pid
		}
	}
	return 0
}

// selfCPU is this process's CPU time so far.
func selfCPU() float64 {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
