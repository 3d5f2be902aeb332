package site_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"frm/core/sitegen/sitetest"

	"frm/core/catalog"
	"frm/core/config"
	"frm/core/site"
	"frm/core/sitegen"
	"frm/core/space"
)

// TestDfCountsPlainFilesToPublic: files stored in the namespace itself
// (not XA links) belong to the public space, as the catalog (and so the
// Namespace view of frm tui) says: df -count counts them in public, on a
// row of the namespace filesystem, whether public is configured or not.
// Side files and symlinks that are not XA links are not plain files.
func TestDfCountsPlainFilesToPublic(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		noPublic  bool // drop the public space from the configuration
		wantParts int  // partitions of public
	}{
		{name: "public configured", wantParts: 2},
		{name: "public not configured: the namespace filesystem is the space", noPublic: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, root := demoWith(t, tc.noPublic)
			// A side file and a foreign symlink next to the plain files:
			// neither counts.
			dir := filepath.Join(root, "scratch", "jsoc")
			if err := os.WriteFile(filepath.Join(dir, "x.tar.fail"), []byte("f"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("/etc/hostname", filepath.Join(dir, "elsewhere")); err != nil {
				t.Fatal(err)
			}
			// What the catalog says is public and not an XA link: the
			// plain files, as the Namespace view lists them.
			var files, bytes int64
			err := s.Catalog.Walk(ctx, "/", catalog.WalkOptions{Want: catalog.WantStat | catalog.WantLink, Recursive: true}, func(e *catalog.Entry) error {
				if e.Type == catalog.File && e.Space == space.Public && e.Link == "" {
					files++
					bytes += e.Size
				}
				return nil
			})
			if err != nil || files == 0 {
				t.Fatalf("walk: %d plain files, %v", files, err)
			}
			us, err := s.Df(ctx, []string{space.Public}, true)
			if err != nil || len(us) != 1 {
				t.Fatalf("df public: %+v %v", us, err)
			}
			pub := us[0]
			ns := pub.Namespace
			if ns == nil || ns.Path != root || ns.Err != nil {
				t.Fatalf("namespace row %+v, want %s", ns, root)
			}
			if ns.Files != files || ns.Bytes != bytes {
				t.Errorf("namespace: %d files %d bytes, catalog says %d %d", ns.Files, ns.Bytes, files, bytes)
			}
			var inParts int64
			for _, p := range pub.Partitions {
				inParts += p.Files
			}
			if len(pub.Partitions) != tc.wantParts || pub.Files != inParts+files {
				t.Errorf("public: %d partitions, %d files (partitions %d + plain %d)", len(pub.Partitions), pub.Files, inParts, files)
			}
			if tc.noPublic && (pub.Total != ns.Total || pub.Total == 0) {
				t.Errorf("public without partitions: total %d, namespace filesystem %d", pub.Total, ns.Total)
			}
			// Without count the row is there, without files.
			us, err = s.Df(ctx, nil, false)
			if err != nil {
				t.Fatal(err)
			}
			for _, su := range us {
				if (su.Namespace != nil) != (su.Name == space.Public) || su.Files != 0 {
					t.Errorf("df without count: %s namespace %v files %d", su.Name, su.Namespace, su.Files)
				}
			}
		})
	}
	s, _ := demoWith(t, false)
	if _, err := s.Df(ctx, []string{"nosuch"}, false); !errors.As(err, new(*site.ErrNoSpace)) {
		t.Errorf("df of an unknown space: %v", err)
	}
}

// demoWith opens a small demo site, without its public space when
// noPublic, and returns it with its namespace root.
func demoWith(t *testing.T, noPublic bool) (*site.Site, string) {
	t.Helper()
	s, l := sitetest.OpenDemo(t, sitegen.DemoOptions{Files: 120, Seed: 7, Now: time.Now()}, func(cfg *config.Config) {
		if noPublic {
			var keep []config.Space
			for _, sp := range cfg.Spaces {
				if sp.Name != space.Public {
					keep = append(keep, sp)
				}
			}
			cfg.Spaces = keep
		}
	})
	return s, l.LocalRoot
}
