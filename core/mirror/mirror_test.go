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

	"frm/core/sitegen/sitetest"

	"frm/core/config"
	"frm/core/fedapi"
	"frm/core/meta"
	"frm/core/site"
)

// TestRunStatic runs mirrors in process (so that -race sees the workers,
// the planning of products at once and the progress counters) against a
// static distribution: a first run, a run with nothing new, then files
// changed, added and removed.
func TestRunStatic(t *testing.T) {
	s := newSite(t)
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
		unlock, err := Lock(s.Config(), m.Name)
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
	if unlock, err := Lock(s.Config(), m.Name); err != nil {
		t.Fatalf("the lock was not released: %v", err)
	} else {
		// Held: another run is refused at once.
		if _, err := Lock(s.Config(), m.Name); err == nil {
			t.Error("a second run took a held lock")
		}
		unlock()
	}
	if r := run(Options{}); r.Changes() || !r.Products[0].Unchanged {
		t.Fatalf("second run: %+v", r)
	}
	for i := range 5 {
		write(fmt.Sprintf("p0/d%d/f%03d", (i*2)%7, i*2), 25+i) // changed: other sizes (10+(25+i)%50 is never 10+2i%50)
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

// TestPlanNotModified: a product listed by its source (GET /v1/manifest)
// is asked for with the generation of the last good run when that run's
// manifest is still here; the source's 304 then costs no walk here (nor
// any reading of a manifest), and anything else is listed and compared.
func TestPlanNotModified(t *testing.T) {
	entries := []fedapi.ManifestEntry{
		{LFN: "/p/a", Size: 3, MTime: 1700000000, Checksum: "adler32:024d0127", State: fedapi.Resident},
		{LFN: "/p/d/b", Size: 4, MTime: 1700000000, State: fedapi.Resident},
	}
	var g fedapi.Generation
	for _, e := range entries {
		g.Add(e)
	}
	gen := g.String()
	for _, tc := range []struct {
		name      string
		stateGen  string // "": no state of the product
		published bool   // the last run's manifest is here
		wantINM   string
		want304   bool
	}{
		{name: "last generation, published here", stateGen: gen, published: true, wantINM: `"` + gen + `"`, want304: true},
		{name: "another generation", stateGen: "0123456789abcdef0123456789abcdef", published: true, wantINM: `"0123456789abcdef0123456789abcdef"`},
		{name: "its manifest gone here", stateGen: gen, published: false},
		{name: "never run", published: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSite(t)
			var inm []string
			var answered int
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != fedapi.ManifestPath {
					// No published manifest: the source lists.
					http.Error(w, `{"error":"absent"}`, http.StatusNotFound)
					return
				}
				inm = append(inm, r.Header.Get("If-None-Match"))
				if r.Header.Get("If-None-Match") == `"`+gen+`"` {
					answered = http.StatusNotModified
					w.WriteHeader(http.StatusNotModified)
					return
				}
				answered = http.StatusOK
				fedapi.WriteManifest(w, entries)
			}))
			defer srv.Close()
			c, err := fedapi.NewClient(srv.URL, fedapi.ClientOptions{HTTP1: true})
			if err != nil {
				t.Fatal(err)
			}
			m := config.Mirror{Name: "t", Source: "peer", Products: []string{"/p"}, Dest: "/store/m"}
			pr := &productRun{Product: Product{Product: "/p", Dest: m.DestOf("/p")}, root: m.DestOf("/p")}
			st := state{Products: map[string]productState{}}
			if tc.stateGen != "" {
				st.Products["/p"] = productState{Generation: tc.stateGen, Files: 2}
			}
			if tc.published {
				p := s.PFN(pr.root + "/" + fedapi.ManifestFile)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := plan(context.Background(), s, peerSource{peer: "peer", c: c}, m, pr, st, false); err != nil {
				t.Fatal(err)
			}
			if len(inm) != 1 || inm[0] != tc.wantINM {
				t.Errorf("the source was asked with If-None-Match %q, want [%q]", inm, tc.wantINM)
			}
			if got := answered == http.StatusNotModified; got != tc.want304 {
				t.Fatalf("source answered %d", answered)
			}
			if tc.want304 {
				// pr.local is what the walk here found: none done.
				if !pr.Unchanged || pr.local != nil || len(pr.srcs) != 0 || pr.Generation != gen || pr.Files != 2 || len(pr.items) != 0 {
					t.Errorf("304: unchanged %v, walked here %v, %d entries read, generation %s, %d files, %d items",
						pr.Unchanged, pr.local != nil, len(pr.srcs), pr.Generation, pr.Files, len(pr.items))
				}
				return
			}
			if pr.Unchanged || pr.local == nil || pr.Generation != gen || len(pr.items) != 2 {
				t.Errorf("listed: unchanged %v, walked here %v, generation %s, %d items", pr.Unchanged, pr.local != nil, pr.Generation, len(pr.items))
			}
		})
	}
}

// newSite opens an empty demo-layout site (sitegen), closed when the test
// ends.
func newSite(t *testing.T) *site.Site {
	t.Helper()
	s, _ := sitetest.Open(t, nil)
	return s
}
