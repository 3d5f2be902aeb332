package qclass

import (
	"testing"

	"frm/core/config"
)

func classes(t testing.TB, toml string) *Set {
	t.Helper()
	cfg, err := config.Parse([]byte(toml), "frm.toml", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	return FromConfig(cfg)
}

const sample = `
[[queue.class]]
name = "long"
slots = 1

[[queue.class]]
name = "express"
slots = 1
requesters = ["alice", "prod*"]
prefixes = ["/store/hot"]

[[queue.class]]
name = "short"
slots = 2
max_size = "10m"

[[queue.class]]
name = "mig"
slots = 1
kinds = ["migrate", "put"]
`

func TestClassify(t *testing.T) {
	s := classes(t, sample)
	size := func(n int64) func() (int64, bool) { return func() (int64, bool) { return n, true } }
	unknown := func() (int64, bool) { return 0, false }
	for _, tc := range []struct {
		name string
		req  Request
		size func() (int64, bool)
		want string
		asks bool
	}{
		{"no rule matches: the first class", Request{Kind: "stage", LFN: "/a", Requester: "bob.1:2@h"}, size(1 << 30), "long", true},
		{"size within max_size", Request{Kind: "stage", LFN: "/a"}, size(10 << 20), "short", true},
		{"size over max_size", Request{Kind: "stage", LFN: "/a"}, size(10<<20 + 1), "long", true},
		{"size unknown: the size rule does not match", Request{Kind: "stage", LFN: "/a"}, unknown, "long", true},
		{"requester by user part and prefix", Request{Kind: "stage", LFN: "/store/hot/x", Requester: "alice.12:3@host"}, nil, "express", false},
		{"requester pattern on the user part", Request{Kind: "stage", LFN: "/store/hot/x", Requester: "prod7"}, nil, "express", false},
		{"whole components: /store/hotter is not under /store/hot", Request{Kind: "stage", LFN: "/store/hotter", Requester: "alice"}, size(1 << 40), "long", true},
		{"every rule of a class must match", Request{Kind: "stage", LFN: "/store/cold/x", Requester: "alice"}, size(1 << 40), "long", true},
		{"a small migration is short (size before kind in class order)", Request{Kind: "migrate", LFN: "/a"}, size(1), "short", true},
		{"a big migration goes by kind", Request{Kind: "migrate", LFN: "/a"}, size(1 << 40), "mig", true},
		{"named in the cgi", Request{Kind: "stage", LFN: "/a", CGI: "oss.cgroup=public&frm.class=mig"}, nil, "mig", false},
		{"an unknown name falls back to the rules", Request{Kind: "stage", LFN: "/store/hot/a", Requester: "alice", CGI: "frm.class=nope"}, nil, "express", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.NeedsSize(tc.req); got != tc.asks {
				t.Errorf("NeedsSize = %v, want %v", got, tc.asks)
			}
			asked := false
			sz := tc.size
			if sz != nil {
				sz = func() (int64, bool) { asked = true; return tc.size() }
			}
			if got := s.Classes[s.Classify(tc.req, sz)].Name; got != tc.want {
				t.Errorf("class %q, want %q", got, tc.want)
			}
			if asked != tc.asks {
				t.Errorf("size asked %v, want %v", asked, tc.asks)
			}
		})
	}
}

func TestImplicitClassesAreXrootdDirections(t *testing.T) {
	s := classes(t, "[transfer]\ncopy_max = 5\ncopy_max_in = 3\ncopy_max_out = 2\n")
	if !s.Implicit || len(s.Classes) != 2 || s.Classes[0].Slots != 3 || s.Classes[1].Slots != 2 || s.Classes[0].Lend || s.Classes[1].Lend {
		t.Fatalf("implicit classes %+v", s.Classes)
	}
	for kind, want := range map[string]string{"stage": In, "get": In, "migrate": Out, "put": Out} {
		r := Request{Kind: kind, LFN: "/x", CGI: "frm.class=out"}
		if got := s.Classes[s.Classify(r, nil)].Name; got != want {
			t.Errorf("%s: %s, want %s (the implicit classes cannot be named)", kind, got, want)
		}
	}
	s = classes(t, "[transfer]\ncopy_max = 4\n")
	if s.Classes[0].Slots != 4 || s.Classes[1].Slots != 4 {
		t.Errorf("copy_max 4: slots %d/%d", s.Classes[0].Slots, s.Classes[1].Slots)
	}
}

// FuzzClassify: any request classifies into a class of the set without
// panicking, and a request naming a class gets it.
func FuzzClassify(f *testing.F) {
	s := classes(f, sample)
	f.Add("stage", "/store/hot/a", "alice.1:2@h", "frm.class=mig", int64(5))
	f.Add("migrate", "/a", "", "%zz", int64(-1))
	f.Fuzz(func(t *testing.T, kind, lfn, tid, cgi string, size int64) {
		r := Request{Kind: kind, LFN: lfn, Requester: tid, CGI: cgi}
		i := s.Classify(r, func() (int64, bool) { return size, size >= 0 })
		if i < 0 || i >= len(s.Classes) {
			t.Fatalf("class %d of %d", i, len(s.Classes))
		}
		if n, ok := s.Named(r); ok && n != i {
			t.Fatalf("named class %d, classified %d", n, i)
		}
	})
}
