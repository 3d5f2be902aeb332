package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"frm/core/pgtest"
)

func runDB(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := dbMain(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeDBConfig(t *testing.T, dsn string) string {
	t.Helper()
	dir := t.TempDir()
	part := filepath.Join(dir, "p1")
	os.MkdirAll(part, 0o755)
	cfg := fmt.Sprintf(`local_root = %q
admin_path = %q
[[space]]
name = "public"
[[space.partitions]]
path = %q
cap = "1g"
[catalog]
kind = "postgres"
dsn = %q
`, filepath.Join(dir, "ns"), filepath.Join(dir, "admin"), part, dsn)
	p := filepath.Join(dir, "frm.toml")
	if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDBInitMigrateStatus(t *testing.T) {
	t.Setenv("FRM_CATALOG_DSN", "")
	srv := pgtest.Start(t)
	cfg := writeDBConfig(t, srv.CreateDB(t))

	if code, out, errs := runDB(t, "status", "-c", cfg); code != 3 || !strings.Contains(out, "version 0 of") || !strings.Contains(out, "pending") {
		t.Errorf("status of an empty database: %d\n%s%s", code, out, errs)
	}
	code, out, errs := runDB(t, "init", "-c", cfg)
	if code != 0 || !strings.Contains(out, "applied 001_catalog.sql") || !strings.Contains(out, "with 1 partition(s)") {
		t.Fatalf("init: %d\n%s%s", code, out, errs)
	}
	if code, out, errs := runDB(t, "migrate", "-c", cfg); code != 0 || !strings.Contains(out, "schema is current") {
		t.Errorf("migrate: %d\n%s%s", code, out, errs)
	}
	if code, out, errs := runDB(t, "init", "-c", cfg); code != 0 {
		t.Errorf("init again: %d\n%s%s", code, out, errs)
	}
	if code, out, errs := runDB(t, "status", "-c", cfg); code != 0 || strings.Contains(out, "pending") {
		t.Errorf("status: %d\n%s%s", code, out, errs)
	}
	// $FRM_CATALOG_DSN wins over the configuration.
	t.Setenv("FRM_CATALOG_DSN", srv.CreateDB(t))
	if code, out, _ := runDB(t, "status", "-c", cfg); code != 3 || !strings.Contains(out, "version 0 of") {
		t.Errorf("FRM_CATALOG_DSN did not win: %d\n%s", code, out)
	}
}

func TestDBPasswordNeverShown(t *testing.T) {
	t.Setenv("FRM_CATALOG_DSN", "")
	cfg := writeDBConfig(t, "postgres://frm:hunter2secret@127.0.0.1:1/frm?sslmode=disable&connect_timeout=2")
	code, out, errs := runDB(t, "status", "-c", cfg)
	if code != 1 {
		t.Errorf("status against nothing: %d\n%s%s", code, out, errs)
	}
	if strings.Contains(out+errs, "hunter2secret") {
		t.Errorf("the password was printed:\n%s%s", out, errs)
	}
}

func TestDBUsage(t *testing.T) {
	if code, _, _ := runDB(t); code != 2 {
		t.Errorf("no arguments: %d", code)
	}
	if code, _, _ := runDB(t, "bogus"); code != 2 {
		t.Errorf("unknown subcommand: %d", code)
	}
	cfg := filepath.Join(t.TempDir(), "frm.toml")
	os.WriteFile(cfg, []byte("local_root = \"/x\"\n"), 0o644)
	t.Setenv("FRM_CATALOG_DSN", "")
	if code, _, errs := runDB(t, "status", "-c", cfg); code != 4 || !strings.Contains(errs, "embedded") {
		t.Errorf("embedded catalog: %d %s", code, errs)
	}
}

// TestAdminOnPostgresCatalog: frm admin opens a site whose catalog is in
// PostgreSQL, and refuses (exit 4) until the schema is migrated.
func TestAdminOnPostgresCatalog(t *testing.T) {
	t.Setenv("FRM_CATALOG_DSN", "")
	srv := pgtest.Start(t)
	cfg := writeDBConfig(t, srv.CreateDB(t))
	st, _, errs := runCLI(t, "", "frm", "admin", "-c", cfg, "find", "-r", "unmigrated", "/")
	if st != 4 || !strings.Contains(errs, "frm db migrate") {
		t.Fatalf("unmigrated schema: %d %q", st, errs)
	}
	if code, out, errs := runDB(t, "init", "-c", cfg); code != 0 {
		t.Fatalf("init: %d %s %s", code, out, errs)
	}
	ns := filepath.Join(filepath.Dir(cfg), "ns")
	os.MkdirAll(ns, 0o755)
	st, out, errs := runCLI(t, "", "frm", "admin", "-c", cfg, "find", "-r", "unmigrated", "/")
	if st != 0 || !strings.Contains(out, "0 unmigrated files found.") {
		t.Fatalf("find on the postgres catalog: %d %q %q", st, out, errs)
	}
}
