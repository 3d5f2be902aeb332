package pgcat

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"frm/core/catalog"
	"frm/core/catalog/catalogtest"
	"frm/core/catalog/embedded"
	"frm/core/meta"
	"frm/core/names"
	"frm/core/pgtest"
	"frm/sql/schema"
)

// newDB creates a migrated database on srv and returns a pool on it.
func newDB(t testing.TB, srv *pgtest.Server) (*pgxpool.Pool, string) {
	t.Helper()
	ctx := context.Background()
	dsn := srv.CreateDB(t)
	pool, err := Open(ctx, dsn, PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := schema.Migrate(ctx, pool, "test"); err != nil {
		t.Fatal(err)
	}
	return pool, dsn
}

// importTree imports the namespace at root and returns the pg catalog over
// it, writing through to the embedded catalog.
func importTree(t testing.TB, pool *pgxpool.Pool, root string, dataDirs ...string) *Catalog {
	t.Helper()
	m := names.NewMapper(root, "")
	fs := embedded.New(m, "", dataDirs...)
	if _, err := Import(context.Background(), pool, fs, "/", ImportOptions{Host: "h1"}); err != nil {
		t.Fatal(err)
	}
	return New(pool, Options{Names: m, Host: "h1", WriteThrough: fs})
}

func TestConformance(t *testing.T) {
	srv := pgtest.Shared(t)
	catalogtest.Run(t, func(t *testing.T, tr catalogtest.Tree) catalog.Catalog {
		pool, _ := newDB(t, srv)
		return importTree(t, pool, tr.Root, tr.DataDir())
	})
}

func TestImportTwiceAndPartition(t *testing.T) {
	srv := pgtest.Shared(t)
	pool, _ := newDB(t, srv)
	tr := catalogtest.Build(t, t.TempDir())
	ctx := context.Background()
	fs := embedded.New(names.NewMapper(tr.Root, ""), "", tr.DataDir())
	st1, err := Import(ctx, pool, fs, "/", ImportOptions{Host: "h1", BatchSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	st2, err := Import(ctx, pool, fs, "/", ImportOptions{Host: "h1"})
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	pool.QueryRow(ctx, "SELECT count(*) FROM files").Scan(&n)
	// / a b a/sub, 6 files, 2 side files
	if st1.Rows != st2.Rows || n != st1.Rows || n != 12 || st1.Batches < 4 {
		t.Errorf("imports wrote %+v then %+v; table has %d rows", st1, st2, n)
	}
	var part, sp string
	pool.QueryRow(ctx, "SELECT partition, space FROM files WHERE lfn = '/a/xa.dat'").Scan(&part, &sp)
	if part != tr.Space || sp != "data" {
		t.Errorf("xa.dat partition %q space %q, want %q data", part, sp, tr.Space)
	}
}

func TestApplyOtherHostDoesNotWriteThrough(t *testing.T) {
	srv := pgtest.Shared(t)
	pool, _ := newDB(t, srv)
	tr := catalogtest.Build(t, t.TempDir())
	ctx := context.Background()
	m := names.NewMapper(tr.Root, "")
	fs := embedded.New(m, "")
	if _, err := Import(ctx, pool, fs, "/", ImportOptions{Host: "h2"}); err != nil {
		t.Fatal(err)
	}
	c := New(pool, Options{Names: m, Host: "h1", WriteThrough: fs})
	if n, err := c.Apply(ctx, "/a/plain.dat", catalog.Change{Kind: catalog.SetCopyTime, Time: 7}); err != nil || n != 1 {
		t.Fatalf("Apply = %d, %v", n, err)
	}
	if v, _, _ := meta.GetCopyTime(filepath.Join(tr.Root, "a/plain.dat")); v == 7 {
		t.Error("a file of another host was written through")
	}
	e, _ := c.Lookup(ctx, "/a/plain.dat", catalog.WantCopy)
	if e.CopyTime != 7 {
		t.Errorf("copy time %d", e.CopyTime)
	}
	var events int
	pool.QueryRow(ctx, "SELECT count(*) FROM events WHERE kind = 'apply' AND lfn = '/a/plain.dat'").Scan(&events)
	if events != 1 {
		t.Errorf("%d apply events", events)
	}
}

func TestWriteThroughFailureRollsBack(t *testing.T) {
	srv := pgtest.Shared(t)
	pool, _ := newDB(t, srv)
	tr := catalogtest.Build(t, t.TempDir())
	c := importTree(t, pool, tr.Root, tr.DataDir())
	ctx := context.Background()
	// The data file of dangling.dat is missing: the xattr cannot be set.
	if _, err := c.Apply(ctx, "/a/dangling.dat", catalog.Change{Kind: catalog.SetCopyTime, Time: 9}); err == nil {
		t.Fatal("Apply on a dangling link succeeded")
	}
	var ct *int64
	pool.QueryRow(ctx, "SELECT copy_time FROM files WHERE lfn = '/a/dangling.dat'").Scan(&ct)
	if ct != nil {
		t.Errorf("row changed although the write-through failed: %d", *ct)
	}
}

func TestConcurrentApplyCounts(t *testing.T) {
	srv := pgtest.Shared(t)
	pool, _ := newDB(t, srv)
	tr := catalogtest.Build(t, t.TempDir())
	c := importTree(t, pool, tr.Root, tr.DataDir())
	ctx := context.Background()
	c.Apply(ctx, "/a/plain.dat", catalog.Change{Kind: catalog.SetPin, Pin: meta.Pin{Flags: meta.PinForever}})
	// Eight clearers race; the row lock lets exactly one see the pin.
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := c.Apply(ctx, "/a/plain.dat", catalog.Change{Kind: catalog.ClearPin})
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	if total != 1 {
		t.Errorf("the pin was cleared %d times", total)
	}
}

func TestSurvivesDroppedConnections(t *testing.T) {
	srv := pgtest.Start(t) // its own: it kills connections and restarts the server
	pool, _ := newDB(t, srv)
	tr := catalogtest.Build(t, t.TempDir())
	c := importTree(t, pool, tr.Root, tr.DataDir())
	ctx := context.Background()
	if _, err := c.Lookup(ctx, "/a/plain.dat", catalog.WantAll); err != nil {
		t.Fatal(err)
	}
	// Kill every backend of the pool (as a server restart would).
	kill := func() {
		t.Helper()
		admin, err := Open(ctx, srv.URL(""), PoolOptions{MaxConns: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close()
		if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'"); err != nil {
			t.Fatal(err)
		}
	}
	kill()
	if n, err := c.Apply(ctx, "/a/plain.dat", catalog.Change{Kind: catalog.SetCopyTime, Time: 5}); err != nil || n != 1 {
		t.Fatalf("Apply after the backends died: %d, %v", n, err)
	}
	kill()
	count := 0
	if err := c.Walk(ctx, "/", catalog.WalkOptions{Recursive: true}, func(*catalog.Entry) error { count++; return nil }); err != nil || count != 6 {
		t.Fatalf("Walk after the backends died: %d entries, %v", count, err)
	}
	srv.Restart(t)
	if _, err := c.Lookup(ctx, "/a/plain.dat", catalog.WantAll); err != nil {
		t.Fatalf("Lookup after a server restart: %v", err)
	}
}

func TestWalkResumesAcrossBatches(t *testing.T) {
	srv := pgtest.Shared(t)
	pool, _ := newDB(t, srv)
	root := t.TempDir()
	ctx := context.Background()
	buildFlatTree(t, root, 3, walkBatch+17)
	c := importTree(t, pool, root)
	var prev string
	n := 0
	err := c.Walk(ctx, "/", catalog.WalkOptions{Recursive: true, Want: catalog.WantStat}, func(e *catalog.Entry) error {
		if e.LFN <= prev {
			t.Fatalf("%s after %s: not in lfn order", e.LFN, prev)
		}
		prev = e.LFN
		n++
		return nil
	})
	if err != nil || n != 3*(walkBatch+17) {
		t.Fatalf("walk: %d entries, %v", n, err)
	}
	n = 0
	if err := c.Walk(ctx, "/d001", catalog.WalkOptions{}, func(*catalog.Entry) error { n++; return nil }); err != nil || n != walkBatch+17 {
		t.Fatalf("flat walk: %d entries, %v", n, err)
	}
}

func TestOpenRedactsPassword(t *testing.T) {
	ctx := context.Background()
	for _, dsn := range []string{
		"postgres://frm:s3cretpw@127.0.0.1:1/frm?sslmode=disable&connect_timeout=2",
		"host=127.0.0.1 port=1 user=frm password=s3cretpw dbname=frm sslmode=disable connect_timeout=2",
		"postgres://frm:s3cretpw@[bad",
	} {
		_, err := Open(ctx, dsn, PoolOptions{})
		if err == nil {
			t.Fatalf("%s: connected", dsn)
		}
		if strings.Contains(err.Error(), "s3cretpw") {
			t.Errorf("the password is in the error: %v", err)
		}
	}
}

func TestTransient(t *testing.T) {
	if Transient(context.Canceled) || Transient(errors.New("syntax error")) || Transient(catalog.ErrNotExist) {
		t.Error("a permanent error is transient")
	}
}

func TestOpenPoolSettings(t *testing.T) {
	dsn := pgtest.Shared(t).CreateDB(t)
	ctx := context.Background()
	pool, err := Open(ctx, dsn, PoolOptions{MaxConns: 3, StatementTimeout: 200 * time.Millisecond, AppName: "frm-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if n := pool.Config().MaxConns; n != 3 {
		t.Errorf("MaxConns %d, want 3", n)
	}
	var timeout, app string
	if err := pool.QueryRow(ctx, "SELECT current_setting('statement_timeout'), current_setting('application_name')").Scan(&timeout, &app); err != nil {
		t.Fatal(err)
	}
	if timeout != "200ms" || app != "frm-test" {
		t.Errorf("statement_timeout %q, application_name %q", timeout, app)
	}
	_, err = pool.Exec(ctx, "SELECT pg_sleep(2)")
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "57014" || Transient(err) {
		t.Errorf("a statement past the timeout: %v (want query_canceled, not transient)", err)
	}
}

// TestMarkAppliedBeforeRegistration: a host may apply other hosts'
// changes before its registration has written its row (both start
// together); the mark of what it applied must not be lost, or the changes
// would be applied again after every restart. (The daemons test saw it
// under load: no hosts row.)
func TestMarkAppliedBeforeRegistration(t *testing.T) {
	pool, _ := newDB(t, pgtest.Shared(t))
	ctx := context.Background()
	c := New(pool, Options{Names: names.NewMapper(t.TempDir(), ""), Site: "s", Host: "h1"})
	if err := c.MarkApplied(ctx, 7); err != nil {
		t.Fatal(err)
	}
	if err := RegisterHost(ctx, pool, "h1", "v", nil, Retry{}); err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := pool.QueryRow(ctx, `SELECT applied_event FROM hosts WHERE name = 'h1'`).Scan(&n); err != nil || n != 7 {
		t.Errorf("applied_event = %d, %v; want 7", n, err)
	}
}
