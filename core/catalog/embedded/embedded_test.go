package embedded

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"

	"frm/core/catalog"
	"frm/core/catalog/catalogtest"
	"frm/core/meta"
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

// TestBadChecksumMark: the mark is loaded on a plain file and through an
// XA link (onto its data file), by Lookup and Walk, and only when asked.
func TestBadChecksumMark(t *testing.T) {
	root := t.TempDir()
	ns, data := filepath.Join(root, "ns"), filepath.Join(root, "data")
	os.MkdirAll(filepath.Join(ns, "d"), 0o755)
	os.MkdirAll(data, 0o755)
	plain := filepath.Join(ns, "d", "plain")
	os.WriteFile(plain, []byte("p"), 0o644)
	os.WriteFile(filepath.Join(data, "xa%"), []byte("x"), 0o644)
	os.Symlink(filepath.Join(data, "xa%"), filepath.Join(ns, "d", "xa"))
	os.WriteFile(filepath.Join(ns, "d", "clean"), []byte("c"), 0o644)
	m := meta.BadChecksum{Alg: "adler32", Found: 2, MTime: 1, Stored: []byte{1, 2, 3, 4}, Computed: []byte{4, 3, 2, 1}}
	for _, p := range []string{plain, filepath.Join(ns, "d", "xa")} {
		if err := meta.SetBadChecksum(p, m); err != nil {
			if errors.Is(err, meta.ErrNotSupported) {
				t.Skip("no user xattrs here")
			}
			t.Fatal(err)
		}
	}
	c := New(names.NewMapper(ns, ""), "", data)
	ctx := context.Background()
	tests := []struct {
		lfn  string
		want bool
	}{{"/d/plain", true}, {"/d/xa", true}, {"/d/clean", false}}
	for _, tc := range tests {
		e, err := c.Lookup(ctx, tc.lfn, catalog.WantBadChecksum)
		if err != nil {
			t.Fatal(err)
		}
		if e.HasBadChecksum != tc.want || tc.want && !reflect.DeepEqual(e.BadChecksum, m) {
			t.Errorf("Lookup %s: HasBadChecksum %v %+v, want %v", tc.lfn, e.HasBadChecksum, e.BadChecksum, tc.want)
		}
		if e, _ := c.Lookup(ctx, tc.lfn, catalog.WantStat); e.HasBadChecksum {
			t.Errorf("Lookup %s without WantBadChecksum loaded the mark", tc.lfn)
		}
	}
	got := map[string]bool{}
	err := c.Walk(ctx, "/", catalog.WalkOptions{Recursive: true, Want: catalog.WantBadChecksum}, func(e *catalog.Entry) error {
		if e.Type == catalog.File {
			got[e.LFN] = e.HasBadChecksum
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		if got[tc.lfn] != tc.want {
			t.Errorf("Walk %s: HasBadChecksum %v, want %v", tc.lfn, got[tc.lfn], tc.want)
		}
	}
}

// TestWalkMore: a walk loads the fields More asks for, and only for the
// files it asks them for, after the stat fields (with the identity of the
// data file: device, inode, nanosecond times) are known.
func TestWalkMore(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(t.TempDir(), "data")
	os.MkdirAll(filepath.Join(root, "d"), 0o755)
	cks := meta.Checksum{Alg: "adler32", Value: []byte{1, 2, 3, 4}, MTime: 1700000000}
	for _, p := range []string{filepath.Join(root, "d/a"), filepath.Join(root, "d/b"), data} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := meta.SetChecksum(p, cks); err != nil {
			t.Skipf("no user xattrs here: %v", err)
		}
	}
	os.Symlink(data, filepath.Join(root, "d/xa"))
	var dataSt unix.Stat_t
	if err := unix.Stat(data, &dataSt); err != nil {
		t.Fatal(err)
	}
	c := New(names.NewMapper(root, ""), "")
	for _, tc := range []struct {
		name string
		ask  map[string]catalog.Want // by lfn; what More returns
		want map[string]int          // checksums loaded, by lfn
	}{
		{name: "none asked", ask: nil, want: map[string]int{"/d/a": 0, "/d/b": 0, "/d/xa": 0}},
		{name: "one file", ask: map[string]catalog.Want{"/d/a": catalog.WantChecksums}, want: map[string]int{"/d/a": 1, "/d/b": 0, "/d/xa": 0}},
		{name: "through an XA link", ask: map[string]catalog.Want{"/d/xa": catalog.WantChecksums}, want: map[string]int{"/d/a": 0, "/d/b": 0, "/d/xa": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := map[string]int{}
			err := c.Walk(context.Background(), "/", catalog.WalkOptions{Want: catalog.WantStat | catalog.WantLink, Recursive: true, Workers: 2,
				More: func(e *catalog.Entry) catalog.Want {
					if e.Ino == 0 || e.CtimeNs == 0 || e.MtimeNs == 0 || e.Size != 1 {
						t.Errorf("%s: More before the stat fields: %+v", e.LFN, e)
					}
					if e.LFN == "/d/xa" && (e.Ino != dataSt.Ino || e.Dev != uint64(dataSt.Dev) || e.CtimeNs != dataSt.Ctim.Nano()) {
						t.Errorf("the XA link's identity is not its data file's: %+v", e)
					}
					return tc.ask[e.LFN]
				}}, func(e *catalog.Entry) error {
				got[e.LFN] = len(e.Checksums)
				return nil
			})
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("checksums loaded %v, want %v (%v)", got, tc.want, err)
			}
		})
	}
}

// TestResolveParentMissingBelowEscape: a directory that does not exist
// yet under a symlink leading outside is refused too (a stage would
// create it there), and so is a missing directory under an ordinary one
// accepted; the root's own symlinks are followed.
func TestResolveParentMissingBelowEscape(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "realns")
	os.MkdirAll(filepath.Join(real, "ok"), 0o755)
	os.MkdirAll(filepath.Join(dir, "outside"), 0o755)
	root := filepath.Join(dir, "ns")
	os.Symlink(real, root) // the root itself through a symlink
	os.Symlink(filepath.Join(dir, "outside"), filepath.Join(real, "evil"))
	os.Symlink("../ok", filepath.Join(real, "ok", "inner"))
	for _, c := range []struct {
		pfn string
		ok  bool
	}{
		{"ok/f", true},
		{"ok/new/deeper/f", true},
		{"ok/inner/f", true},
		{"ok/inner/new/f", true},
		{"evil/f", false},
		{"evil/new/deeper/f", false},
		{"ok/inner/../../evil/new/f", false},
	} {
		err := ResolveParent(root, filepath.Join(root, c.pfn))
		if (err == nil) != c.ok {
			t.Errorf("%s: err %v, want ok=%v", c.pfn, err, c.ok)
		}
	}
	if err := ResolveParent(filepath.Join(dir, "absent"), filepath.Join(dir, "absent", "d", "f")); err != nil {
		t.Errorf("a root that does not exist yet: %v", err)
	}
}
