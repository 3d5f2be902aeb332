package space

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestPartitionID(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	// Concurrent first uses of one directory agree.
	ids := make([]string, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, err := PartitionID(a)
			if err != nil {
				t.Error(err)
			}
			ids[i] = id
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] || len(id) != 32 {
			t.Fatalf("ids %v", ids)
		}
	}
	if again, _ := PartitionID(a); again != ids[0] {
		t.Fatalf("id changed: %s then %s", ids[0], again)
	}
	if other, _ := PartitionID(b); other == ids[0] {
		t.Fatal("two partitions share an id")
	}
	left, _ := filepath.Glob(filepath.Join(a, IDFile+".tmp*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	os.WriteFile(filepath.Join(b, IDFile), []byte("garbage\n"), 0o644)
	if _, err := PartitionID(b); err == nil {
		t.Error("a damaged id file was accepted")
	}
}
