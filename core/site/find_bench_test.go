package site_test

// Benchmarks of the scans behind `find -r unmigrated|pinned` and
// `audit -r names` on a flat namespace (sitegen.Flat) of FRM_BENCH_FILES
// files (default 20000), for profiling:
//
//	go test ./core/site -run '^$' -bench . -cpuprofile cpu.out
//	go tool pprof -top core/site.test cpu.out
//
// bench/run.sh times the whole commands against xrootd and GNU find.

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"frm/core/config"
	"frm/core/pgtest"
	"frm/core/site"
	"frm/core/sitegen"
	"frm/core/wire"
)

var (
	benchOnce sync.Once
	benchDir  string
	benchSite *site.Site
	benchCnt  sitegen.FlatCounts
	benchErr  error
)

// openBenchSite generates the namespace once per test binary run, in a
// temporary directory removed by TestMain.
func openBenchSite(b *testing.B) (*site.Site, sitegen.FlatCounts) {
	b.Helper()
	benchOnce.Do(func() {
		n := 20000
		if v, err := strconv.Atoi(os.Getenv("FRM_BENCH_FILES")); err == nil && v > 0 {
			n = v
		}
		if benchDir, benchErr = os.MkdirTemp("", "frm-find-bench-"); benchErr != nil {
			return
		}
		l := sitegen.NewLayout(filepath.Join(benchDir, "site"))
		if benchCnt, benchErr = sitegen.Flat(context.Background(), l, n, 1000); benchErr != nil {
			return
		}
		var cfg *config.Config
		if cfg, benchErr = config.Load(l.Config, ""); benchErr != nil {
			return
		}
		benchSite, benchErr = wire.Open(cfg)
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchSite, benchCnt
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	pgtest.StopShared()
	os.Exit(code)
}

func benchFind(b *testing.B, what site.FindWhat, want func(sitegen.FlatCounts) int) {
	s, c := openBenchSite(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		n, err := s.Find(ctx, []string{"/store"}, site.FindOptions{What: what, Recursive: true}, func(f site.Finding) error {
			_ = f.Entry.PFN
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if w := want(c); n != w {
			b.Fatalf("found %d, want %d", n, w)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(c.Files), "ns/file")
}

func BenchmarkFindUnmigrated(b *testing.B) {
	benchFind(b, site.FindUnmigrated, func(c sitegen.FlatCounts) int { return c.Unmigrated })
}

func BenchmarkFindPinned(b *testing.B) {
	benchFind(b, site.FindPinned, func(c sitegen.FlatCounts) int { return c.Pinned })
}

func BenchmarkAuditNames(b *testing.B) {
	s, c := openBenchSite(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r, err := s.AuditNames(ctx, "/store", site.AuditOptions{Recursive: true})
		if err != nil {
			b.Fatal(err)
		}
		if r.Problems != c.NoCopy {
			b.Fatalf("%d problems, want %d", r.Problems, c.NoCopy)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(c.Files), "ns/file")
}
