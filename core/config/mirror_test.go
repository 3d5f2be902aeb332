package config

import (
	"strings"
	"testing"
)

func TestMirrorValidation(t *testing.T) {
	const base = "[[export]]\npath = \"/store\"\n[[peer]]\nname = \"b\"\nurl = \"https://b.example:8443\"\n"
	for _, tc := range []struct {
		name, mirror, err string
	}{
		{"peer source", `name = "m"` + "\nsource = \"b\"\nproducts = [\"/store/p\"]", ""},
		{"static source", `name = "m"` + "\nsource = \"https://d.example/dist/.frm-manifest.ndjson\"\nproducts = [\"/p\"]\ndest = \"/store/d\"\nschedule = \"03:30\"", ""},
		{"no name", "source = \"b\"\nproducts = [\"/store/p\"]", "mirror[0].name"},
		{"unknown peer", `name = "m"` + "\nsource = \"x\"\nproducts = [\"/store/p\"]", `no [[peer]] is called "x"`},
		{"no products", `name = "m"` + "\nsource = \"b\"", "mirror[0].products"},
		{"unclean product", `name = "m"` + "\nsource = \"b\"\nproducts = [\"/store/../p\"]", "clean absolute path"},
		{"not exported", `name = "m"` + "\nsource = \"b\"\nproducts = [\"/other\"]", "in no [[export]]"},
		{"dest not exported", `name = "m"` + "\nsource = \"b\"\nproducts = [\"/store\"]\ndest = \"/x\"", "/x/store is in no [[export]]"},
		{"bad schedule", `name = "m"` + "\nsource = \"b\"\nproducts = [\"/store/p\"]\nschedule = \"25:00\"", "mirror[0].schedule"},
		{"short interval", `name = "m"` + "\nsource = \"b\"\nproducts = [\"/store/p\"]\nschedule = \"10s\"", "at least 1m"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(base+"[[mirror]]\n"+tc.mirror+"\n"), "frm.toml", "", nil)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("error: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v, want one with %q", err, tc.err)
			}
		})
	}
}

func TestMaxDeleteLimit(t *testing.T) {
	for _, tc := range []struct {
		v    string
		n    int
		want int
	}{{"", 2500, 250}, {"10%", 2500, 250}, {"0.5%", 1000, 5}, {"25", 2500, 25}, {"0", 10, 0}} {
		var d MaxDelete
		if tc.v != "" {
			var err error
			if d, err = ParseMaxDelete(tc.v); err != nil {
				t.Fatal(err)
			}
		}
		if got := d.Limit(tc.n); got != tc.want {
			t.Errorf("max_delete %q of %d files: %d, want %d", tc.v, tc.n, got, tc.want)
		}
		b, _ := d.MarshalText()
		var back MaxDelete
		if err := back.UnmarshalText(b); err != nil || back.Limit(tc.n) != tc.want {
			t.Errorf("%q does not read back: %v", b, err)
		}
	}
}

func FuzzParseMaxDelete(f *testing.F) {
	for _, s := range []string{"10%", "0", "25", "100%", "-1", "1e3%", "x", " 5 % "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseMaxDelete(s)
		if err != nil {
			return
		}
		for _, n := range []int{0, 1, 1000} {
			if l := d.Limit(n); l < 0 || (d.n < 0 && l > n) {
				t.Fatalf("%q: limit %d of %d files", s, l, n)
			}
		}
	})
}
