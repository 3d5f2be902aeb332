package embedded

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"frm/core/catalog"
	"frm/core/catalog/catalogtest"
	"frm/core/names"
)

func TestConformance(t *testing.T) {
	catalogtest.Run(t, func(t *testing.T, tr catalogtest.Tree) catalog.Catalog {
		return New(names.NewMapper(tr.Root, ""), "", tr.DataDir())
	})
}

func TestWalkManyDirectories(t *testing.T) {
	root := t.TempDir()
	want := 0
	for d := 0; d < 40; d++ {
		dir := filepath.Join(root, fmt.Sprintf("d%02d", d), "x")
		os.MkdirAll(dir, 0o755)
		for f := 0; f < 30+d; f++ {
			os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d", f)), nil, 0o644)
			want++
		}
	}
	c := New(names.NewMapper(root, ""), "")
	for _, workers := range []int{1, 3, 16} {
		seen := map[string]bool{}
		err := c.Walk(context.Background(), "/", catalog.WalkOptions{Recursive: true, Workers: workers, Want: catalog.WantStat}, func(e *catalog.Entry) error {
			if seen[e.LFN] {
				t.Fatalf("%s reported twice", e.LFN)
			}
			seen[e.LFN] = true
			return nil
		})
		if err != nil || len(seen) != want {
			t.Fatalf("workers=%d: %d entries, want %d (%v)", workers, len(seen), want, err)
		}
	}
}

func TestResolveParentRefusesSymlinkEscape(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "ns")
	os.MkdirAll(filepath.Join(root, "ok"), 0o755)
	os.MkdirAll(filepath.Join(dir, "outside"), 0o755)
	os.Symlink(filepath.Join(dir, "outside"), filepath.Join(root, "evil"))
	if err := ResolveParent(root, filepath.Join(root, "ok/f")); err != nil {
		t.Errorf("plain path refused: %v", err)
	}
	if err := ResolveParent(root, filepath.Join(root, "evil/f")); err == nil {
		t.Error("a symlinked directory leading outside the root was accepted")
	}
}
