package mirror

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"frm/core/config"
	"frm/core/fedapi"
	"frm/core/meta"
	"frm/core/sitegen"
	"frm/core/wire"
)

// TestRunStatic runs mirrors in process (so that -race sees the workers,
// the planning of products at once and the progress counters) against a
// static distribution: a first run, a run with nothing new, then files
// changed, added and removed.
func TestRunStatic(t *testing.T) {
	l := sitegen.NewLayout(t.TempDir())
	if err := l.WriteConfigs(); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(l.Config, "")
	if err != nil {
		t.Fatal(err)
	}
	s, err := wire.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	www := t.TempDir()
	write := func(rel string, i int) {
		p := filepath.Join(www, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, bytes.Repeat([]byte(rel), 10+i%50), 0o644)
	}
	for i := range 300 {
		write(fmt.Sprintf("p%d/d%d/f%03d", i%2, i%7, i), i)
	}
	build := func() {
		entries, err := Build(context.Background(), www, BuildOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := WriteBuilt(filepath.Join(www, fedapi.ManifestFile), entries); err != nil {
			t.Fatal(err)
		}
	}
	build()
	srv := httptest.NewServer(http.FileServer(http.Dir(www)))
	defer srv.Close()
	m := config.Mirror{Name: "t", Source: srv.URL + "/" + fedapi.ManifestFile, Products: []string{"/p0", "/p1"}, Dest: "/store/m", Transfers: 3}
	run := func(o Options) Result {
		unlock, err := Lock(cfg, m.Name)
		if err != nil {
			t.Fatal(err)
		}
		defer unlock()
		o.Progress = &Progress{}
		r := Run(context.Background(), s, m, o)
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		if got := o.Progress.Files.Load(); got != int64(r.New+r.Changed+r.Failed) {
			t.Errorf("progress counted %d files, the run %d", got, r.New+r.Changed+r.Failed)
		}
		return r
	}
	if r := run(Options{}); r.New != 300 || r.Failed != 0 {
		t.Fatalf("first run: %+v", r)
	}
	got, err := os.ReadFile(s.PFN("/store/m/p1/d1/f001"))
	if want, _ := os.ReadFile(filepath.Join(www, "p1/d1/f001")); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("mirrored file: %q %v", got, err)
	}
	// New to this site: no copy time, so that the migrator of the mig
	// export (/store) copies it out and the purger never takes it for
	// migrated.
	if _, ok, _ := meta.GetCopyTime(s.PFN("/store/m/p1/d1/f001")); ok {
		t.Error("a mirrored file has a copy time")
	}
	if unlock, err := Lock(cfg, m.Name); err != nil {
		t.Fatalf("the lock was not released: %v", err)
	} else {
		// Held: another run is refused at once.
		if _, err := Lock(cfg, m.Name); err == nil {
			t.Error("a second run took a held lock")
		}
		unlock()
	}
	if r := run(Options{}); r.Changes() || !r.Products[0].Unchanged {
		t.Fatalf("second run: %+v", r)
	}
	for i := range 5 {
		write(fmt.Sprintf("p0/d%d/f%03d", (i*2)%7, i*2), 1000+i) // changed: other sizes
	}
	write("p1/new", 0)
	os.Remove(filepath.Join(www, "p1/d3/f003"))
	build()
	if r := run(Options{Delete: true}); r.Changed != 5 || r.New != 1 || r.Deleted != 1 || r.Failed != 0 {
		t.Fatalf("third run: %+v", r)
	}
	if _, err := os.Lstat(s.PFN("/store/m/p1/d3/f003")); err == nil {
		t.Error("the removed file is still here")
	}
	// A product whose manifest is empty at the source is more likely
	// broken than emptied: nothing of it is deleted, even with delete.
	os.RemoveAll(filepath.Join(www, "p1"))
	build()
	if r := run(Options{Delete: true}); r.Deleted != 0 || r.Products[1].Stale != 150 {
		t.Fatalf("empty product: %+v", r)
	}
	got, _ = os.ReadFile(s.PFN("/store/m/p0/d2/f002"))
	if want, _ := os.ReadFile(filepath.Join(www, "p0/d2/f002")); !bytes.Equal(got, want) {
		t.Error("the changed file was not replaced")
	}
}
