package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"frm/core/control"
	"frm/core/fedapi"
	"frm/core/meta"
	"frm/serve/servetest"
)

// distFile writes a file at the distribution site as a stage would leave
// it (a plain file with its adler32 stored) and returns its size.
func distFile(t *testing.T, s *fedSite, lfn string, content []byte) {
	t.Helper()
	p := filepath.Join(s.local, lfn)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
	setAdler(t, p, content)
}

func setAdler(t *testing.T, p string, content []byte) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	v := make([]byte, 4)
	binary.BigEndian.PutUint32(v, adlerOf(content))
	if err := meta.SetChecksum(p, meta.Checksum{Alg: "adler32", Value: v, MTime: fi.ModTime().Unix()}); err != nil {
		t.Fatal(err)
	}
}

func adlerOf(b []byte) uint32 {
	const mod = 65521
	a, c := uint32(1), uint32(0)
	for _, x := range b {
		a = (a + uint32(x)) % mod
		c = (c + a) % mod
	}
	return c<<16 | a
}

// randomContent is n bytes from the seed.
func randomContent(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// runMirror runs frm mirror with config.
func runMirror(t *testing.T, bin, config string, args ...string) (int, string, string) {
	t.Helper()
	return runFrm(t, bin, append([]string{"mirror", "-c", config}, args...)...)
}

var (
	fileGetRe = regexp.MustCompile(`msg=request component=serve method=GET path=(/v1/files/\S+) status=(200|206) bytes=([0-9]+)`)
	// bulkFileRe is a file sent in a POST /v1/bulk: one line per file.
	bulkFileRe = regexp.MustCompile(`msg=bulk component=serve lfn=(/\S+) status=200 bytes=([0-9]+)`)
)

// served is what the distribution's frm serve sent of files since its log
// had off bytes: per lfn, how many times its bytes were sent (a GET of
// it, or its record in a bulk answer), and the bytes.
func served(s *fedSite, off int) (map[string]int, int64) {
	l := s.readLog()
	if off > len(l) {
		off = len(l)
	}
	gets := map[string]int{}
	var total int64
	for _, m := range fileGetRe.FindAllStringSubmatch(l[off:], -1) {
		gets[strings.TrimPrefix(m[1], "/v1/files")]++
		n, _ := strconv.ParseInt(m[3], 10, 64)
		total += n
	}
	for _, m := range bulkFileRe.FindAllStringSubmatch(l[off:], -1) {
		gets[m[1]]++
		n, _ := strconv.ParseInt(m[2], 10, 64)
		total += n
	}
	return gets, total
}

// countFiles counts the regular files (through links) under dir, the
// product manifests aside.
func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode()&os.ModeSymlink != 0 {
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				n++
			}
			return nil
		}
		if err == nil && fi.Mode().IsRegular() && filepath.Base(p) != fedapi.ManifestFile && !strings.HasSuffix(p, ".anew") {
			n++
		}
		return nil
	})
	return n
}

