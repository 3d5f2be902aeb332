package names

import (
	"errors"
	"strings"
	"testing"
)

func TestClean(t *testing.T) {
	tests := []struct {
		in, want string
		err      error
	}{
		{"/a/b", "/a/b", nil},
		{"//dbl//slash/", "/dbl/slash", nil},
		{"/a/./b/", "/a/b", nil},
		{"/a/../b", "/b", nil},
		{"/", "/", nil},
		{"/a/b/../../c", "/c", nil},
		{"/..", "", ErrEscapes},
		{"/a/../../etc/passwd", "", ErrEscapes},
		{"/a/./../..", "", ErrEscapes},
		{"rel/path", "", ErrRelative},
		{"", "", ErrEmpty},
		{"/a\x00b", "", ErrNUL},
		{"/" + strings.Repeat("x", 256), "", ErrComponent},
		{"/" + strings.Repeat("abcdefgh/", 400), "", ErrTooLong},
		{"/with space/and;semi", "/with space/and;semi", nil},
	}
	for _, tt := range tests {
		got, err := Clean(tt.in)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("Clean(%q) error = %v, want %v", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Clean(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestMapper(t *testing.T) {
	m := NewMapper("/srv/ns/", "/srv/mss//")
	if p, _ := m.PFN("/a/b"); p != "/srv/ns/a/b" {
		t.Errorf("PFN = %q", p)
	}
	if p, _ := m.RFN("/a/b"); p != "/srv/mss/a/b" {
		t.Errorf("RFN = %q", p)
	}
	if _, err := m.PFN("/../etc"); err == nil {
		t.Error("PFN of an escaping name succeeded")
	}
	if p, _ := m.PFN("/"); p != "/srv/ns" {
		t.Errorf("PFN(/) = %q", p)
	}
	for pfn, want := range map[string]string{"/srv/ns/a": "/a", "/srv/ns": "/"} {
		if l, ok := m.LFN(pfn); !ok || l != want {
			t.Errorf("LFN(%q) = %q, %v", pfn, l, ok)
		}
	}
	for _, pfn := range []string{"/srv/nsx/a", "/other"} {
		if _, ok := m.LFN(pfn); ok {
			t.Errorf("LFN(%q) accepted a name outside the root", pfn)
		}
	}
	url := NewMapper("", "root://mss.example//store/")
	if r, _ := url.RFN("/x"); r != "root://mss.example//store//x" {
		t.Errorf("URL RFN = %q", r)
	}
	id := NewMapper("", "")
	if p, _ := id.PFN("/x/y"); p != "/x/y" {
		t.Errorf("identity PFN = %q", p)
	}
}

func FuzzClean(f *testing.F) {
	for _, s := range []string{"/a/../b", "/..", "//x//", "/a/./b/../../c", "rel"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Clean(s)
		if err != nil {
			return
		}
		// A clean name is absolute, idempotent and never climbs.
		if c[0] != '/' || strings.Contains(c, "//") || strings.Contains("/"+c+"/", "/../") {
			t.Fatalf("Clean(%q) = %q is not canonical", s, c)
		}
		if c2, err := Clean(c); err != nil || c2 != c {
			t.Fatalf("Clean not idempotent: %q -> %q -> %q (%v)", s, c, c2, err)
		}
		m := NewMapper("/root", "")
		p := m.PFNClean(c)
		if p != "/root" && !strings.HasPrefix(p, "/root/") {
			t.Fatalf("%q maps outside the root: %q", s, p)
		}
	})
}
