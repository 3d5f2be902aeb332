package schema_test

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"frm/core/pgtest"
	"frm/sql/schema"
)

func TestMigrationsWellFormed(t *testing.T) {
	ms, err := schema.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 2 || ms[0].Version != 1 || ms[0].Name != "catalog" {
		t.Fatalf("migrations = %+v", ms)
	}
	if schema.Latest() != len(ms) {
		t.Errorf("Latest = %d", schema.Latest())
	}
}

func pool(t *testing.T, dsn string) *pgxpool.Pool {
	t.Helper()
	p, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func TestMigrateTwiceAndStatus(t *testing.T) {
	ctx := context.Background()
	p := pool(t, pgtest.Shared(t).CreateDB(t))
	st, err := schema.GetStatus(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Version() != 0 || len(st.Pending) != schema.Latest() || st.Current() {
		t.Fatalf("fresh database: %+v", st)
	}
	done, err := schema.Migrate(ctx, p, "test")
	if err != nil || len(done) != schema.Latest() {
		t.Fatalf("first migrate: %d applied, %v", len(done), err)
	}
	done, err = schema.Migrate(ctx, p, "test")
	if err != nil || len(done) != 0 {
		t.Fatalf("second migrate: %d applied, %v", len(done), err)
	}
	st, err = schema.GetStatus(ctx, p)
	if err != nil || !st.Current() || st.Version() != schema.Latest() || len(st.Modified) != 0 {
		t.Fatalf("after migrate: %+v, %v", st, err)
	}
	// Every file is idempotent on its own: running its SQL again (as
	// after a crash between the DDL and the version row) changes nothing.
	ms, _ := schema.Migrations()
	for _, m := range ms {
		if _, err := p.Exec(ctx, m.SQL); err != nil {
			t.Errorf("%s is not idempotent: %v", m.File, err)
		}
	}
	// An edited migration and one from a newer frm are reported.
	if _, err := p.Exec(ctx, "UPDATE schema_migrations SET checksum = 'x' WHERE version = 1"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Exec(ctx, "INSERT INTO schema_migrations (version, name, checksum) VALUES (999, 'future', 'y')"); err != nil {
		t.Fatal(err)
	}
	st, _ = schema.GetStatus(ctx, p)
	if len(st.Modified) != 1 || st.Modified[0] != 1 || len(st.Unknown) != 1 || st.Unknown[0] != 999 || st.Current() {
		t.Errorf("status = modified %v unknown %v", st.Modified, st.Unknown)
	}
}

func TestConcurrentMigrate(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Shared(t).CreateDB(t)
	// Separate pools, as two hosts would have.
	pools := []*pgxpool.Pool{pool(t, dsn), pool(t, dsn), pool(t, dsn), pool(t, dsn)}
	var wg sync.WaitGroup
	applied := make([]int, len(pools))
	errs := make([]error, len(pools))
	for i, p := range pools {
		wg.Add(1)
		go func() {
			defer wg.Done()
			done, err := schema.Migrate(ctx, p, "host")
			applied[i], errs[i] = len(done), err
		}()
	}
	wg.Wait()
	total := 0
	for i := range pools {
		if errs[i] != nil {
			t.Errorf("migrator %d: %v", i, errs[i])
		}
		total += applied[i]
	}
	if total != schema.Latest() {
		t.Errorf("%d migrations applied in all, want %d (each exactly once)", total, schema.Latest())
	}
	var n int
	if err := pools[0].QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil || n != schema.Latest() {
		t.Errorf("schema_migrations has %d rows, %v", n, err)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	os.Exit(code)
}