// TestMirror is issue 11's proof with real processes: a distribution
// site (frm daemon with frm serve over HTTPS) holding two products of
// several thousand files, a mirror site running frm mirror, and a mirror
// of the mirror.
func TestMirror(t *testing.T) {
	if testing.Short() {
		t.Skip("starts daemons, mirrors thousands of files")
	}
	bin := buildBin(t)
	pki := servetest.NewPKI(t)
	const token = "mirror-secret-token"
	serveCfg := func() string {
		return serveSection(t, pki, "mirrors", "read", token)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte(token+"\n"), 0o600)
	peerCfg := func(name, url string) string {
		return fmt.Sprintf("\n[[peer]]\nname = %q\nurl = %q\ntoken_file = %q\nca_file = %q\n", name, url, tokenFile, pki.CA)
	}
	mirrorCfg := func(source string) string {
		return fmt.Sprintf("\n[[mirror]]\nname = \"dist\"\nsource = %q\nproducts = [\"/store/p1\", \"/store/p2\"]\ntransfers = 4\n", source)
	}

	const perProduct = 2500
	dist := newFedSite(t, "dist", serveCfg())
	sizes := map[string]int{}
	for p := 1; p <= 2; p++ {
		for i := range perProduct {
			lfn := fmt.Sprintf("/store/p%d/d%02d/f%05d.dat", p, i%50, i)
			n := 100 + (i*37)%4000
			distFile(t, dist, lfn, randomContent(uint64(p*100000+i), n))
			sizes[lfn] = n
		}
	}
	dist.start(t, bin)
	m := newFedSite(t, "m", serveCfg()+peerCfg("dist", dist.url)+mirrorCfg("dist"))

	same := func(t *testing.T, lfn string) {
		t.Helper()
		want, err := os.ReadFile(filepath.Join(dist.local, lfn))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(m.local, lfn))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s at the mirror: %d bytes (%v), want the source's %d", lfn, len(got), err, len(want))
		}
	}

	t.Run("first run", func(t *testing.T) {
		off := len(dist.readLog())
		code, out, errs := runMirror(t, bin, m.config)
		if code != 0 || errs != "" {
			t.Fatalf("frm mirror: %d\n%s\n%s", code, out, errs)
		}
		// Small files come in bulk: a few requests, no GET per file, and
		// each file's bytes sent once.
		l := dist.readLog()[off:]
		bulks := strings.Count(l, "method=POST path=/v1/bulk status=200")
		if n := len(fileGetRe.FindAllString(l, -1)); n != 0 || bulks == 0 || bulks > 2*perProduct/100 {
			t.Errorf("the first run made %d GETs of files and %d bulk requests; want none and a few", n, bulks)
		}
		if gets, bytesOut := served(dist, off); len(gets) != 2*perProduct {
			t.Errorf("the source sent %d files (%d bytes), want %d", len(gets), bytesOut, 2*perProduct)
		}
		if !strings.HasPrefix(out, "mirror dist: 5000 new, 0 changed, 0 deleted, 0 failed;") || strings.Count(out, "\n") != 1 {
			t.Errorf("summary: %q", out)
		}
		if n := countFiles(t, filepath.Join(m.local, "store")); n != 2*perProduct {
			t.Errorf("%d files at the mirror, want %d", n, 2*perProduct)
		}
		for lfn := range sizes {
			same(t, lfn)
		}
		// Ordinary frm files: XA links into the public space, with
		// their checksum and origin.
		p := filepath.Join(m.local, "store/p1/d00/f00000.dat")
		if target, err := os.Readlink(p); err != nil || !strings.Contains(target, "/p1/public") {
			t.Errorf("%s is not a link into the public space: %q %v", p, target, err)
		}
		if o, ok, _ := meta.GetOrigin(p); !ok || o.Peer != "dist" {
			t.Errorf("origin of %s: %+v", p, o)
		}
		_, lsOut, _ := m.admin(t, bin, "ls", "-l", "/store/p1/d00/f00000.dat")
		if !strings.Contains(lsOut, "from=dist@") {
			t.Errorf("ls -l: %s", lsOut)
		}
		// Each product is published: its manifest lists every file.
		for _, prod := range []string{"p1", "p2"} {
			b, err := os.ReadFile(filepath.Join(m.local, "store", prod, fedapi.ManifestFile))
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			end, err := fedapi.ReadManifest(bytes.NewReader(b), func(e fedapi.ManifestEntry) error { n++; return nil })
			if err != nil || n != perProduct || end.Files != perProduct {
				t.Errorf("%s's manifest: %d entries, %v", prod, n, err)
			}
		}
	})

	t.Run("cron: no change prints nothing", func(t *testing.T) {
		off := len(dist.readLog())
		start := time.Now()
		code, out, errs := runMirror(t, bin, m.config)
		if code != 0 || out != "" || errs != "" {
			t.Fatalf("frm mirror with nothing new: %d %q %q", code, out, errs)
		}
		if gets, _ := served(dist, off); len(gets) != 0 {
			t.Errorf("a run with nothing new read %d files at the source", len(gets))
		}
		t.Logf("no-change run over %d files: %v", 2*perProduct, time.Since(start))
	})

	// 100 changed, 100 added, 100 removed at the source.
	var changed, added, removed []string
	for i := range 100 {
		c := fmt.Sprintf("/store/p1/d%02d/f%05d.dat", (i*7)%50, i*7)
		changed = append(changed, c)
		content := randomContent(uint64(900000+i), 200+i)
		os.Remove(filepath.Join(dist.local, c))
		distFile(t, dist, c, content)
		sizes[c] = len(content)
		a := fmt.Sprintf("/store/p2/new/n%05d.dat", i)
		added = append(added, a)
		content = randomContent(uint64(800000+i), 3000)
		distFile(t, dist, a, content)
		sizes[a] = len(content)
		r := fmt.Sprintf("/store/p1/d%02d/f%05d.dat", (i*7+3)%50, i*7+3)
		removed = append(removed, r)
		os.Remove(filepath.Join(dist.local, r))
		delete(sizes, r)
	}

	t.Run("dry run changes nothing", func(t *testing.T) {
		off := len(dist.readLog())
		before := countFiles(t, filepath.Join(m.local, "store"))
		code, out, errs := runMirror(t, bin, m.config, "--dry-run", "--delete", "-v")
		if code != 0 || errs != "" || !strings.Contains(out, "mirror dist (dry run): would add 100, change 100, delete 100 files;") {
			t.Fatalf("--dry-run: %d %q %q", code, out, errs)
		}
		if n := strings.Count(out, "\ndeleted "); n != 100 {
			t.Errorf("--dry-run -v lists %d deletions, want 100", n)
		}
		if gets, _ := served(dist, off); len(gets) != 0 {
			t.Errorf("the dry run downloaded %d files", len(gets))
		}
		if n := countFiles(t, filepath.Join(m.local, "store")); n != before {
			t.Errorf("the dry run changed the files: %d, were %d", n, before)
		}
	})

	t.Run("incremental: exactly the 200", func(t *testing.T) {
		off := len(dist.readLog())
		code, out, errs := runMirror(t, bin, m.config, "-v")
		if code != 0 || errs != "" {
			t.Fatalf("frm mirror: %d\n%s\n%s", code, out, errs)
		}
		gets, bytesOut := served(dist, off)
		var want int64
		for _, lfn := range append(append([]string{}, changed...), added...) {
			if gets[lfn] != 1 {
				t.Errorf("%s read %d times at the source, want once", lfn, gets[lfn])
			}
			want += int64(sizes[lfn])
			same(t, lfn)
		}
		if len(gets) != 200 || bytesOut != want {
			t.Errorf("the source served %d files, %d bytes; want 200 files, %d bytes", len(gets), bytesOut, want)
		}
		if !strings.Contains(out, "mirror dist: 100 new, 100 changed, 0 deleted, 0 failed;") || !strings.Contains(out, "100 files here are no longer at the source") {
			t.Errorf("summary: %s", out)
		}
		listed := map[string]int{}
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) == 3 && strings.HasPrefix(f[1], "/store/") {
				listed[f[0]]++
			}
		}
		if listed["new"] != 100 || listed["changed"] != 100 {
			t.Errorf("-v does not list each file: %v", listed)
		}
		for _, r := range removed {
			if _, err := os.Stat(filepath.Join(m.local, r)); err != nil {
				t.Fatalf("%s deleted without --delete", r)
			}
		}
		// A run in between with nothing new at the source (one request
		// per product: the listing asked with the last run's generation,
		// answered 304) does not forget the files left behind...
		off = len(dist.readLog())
		if code, out, errs := runMirror(t, bin, m.config); code != 0 || out != "" || errs != "" {
			t.Fatalf("rerun: %d %q %q", code, out, errs)
		}
		if l := dist.readLog()[off:]; strings.Count(l, "path=/v1/manifest status=304 ") != 2 || strings.Count(l, "path=/v1/manifest ") != 2 {
			t.Errorf("the rerun's listings were not two 304s:\n%s", l)
		}
		// ...which --delete then removes.
		code, out, errs = runMirror(t, bin, m.config, "--delete")
		if code != 0 || !strings.Contains(out, "0 new, 0 changed, 100 deleted") {
			t.Fatalf("--delete: %d %s %s", code, out, errs)
		}
		for _, r := range removed {
			if _, err := os.Lstat(filepath.Join(m.local, r)); err == nil {
				t.Fatalf("%s not deleted with --delete", r)
			}
		}
		if n := countFiles(t, filepath.Join(m.local, "store")); n != len(sizes) {
			t.Errorf("%d files at the mirror, want %d", n, len(sizes))
		}
	})

	t.Run("max_delete", func(t *testing.T) {
		// 300 of p2's 2600: more than 10%.
		var gone []string
		for i := range 300 {
			r := fmt.Sprintf("/store/p2/d%02d/f%05d.dat", i%50, i)
			gone = append(gone, r)
			os.Remove(filepath.Join(dist.local, r))
			delete(sizes, r)
		}
		added := "/store/p2/new/after.dat"
		distFile(t, dist, added, []byte("after the deletions\n"))
		before := countFiles(t, filepath.Join(m.local, "store"))
		off := len(dist.readLog())
		code, out, errs := runMirror(t, bin, m.config, "--delete")
		if code != 1 || !strings.Contains(errs, "max_delete") || !strings.Contains(errs, "nothing was changed") {
			t.Fatalf("300 deletions past max_delete: %d %q %q", code, out, errs)
		}
		if n := countFiles(t, filepath.Join(m.local, "store")); n != before {
			t.Errorf("files at the mirror: %d, were %d: the refused run changed something", n, before)
		}
		if gets, _ := served(dist, off); len(gets) != 0 {
			t.Errorf("the refused run downloaded %d files", len(gets))
		}
		code, out, errs = runMirror(t, bin, m.config, "--delete", "--force")
		if code != 0 || !strings.Contains(out, "1 new, 0 changed, 300 deleted") {
			t.Fatalf("--force: %d %q %q", code, out, errs)
		}
		sizes[added] = 20
	})

	t.Run("corrupted bytes at the source", func(t *testing.T) {
		lfn := "/store/p2/new/rotten.dat"
		content := randomContent(42, 50000)
		distFile(t, dist, lfn, content)
		p := filepath.Join(dist.local, lfn)
		fi, _ := os.Stat(p)
		content[1000] ^= 0xff
		os.WriteFile(p, content, 0o644)
		os.Chtimes(p, fi.ModTime(), fi.ModTime()) // the checksum still claims to be current
		good := "/store/p2/new/good.dat"
		distFile(t, dist, good, []byte("good bytes\n"))
		code, out, errs := runMirror(t, bin, m.config)
		if code != 3 || !strings.Contains(errs, "rotten.dat") || !strings.Contains(errs, "wrong bytes") {
			t.Fatalf("rotten file: %d %q %q", code, out, errs)
		}
		if _, err := os.Lstat(filepath.Join(m.local, lfn)); err == nil {
			t.Error("the rotten file was published")
		}
		same(t, good)
		b, _ := os.ReadFile(filepath.Join(m.local, "store/p2", fedapi.ManifestFile))
		if bytes.Contains(b, []byte("rotten.dat")) || !bytes.Contains(b, []byte("new/good.dat")) {
			t.Error("p2's manifest lists the rotten file or lacks the good one")
		}
		os.Remove(p)
		os.Remove(filepath.Join(dist.local, good))
		if code, out, errs := runMirror(t, bin, m.config, "--delete"); code != 0 {
			t.Fatalf("after removing the rotten file: %d %q %q", code, out, errs)
		}
	})

	t.Run("killed mid-run", func(t *testing.T) {
		const n, size = 40, 8 << 20
		var big []string
		for i := range n {
			lfn := fmt.Sprintf("/store/p2/big/b%02d.dat", i)
			big = append(big, lfn)
			distFile(t, dist, lfn, randomContent(uint64(7000+i), size))
		}
		off := len(dist.readLog())
		cmd := exec.Command(bin, "mirror", "-c", m.config)
		cmd.Env = toolEnv()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		landed := func() []string {
			var done []string
			for _, lfn := range big {
				if _, err := os.Lstat(filepath.Join(m.local, lfn)); err == nil {
					done = append(done, lfn)
				}
			}
			return done
		}
		deadline := time.Now().Add(time.Minute)
		partial := func() bool {
			ps, _ := filepath.Glob(filepath.Join(m.local, "store/p2/big/*.anew"))
			for _, p := range ps {
				// Begun and not whole: a download to resume (a whole
				// one waits for its flush, and is taken as it is).
				// (Any size short of whole: on loopback a file passes
				// through a narrower window in a few milliseconds, and
				// a run could end unseen.)
				if fi, err := os.Stat(p); err == nil && fi.Size() >= 1<<20 && fi.Size() < size {
					return true
				}
			}
			return false
		}
		for !(len(landed()) >= 4 && partial()) && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		cmd.Process.Kill()
		cmd.Wait()
		done := landed()
		if len(done) == n {
			t.Fatalf("the run finished before the kill")
		}
		firstGets, _ := served(dist, off)
		partials, _ := filepath.Glob(filepath.Join(m.local, "store/p2/big/*.anew"))
		for _, p := range partials {
			if fi, err := os.Stat(p); err != nil || fi.Size() == 0 {
				continue // begun, no byte yet
			}
			if rec, err := xattrOf(p, "user.frm.mirror.partial"); err != nil || !strings.Contains(rec, "|") {
				t.Errorf("partial %s does not say which version it holds: %q %v", p, rec, err)
			}
		}
		off = len(dist.readLog())
		code, out, errs := runMirror(t, bin, m.config)
		if code != 0 {
			t.Fatalf("the run after the kill: %d %q %q", code, out, errs)
		}
		gets, _ := served(dist, off)
		for _, lfn := range done {
			if gets[lfn] != 0 {
				t.Errorf("%s was done before the kill and was downloaded again", lfn)
			}
		}
		for _, lfn := range big {
			same(t, lfn)
		}
		resumed := len(regexp.MustCompile(`path=/v1/files/store/p2/big/\S+ status=206 `).FindAllString(dist.readLog()[off:], -1))
		if resumed == 0 {
			t.Error("no partial download was resumed with Range")
		}
		t.Logf("killed after %d of %d files (%d requests begun); the next run fetched %d files, %d of them resumed with Range", len(done), n, len(firstGets), len(gets), resumed)
		matches, _ := filepath.Glob(filepath.Join(m.local, "store/p2/big/*.anew"))
		if len(matches) != 0 {
			t.Errorf("placeholders left: %v", matches)
		}
	})

	t.Run("overlapping runs", func(t *testing.T) {
		for i := range 60 {
			distFile(t, dist, fmt.Sprintf("/store/p1/overlap/o%02d.dat", i), randomContent(uint64(6000+i), 4<<20))
		}
		cmd := exec.Command(bin, "mirror", "-c", m.config)
		cmd.Env = toolEnv()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lock := filepath.Join(m.adminPath, "frm", "mirror", "dist.lock")
		waitFor(t, "the first run's lock", func() bool { b, _ := os.ReadFile(lock); return len(b) > 0 })
		start := time.Now()
		code, out, errs := runMirror(t, bin, m.config)
		took := time.Since(start)
		running := cmd.ProcessState == nil
		if err := cmd.Wait(); err != nil {
			t.Fatalf("the first run: %v", err)
		}
		if !running {
			t.Fatal("the first run ended before the second started")
		}
		if code != exitTempFail || out != "" || !strings.Contains(errs, "another run of this mirror is in progress") || took > 5*time.Second {
			t.Fatalf("the overlapping run: %d after %v, %q %q", code, took, out, errs)
		}
	})

	t.Run("a mirror of the mirror converges", func(t *testing.T) {
		m.start(t, bin)
		c := newFedSite(t, "c", peerCfg("m", m.url)+mirrorCfg("m"))
		code, out, errs := runMirror(t, bin, c.config)
		if code != 0 || errs != "" {
			t.Fatalf("mirror of the mirror: %d %q %q", code, out, errs)
		}
		for _, prod := range []string{"p1", "p2"} {
			a, _ := os.ReadFile(filepath.Join(m.local, "store", prod, fedapi.ManifestFile))
			b, _ := os.ReadFile(filepath.Join(c.local, "store", prod, fedapi.ManifestFile))
			if len(a) == 0 || !bytes.Equal(a, b) {
				t.Errorf("%s: the chained mirror's manifest (%d bytes) differs from the mirror's (%d bytes)", prod, len(b), len(a))
			}
		}
		if n, want := countFiles(t, filepath.Join(c.local, "store")), countFiles(t, filepath.Join(dist.local, "store")); n != want {
			t.Errorf("the chained mirror has %d files, the source %d", n, want)
		}
		// The mirror publishes its products: the chained mirror read
		// their manifests, and with nothing new it costs one conditional
		// request per product (304), no listing at m.
		off := len(m.readLog())
		if code, out, errs := runMirror(t, bin, c.config); code != 0 || out != "" || errs != "" {
			t.Fatalf("chained rerun: %d %q %q", code, out, errs)
		}
		l := m.readLog()[off:]
		if n := strings.Count(l, "path=/v1/manifest"); n != 0 {
			t.Errorf("the chained rerun listed m %d times", n)
		}
		if n := len(regexp.MustCompile(`path=/v1/files/store/p[12]/\.frm-manifest\.ndjson status=304 `).FindAllString(l, -1)); n != 2 {
			t.Errorf("the chained rerun made %d conditional requests of the published manifests, want 2:\n%s", n, l)
		}
	})

	t.Run("source down: the run fails and deletes nothing", func(t *testing.T) {
		dist.cmd.Process.Kill()
		dist.cmd.Wait()
		before := countFiles(t, filepath.Join(m.local, "store"))
		code, out, errs := runMirror(t, bin, m.config, "--delete")
		if code != 1 || !strings.Contains(errs, "the source's manifest") {
			t.Fatalf("source down: %d %q %q", code, out, errs)
		}
		if n := countFiles(t, filepath.Join(m.local, "store")); n != before {
			t.Errorf("files at the mirror: %d, were %d", n, before)
		}
	})
}

