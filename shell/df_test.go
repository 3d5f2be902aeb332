package shell

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// TestDfJSONFilesNullWithoutCount: without -count df counts nothing; the
// text shows "-" and JSON used to say "files": 0 (a real count of none).
// Now files and bytes are null unless -count asked for them.
func TestDfJSONFilesNullWithoutCount(t *testing.T) {
	s, _ := testSite(t)
	for _, tc := range []struct {
		args    string
		counted bool
	}{
		{"df", false},
		{"df -count", true},
		{"df -c data", true},
		{"df public", false},
	} {
		t.Run(tc.args, func(t *testing.T) {
			sh, out, _ := newShell(s)
			sh.JSON = true
			words, _ := Split(tc.args)
			if st := sh.RunArgs(context.Background(), words, strings.NewReader("")); st != 0 {
				t.Fatalf("exit %d: %s", st, out.String())
			}
			var doc struct {
				Results []map[string]any `json:"results"`
			}
			if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			rows := 0
			for _, r := range doc.Results {
				if r["header"] == true {
					continue
				}
				rows++
				for _, k := range []string{"files", "bytes"} {
					v, ok := r[k]
					if !ok {
						t.Errorf("%v: no %q", r, k)
						continue
					}
					if tc.counted {
						if _, num := v.(float64); !num {
							t.Errorf("%s: %s = %v, want a number", tc.args, k, v)
						}
					} else if v != nil {
						t.Errorf("%s: %s = %v, want null", tc.args, k, v)
					}
				}
			}
			if rows == 0 {
				t.Fatalf("no rows: %s", out.String())
			}
		})
	}
}
