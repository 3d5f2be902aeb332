package main

import (
	"bytes"
	"fmt"
	"hash/adler32"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"frm/core/meta"
	"frm/serve/servetest"
)

// fedSite is one site of the federation tests: its directories, its
// configuration and its running daemon.
type fedSite struct {
	name, dir, config, local, mss, adminPath string
	log                                      string // the daemon's log file
	cmd                                      *exec.Cmd
	url                                      string // its frm serve, when it serves
}

// newFedSite writes a site's configuration: /store staged (from its own
// posix MSS, which may be empty), one public partition, and extra (serve,
// peers, fetch).
func newFedSite(t *testing.T, name, extra string, peers ...string) *fedSite {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	s := &fedSite{name: name, dir: dir, config: filepath.Join(dir, "frm.toml"), local: filepath.Join(dir, "ns"),
		mss: filepath.Join(dir, "mss"), adminPath: filepath.Join(dir, "admin"), log: filepath.Join(dir, "daemon.log")}
	for _, d := range []string{s.local + "/store", s.mss + "/store", s.adminPath, filepath.Join(dir, "p1", "public")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	peerList := ""
	if len(peers) > 0 {
		peerList = "peers = [\"" + strings.Join(peers, "\", \"") + "\"]\n"
	}
	cfg := fmt.Sprintf(`site = %q
admin_path = %q
local_root = %q
remote_root = %q

[[export]]
path = "/store"
stage = true
purge = true
%s
[[space]]
name = "public"
partitions = [{ path = %q }]

[mss]
backend = "posix"

[transfer]
qcheck = "2s"
%s`, name, s.adminPath, s.local, s.mss, peerList, filepath.Join(dir, "p1"), extra)
	if err := os.WriteFile(s.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

var serveURLRe = regexp.MustCompile(`frm serve listening.* url=(https://127\.0\.0\.1:[0-9]+)`)

// start runs the site's daemon (debug log, so that frm serve logs every
// request) and waits until it runs (and serves, when it does).
func (s *fedSite) start(t *testing.T, bin string) {
	t.Helper()
	os.Remove(s.log)
	s.cmd = exec.Command(bin, "daemon", "-c", s.config, "-d", "-l", s.log, "-drain", "1s")
	s.cmd.Env = toolEnv()
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd := s.cmd
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("%s's daemon log:\n%s", s.name, s.readLog())
		}
	})
	serves := strings.Contains(s.configText(), "[serve]")
	waitFor(t, s.name+" running", func() bool {
		l := s.readLog()
		return strings.Contains(l, "frm daemon running") && (!serves || serveURLRe.MatchString(l))
	})
	if serves {
		s.url = serveURLRe.FindStringSubmatch(s.readLog())[1]
	}
}

func (s *fedSite) readLog() string    { b, _ := os.ReadFile(s.log); return string(b) }
func (s *fedSite) configText() string { b, _ := os.ReadFile(s.config); return string(b) }

// admin runs frm admin at the site.
func (s *fedSite) admin(t *testing.T, bin string, args ...string) (int, string, string) {
	t.Helper()
	return runAdmin(t, bin, s.config, args...)
}

