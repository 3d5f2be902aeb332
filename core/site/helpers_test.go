package site_test

import (
	"context"
	"testing"
	"time"

	"frm/core/sitegen/sitetest"

	"frm/core/catalog"
	"frm/core/site"
	"frm/core/sitegen"
)

// openDemo creates a small demo site (sitegen.Demo) in a temporary
// directory and opens it.
func openDemo(t *testing.T, files int) *site.Site {
	t.Helper()
	s, _ := sitetest.OpenDemo(t, sitegen.DemoOptions{Files: files, Seed: 3, Now: time.Now()}, nil)
	return s
}

// findEntry returns the first file under dir (recursive) that ok accepts.
func findEntry(t *testing.T, s *site.Site, dir string, ok func(*catalog.Entry) bool) *catalog.Entry {
	t.Helper()
	var found *catalog.Entry
	stop := context.Canceled
	err := s.Catalog.Walk(context.Background(), dir, catalog.WalkOptions{Want: catalog.WantAll, Recursive: true, Workers: 1}, func(e *catalog.Entry) error {
		if e.Type == catalog.File && ok(e) {
			c := *e
			found = &c
			return stop
		}
		return nil
	})
	if err != nil && err != stop {
		t.Fatalf("walk %s: %v", dir, err)
	}
	if found == nil {
		t.Fatalf("no such file under %s", dir)
	}
	return found
}
