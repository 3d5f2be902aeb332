package pgcat

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"frm/core/catalog"
	"frm/core/catalog/embedded"
	"frm/core/names"
	"frm/core/pgtest"
)

// BenchmarkFindUnmigrated compares `find unmigrated` over the same
// namespace (FRM_BENCH_FILES files, default 100000, in directories of
// 1000; half unmigrated) three ways:
//
//	embedded-walk  the embedded catalog's parallel walk with the find filter
//	pgcat-walk     the PostgreSQL catalog's Walk with the same filter
//	pgcat-index    pgcat.FindUnmigrated (the partial index)
//
// go test -run '^$' -bench FindUnmigrated -benchtime 5x ./core/catalog/pgcat/
func BenchmarkFindUnmigrated(b *testing.B) {
	files := 100000
	if v, err := strconv.Atoi(os.Getenv("FRM_BENCH_FILES")); err == nil && v > 0 {
		files = v
	}
	perDir := 1000
	if files < perDir {
		perDir = files
	}
	root := b.TempDir()
	t0 := time.Now()
	want := buildFlatTree(b, root, files/perDir, perDir)
	b.Logf("built %d files on disk in %v", files, time.Since(t0).Round(time.Millisecond))

	srv := pgtest.Start(b)
	pool, _ := newDB(b, srv)
	m := names.NewMapper(root, "")
	fs := embedded.New(m, "")
	ctx := context.Background()
	st, err := Import(ctx, pool, fs, "/", ImportOptions{Host: "h1"})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("imported %d rows in %v (%.0f rows/s)", st.Rows, st.Elapsed.Round(time.Millisecond), float64(st.Rows)/st.Elapsed.Seconds())
	if _, err := pool.Exec(ctx, "VACUUM ANALYZE files"); err != nil {
		b.Fatal(err)
	}
	pg := New(pool, Options{Names: m, Host: "h1"})

	unmigrated := func(e *catalog.Entry) bool {
		return e.Type == catalog.File && (!e.HasCopy || e.CopyTime < e.Mtime)
	}
	walkWith := func(c catalog.Catalog) func(b *testing.B) {
		return func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				n := 0
				err := c.Walk(ctx, "/", catalog.WalkOptions{Recursive: true, Want: catalog.WantCopy | catalog.WantStatIfCopied}, func(e *catalog.Entry) error {
					if unmigrated(e) {
						n++
					}
					return nil
				})
				if err != nil || n != want {
					b.Fatalf("found %d, want %d (%v)", n, want, err)
				}
			}
			b.ReportMetric(float64(files)*float64(b.N)/b.Elapsed().Seconds(), "files/s")
		}
	}
	b.Run("embedded-walk", walkWith(fs))
	b.Run("pgcat-walk", walkWith(pg))
	b.Run("pgcat-index", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			n := 0
			if err := pg.FindUnmigrated(ctx, "/", func(*catalog.Entry) error { n++; return nil }); err != nil || n != want {
				b.Fatalf("found %d, want %d (%v)", n, want, err)
			}
		}
		b.ReportMetric(float64(files)*float64(b.N)/b.Elapsed().Seconds(), "files/s")
	})
}
