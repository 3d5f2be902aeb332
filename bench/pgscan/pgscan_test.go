package pgscan

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"frm/core/catalog/pgcat"
	"frm/core/config"
	"frm/core/pgtest"
	"frm/core/purge"
	"frm/core/site"
	"frm/core/sitegen"
	"frm/core/wire"
	"frm/sql/schema"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	os.Exit(code)
}

func BenchmarkScan(b *testing.B) {
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("FRM_BENCH_FILES")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	l := sitegen.NewLayout(filepath.Join(b.TempDir(), "site"))
	if err := l.WriteConfigs(); err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	counts, err := sitegen.Flat(ctx, l, n, 1000)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%d files on disk in %v", counts.Files, time.Since(t0).Round(time.Millisecond))
	cfg, err := config.Load(l.Config, "")
	if err != nil {
		b.Fatal(err)
	}
	emb, err := wire.Open(cfg)
	if err != nil {
		b.Fatal(err)
	}

	dsn := pgtest.Shared(b).CreateDB(b)
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	if _, err := schema.Migrate(ctx, pool, "bench"); err != nil {
		b.Fatal(err)
	}
	st, err := pgcat.Import(ctx, pool, emb.Catalog, "/", pgcat.ImportOptions{Site: cfg.Site, Host: emb.HostName(), Spaces: emb.Spaces})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("imported %d rows in %v (%.0f rows/s)", st.Rows, st.Elapsed.Round(time.Millisecond), float64(st.Rows)/st.Elapsed.Seconds())
	if _, err := pool.Exec(ctx, "VACUUM ANALYZE files"); err != nil {
		b.Fatal(err)
	}
	pgCfg := *cfg
	pgCfg.Catalog = config.Catalog{Kind: "postgres", DSN: dsn}
	pg, err := wire.Open(&pgCfg)
	if err != nil {
		b.Fatal(err)
	}
	defer pg.Close()
	sites := []struct {
		name string
		s    *site.Site
	}{{"embedded", emb}, {"postgres", pg}}

	wantUnmigrated := counts.Unmigrated // includes those without a copy time
	for _, c := range sites {
		b.Run("find-unmigrated/"+c.name, func(b *testing.B) {
			for range b.N {
				found, err := c.s.Find(ctx, []string{"/store"}, site.FindOptions{What: site.FindUnmigrated, Recursive: true},
					func(site.Finding) error { return nil })
				if err != nil || found != wantUnmigrated {
					b.Fatalf("found %d, want %d (%v)", found, wantUnmigrated, err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "files/s")
		})
	}
	// Free everything, hold nothing: every file is judged and the
	// eligible ones ranked.
	all := purge.Watermark{Percent: 100, IsPercent: true}
	var zero time.Duration
	selected := map[string][2]int64{}
	for _, c := range sites {
		b.Run("purge-select/"+c.name, func(b *testing.B) {
			for range b.N {
				plan, err := purge.Build(ctx, c.s, purge.Options{Override: &all, HoldOverride: &zero})
				if err != nil {
					b.Fatal(err)
				}
				var files, bytes int64
				for _, sp := range plan.Spaces {
					files += int64(len(sp.Candidates))
					bytes += sp.CandidateBytes
				}
				if files == 0 {
					b.Fatal("nothing selected")
				}
				selected[c.name] = [2]int64{files, bytes}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "files/s")
		})
	}
	if a, p := selected["embedded"], selected["postgres"]; a != p {
		b.Fatalf("purge selections differ: embedded %v, postgres %v (files, bytes)", a, p)
	}
}
