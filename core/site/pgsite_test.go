package site_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"frm/core/catalog"
	"frm/core/catalog/pgcat"
	"frm/core/config"
	"frm/core/mss"
	"frm/core/pgtest"
	"frm/core/site"
	"frm/core/sitegen"
	"frm/core/wire"
	"frm/core/xfer"
	"frm/sql/schema"
)

// openPGDemo creates a small demo site whose catalog is a PostgreSQL
// database (imported from the files, as frm catalog import does) and
// opens it.
func openPGDemo(t *testing.T, files int) (*site.Site, sitegen.Layout) {
	t.Helper()
	srv := pgtest.Shared(t)
	ctx := context.Background()
	l, _, err := sitegen.Demo(ctx, t.TempDir(), sitegen.DemoOptions{Files: files, Seed: 5, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	dsn := srv.CreateDB(t)
	pool, err := pgcat.Open(ctx, dsn, pgcat.PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := schema.Migrate(ctx, pool, "test"); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(l.Config, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Catalog.Kind, cfg.Catalog.DSN = "postgres", dsn
	t.Setenv("FRM_CATALOG_DSN", "")
	s, err := wire.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if _, err := pgcat.Import(ctx, wire.Pool(s), s.Files(), "/", pgcat.ImportOptions{Site: cfg.Site, Host: s.HostName(), Spaces: s.Spaces}); err != nil {
		t.Fatal(err)
	}
	return s, l
}

// sameAsFiles checks that the catalog says of lfn what the files say:
// there or not, and its residency (size, copy time, pin, space, failed).
func sameAsFiles(t *testing.T, s *site.Site, lfn string) {
	t.Helper()
	ctx := context.Background()
	c, cerr := s.Catalog.Lookup(ctx, lfn, catalog.WantAll)
	f, ferr := s.Files().Lookup(ctx, lfn, catalog.WantAll)
	if errors.Is(ferr, catalog.ErrNotExist) || errors.Is(cerr, catalog.ErrNotExist) {
		if errors.Is(ferr, catalog.ErrNotExist) != errors.Is(cerr, catalog.ErrNotExist) {
			t.Errorf("%s: catalog says %v, the files %v", lfn, cerr, ferr)
		}
		return
	}
	if cerr != nil || ferr != nil {
		t.Fatalf("%s: %v / %v", lfn, cerr, ferr)
	}
	type res struct {
		Type           catalog.Type
		Size           int64
		Space, Link    string
		Dangling       bool
		HasCopy        bool
		CopyTime       int64
		HasPin, Failed bool
		HasPfnRef      bool
		PfnRef         string
	}
	cv := res{c.Type, c.Size, c.Space, c.Link, c.Dangling, c.HasCopy, c.CopyTime, c.HasPin, c.Failed, c.HasPfnRef, c.PfnRef}
	fv := res{f.Type, f.Size, f.Space, f.Link, f.Dangling, f.HasCopy, f.CopyTime, f.HasPin, f.Failed, f.HasPfnRef, f.PfnRef}
	if cv != fv {
		t.Errorf("%s:\n catalog %+v\n files   %+v", lfn, cv, fv)
	}
}

func auditClean(t *testing.T, s *site.Site) {
	t.Helper()
	var problems []string
	r, err := s.AuditCatalog(context.Background(), "/", site.FromFilesystem, site.AuditOptions{
		OnProblem: func(ev site.AuditEvent) { problems = append(problems, ev.PFN+" "+ev.Other) }})
	if err != nil {
		t.Fatal(err)
	}
	if r.Problems != 0 {
		t.Errorf("audit catalog: %d problems: %q", r.Problems, problems)
	}
}

// TestSharedCatalogFollowsChanges: the cases, each a change frm
// makes to the files of a site whose catalog is PostgreSQL, after which
// the catalog must say what the files say. Before, every one of them left
// the rows as the import had them.
func TestSharedCatalogFollowsChanges(t *testing.T) {
	s, l := openPGDemo(t, 120)
	ctx := context.Background()
	migrated := findEntry(t, s, "/store", func(e *catalog.Entry) bool { return e.Migrated() && e.Link != "" })
	other := findEntry(t, s, "/store", func(e *catalog.Entry) bool { return e.Migrated() && e.Link != "" && e.LFN != migrated.LFN })

	t.Run("rm", func(t *testing.T) {
		r := s.Rm(ctx, []string{migrated.LFN}, site.RmOptions{Force: true})
		if r.Files != 1 || r.Errors != 0 {
			t.Fatalf("rm: %+v", r)
		}
		sameAsFiles(t, s, migrated.LFN)
		// A second rm says what the first left: nothing.
		var errs []error
		s.Rm(ctx, []string{migrated.LFN}, site.RmOptions{Force: true, OnError: func(err error) { errs = append(errs, err) }})
		if len(errs) != 1 || !strings.Contains(errs[0].Error(), "no such file") {
			t.Errorf("second rm: %v", errs)
		}
	})

	t.Run("a new file", func(t *testing.T) {
		lfn := "/store/new/dir/fresh.fits"
		if _, err := s.Place(ctx, lfn, "data", strings.NewReader("fresh"), 5); err != nil {
			t.Fatal(err)
		}
		sameAsFiles(t, s, lfn)
		sameAsFiles(t, s, "/store/new/dir")
		if r := s.Mark(ctx, []string{lfn}, site.ModeMigratable, site.ApplyOptions{}); r.Errors != 0 {
			t.Fatalf("mark -m of the new file: %+v", r)
		}
		sameAsFiles(t, s, lfn)
	})

	t.Run("mv of a file and of a directory", func(t *testing.T) {
		to := "/store/renamed/" + filepath.Base(other.LFN)
		if _, err := s.Mv(ctx, other.LFN, to); err != nil {
			t.Fatalf("mv: %v", err)
		}
		sameAsFiles(t, s, other.LFN)
		sameAsFiles(t, s, to)
		if _, err := s.Mv(ctx, "/store/renamed", "/store/moved"); err != nil {
			t.Fatalf("mv of a directory: %v", err)
		}
		sameAsFiles(t, s, to)
		sameAsFiles(t, s, "/store/moved/"+filepath.Base(other.LFN))
	})

	t.Run("reloc", func(t *testing.T) {
		e := findEntry(t, s, "/store", func(e *catalog.Entry) bool { return e.Space == "data" && !e.Dangling })
		if err := s.Reloc(ctx, e.LFN, "fast"); err != nil {
			t.Fatal(err)
		}
		sameAsFiles(t, s, e.LFN)
		if c, _ := s.Catalog.Lookup(ctx, e.LFN, catalog.WantLink); c.Space != "fast" {
			t.Errorf("after reloc the catalog says space %q", c.Space)
		}
	})

	t.Run("rm -r", func(t *testing.T) {
		dir := filepath.Dir(findEntry(t, s, "/store/aia", func(e *catalog.Entry) bool { return true }).LFN)
		if r := s.Rm(ctx, []string{dir}, site.RmOptions{Force: true, Recursive: true}); r.Errors != 0 {
			t.Fatalf("rm -r: %+v", r)
		}
		sameAsFiles(t, s, dir)
		var left []string
		s.Catalog.Walk(ctx, filepath.Dir(dir), catalog.WalkOptions{Recursive: true, Dirs: true}, func(e *catalog.Entry) error {
			if strings.HasPrefix(e.LFN, dir+"/") || e.LFN == dir {
				left = append(left, e.LFN)
			}
			return nil
		})
		if len(left) > 0 {
			t.Errorf("rows left below the removed directory: %q", left)
		}
	})

	t.Run("a crash between the change and the catalog", func(t *testing.T) {
		// The change is made and its pending record written, but the
		// process dies before it tells the catalog: the next start does.
		e := findEntry(t, s, "/store", func(e *catalog.Entry) bool { return e.Link != "" && !e.Dangling })
		s.BeginChange(false, e.LFN) // never Done: the process "died"
		if err := os.Remove(e.PFN); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Catalog.Lookup(ctx, e.LFN, catalog.WantStat); err != nil {
			t.Fatalf("the test needs the row still there: %v", err)
		}
		s2, err := wire.Open(s.Config())
		if err != nil {
			t.Fatal(err)
		}
		defer s2.Close()
		sameAsFiles(t, s2, e.LFN)
		if pending, _ := filepath.Glob(filepath.Join(s.Config().AdminDir(), "catalog-pending", "*")); len(pending) != 0 {
			t.Errorf("pending records left: %v", pending)
		}
	})

	auditClean(t, s)
	_ = l
}

// TestDiscoverOutsideChanges: changes made to the files outside frm (a
// server writing new files, a user removing and renaming) reach the
// catalog at the next discovery pass, which reads only the directories
// whose mtime moved. Before, such files never appeared in the catalog.
func TestDiscoverOutsideChanges(t *testing.T) {
	s, _ := openPGDemo(t, 120)
	ctx := context.Background()
	first, err := s.Discover(ctx)
	if err != nil || !first.Full {
		t.Fatalf("first pass: %+v %v", first, err)
	}
	idle, err := s.Discover(ctx)
	if err != nil || idle.Changed != 0 || idle.Recorded != 0 || idle.Dirs == 0 {
		t.Fatalf("a pass with nothing changed: %+v %v", idle, err)
	}
	victim := findEntry(t, s, "/store/hmi", func(e *catalog.Entry) bool { return e.Link != "" && !e.Dangling })
	moved := filepath.Dir(findEntry(t, s, "/store/aia", func(e *catalog.Entry) bool { return true }).LFN)
	// A server writes a new file (in a new directory too); a user removes
	// one and renames a directory.
	written := "/store/xrootd/wrote/new.fits"
	os.MkdirAll(filepath.Dir(s.PFN(written)), 0o755)
	if err := os.WriteFile(s.PFN(written), []byte("from xrootd"), 0o644); err != nil {
		t.Fatal(err)
	}
	beside := filepath.Dir(victim.LFN) + "/beside.fits"
	os.WriteFile(s.PFN(beside), []byte("b"), 0o644)
	if err := os.Remove(victim.PFN); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(s.PFN(moved), s.PFN(moved+"-renamed")); err != nil {
		t.Fatal(err)
	}
	r, err := s.Discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("pass after the changes: %+v", r)
	for _, lfn := range []string{written, filepath.Dir(written), beside, victim.LFN, moved, moved + "-renamed"} {
		sameAsFiles(t, s, lfn)
	}
	var below []string
	s.Catalog.Walk(ctx, moved+"-renamed", catalog.WalkOptions{Recursive: true}, func(e *catalog.Entry) error {
		below = append(below, e.LFN)
		sameAsFiles(t, s, e.LFN)
		return nil
	})
	if len(below) == 0 {
		t.Error("nothing below the renamed directory in the catalog")
	}
	if again, err := s.Discover(ctx); err != nil || again.Changed != 0 || again.Recorded != 0 {
		t.Errorf("the pass after: %+v %v", again, err)
	}
	auditClean(t, s)
}

// TestStageTrustsTheFilesNotTheRows: a file gone from disk while the
// catalog still has its row (removed behind frm's back, not yet found by
// a discovery pass) is staged for real, not answered "already resident"
// from the stale row. Before, the stage said "stage OK" and recorded a
// transfer of 0 bytes.
func TestStageTrustsTheFilesNotTheRows(t *testing.T) {
	s, l := openPGDemo(t, 60)
	ctx := context.Background()
	e := findEntry(t, s, "/store", func(e *catalog.Entry) bool {
		if !e.Migrated() || e.Link == "" {
			return false
		}
		_, err := os.Stat(filepath.Join(l.RemoteRoot, e.LFN))
		return err == nil
	})
	os.Remove(e.Link)
	os.Remove(e.PFN)
	if _, err := s.Catalog.Lookup(ctx, e.LFN, catalog.WantStat); err != nil {
		t.Fatalf("the test needs the stale row: %v", err)
	}
	b, err := mss.Open(s.Config())
	if err != nil {
		t.Fatal(err)
	}
	out := xfer.New(s, b, nil).Run(ctx, xfer.Job{Kind: xfer.Stage, LFN: e.LFN})
	if !out.OK() || out.Skipped != "" || out.Bytes == 0 {
		t.Fatalf("stage: %+v", out)
	}
	if _, err := os.Stat(e.PFN); err != nil {
		t.Errorf("the file is not on disk after the stage: %v", err)
	}
	sameAsFiles(t, s, e.LFN)
}
