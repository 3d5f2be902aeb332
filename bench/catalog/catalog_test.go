// Package catalog measures what keeping a shared PostgreSQL catalog in
// line with the files costs (issue "The shared catalog tells the truth"):
//
//   - BenchmarkWriteThrough: the cost per file of rm, stage and purge of
//     FRM_BENCH_OPS files (default 10,000) on a site whose catalog is the
//     files (embedded) and on the same site with a PostgreSQL catalog, in
//     the same run; the extra is the write-through (a Record per change).
//
//   - BenchmarkDiscoverNoChange: the discovery pass that finds changes made
//     outside frm, over FRM_BENCH_FILES files (default 100,000; 1,000,000
//     for the figure) when nothing changed, against a full walk
//     of the same files.
//
//     go test -run '^$' -bench . -benchtime 1x ./bench/catalog/
//     FRM_BENCH_FILES=1000000 go test -run '^$' -bench Discover -benchtime 3x -timeout 1h ./bench/catalog/
package catalog

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"frm/core/catalog"
	"frm/core/catalog/pgcat"
	"frm/core/config"
	"frm/core/mss"
	"frm/core/pgtest"
	"frm/core/purge"
	"frm/core/site"
	"frm/core/sitegen"
	"frm/core/wire"
	"frm/core/xfer"
	"frm/sql/schema"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	os.Exit(code)
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// benchSite makes a site of n flat files (sitegen.Flat) and opens it with
// the embedded catalog, or with a PostgreSQL catalog imported from it.
func benchSite(b *testing.B, n int, pg bool) (*site.Site, sitegen.Layout, sitegen.FlatCounts) {
	b.Helper()
	ctx := context.Background()
	l := sitegen.NewLayout(filepath.Join(b.TempDir(), "site"))
	counts, err := sitegen.Flat(ctx, l, n, 1000)
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Load(l.Config, "")
	if err != nil {
		b.Fatal(err)
	}
	b.Setenv("FRM_CATALOG_DSN", "")
	if pg {
		dsn := pgtest.Shared(b).CreateDB(b)
		pool, err := pgxpool.New(ctx, dsn)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := schema.Migrate(ctx, pool, "bench"); err != nil {
			b.Fatal(err)
		}
		pool.Close()
		cfg.Catalog = config.Catalog{Kind: "postgres", DSN: dsn}
	}
	s, err := wire.Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	if pg {
		if _, err := pgcat.Import(ctx, wire.Pool(s), s.Files(), "/", pgcat.ImportOptions{Site: cfg.Site, Host: s.HostName(), Spaces: s.Spaces}); err != nil {
			b.Fatal(err)
		}
		if _, err := wire.Pool(s).Exec(ctx, "VACUUM ANALYZE files"); err != nil {
			b.Fatal(err)
		}
	}
	return s, l, counts
}

func allFiles(b *testing.B, s *site.Site) []catalog.Entry {
	var out []catalog.Entry
	err := s.Files().Walk(context.Background(), "/store", catalog.WalkOptions{Want: catalog.WantStat | catalog.WantLink, Recursive: true}, func(e *catalog.Entry) error {
		if e.Type == catalog.File {
			out = append(out, *e)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return out
}

func BenchmarkWriteThrough(b *testing.B) {
	n := envInt("FRM_BENCH_OPS", 10000)
	ctx := context.Background()
	results := map[string]float64{}
	for _, op := range []string{"rm", "stage", "purge"} {
		for _, kind := range []string{"embedded", "postgres"} {
			b.Run(op+"/"+kind, func(b *testing.B) {
				var per time.Duration
				for range b.N {
					b.StopTimer()
					s, l, _ := benchSite(b, n, kind == "postgres")
					files := allFiles(b, s)
					var work func()
					switch op {
					case "rm":
						work = func() {
							for _, e := range files {
								if r := s.Rm(ctx, []string{e.LFN}, site.RmOptions{Force: true}); r.Errors != 0 {
									b.Fatalf("rm %s: %+v", e.LFN, r)
								}
							}
						}
					case "stage":
						// The files go to the MSS, leave the disk, and come back.
						for _, e := range files {
							rfn := filepath.Join(l.RemoteRoot, e.LFN)
							os.MkdirAll(filepath.Dir(rfn), 0o755)
							if err := os.Rename(e.PFN, rfn); err != nil {
								b.Fatal(err)
							}
						}
						for _, d := range []string{"/store"} {
							s.BeginChange(true, d).Done(ctx)
						}
						be, err := mss.Open(s.Config())
						if err != nil {
							b.Fatal(err)
						}
						eng := xfer.New(s, be, nil)
						work = func() {
							for _, e := range files {
								if out := eng.Run(ctx, xfer.Job{Kind: xfer.Stage, LFN: e.LFN}); !out.OK() {
									b.Fatalf("stage %s: %+v", e.LFN, out)
								}
							}
						}
					case "purge":
						all := purge.Watermark{Percent: 100, IsPercent: true}
						var zero time.Duration
						work = func() {
							p, err := purge.Build(ctx, s, purge.Options{Override: &all, HoldOverride: &zero})
							if err != nil {
								b.Fatal(err)
							}
							res, err := purge.Execute(ctx, s, p, purge.ExecOptions{NoDirs: true})
							if err != nil || res.Files == 0 {
								b.Fatalf("purge: %+v %v", res, err)
							}
							files = files[:res.Files] // per file purged
						}
					}
					b.StartTimer()
					t0 := time.Now()
					work()
					per += time.Since(t0) / time.Duration(len(files))
				}
				per /= time.Duration(b.N)
				results[op+"/"+kind] = float64(per)
				b.ReportMetric(float64(per.Microseconds()), "µs/file")
			})
		}
		if e, p := results[op+"/embedded"], results[op+"/postgres"]; e > 0 && p > 0 {
			fmt.Printf("%-6s %d files: embedded %7.1f µs/file, postgres %7.1f µs/file (write-through %+.1f µs/file, %.2fx)\n",
				op, n, e/1e3, p/1e3, (p-e)/1e3, p/e)
		}
	}
}

func BenchmarkDiscoverNoChange(b *testing.B) {
	n := envInt("FRM_BENCH_FILES", 100000)
	ctx := context.Background()
	s, _, counts := benchSite(b, n, true)
	t0 := time.Now()
	first, err := s.Discover(ctx)
	if err != nil || !first.Full {
		b.Fatalf("first pass: %+v %v", first, err)
	}
	b.Logf("%d files, first pass (records everything once) %v", counts.Files, time.Since(t0).Round(time.Millisecond))
	var dirs int
	b.Run("discover", func(b *testing.B) {
		for range b.N {
			r, err := s.Discover(ctx)
			if err != nil || r.Changed != 0 || r.Recorded != 0 {
				b.Fatalf("a pass with nothing changed: %+v %v", r, err)
			}
			dirs = r.Dirs
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/pass")
		b.ReportMetric(float64(dirs), "dirs")
	})
	b.Run("full-walk", func(b *testing.B) {
		for range b.N {
			k := 0
			if err := s.Files().Walk(ctx, "/", catalog.WalkOptions{Want: catalog.WantStat, Recursive: true}, func(*catalog.Entry) error { k++; return nil }); err != nil {
				b.Fatal(err)
			}
			if k < counts.Files {
				b.Fatalf("walked %d", k)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/pass")
	})
}
