package serve

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"frm/core/config"
	"frm/core/fedapi"
)

// BenchmarkListManifest lists 20,000 files (200 directories) the way GET
// /v1/manifest walks them, with the checksum cache cold (every file's
// attributes read) and warm (a stat per file):
// go test -run XXX -bench ListManifest -cpuprofile cpu.out ./serve
func BenchmarkListManifest(b *testing.B) {
	ts := newSite(b, func(c *config.Config) { c.Serve.Listen = "127.0.0.1:0" })
	srv, err := New(ts.s, Options{Version: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	mt := time.Unix(1700000000, 0)
	data := content("/store/bench")
	for i := range 20000 {
		p := ts.s.PFN(fmt.Sprintf("/store/bench/d%03d/f%05d", i/100, i))
		if i%100 == 0 {
			must(b, os.MkdirAll(filepath.Dir(p), 0o755))
		}
		must(b, os.WriteFile(p, data, 0o644))
		must(b, os.Chtimes(p, mt, mt))
		setAdler(b, p, data, mt.Unix())
	}
	srv.cks.settle = 0
	cfg := ts.s.Config()
	p := &principal{name: "bench"}
	roots, _ := manifestRoots(cfg, "/store/bench", p)
	list := func() {
		var g fedapi.Generation
		if err := srv.listManifest(context.Background(), cfg, srv.resolver(), roots, p, func(m fedapi.ManifestEntry) error {
			g.Add(m)
			return nil
		}); err != nil || g.N() != 20000 {
			b.Fatalf("%d files, %v", g.N(), err)
		}
	}
	time.Sleep(10 * time.Millisecond) // past a clock tick: the files' ctimes settled
	for _, warm := range []bool{false, true} {
		b.Run(fmt.Sprintf("warm=%v", warm), func(b *testing.B) {
			for b.Loop() {
				if !warm {
					b.StopTimer()
					srv.cks = newChecksumCache(checksumCacheMax)
					b.StartTimer()
				}
				list()
			}
		})
	}
}
