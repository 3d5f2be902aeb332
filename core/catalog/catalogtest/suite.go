// Package catalogtest is the conformance suite every catalog.Catalog
// implementation must pass. It lays out a namespace on disk (as an xrootd
// site has one) and checks what the catalog reports and changes. The
// embedded catalog runs it directly; a database-backed catalog runs it
// after importing the same tree.
package catalogtest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"frm/core/catalog"
	"frm/core/meta"
	"frm/core/space"
)

// Factory returns the catalog under test for the namespace tr (the tree
// already exists when it is called). Its changes may reach the namespace
// root and the partition's data directory (tr.DataDir), nothing else.
type Factory func(t *testing.T, tr Tree) catalog.Catalog

// Tree describes the namespace the suite builds.
type Tree struct {
	Root  string // namespace root (pfn of "/")
	Space string // partition directory of space "data"
}

// DataDir is the data directory of the partition (where XA data files
// live).
func (tr Tree) DataDir() string { return filepath.Join(tr.Space, "data") }

// Build creates the suite's namespace under dir:
//
//	/a/plain.dat        regular file, migrated (Cpy = mtime)
//	/a/mod.dat          regular file, Cpy < mtime, pinned forever
//	/a/nocpy.dat        regular file, no Cpy; has a .fail side file
//	/a/xa.dat           XA symlink into space "data", Pfn back reference set
//	/a/dangling.dat     XA symlink whose data file is missing
//	/a/old.dat.lock     2009 lock file (side file)
//	/a/sub/deep.dat     regular file, mmapped (keep)
//	/b/                 empty directory
func Build(t *testing.T, dir string) Tree {
	t.Helper()
	tr := Tree{Root: filepath.Join(dir, "ns"), Space: filepath.Join(dir, "sp")}
	mt := time.Unix(1700000000, 0)
	mk := func(p string, body string) string {
		t.Helper()
		full := filepath.Join(tr.Root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(full, mt, mt)
		return full
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			if errors.Is(err, meta.ErrNotSupported) {
				t.Skip("user extended attributes are not supported on this filesystem")
			}
			t.Fatal(err)
		}
	}
	must(meta.SetCopyTime(mk("a/plain.dat", "plain"), mt.Unix()))
	mod := mk("a/mod.dat", "modified")
	must(meta.SetCopyTime(mod, mt.Unix()-113))
	must(meta.SetPin(mod, meta.Pin{Flags: meta.PinForever}))
	nocpy := mk("a/nocpy.dat", "nocopy")
	mk("a/nocpy.dat.fail", "")
	mk("a/old.dat.lock", "")
	must(meta.SetMem(mk("a/sub/deep.dat", "deep"), meta.MemMap|meta.MemKeep))
	_ = nocpy
	os.MkdirAll(filepath.Join(tr.Root, "b"), 0o755)

	part := space.Partition{Space: "data", Path: tr.Space}
	data := space.NewDataPath(part, mt)
	os.MkdirAll(filepath.Dir(data), 0o755)
	if err := os.WriteFile(data, []byte("xa data"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(data, mt, mt)
	xa := filepath.Join(tr.Root, "a/xa.dat")
	must(os.Symlink(data, xa))
	must(meta.SetPfn(data, xa))
	must(meta.SetCopyTime(xa, mt.Unix()))
	must(os.Symlink(space.NewDataPath(part, mt), filepath.Join(tr.Root, "a/dangling.dat")))
	return tr
}

// Run runs the suite.
func Run(t *testing.T, newCatalog Factory) {
	ctx := context.Background()
	t.Run("Lookup", func(t *testing.T) {
		tr := Build(t, t.TempDir())
		c := newCatalog(t, tr)
		e, err := c.Lookup(ctx, "/a/mod.dat", catalog.WantAll)
		if err != nil {
			t.Fatal(err)
		}
		if e.Type != catalog.File || e.Size != 8 || e.Mtime != 1700000000 || !e.NeedsMigration() || !e.HasPin || e.Pin.Flags != meta.PinForever || e.Space != "public" {
			t.Errorf("mod.dat = %+v", e)
		}
		x, err := c.Lookup(ctx, "/a/xa.dat", catalog.WantAll)
		if err != nil {
			t.Fatal(err)
		}
		if x.Space != "data" || x.Link == "" || x.Size != 7 || !x.Migrated() || x.PfnRef != filepath.Join(tr.Root, "a/xa.dat") {
			t.Errorf("xa.dat = %+v", x)
		}
		d, err := c.Lookup(ctx, "/a/dangling.dat", catalog.WantAll)
		if err != nil {
			t.Fatal(err)
		}
		if !d.Dangling || d.HasCopy || d.Space != "data" {
			t.Errorf("dangling.dat = %+v", d)
		}
		n, _ := c.Lookup(ctx, "/a/nocpy.dat", catalog.WantAll)
		if n.HasCopy || !n.Failed {
			t.Errorf("nocpy.dat = %+v", n)
		}
		if _, err := c.Lookup(ctx, "/a/none", catalog.WantStat); !errors.Is(err, catalog.ErrNotExist) {
			t.Errorf("missing file: err = %v", err)
		}
		dir, err := c.Lookup(ctx, "/a", catalog.WantStat)
		if err != nil || dir.Type != catalog.Dir {
			t.Errorf("dir = %+v, %v", dir, err)
		}
	})
	t.Run("Walk", func(t *testing.T) {
		tr := Build(t, t.TempDir())
		c := newCatalog(t, tr)
		walk := func(lfn string, o catalog.WalkOptions) []string {
			t.Helper()
			var got []string
			if err := c.Walk(ctx, lfn, o, func(e *catalog.Entry) error {
				s := e.LFN
				if e.Type == catalog.Dir {
					s += "/"
				}
				if e.Type == catalog.Side {
					s += " side"
				}
				got = append(got, s)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			sort.Strings(got)
			return got
		}
		eq := func(got, want []string) {
			t.Helper()
			if len(got) != len(want) {
				t.Fatalf("got %q, want %q", got, want)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("got %q, want %q", got, want)
				}
			}
		}
		eq(walk("/a", catalog.WalkOptions{}), []string{"/a/dangling.dat", "/a/mod.dat", "/a/nocpy.dat", "/a/plain.dat", "/a/xa.dat"})
		eq(walk("/", catalog.WalkOptions{Recursive: true}), []string{"/a/dangling.dat", "/a/mod.dat", "/a/nocpy.dat", "/a/plain.dat", "/a/sub/deep.dat", "/a/xa.dat"})
		eq(walk("/a", catalog.WalkOptions{Dirs: true, SideFiles: true}), []string{"/a/dangling.dat", "/a/mod.dat", "/a/nocpy.dat", "/a/nocpy.dat.fail side", "/a/old.dat.lock side", "/a/plain.dat", "/a/sub/", "/a/xa.dat"})
		var old []string
		var n atomic.Int64
		walk("/", catalog.WalkOptions{Recursive: true, Scanned: &n, OnOldStyle: func(d string) { old = append(old, d) }})
		if len(old) != 1 || old[0] != filepath.Join(tr.Root, "a") {
			t.Errorf("old-style directories = %q", old)
		}
		if n.Load() < 8 {
			t.Errorf("scanned %d entries", n.Load())
		}
		// More: further fields for the files it asks them for, never
		// for a dangling link or a directory.
		var asked []string
		var mu sync.Mutex
		more := catalog.WalkOptions{Want: catalog.WantStat | catalog.WantLink, Recursive: true, More: func(e *catalog.Entry) catalog.Want {
			mu.Lock()
			asked = append(asked, e.LFN)
			mu.Unlock()
			switch e.LFN {
			case "/a/mod.dat":
				return catalog.WantPin
			case "/a/xa.dat":
				return catalog.WantCopy
			}
			return 0
		}}
		if err := c.Walk(ctx, "/a", more, func(e *catalog.Entry) error {
			switch {
			case e.LFN == "/a/mod.dat" && (!e.HasPin || e.Pin.Flags != meta.PinForever || e.HasCopy):
				t.Errorf("More asked for the pin of mod.dat: %+v", e)
			case e.LFN == "/a/xa.dat" && (!e.HasCopy || e.HasPin):
				t.Errorf("More asked for the copy time of xa.dat: %+v", e)
			case e.LFN == "/a/plain.dat" && (e.HasCopy || e.Size != 5):
				t.Errorf("More asked nothing of plain.dat: %+v", e)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		sort.Strings(asked)
		eq(asked, []string{"/a/mod.dat", "/a/nocpy.dat", "/a/plain.dat", "/a/sub/deep.dat", "/a/xa.dat"})
		if err := c.Walk(ctx, "/a/plain.dat", catalog.WalkOptions{}, func(*catalog.Entry) error { return nil }); err == nil {
			t.Error("walking a file succeeded")
		}
		if err := c.Walk(ctx, "/none", catalog.WalkOptions{}, func(*catalog.Entry) error { return nil }); !errors.Is(err, catalog.ErrNotExist) {
			t.Errorf("walking a missing dir: %v", err)
		}
		stop := errors.New("stop")
		calls := 0
		err := c.Walk(ctx, "/", catalog.WalkOptions{Recursive: true}, func(*catalog.Entry) error { calls++; return stop })
		if !errors.Is(err, stop) || calls != 1 {
			t.Errorf("fn error: err %v after %d calls", err, calls)
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := c.Walk(cctx, "/", catalog.WalkOptions{Recursive: true}, func(*catalog.Entry) error { return nil }); !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled walk: %v", err)
		}
	})
	t.Run("Apply", func(t *testing.T) {
		tr := Build(t, t.TempDir())
		c := newCatalog(t, tr)
		n, err := c.Apply(ctx, "/a/xa.dat",
			catalog.Change{Kind: catalog.SetCopyTime, Time: 42},
			catalog.Change{Kind: catalog.SetPin, Pin: meta.Pin{Flags: meta.PinIdle, Time: 3600}},
			catalog.Change{Kind: catalog.SetMem, Mem: meta.MemMap},
			catalog.Change{Kind: catalog.SetChecksum, Checksum: meta.Checksum{Alg: "adler32", Value: []byte{1, 2, 3, 4}, MTime: 1700000000}})
		if err != nil || n != 4 {
			t.Fatalf("Apply = %d, %v", n, err)
		}
		e, _ := c.Lookup(ctx, "/a/xa.dat", catalog.WantAll)
		if e.CopyTime != 42 || e.Pin.Flags != meta.PinIdle || e.Pin.Time != 3600 || e.Mem != meta.MemMap || len(e.Checksums) != 1 {
			t.Fatalf("after Apply: %+v", e)
		}
		// Attributes of XA files live on the data file.
		if v, ok, _ := meta.GetCopyTime(e.Link); !ok || v != 42 {
			t.Errorf("copy time not on the data file: %d %v", v, ok)
		}
		n, err = c.Apply(ctx, "/a/xa.dat", catalog.Change{Kind: catalog.ClearPin}, catalog.Change{Kind: catalog.ClearPin})
		if err != nil || n != 1 {
			t.Errorf("clearing a pin twice counted %d, %v", n, err)
		}
		if _, err := c.Apply(ctx, "/a/none", catalog.Change{Kind: catalog.SetCopyTime, Time: 1}); err == nil {
			t.Error("Apply on a missing file succeeded")
		}
		// The rest of the change kinds, each seen by Lookup and on the
		// file itself.
		n, err = c.Apply(ctx, "/a/xa.dat",
			catalog.Change{Kind: catalog.ClearMem},
			catalog.Change{Kind: catalog.ClearChecksum, Checksum: meta.Checksum{Alg: "adler32"}},
			catalog.Change{Kind: catalog.SetPfnRef, PfnRef: filepath.Join(tr.Root, "a/elsewhere")},
			catalog.Change{Kind: catalog.SetPin, Pin: meta.Pin{Flags: meta.PinForever}})
		if err != nil || n != 4 {
			t.Fatalf("Apply = %d, %v", n, err)
		}
		e, _ = c.Lookup(ctx, "/a/xa.dat", catalog.WantAll)
		if e.HasMem || len(e.Checksums) != 0 || e.PfnRef != filepath.Join(tr.Root, "a/elsewhere") || e.Pin.Flags != meta.PinForever {
			t.Errorf("after the second Apply: %+v", e)
		}
		if ref, _, _ := meta.GetPfn(e.Link); ref != filepath.Join(tr.Root, "a/elsewhere") {
			t.Errorf("back reference on the data file: %q", ref)
		}
		if _, ok, _ := meta.GetMem(e.Link); ok {
			t.Error("memory flags still on the data file")
		}
		if n, err := c.Apply(ctx, "/a/xa.dat", catalog.Change{Kind: catalog.ClearMem}); err != nil || n != 0 {
			t.Errorf("clearing absent memory flags counted %d, %v", n, err)
		}
	})
	t.Run("ApplyStaysInside", func(t *testing.T) {
		// A namespace entry leading outside the namespace root and the
		// partitions (a symlink as the final component, or through a
		// symlinked directory) is never changed.
		tr := Build(t, t.TempDir())
		outside := t.TempDir()
		secret := filepath.Join(outside, "secret")
		if err := os.WriteFile(secret, []byte("not frm's"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(secret, filepath.Join(tr.Root, "a/escape.dat")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(outside, filepath.Join(tr.Root, "b/out")); err != nil {
			t.Fatal(err)
		}
		c := newCatalog(t, tr)
		for _, lfn := range []string{"/a/escape.dat", "/b/out/secret"} {
			for _, ch := range []catalog.Change{
				{Kind: catalog.SetPin, Pin: meta.Pin{Flags: meta.PinForever}},
				{Kind: catalog.SetCopyTime, Time: 1},
				{Kind: catalog.SetMem, Mem: meta.MemMap},
				{Kind: catalog.SetChecksum, Checksum: meta.Checksum{Alg: "adler32", Value: []byte{1, 2, 3, 4}}},
			} {
				if n, err := c.Apply(ctx, lfn, ch); err == nil {
					t.Errorf("Apply(%s, kind %d) = %d, nil; want a refusal", lfn, ch.Kind, n)
				}
			}
		}
		if names, err := listAttrs(secret); err != nil || len(names) > 0 {
			t.Errorf("attributes on the file outside: %q %v", names, err)
		}
	})
	t.Run("Record", func(t *testing.T) {
		// Changes made on disk reach the catalog through Record, which
		// records what the files say at that moment.
		tr := Build(t, t.TempDir())
		c := newCatalog(t, tr)
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		mt := time.Unix(1700000500, 0)
		put := func(lfn, body string) string {
			t.Helper()
			p := filepath.Join(tr.Root, lfn)
			must(os.MkdirAll(filepath.Dir(p), 0o755))
			must(os.WriteFile(p, []byte(body), 0o644))
			os.Chtimes(p, mt, mt)
			return p
		}
		gone := func(lfn string) {
			t.Helper()
			if _, err := c.Lookup(ctx, lfn, catalog.WantAll); !errors.Is(err, catalog.ErrNotExist) {
				t.Errorf("%s after its removal was recorded: %v", lfn, err)
			}
		}
		// A new file, in a new directory: the directories come too.
		must(meta.SetCopyTime(put("c/d/new.dat", "new"), mt.Unix()))
		must(c.Record(ctx, "/c/d/new.dat", false))
		e, err := c.Lookup(ctx, "/c/d/new.dat", catalog.WantAll)
		if err != nil || e.Size != 3 || !e.Migrated() {
			t.Errorf("new file: %+v, %v", e, err)
		}
		var seen []string
		must(c.Walk(ctx, "/c", catalog.WalkOptions{Recursive: true}, func(e *catalog.Entry) error { seen = append(seen, e.LFN); return nil }))
		if len(seen) != 1 || seen[0] != "/c/d/new.dat" {
			t.Errorf("walk of the new directory: %q", seen)
		}
		// New data under the same name.
		put("a/mod.dat", "modified again")
		must(c.Record(ctx, "/a/mod.dat", false))
		if e, _ := c.Lookup(ctx, "/a/mod.dat", catalog.WantAll); e.Size != 14 || !e.HasPin {
			t.Errorf("rewritten file: %+v", e)
		}
		// A fail file made and removed.
		must(os.WriteFile(filepath.Join(tr.Root, "a/plain.dat.fail"), nil, 0o644))
		must(c.Record(ctx, "/a/plain.dat", false))
		if e, _ := c.Lookup(ctx, "/a/plain.dat", catalog.WantFail); !e.Failed {
			t.Error("a fail file made is not recorded")
		}
		must(os.Remove(filepath.Join(tr.Root, "a/plain.dat.fail")))
		must(c.Record(ctx, "/a/plain.dat", false))
		if e, _ := c.Lookup(ctx, "/a/plain.dat", catalog.WantFail); e.Failed {
			t.Error("a fail file removed is not recorded")
		}
		// A removal, of a file and of a tree.
		must(os.Remove(filepath.Join(tr.Root, "a/plain.dat")))
		must(c.Record(ctx, "/a/plain.dat", false))
		gone("/a/plain.dat")
		must(os.RemoveAll(filepath.Join(tr.Root, "a/sub")))
		must(c.Record(ctx, "/a/sub", true))
		gone("/a/sub/deep.dat")
		gone("/a/sub")
		// A whole new tree at once.
		put("t/u/one.dat", "1")
		put("t/two.dat", "22")
		must(c.Record(ctx, "/t", true))
		for _, l := range []string{"/t", "/t/u", "/t/u/one.dat", "/t/two.dat"} {
			if _, err := c.Lookup(ctx, l, catalog.WantStat); err != nil {
				t.Errorf("%s after a recursive record: %v", l, err)
			}
		}
		// A tree rewritten: what went goes, what came comes.
		must(os.Remove(filepath.Join(tr.Root, "t/u/one.dat")))
		put("t/u/three.dat", "333")
		must(c.Record(ctx, "/t", true))
		gone("/t/u/one.dat")
		if e, err := c.Lookup(ctx, "/t/u/three.dat", catalog.WantStat); err != nil || e.Size != 3 {
			t.Errorf("three.dat: %+v %v", e, err)
		}
		// Recording a name nobody has is fine.
		must(c.Record(ctx, "/no/such/thing", false))
	})
	t.Run("Rename", func(t *testing.T) {
		tr := Build(t, t.TempDir())
		c := newCatalog(t, tr)
		if err := os.Rename(filepath.Join(tr.Root, "a"), filepath.Join(tr.Root, "z")); err != nil {
			t.Fatal(err)
		}
		if err := c.Rename(ctx, "/a", "/z"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Lookup(ctx, "/a/xa.dat", catalog.WantAll); !errors.Is(err, catalog.ErrNotExist) {
			t.Errorf("old name after the rename: %v", err)
		}
		x, err := c.Lookup(ctx, "/z/xa.dat", catalog.WantAll)
		if err != nil || x.Space != "data" || !x.Migrated() || x.Link == "" {
			t.Errorf("new name: %+v %v", x, err)
		}
		if d, err := c.Lookup(ctx, "/z/sub/deep.dat", catalog.WantAll); err != nil || !d.HasMem {
			t.Errorf("below the new name: %+v %v", d, err)
		}
		// A file renamed alone.
		if err := os.Rename(filepath.Join(tr.Root, "z/mod.dat"), filepath.Join(tr.Root, "b/mod.dat")); err != nil {
			t.Fatal(err)
		}
		if err := c.Rename(ctx, "/z/mod.dat", "/b/mod.dat"); err != nil {
			t.Fatal(err)
		}
		if m, err := c.Lookup(ctx, "/b/mod.dat", catalog.WantAll); err != nil || !m.HasPin || !m.NeedsMigration() {
			t.Errorf("renamed file: %+v %v", m, err)
		}
	})
}

func listAttrs(path string) ([]string, error) {
	cs, err := meta.ListChecksums(path)
	var out []string
	for _, c := range cs {
		out = append(out, c.Alg)
	}
	for _, get := range []func(string) (bool, error){
		func(p string) (bool, error) { _, ok, err := meta.GetCopyTime(p); return ok, err },
		func(p string) (bool, error) { _, ok, err := meta.GetPin(p); return ok, err },
		func(p string) (bool, error) { _, ok, err := meta.GetMem(p); return ok, err },
	} {
		if ok, err := get(path); err != nil || ok {
			out = append(out, "XrdFrm")
		}
	}
	return out, err
}
