package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"frm/core/config"
	"frm/core/pgtest"
	"frm/core/xrdq"
)

func runCatalog(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := catalogMain(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCatalogImport(t *testing.T) {
	t.Setenv("FRM_CATALOG_DSN", "")
	srv := pgtest.Start(t)
	dsn := srv.CreateDB(t)
	cfgPath := writeDBConfig(t, dsn)
	dir := filepath.Dir(cfgPath)

	if code, _, errs := runCatalog(t, "import", "-c", cfgPath); code != 3 || !strings.Contains(errs, "frm db init") {
		t.Fatalf("import before init: %d %s", code, errs)
	}
	if code, out, errs := runDB(t, "init", "-c", cfgPath); code != 0 {
		t.Fatalf("init: %d\n%s%s", code, out, errs)
	}
	ns := filepath.Join(dir, "ns")
	for _, f := range []string{"a/one", "a/two", "b/three"} {
		p := filepath.Join(ns, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(cfgPath, "")
	if err != nil {
		t.Fatal(err)
	}
	qd := xrdq.Open(cfg.QueueDir())
	if err := os.MkdirAll(qd.Path, 0o755); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Add(-time.Hour).Unix()
	for _, r := range []xrdq.Request{
		{LFN: "/a/one", ID: "r1", User: "u1", Notify: "-", Op: '+', Priority: 1, Added: now},
		{LFN: "/a/one", ID: "r2", User: "u2", Notify: "mailto:x", Op: '+', Added: now},
		{LFN: "/b/three", ID: "r3", User: "u3", Notify: "-", Op: '&', Added: now},
	} {
		if err := qd.Add(r); err != nil {
			t.Fatal(err)
		}
	}

	code, out, errs := runCatalog(t, "import", "-c", cfgPath)
	if code != 0 || !strings.Contains(out, "3 files") || !strings.Contains(out, "3 requests") ||
		!strings.Contains(out, "2 added, 1 already queued") || !strings.Contains(out, "stage 2, migrate 1") {
		t.Fatalf("import: %d\n%s%s", code, out, errs)
	}
	code, out2, errs := runCatalog(t, "import", "-c", cfgPath)
	if code != 0 || !strings.Contains(out2, "3 files") || !strings.Contains(out2, "0 added, 3 already queued") {
		t.Fatalf("second import: %d\n%s%s", code, out2, errs)
	}

	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var n, files int
	var notify, host string
	pool.QueryRow(context.Background(), `SELECT count(*) FROM requests`).Scan(&n)
	pool.QueryRow(context.Background(), `SELECT count(*) FROM files WHERE type = 1`).Scan(&files)
	pool.QueryRow(context.Background(), `SELECT notify, host FROM requests WHERE kind = 'stage'`).Scan(&notify, &host)
	if n != 2 || files != 3 || notify != "mailto:x" || host == "" {
		t.Fatalf("requests %d, files %d, stage notify %q host %q", n, files, notify, host)
	}

	if code, _, _ := runCatalog(t, "frobnicate"); code != 2 {
		t.Errorf("unknown subcommand: %d", code)
	}
}
