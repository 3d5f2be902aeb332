package fedapi

import (
	"bytes"
	"strings"
	"testing"
)

func TestManifestRoundTrip(t *testing.T) {
	entries := []ManifestEntry{{LFN: "a/b.fits", Size: 3, MTime: 1700000000, Checksum: "adler32:024d0127", State: Resident}, {LFN: "c", Size: 0, MTime: 1}}
	var b bytes.Buffer
	gen, err := WriteManifest(&b, entries)
	if err != nil {
		t.Fatal(err)
	}
	var got []ManifestEntry
	end, err := ReadManifest(&b, func(e ManifestEntry) error { got = append(got, e); return nil })
	if err != nil || end.Generation != gen || len(got) != 2 || got[0] != entries[0] {
		t.Fatalf("read back: %v %+v %+v", err, end, got)
	}
	// The same entries in another order: the same generation.
	var g Generation
	g.Add(entries[1])
	g.Add(entries[0])
	if g.String() != gen {
		t.Error("the generation depends on the order")
	}
	for name, text := range map[string]string{
		"cut":       `{"lfn":"a","size":1,"mtime":1}` + "\n",
		"count":     `{"lfn":"a","size":1,"mtime":1}` + "\n" + `{"end":true,"files":2,"generation":"x"}` + "\n",
		"negative":  `{"lfn":"a","size":-1,"mtime":1}` + "\n" + `{"end":true,"files":1,"generation":"x"}` + "\n",
		"garbage":   "not json\n",
		"no name":   `{"size":1}` + "\n" + `{"end":true,"files":1}` + "\n",
		"half line": `{"lfn":"a","si`,
	} {
		if _, err := ReadManifest(strings.NewReader(text), func(ManifestEntry) error { return nil }); err == nil {
			t.Errorf("%s: a broken manifest was read", name)
		}
	}
}

func FuzzReadManifest(f *testing.F) {
	f.Add(`{"lfn":"a","size":1,"mtime":1}` + "\n" + `{"end":true,"files":1,"generation":"x"}` + "\n")
	f.Add(`{"end":true,"files":0}`)
	f.Add("\n\n{\"lfn\":\"\\\"end\\\"\",\"size\":2}\n")
	f.Fuzz(func(t *testing.T, s string) {
		n := 0
		end, err := ReadManifest(strings.NewReader(s), func(e ManifestEntry) error {
			if e.LFN == "" || e.Size < 0 {
				t.Fatalf("entry %+v passed", e)
			}
			n++
			return nil
		})
		if err == nil && end.Files != n {
			t.Fatalf("end says %d, %d entries", end.Files, n)
		}
	})
}
