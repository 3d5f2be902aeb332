package usage

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRoundTripAndAdjust(t *testing.T) {
	dir := t.TempDir()
	p := Path(dir, "")
	es := []Entry{{Name: "public", Used: 100, Staged: 10, Purged: 5, Adjust: 0, Added: 42}, {Name: "data", Used: 1900}}
	b, err := Encode(es)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 16384 {
		t.Fatalf("usage file is %d bytes, want 16384", len(b))
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != es[0] || got[1] != es[1] {
		t.Fatalf("read back %+v, want %+v", got, es)
	}
	if err := SetAdjust(p, "public", 50); err != nil {
		t.Fatal(err)
	}
	got, _ = Read(p)
	if got[0].Effective() != 50 || got[0].Adjust != -55 {
		t.Fatalf("after adjust: %+v effective %d", got[0], got[0].Effective())
	}
	if err := SetAdjust(p, "fast", 7); err != nil {
		t.Fatal(err)
	}
	got, _ = Read(p)
	if len(got) != 3 || got[2].Name != "fast" || got[2].Effective() != 7 {
		t.Fatalf("new entry: %+v", got)
	}
	if _, err := os.Stat(p + ".upd"); err != nil {
		t.Fatalf(".Usage.upd not created: %v", err)
	}
	if _, err := Read(filepath.Join(dir, "none")); err == nil {
		t.Fatal("missing file gave no error")
	}
}

func FuzzDecode(f *testing.F) {
	b, _ := Encode([]Entry{{Name: "x", Used: 1}})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := Decode(b)
		if err != nil {
			return
		}
		for _, e := range es {
			if len(e.Name) >= nameSize {
				return // unterminated name: readable, not writable
			}
		}
		if len(es) <= maxEntries {
			if _, err := Encode(es); err != nil {
				t.Fatalf("decoded entries do not encode: %v", err)
			}
		}
	})
}
