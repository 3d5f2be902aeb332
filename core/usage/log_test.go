package usage

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestInPlace: updates go into the file a server holds open (the same
// inode, read through its descriptor), not into a new file renamed over
// it; Init folds Staged, Purged and Adjust into Used and assigns the
// configured spaces, the last first, as xrootd does.
func TestInPlace(t *testing.T) {
	p := filepath.Join(t.TempDir(), "inst", ".Usage")
	if err := Init(p, []string{"public", "data", "fast"}); err != nil {
		t.Fatal(err)
	}
	server, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	if err := AddStaged(p, "data", 100); err != nil {
		t.Fatal(err)
	}
	if err := AddPurged(p, "data", 30); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, fileSize)
	if _, err := server.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	es, _ := Decode(b)
	if len(es) != 3 || es[0].Name != "fast" || es[1].Name != "data" || es[2].Name != "public" {
		t.Fatalf("entries through the server's descriptor: %+v", es)
	}
	if d := es[1]; d.Staged != 100 || d.Purged != 30 || d.Used != 0 {
		t.Errorf("data %+v", d)
	}
	if err := Init(p, []string{"public", "data", "fast"}); err != nil {
		t.Fatal(err)
	}
	es, _ = Read(p)
	if d := es[1]; d.Used != 70 || d.Staged != 0 || d.Purged != 0 {
		t.Errorf("after the fold: data %+v", d)
	}
	if fi, _ := os.Stat(p + ".upd"); fi == nil {
		t.Error("no .Usage.upd")
	}
	os.WriteFile(filepath.Join(filepath.Dir(p), ".bad"), make([]byte, 100), 0o644)
	if err := AddStaged(filepath.Join(filepath.Dir(p), ".bad"), "data", 1); err == nil {
		t.Error("a usage file of the wrong size was written to")
	}
}

// TestConcurrentUpdates: updates from many goroutines (and, through the
// file lock, processes) add up.
func TestConcurrentUpdates(t *testing.T) {
	p := filepath.Join(t.TempDir(), ".Usage")
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := AddStaged(p, "public", 2); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	es, err := Read(p)
	if err != nil || len(es) != 1 || es[0].Staged != 100 {
		t.Errorf("%+v %v", es, err)
	}
}
