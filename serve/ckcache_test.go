package serve

import (
	"context"
	"net/http"
	"os"
	"runtime"
	"testing"
	"time"

	"frm/core/catalog"
	"frm/core/fedapi"
	"frm/core/meta"
)

// TestManifestChecksumCache: a manifest takes the stored checksum and
// the bad-checksum mark of a file whose state (inode, size, mtime,
// ctime) it has seen from its cache, and reads them again once anything
// changed them, even with the size and mtime put back: the ctime moved.
func TestManifestChecksumCache(t *testing.T) {
	mt := time.Unix(1700000000, 0)
	other := []byte("other bytes of the same length.................")
	sameLen := func(lfn string) []byte {
		b := append([]byte(nil), content(lfn)...)
		copy(b, "CHANGED")
		return b
	}
	bad := meta.BadChecksum{Alg: "adler32", Found: mt.Unix(), MTime: mt.Unix(), Stored: []byte{1, 2, 3, 4}, Computed: []byte{5, 6, 7, 8}}
	for _, tc := range []struct {
		name   string
		lfn    string
		before func(t *testing.T, pfn string) // before the first listing
		change func(t *testing.T, pfn string)
		want   string // the lfn's checksum after the change; "-": not listed
	}{
		{name: "checksum record replaced", lfn: "/store/a/plain.fits",
			change: func(t *testing.T, pfn string) { setAdler(t, pfn, other, mt.Unix()) },
			want:   adlerOf(other)},
		{name: "checksum record of an XA file replaced", lfn: "/store/a/xa.fits",
			change: func(t *testing.T, pfn string) { setAdler(t, pfn, other, mt.Unix()) },
			want:   adlerOf(other)},
		{name: "checksum record removed", lfn: "/store/a/plain.fits",
			change: func(t *testing.T, pfn string) {
				if _, err := meta.RemoveChecksum(pfn, "adler32"); err != nil {
					t.Fatal(err)
				}
			},
			want: ""},
		{name: "bad-checksum mark set", lfn: "/store/b/other.fits",
			change: func(t *testing.T, pfn string) { must(t, meta.SetBadChecksum(pfn, bad)) },
			want:   "-"},
		{name: "bad-checksum mark cleared", lfn: "/store/b/other.fits",
			before: func(t *testing.T, pfn string) { must(t, meta.SetBadChecksum(pfn, bad)) },
			change: func(t *testing.T, pfn string) {
				if _, err := meta.RemoveBadChecksum(pfn); err != nil {
					t.Fatal(err)
				}
			},
			want: adlerOf(content("/store/b/other.fits"))},
		{name: "staged again: new data and record, same size and mtime", lfn: "/store/a/plain.fits",
			change: func(t *testing.T, pfn string) {
				data := sameLen("/store/a/plain.fits")
				must(t, os.WriteFile(pfn, data, 0o644))
				must(t, os.Chtimes(pfn, mt, mt))
				setAdler(t, pfn, data, mt.Unix())
			},
			want: adlerOf(sameLen("/store/a/plain.fits"))},
		{name: "data rewritten, size and mtime put back", lfn: "/store/a/plain.fits",
			change: func(t *testing.T, pfn string) {
				must(t, os.WriteFile(pfn, sameLen("/store/a/plain.fits"), 0o644))
				must(t, os.Chtimes(pfn, mt, mt))
			},
			// The stored record (of this mtime) is all a listing
			// knows; what matters is that it was read again (a miss).
			want: adlerOf(content("/store/a/plain.fits"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, serverOpts{})
			// A tick of the kernel's clock is a few milliseconds: 50 ms
			// of settling keeps the rule's meaning in a quick test.
			ts.srv.cks.settle = 50 * time.Millisecond
			pfn := ts.s.PFN(tc.lfn)
			if tc.before != nil {
				tc.before(t, pfn)
			}
			time.Sleep(100 * time.Millisecond)
			c := ts.client(t, readToken)
			list := func() map[string]string {
				t.Helper()
				got := map[string]string{}
				if _, err := c.Manifest(context.Background(), "/store", "", func(e fedapi.ManifestEntry) error {
					got[e.LFN] = e.Checksum
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				return got
			}
			first := list()
			n, _, misses0 := ts.srv.cks.stats()
			if n != 5 {
				t.Fatalf("after the first listing: %d cached, want the 5 files", n)
			}
			second := list()
			if _, _, misses := ts.srv.cks.stats(); misses != misses0 {
				t.Fatalf("second listing: %d files read again, want none", misses-misses0)
			}
			if !equalMaps(first, second) {
				t.Fatalf("the cache changed the manifest: %v, then %v", first, second)
			}
			// A download asks the cache too: the file as listed, its
			// attributes not read again.
			want0, listed0 := first[tc.lfn]
			_, hits0, _ := ts.srv.cks.stats()
			get(t, c, tc.lfn, want0, !listed0)
			if _, hits, misses := ts.srv.cks.stats(); misses != misses0 || hits != hits0+1 {
				t.Errorf("a download of an unchanged listed file: %d hits, %d misses, want 1 hit", hits-hits0, misses-misses0)
			}
			tc.change(t, pfn)
			third := list()
			if _, _, misses := ts.srv.cks.stats(); misses != misses0+1 {
				t.Errorf("after the change: %d files read again, want 1 (the changed file)", misses-misses0)
			}
			got, listed := third[tc.lfn]
			switch {
			case tc.want == "-" && listed:
				t.Errorf("%s listed (%q) with a bad-checksum mark", tc.lfn, got)
			case tc.want != "-" && (!listed || got != tc.want):
				t.Errorf("%s: checksum %q (listed %v), want %q", tc.lfn, got, listed, tc.want)
			}
			for lfn, cks := range first {
				if lfn != tc.lfn && third[lfn] != cks {
					t.Errorf("%s: %q, was %q", lfn, third[lfn], cks)
				}
			}
			// And a download after the change sees it.
			get(t, c, tc.lfn, tc.want, tc.want == "-")
		})
	}
}

// get downloads lfn and checks the checksum the site sends (refused:
// the site must refuse it).
func get(t *testing.T, c *fedapi.Client, lfn, want string, refused bool) {
	t.Helper()
	f, err := c.Open(context.Background(), lfn, 0, "", false)
	if refused {
		if err == nil {
			f.Body.Close()
			t.Errorf("GET %s: served, want it refused (bad-checksum mark)", lfn)
		}
		return
	}
	if err != nil {
		t.Fatalf("GET %s: %v", lfn, err)
	}
	f.Body.Close()
	if got := f.Checksum.String(); got != want {
		t.Errorf("GET %s: checksum %q, want %q", lfn, got, want)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestChecksumCacheSettle: a file changed within ctimeSettle of a
// listing is not cached (a second change in the same clock tick could
// leave its ctime as it was), and is read by each listing until it is
// (six files: the nested export's is walked with /store and on its own).
func TestChecksumCacheSettle(t *testing.T) {
	ts := startServer(t, serverOpts{}) // the files were just written
	c := ts.client(t, readToken)
	for i := range 2 {
		if _, err := c.Manifest(context.Background(), "/store", "", func(fedapi.ManifestEntry) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if n, hits, misses := ts.srv.cks.stats(); n != 0 || hits != 0 || misses != int64(6*(i+1)) {
			t.Errorf("listing %d: %d cached, %d hits, %d misses", i+1, n, hits, misses)
		}
	}
}

// TestChecksumCacheBounded: the cache never holds more than its bound,
// keeps what was found most recently, and empties when the checksum
// configuration changes.
func TestChecksumCacheBounded(t *testing.T) {
	c := newChecksumCache(8)
	c.begin("adler32")
	old := time.Now().Add(time.Hour)
	e := func(i int) *catalog.Entry {
		return &catalog.Entry{Dev: 1, Ino: uint64(i), Size: 10, Mtime: 5, MtimeNs: 5e9, CtimeNs: 5e9}
	}
	cks := meta.Checksum{Alg: "adler32", Value: []byte{1, 2, 3, 4}, MTime: 5}
	for i := 1; i <= 20; i++ {
		c.add(e(i), cks, old)
		if n, _, _ := c.stats(); n > 8 {
			t.Fatalf("%d entries after %d added, bound 8", n, i)
		}
		if i > 1 && !c.fill(e(1)) {
			t.Fatalf("entry 1, found each time, dropped after %d added", i)
		}
	}
	x := e(1)
	if !c.fill(x) || len(x.Checksums) != 1 || x.Checksums[0].Hex() != "01020304" || x.Checksums[0].MTime != 5 || x.HasBadChecksum {
		t.Errorf("entry 1: %+v", x)
	}
	if c.fill(e(2)) {
		t.Errorf("entry 2, never found, still cached")
	}
	c.begin("adler32,md5")
	if n, _, _ := c.stats(); n != 0 {
		t.Errorf("%d entries after the configuration changed", n)
	}
}

// TestChecksumCacheMemory measures what a full cache costs (the figure
// docs/serve.md gives): go test -run TestChecksumCacheMemory -v ./serve
func TestChecksumCacheMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	c := newChecksumCache(checksumCacheMax)
	c.begin("adler32")
	old := time.Now().Add(time.Hour)
	cks := meta.Checksum{Alg: "adler32", Value: []byte{1, 2, 3, 4}, MTime: 5}
	for i := 1; i <= checksumCacheMax; i++ {
		c.add(&catalog.Entry{Dev: 1, Ino: uint64(i), Size: 10, Mtime: 5, CtimeNs: 5}, cks, old)
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	n, _, _ := c.stats()
	per := float64(m1.HeapAlloc-m0.HeapAlloc) / float64(n)
	t.Logf("%d entries: %.0f MB, %.0f bytes each", n, float64(m1.HeapAlloc-m0.HeapAlloc)/1e6, per)
	if per > 160 {
		t.Errorf("%.0f bytes an entry: docs/serve.md says at most 150", per)
	}
	runtime.KeepAlive(c)
}

// TestManifestNotModified: over real HTTPS, a listing asked with the
// generation it would send is 304 without a body; another generation,
// or a change of the files, gets the whole manifest.
func TestManifestNotModified(t *testing.T) {
	ts := startServer(t, serverOpts{})
	ctx := context.Background()
	c := ts.client(t, readToken)
	n := 0
	count := func(fedapi.ManifestEntry) error { n++; return nil }
	gen, err := c.Manifest(ctx, "/store", "", count)
	if err != nil || n != 5 {
		t.Fatalf("manifest: %d entries, %v", n, err)
	}
	for _, tc := range []struct {
		name, ifNoneMatch string
		change            func()
		want              error
		entries           int
	}{
		{name: "same generation", ifNoneMatch: gen, want: fedapi.ErrNotModified},
		{name: "another generation", ifNoneMatch: "0123456789abcdef0123456789abcdef", entries: 5},
		{name: "a file's checksum changed", ifNoneMatch: gen, entries: 5, change: func() {
			setAdler(t, ts.s.PFN("/store/a/plain.fits"), []byte("other"), 1700000000)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.change != nil {
				tc.change()
			}
			n = 0
			got, err := c.Manifest(ctx, "/store", tc.ifNoneMatch, count)
			if err != tc.want || n != tc.entries {
				t.Fatalf("%d entries, %v; want %d, %v", n, err, tc.entries, tc.want)
			}
			if tc.want == nil && got == tc.ifNoneMatch {
				t.Errorf("generation %s unchanged", got)
			}
		})
	}
	// The raw answer: 304, the ETag and generation, no body; a weak or
	// listed ETag matches too (RFC 9110).
	gen, err = c.Manifest(ctx, "/store", "", count)
	if err != nil {
		t.Fatal(err)
	}
	for _, inm := range []string{`"` + gen + `"`, `W/"` + gen + `"`, `"x", "` + gen + `"`, `*`} {
		code, h, body := ts.do(t, "GET", "/v1/manifest?prefix=/store", readToken, nil, map[string]string{"If-None-Match": inm})
		if code != http.StatusNotModified || len(body) != 0 || h.Get("ETag") != `"`+gen+`"` || h.Get(fedapi.HeaderGeneration) != gen {
			t.Errorf("If-None-Match %s: %d %v %q", inm, code, h, body)
		}
	}
	// A token that sees less has another generation.
	if _, err := ts.client(t, narrowToken).Manifest(ctx, "/store", gen, count); err != nil {
		t.Errorf("narrow token with the full generation: %v", err)
	}
}