// TestMirrorStatic mirrors a static distribution: a tree with a manifest
// written by frm manifest build, served by a plain web server (Go's file
// server here, as nginx would); a truncated manifest makes the run fail
// and delete nothing.
func TestMirrorStatic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBin(t)
	www := t.TempDir()
	tree := filepath.Join(www, "dist")
	for i := range 200 {
		p := filepath.Join(tree, "prod", fmt.Sprintf("d%d", i%5), fmt.Sprintf("f%03d.fits", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, randomContent(uint64(i), 500+i), 0o644)
	}
	os.WriteFile(filepath.Join(tree, "other.txt"), []byte("not a product\n"), 0o644)
	cmd := exec.Command(bin, "manifest", "build", tree)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("frm manifest build: %v %s", err, out)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(www)))
	defer srv.Close()
	m := newFedSite(t, "m", fmt.Sprintf("\n[[mirror]]\nname = \"static\"\nsource = %q\nproducts = [\"/prod\"]\ndest = \"/store/mirror\"\ndelete = true\n",
		srv.URL+"/dist/"+fedapi.ManifestFile))
	code, out, errs := runMirror(t, bin, m.config)
	if code != 0 || !strings.HasPrefix(out, "mirror static: 200 new") {
		t.Fatalf("static mirror: %d %q %q", code, out, errs)
	}
	for i := range 200 {
		rel := filepath.Join("prod", fmt.Sprintf("d%d", i%5), fmt.Sprintf("f%03d.fits", i))
		want, _ := os.ReadFile(filepath.Join(tree, rel))
		got, err := os.ReadFile(filepath.Join(m.local, "store/mirror", rel))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: %v", rel, err)
		}
	}
	if _, err := os.Stat(filepath.Join(m.local, "store/mirror/other.txt")); err == nil {
		t.Error("a file outside the product was mirrored")
	}
	if code, out, errs := runMirror(t, bin, m.config); code != 0 || out != "" || errs != "" {
		t.Fatalf("rerun: %d %q %q", code, out, errs)
	}
	// Truncate the manifest (no end line) after removing files: the run
	// fails and deletes nothing.
	for i := range 10 {
		os.Remove(filepath.Join(tree, "prod", fmt.Sprintf("d%d", i%5), fmt.Sprintf("f%03d.fits", i)))
	}
	exec.Command(bin, "manifest", "build", tree).Run()
	mf := filepath.Join(tree, fedapi.ManifestFile)
	b, _ := os.ReadFile(mf)
	lines := strings.SplitAfter(string(b), "\n")
	os.WriteFile(mf, []byte(strings.Join(lines[:len(lines)/2], "")), 0o644)
	before := countFiles(t, filepath.Join(m.local, "store"))
	code, out, errs = runMirror(t, bin, m.config)
	if code != 1 || !strings.Contains(errs, "cut short") {
		t.Fatalf("truncated manifest: %d %q %q", code, out, errs)
	}
	if n := countFiles(t, filepath.Join(m.local, "store")); n != before {
		t.Errorf("files: %d, were %d", n, before)
	}
	// Whole again: the 10 go.
	exec.Command(bin, "manifest", "build", tree).Run()
	code, out, errs = runMirror(t, bin, m.config, "-o", "json")
	if code != 0 || !strings.Contains(out, `"deleted":10`) || !strings.Contains(out, `"schema":1`) {
		t.Fatalf("after the manifest is whole again: %d %q %q", code, out, errs)
	}
}

