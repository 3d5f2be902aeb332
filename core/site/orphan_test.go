package site_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"frm/core/site"
)

// TestAuditFixSpaceRemovesOrphans: audit -fix space removes a data file
// without a back reference that no name leads to once it is older than
// the grace (the data file of a stage killed before it finished); a young
// one (perhaps a stage in flight) and one a name still leads to stay.
// Before, such files were reported and never removed.
func TestAuditFixSpaceRemovesOrphans(t *testing.T) {
	s := openDemo(t, 60)
	ctx := context.Background()
	sp, _ := s.Spaces.Get("data")
	dir := filepath.Join(sp.Partitions[0].DataDir(), "7f")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * site.OrphanGrace)
	orphan := filepath.Join(dir, "orphan%")
	young := filepath.Join(dir, "young%")
	linked := filepath.Join(dir, "linked%")
	for _, p := range []string{orphan, young, linked} {
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// ctime cannot be set: move the clock instead of the files.
	s.Now = func() time.Time { return time.Now().Add(2 * site.OrphanGrace) }
	os.Chtimes(young, time.Now().Add(3*site.OrphanGrace), time.Now().Add(3*site.OrphanGrace))
	os.Chtimes(orphan, old, old)
	if err := os.Symlink(linked, s.PFN("/store/linked-name")); err != nil {
		t.Fatal(err)
	}
	var fixed []string
	if _, err := s.AuditSpace(ctx, "data", site.AuditOptions{Fix: true, Prompter: site.Always(site.Yes),
		OnFixed: func(ev site.AuditEvent) { fixed = append(fixed, ev.Data) }}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(orphan); err == nil {
		t.Error("the old orphan data file is still there")
	}
	for _, p := range []string{young, linked} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed: %v", p, err)
		}
	}
	if len(fixed) != 1 || fixed[0] != orphan {
		t.Errorf("fixed %v, want only %s", fixed, orphan)
	}
}