// runFrm runs frm with args and returns its exit status, stdout and
// stderr.
func runFrm(t *testing.T, bin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = toolEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

// runAdmin runs frm admin with the configuration file config.
func runAdmin(t *testing.T, bin, config string, args ...string) (int, string, string) {
	t.Helper()
	return runFrm(t, bin, append([]string{"admin", "-c", config}, args...)...)
}

// resident makes lfn a plain file on the site's disk with its adler32
// stored (frm admin chksum calc), as a stage would leave it: content, or
// when content is nil a sparse file of sparse bytes.
func (s *fedSite) resident(t *testing.T, bin, lfn string, content []byte, sparse int64) {
	t.Helper()
	p := filepath.Join(s.local, lfn)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if content != nil {
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
	} else {
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		f.Truncate(sparse)
		f.Close()
	}
	if code, out, errs := s.admin(t, bin, "chksum", "calc", lfn); code != 0 {
		t.Fatalf("%s: chksum calc %s: %d %s %s", s.name, lfn, code, out, errs)
	}
}

// requests counts the GETs of lfn's bytes that the site's frm serve
// answered.
func (s *fedSite) requests(lfn string) int {
	return len(regexp.MustCompile(`msg=request component=serve method=GET path=/v1/files`+regexp.QuoteMeta(lfn)+` status=200 `).FindAllString(s.readLog(), -1))
}

func fileAdler(t *testing.T, p string) uint32 {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := adler32.New()
	io.Copy(h, f)
	return h.Sum32()
}

// TestFederation is issue 10's proof with three real frm daemons on
// loopback, each with its own roots and port: a (no copy of anything in
// its own MSS; peers b then c), b and c (frm serve over HTTPS with a's
// token). a fetches a file b has on disk; a file only in c's MSS (c
// stages it, a polls); 50 requests for one file make one download; b
// killed mid-download, a finishes from c with the checksum verified; b
// serving corrupted bytes is detected and c used; nothing partial is
// ever visible under a real name at a.
func TestFederation(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three daemons")
	}
	top := t
	bin := buildBin(t)
	pki := servetest.NewPKI(t)
	const token = "site-a-secret-token"
	// Fixed ports: b restarts on its own address, which a knows.
	serveCfg := func() string {
		return serveSection(t, pki, "site-a", "admin", token)
	}
	b := newFedSite(t, "b", serveCfg())
	c := newFedSite(t, "c", serveCfg())
	b.start(t, bin)
	c.start(t, bin)
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte(token+"\n"), 0o600)
	peerCfg := func(s *fedSite) string {
		return fmt.Sprintf("\n[[peer]]\nname = %q\nurl = %q\ntoken_file = %q\nca_file = %q\n", s.name, s.url, tokenFile, pki.CA)
	}
	a := newFedSite(t, "a", peerCfg(b)+peerCfg(c)+"\n[fetch]\nrequest_timeout = \"2m\"\nretries = 3\n", "b", "c")
	a.start(t, bin)

	// stage runs frm admin stage -wait at a and checks the file came,
	// whole, from the expected peer.
	stage := func(t *testing.T, lfn, want string, content []byte) {
		t.Helper()
		code, out, errs := a.admin(t, bin, "stage", "-wait", lfn)
		if code != 0 || !strings.Contains(out, "on disk "+lfn) {
			t.Fatalf("stage -wait %s at a: %d\n%s\n%s", lfn, code, out, errs)
		}
		p := filepath.Join(a.local, lfn)
		if content != nil {
			got, _ := os.ReadFile(p)
			if !bytes.Equal(got, content) {
				t.Errorf("%s at a: %d bytes, want the %d of the peer", lfn, len(got), len(content))
			}
		}
		o, ok, err := meta.GetOrigin(p)
		if !ok || err != nil || o.Peer != want {
			t.Errorf("%s at a: origin %+v %v %v, want peer %s", lfn, o, ok, err, want)
		}
		if cks, _ := meta.ListChecksums(p); len(cks) == 0 {
			t.Errorf("%s at a: no checksum stored", lfn)
		}
		if _, out, _ := a.admin(t, bin, "ls", "-l", lfn); !strings.Contains(out, "from="+want+"@") {
			t.Errorf("ls -l at a does not say where %s came from: %s", lfn, out)
		}
	}

	t.Run("resident at b", func(t *testing.T) {
		content := bytes.Repeat([]byte("resident at b\n"), 50000)
		b.resident(t, bin, "/store/fed/one.dat", content, 0)
		stage(t, "/store/fed/one.dat", "b", content)
	})

	t.Run("only in c's MSS", func(t *testing.T) {
		content := bytes.Repeat([]byte("on tape at c\n"), 40000)
		os.MkdirAll(filepath.Join(c.mss, "store/fed"), 0o755)
		os.WriteFile(filepath.Join(c.mss, "store/fed/deep.dat"), content, 0o644)
		stage(t, "/store/fed/deep.dat", "c", content)
		if !strings.Contains(c.readLog(), "stage queued for a peer") {
			t.Error("c did not queue a stage for a")
		}
		if _, err := os.Stat(filepath.Join(c.local, "store/fed/deep.dat")); err != nil {
			t.Errorf("c did not stage the file itself: %v", err)
		}
	})

	t.Run("50 requests one download", func(t *testing.T) {
		content := bytes.Repeat([]byte("wanted by many\n"), 70000)
		b.resident(t, bin, "/store/fed/hot.dat", content, 0)
		stop := filepath.Join(a.adminPath, "frm", "STOPSTAGE")
		os.WriteFile(stop, nil, 0o644)
		for i := range 50 {
			if code, out, errs := a.admin(t, bin, "stage", "/store/fed/hot.dat"); code != 0 {
				t.Fatalf("request %d: %d %s %s", i, code, out, errs)
			}
		}
		os.Remove(stop)
		code, out, errs := a.admin(t, bin, "stage", "-wait", "/store/fed/hot.dat")
		if code != 0 {
			t.Fatalf("stage -wait: %d %s %s", code, out, errs)
		}
		waitFor(t, "a's queue empty", func() bool {
			_, out, _ := a.admin(t, bin, "queue")
			return !strings.Contains(out, "hot.dat")
		})
		if got, _ := os.ReadFile(filepath.Join(a.local, "store/fed/hot.dat")); !bytes.Equal(got, content) {
			t.Error("hot.dat at a differs")
		}
		if n := b.requests("/store/fed/hot.dat") + c.requests("/store/fed/hot.dat"); n != 1 {
			t.Errorf("%d downloads of hot.dat for 51 requests, want 1", n)
		}
	})

	t.Run("b killed mid-download", func(t *testing.T) {
		const size = 1 << 30 // sparse at b and c: a writes it whole
		b.resident(t, bin, "/store/fed/big.dat", nil, size)
		c.resident(t, bin, "/store/fed/big.dat", nil, size)
		real := filepath.Join(a.local, "store/fed/big.dat")
		// Watch a: the real name never shows a partial file; kill b once
		// a has some of the data.
		var partial []string
		var mu sync.Mutex
		stopWatch := make(chan struct{})
		watched := make(chan struct{})
		var killed atomic.Bool
		go func() {
			defer close(watched)
			for {
				select {
				case <-stopWatch:
					return
				default:
				}
				var st unix.Stat_t
				if unix.Stat(real, &st) == nil && st.Size != size {
					mu.Lock()
					partial = append(partial, fmt.Sprint(st.Size))
					mu.Unlock()
				}
				if !killed.Load() {
					if m, _ := filepath.Glob(filepath.Join(a.dir, "p1", "public", "*", "*frmtmp*")); len(m) > 0 {
						if fi, err := os.Stat(m[0]); err == nil && fi.Size() > 16<<20 {
							b.cmd.Process.Signal(syscall.SIGKILL)
							killed.Store(true)
						}
					}
				}
				time.Sleep(time.Millisecond)
			}
		}()
		code, out, errs := a.admin(t, bin, "stage", "-wait", "/store/fed/big.dat")
		close(stopWatch)
		<-watched
		if code != 0 {
			t.Fatalf("stage -wait big.dat: %d %s %s", code, out, errs)
		}
		if !killed.Load() {
			t.Fatal("the download ended before b could be killed")
		}
		mu.Lock()
		if len(partial) > 0 {
			t.Errorf("a partial file showed under the real name at a: sizes %v", partial)
		}
		mu.Unlock()
		if fi, err := os.Stat(real); err != nil || fi.Size() != size {
			t.Fatalf("big.dat at a: %v %v", fi, err)
		}
		if got := fileAdler(t, real); got != zeroAdler(size) {
			t.Errorf("big.dat at a: adler32 %08x, want %08x", got, zeroAdler(size))
		}
		if o, _, _ := meta.GetOrigin(real); o.Peer != "c" {
			t.Errorf("big.dat finished from %q, want c", o.Peer)
		}
		if !strings.Contains(a.readLog(), "peer download broke; resuming") {
			t.Error("a's log does not say the download was resumed")
		}
		b.start(top, bin) // for what follows: it lives as long as the test
	})

	t.Run("b serves corrupted bytes", func(t *testing.T) {
		content := bytes.Repeat([]byte("keep me whole\n"), 60000)
		b.resident(t, bin, "/store/fed/rot.dat", content, 0)
		c.resident(t, bin, "/store/fed/rot.dat", content, 0)
		// Bit rot at b: a byte changes, the mtime (and so the stored
		// checksum's validity) does not.
		p := filepath.Join(b.local, "store/fed/rot.dat")
		var st unix.Stat_t
		unix.Stat(p, &st)
		f, _ := os.OpenFile(p, os.O_WRONLY, 0)
		f.WriteAt([]byte{'X'}, 1000)
		f.Close()
		unix.UtimesNano(p, []unix.Timespec{st.Atim, st.Mtim})
		stage(t, "/store/fed/rot.dat", "c", content)
		if !strings.Contains(a.readLog(), "peer served wrong bytes") || !regexp.MustCompile(`peer served wrong bytes.*peer=b`).MatchString(a.readLog()) {
			t.Error("a's log does not name b as serving wrong bytes")
		}
	})

	t.Run("absent everywhere", func(t *testing.T) {
		code, _, errs := a.admin(t, bin, "stage", "-wait", "/store/fed/nowhere.dat")
		if code == 0 || !strings.Contains(errs, "b: absent") || !strings.Contains(errs, "c: absent") {
			t.Errorf("a file no peer has: %d %s", code, errs)
		}
	})
}

// freePort returns a loopback port free at the moment.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// zeroAdler is the adler32 of n zero bytes.
func zeroAdler(n int64) uint32 {
	const mod = 65521
	// a = 1, b = n mod 65521 (each zero byte adds a to b).
	return uint32(n%mod)<<16 | 1
}

// serveSection is a [serve] section on a free loopback port with the
// PKI's server certificate and one token.
func serveSection(t *testing.T, pki servetest.PKI, name, scope, token string) string {
	return fmt.Sprintf(`
[serve]
listen = "127.0.0.1:%d"
tls_cert = %q
tls_key = %q

[[serve.token]]
name = %q
sha256 = %q
scope = %q
`, freePort(t), pki.ServerCert, pki.ServerKey, name, tokenDigest(token), scope)
}
