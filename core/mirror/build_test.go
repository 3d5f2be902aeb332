package mirror

import (
	"context"
	"fmt"
	"hash/adler32"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"frm/core/fedapi"
)

func TestBuild(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(dir, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a/x.fits", "x data")
	write("b.txt", "b")
	write("a/y.anew", "partial")
	write("a/x.fits.fail", "")
	write(fedapi.ManifestFile, "old")
	data := filepath.Join(t.TempDir(), "data")
	os.WriteFile(data, []byte("linked data"), 0o644)
	os.Symlink(data, filepath.Join(dir, "a", "linked.fits"))
	os.Symlink(t.TempDir(), filepath.Join(dir, "dirlink"))
	os.Symlink("/nonexistent", filepath.Join(dir, "dangling"))

	entries, err := Build(context.Background(), dir, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.LFN)
	}
	if want := []string{"a/linked.fits", "a/x.fits", "b.txt"}; !slices.Equal(names, want) {
		t.Fatalf("names %v, want %v", names, want)
	}
	if e := entries[0]; e.Size != 11 || e.Checksum != fmt.Sprintf("adler32:%08x", adler32.Checksum([]byte("linked data"))) {
		t.Errorf("a link's entry: %+v", e)
	}
	out := filepath.Join(dir, fedapi.ManifestFile)
	gen, err := WriteBuilt(out, entries)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(out)
	end, err := fedapi.ReadManifest(f, func(fedapi.ManifestEntry) error { return nil })
	f.Close()
	if err != nil || end.Files != 3 || end.Generation != gen {
		t.Fatalf("written manifest: %+v %v", end, err)
	}
	// A file the previous manifest describes with the same size and
	// mtime keeps its checksum there (it is not read again).
	b, _ := os.ReadFile(out)
	os.WriteFile(out, []byte(replaceChecksum(string(b), entries[2].Checksum, "adler32:00000000")), 0o644)
	again, err := Build(context.Background(), dir, BuildOptions{Previous: out})
	if err != nil || again[2].Checksum != "adler32:00000000" || again[1].Checksum != entries[1].Checksum {
		t.Fatalf("with the previous manifest: %+v %v", again, err)
	}
}

func replaceChecksum(s, old, new string) string {
	for i := 0; i+len(old) <= len(s); i++ {
		if s[i:i+len(old)] == old {
			return s[:i] + new + s[i+len(old):]
		}
	}
	return s
}