func xattrOf(p, name string) (string, error) {
	b := make([]byte, 512)
	n, err := unix.Getxattr(p, name, b)
	if err != nil {
		return "", err
	}
	return string(b[:n]), nil
}

// TestMirrorDaemon: frm daemon runs a mirror on its schedule (an interval
// starts with a run), reports it as an event and in the metrics.
func TestMirrorDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("starts daemons")
	}
	bin := buildBin(t)
	pki := servetest.NewPKI(t)
	const token = "mirror-daemon-token"
	dist := newFedSite(t, "dist", fmt.Sprintf("\n[serve]\nlisten = \"127.0.0.1:%d\"\ntls_cert = %q\ntls_key = %q\n\n[[serve.token]]\nname = \"m\"\nsha256 = %q\nscope = \"read\"\n",
		freePort(t), pki.ServerCert, pki.ServerKey, tokenDigest(token)))
	for i := range 20 {
		distFile(t, dist, fmt.Sprintf("/store/prod/f%02d.dat", i), randomContent(uint64(i), 1000+i))
	}
	dist.start(t, bin)
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte(token), 0o600)
	m := newFedSite(t, "m", fmt.Sprintf("\n[[peer]]\nname = \"dist\"\nurl = %q\ntoken_file = %q\nca_file = %q\n\n[[mirror]]\nname = \"dist\"\nsource = \"dist\"\nproducts = [\"/store/prod\"]\nschedule = \"1h\"\n",
		dist.url, tokenFile, pki.CA))
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.Command(bin, "daemon", "-c", m.config, "-l", m.log, "-metrics", metricsAddr)
	cmd.Env = toolEnv()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("m's daemon log:\n%s", m.readLog())
		}
	})
	waitFor(t, "the scheduled run", func() bool { return strings.Contains(m.readLog(), "mirror run done") })
	if n := countFiles(t, filepath.Join(m.local, "store/prod")); n != 20 {
		t.Fatalf("%d files mirrored by the daemon, want 20", n)
	}
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`frm_mirror_files_total{mirror="dist"} 20`, `frm_mirror_failures_total{mirror="dist"} 0`, `frm_mirror_last_success_timestamp_seconds{mirror="dist"}`} {
		if !strings.Contains(body.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// The same lock: frm mirror from cron while the daemon is idle runs,
	// and finds nothing to do.
	if code, out, errs := runMirror(t, bin, m.config); code != 0 || out != "" || errs != "" {
		t.Errorf("frm mirror next to the daemon: %d %q %q", code, out, errs)
	}
	// The run is an event on the control socket (recent events first).
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got control.Event
	control.New(filepath.Join(m.adminPath, "frm")).Events(ctx, func(ev control.Event) {
		if ev.Kind == "mirror" {
			got = ev
			cancel()
		}
	})
	if got.Type != "mirror_run" || got.LFN != "dist" || got.Bytes == 0 {
		t.Errorf("mirror event: %+v", got)
	}
}

// TestMirrorProgressOnTerminal: on a terminal frm mirror shows its
// progress (files, bytes, rate, ETA) and clears it for the summary; in a
// pipe it shows none (the other tests check stderr stays empty).
func TestMirrorProgressOnTerminal(t *testing.T) {
	needTmux(t)
	bin := buildBin(t)
	www := t.TempDir()
	for i := range 120 {
		p := filepath.Join(www, "prod", fmt.Sprintf("f%03d", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, randomContent(uint64(i), 20000), 0o644)
	}
	if out, err := exec.Command(bin, "manifest", "build", www).CombinedOutput(); err != nil {
		t.Fatalf("manifest build: %v %s", err, out)
	}
	fs := http.FileServer(http.Dir(www))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, fedapi.ManifestFile) {
			time.Sleep(60 * time.Millisecond) // a slow distribution: the run takes a few seconds
		}
		fs.ServeHTTP(w, r)
	}))
	defer srv.Close()
	m := newFedSite(t, "m", fmt.Sprintf("\n[[mirror]]\nname = \"slow\"\nsource = %q\nproducts = [\"/prod\"]\ndest = \"/store/slow\"\n", srv.URL+"/"+fedapi.ManifestFile))
	tm := newTmux(t, filepath.Join(t.TempDir(), "tmux.sock"))
	tm.do("new-session", "-d", "-x", "160", "-y", "10", bin+" mirror -c "+m.config+"; sleep 60")
	tm.waitScreen("", "the progress line", 20*time.Second, func(s string) bool {
		return regexp.MustCompile(`mirror slow: [0-9]+/120 files, .*/s, ETA `).MatchString(s)
	})
	screen := tm.waitScreen("", "the summary", 30*time.Second, func(s string) bool {
		return strings.Contains(s, "mirror slow: 120 new, 0 changed, 0 deleted, 0 failed;")
	})
	if strings.Contains(screen, "ETA") {
		t.Errorf("the progress line was not cleared:\n%s", screen)
	}
}
