package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"frm/core/catalog"
	"frm/core/catalog/embedded"
	"frm/core/config"
	"frm/core/names"
	"frm/core/pgqueue"
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

// TestAuditCatalog: audit catalog finds files the catalog lacks, rows for
// files gone from disk and rows whose state differs from the xattrs, and
// fixes each side as asked.
func TestAuditCatalog(t *testing.T) {
	t.Setenv("FRM_CATALOG_DSN", "")
	srv := pgtest.Start(t)
	cfgPath := writeDBConfig(t, srv.CreateDB(t))
	ns := filepath.Join(filepath.Dir(cfgPath), "ns")
	for _, f := range []string{"d/kept", "d/gone", "d/changed", "d/pinned"} {
		os.MkdirAll(filepath.Join(ns, "d"), 0o755)
		if err := os.WriteFile(filepath.Join(ns, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if code, out, errs := runDB(t, "init", "-c", cfgPath); code != 0 {
		t.Fatalf("init: %d\n%s%s", code, out, errs)
	}
	if code, out, errs := runCatalog(t, "import", "-c", cfgPath); code != 0 {
		t.Fatalf("import: %d\n%s%s", code, out, errs)
	}
	admin := func(stdin string, args ...string) (int, string, string) {
		return runCLI(t, stdin, append([]string{"frm", "admin", "-c", cfgPath}, args...)...)
	}
	if code, out, errs := admin("", "audit", "catalog", "/d"); code != 0 || !strings.Contains(out, "0 problems found") {
		t.Fatalf("audit right after the import: %d\n%s%s", code, out, errs)
	}
	// Behind the catalog's back: a new file, a removed one, an xattr
	// written by another tool (xrootd's frm_admin, say); and a pin the
	// catalog knows of but the file lost.
	os.WriteFile(filepath.Join(ns, "d/new"), []byte("y"), 0o644)
	os.Remove(filepath.Join(ns, "d/gone"))
	cfg, err := config.Load(cfgPath, "")
	if err != nil {
		t.Fatal(err)
	}
	fs := embedded.New(names.NewMapper(cfg.LocalRoot, ""), "")
	if _, err := fs.Apply(context.Background(), "/d/changed", catalog.Change{Kind: catalog.SetCopyTime, Time: 1700000000}); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := admin("y\n", "pin", "-k", "forever", "/d/pinned"); code != 0 {
		t.Fatalf("pin: %d %s%s", code, out, errs)
	}
	if _, err := fs.Apply(context.Background(), "/d/pinned", catalog.Change{Kind: catalog.ClearPin}); err != nil {
		t.Fatal(err)
	}

	code, out, errs := admin("", "audit", "catalog", "/d")
	for _, want := range []string{"Not in the catalog: " + ns + "/d/new", "In the catalog, not on this host: " + ns + "/d/gone",
		"Catalog differs (copy_time): " + ns + "/d/changed", "Catalog differs (pin): " + ns + "/d/pinned", "4 problems found; 0 fixed."} {
		if !strings.Contains(out, want) {
			t.Errorf("audit output lacks %q", want)
		}
	}
	if code != 0 || t.Failed() {
		t.Fatalf("audit: %d\n%s%s", code, out, errs)
	}
	// The pinned file takes the catalog's side; then -force fixes the
	// rest from the files, except the stale row, which is asked: no.
	if code, out, errs := admin("y\n", "audit", "-fix", "-from", "catalog", "catalog", "/d/pinned"); code != 0 || !strings.Contains(out, "1 fixed") {
		t.Fatalf("fix from the catalog: %d\n%s%s", code, out, errs)
	}
	if p, _ := fs.Lookup(context.Background(), "/d/pinned", catalog.WantPin); !p.HasPin {
		t.Error("the pin was not written back to the file")
	}
	code, out, errs = admin("n\n", "audit", "-fix", "-force", "catalog", "/d")
	if code != 0 || !strings.Contains(out, "3 problems found; 2 fixed.") {
		t.Fatalf("fix -force: %d\n%s%s", code, out, errs)
	}
	code, out, errs = admin("y\n", "audit", "-fix", "catalog", "/d")
	if code != 0 || !strings.Contains(out, "1 problem found; 1 fixed.") || !strings.Contains(out, "Removed from the catalog.") {
		t.Fatalf("fix the stale row: %d\n%s%s", code, out, errs)
	}
	if code, out, errs := admin("", "audit", "catalog", "/d"); code != 0 || !strings.Contains(out, "0 problems found") {
		t.Fatalf("audit after the fixes: %d\n%s%s", code, out, errs)
	}
	// find -recursive unmigrated answers from the catalog's index with
	// what a walk of the files finds.
	raw, _ := os.ReadFile(cfgPath)
	embeddedCfg := filepath.Join(filepath.Dir(cfgPath), "embedded.toml")
	os.WriteFile(embeddedCfg, []byte(raw[:strings.Index(string(raw), "[catalog]")]), 0o644)
	_, fromPG, _ := admin("", "find", "-recursive", "unmigrated", "/d")
	_, fromFS, _ := runCLI(t, "", "frm", "admin", "-c", embeddedCfg, "find", "-recursive", "unmigrated", "/d")
	if sortedLines(fromPG) != sortedLines(fromFS) || !strings.Contains(fromPG, "/d/new") {
		t.Errorf("find unmigrated: catalog\n%s\nfiles\n%s", fromPG, fromFS)
	}
	// An embedded site has no catalog to audit.
	l := demoSite(t)
	if code, _, errs := runCLI(t, "", "frm", "admin", "-c", l.Config, "audit", "catalog", "/store"); code != 1 || !strings.Contains(errs, "embedded") {
		t.Errorf("audit catalog on an embedded site: %d %s", code, errs)
	}
}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader in two
// goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestQueueWatchOnSharedQueue: queue -watch lists the shared queue again
// when a request is added and when one is cancelled, woken by the
// database, not by a timer.
func TestQueueWatchOnSharedQueue(t *testing.T) {
	t.Setenv("FRM_CATALOG_DSN", "")
	srv := pgtest.Start(t)
	dsn := srv.CreateDB(t)
	cfgPath := writeDBConfig(t, dsn)
	if code, out, errs := runDB(t, "init", "-c", cfgPath); code != 0 {
		t.Fatalf("init: %d\n%s%s", code, out, errs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"frm", "admin", "-c", cfgPath, "queue", "-watch"}, strings.NewReader(""), &out, &errb)
	}()
	waitOut := func(what string, cond func(string) bool) {
		t.Helper()
		deadline := time.Now().Add(patience)
		for !cond(out.String()) {
			if time.Now().After(deadline) {
				t.Fatalf("no %s in the watch output:\n%s\nstderr:\n%s", what, out.String(), errb.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitOut("first listing", func(s string) bool { return strings.Contains(s, "0 requests queued") })
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	cfg, _ := config.Load(cfgPath, "")
	q := pgqueue.New(pool, pgqueue.Options{Site: cfg.Site})
	if _, err := q.Add(ctx, pgqueue.NewRequest{Kind: "stage", LFN: "/store/watched", RID: "w1", Host: "somehost"}); err != nil {
		t.Fatal(err)
	}
	waitOut("added request", func(s string) bool {
		return strings.Contains(s, "1 request queued") && strings.Contains(s, "/store/watched  for somehost")
	})
	// priority reaches the shared queue.
	if code, out, errs := runCLI(t, "", "frm", "admin", "-c", cfgPath, "priority", "w1", "2"); code != 0 || !strings.Contains(out, "w1: 1 entry moved to priority 2.") {
		t.Fatalf("priority: %d %s%s", code, out, errs)
	}
	var prty int
	pool.QueryRow(ctx, `SELECT priority FROM requests WHERE rid = 'w1'`).Scan(&prty)
	if prty != 2 {
		t.Errorf("priority in the shared queue %d, want 2", prty)
	}
	if _, err := q.Cancel(ctx, "w1"); err != nil {
		t.Fatal(err)
	}
	waitOut("listing after the cancel", func(s string) bool {
		return strings.Count(s, "0 requests queued") >= 2
	})
	cancel()
	select {
	case code := <-done:
		if code != 130 {
			t.Errorf("queue -watch ended with %d, want 130 (interrupted)", code)
		}
	case <-time.After(patience):
		t.Fatal("queue -watch did not stop")
	}
}
