package xrdq

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

func TestKind(t *testing.T) {
	names := map[Kind]string{Stage: "pstg", Migrate: "migr", Get: "getf", Put: "putf"}
	for k, want := range names {
		if k.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(k), k.String(), want)
		}
	}
	ops := []struct {
		op   byte
		kind Kind
		ok   bool
	}{
		{'+', Stage, true}, {'<', Get, true}, {'>', Put, true}, {'=', Put, true},
		{'&', Migrate, true}, {'^', Migrate, true}, {'-', 0, false}, {'@', 0, false}, {0, 0, false},
	}
	for _, c := range ops {
		k, ok := KindForOp(c.op)
		if ok != c.ok || (ok && k != c.kind) {
			t.Errorf("KindForOp(%q) = %v,%v want %v,%v", c.op, k, ok, c.kind, c.ok)
		}
	}
}

func TestEncodeLayout(t *testing.T) {
	r := Request{
		LFN: "root://h.ex//u/v\x00c=d", User: "tid", ID: "req7", Notify: "file:///n",
		Instance: "inst1", CksValue: "\x01\x00\x02", CksType: 4, Added: 0x0102030405060708,
		Options: NotifyFail | ReadWrite | Purge, LFO: 12, Opaque: 17, Op: '=', Priority: 2,
	}
	b, err := EncodeRecord(r, 8192, 12288)
	if err != nil {
		t.Fatal(err)
	}
	ne := binary.NativeEndian
	checks := []struct {
		name string
		got  []byte
		want []byte
	}{
		{"LFN", b[0:22], []byte("root://h.ex//u/v\x00c=d\x00\x00")},
		{"User", b[3072:3076], []byte("tid\x00")},
		{"ID", b[3328:3333], []byte("req7\x00")},
		{"Notify", b[3368:3378], []byte("file:///n\x00")},
		{"iName", b[3968:3974], []byte("inst1\x00")},
		{"cks", b[4000:4004], []byte("\x01\x00\x02\x00")},
		{"addTOD", b[4064:4072], ne.AppendUint64(nil, 0x0102030405060708)},
		{"This", b[4072:4076], ne.AppendUint32(nil, 8192)},
		{"Next", b[4076:4080], ne.AppendUint32(nil, 12288)},
		{"Options", b[4080:4084], ne.AppendUint32(nil, 0x25)},
		{"LFO", b[4084:4086], ne.AppendUint16(nil, 12)},
		{"Opaque", b[4086:4088], ne.AppendUint16(nil, 17)},
		{"tail", b[4088:4096], []byte{0, 4, '=', 2, 0, 0, 0, 0}},
		{"reserved", b[3880:3968], make([]byte, 88)},
	}
	for _, c := range checks {
		if !bytes.Equal(c.got, c.want) {
			t.Errorf("%s: got %q want %q", c.name, c.got, c.want)
		}
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	cases := []Request{
		{},
		{LFN: "/stg/new1.dat", User: "frm_xfragent", ID: "req1", Notify: "-", Instance: "anon", Added: 1795329464, Op: '+'},
		{LFN: "/p/a?x=1", Opaque: 5, Op: '=', Priority: 1, Options: 0x25, Added: 1},
		{LFN: "/p/a\x00x=1&y=2", Opaque: 5, Op: '<', Added: 2},
		{LFN: "root://h//p", LFO: 8, Op: '&', Priority: 2, Options: Register | OptMigrate, Added: -5},
		{LFN: "\x00stg/tombstone", ID: "gone", Added: 3},
		{LFN: strings.Repeat("a", MaxLFN), User: strings.Repeat("u", MaxUser), ID: strings.Repeat("i", MaxID),
			Notify: strings.Repeat("n", MaxNotify), Instance: strings.Repeat("x", MaxInstance),
			CksValue: strings.Repeat("\xff", MaxCksValue), CksType: 255, Priority: -1, Op: 0xff, LFO: MaxLFN, Opaque: MaxLFN},
	}
	for i, r := range cases {
		b, err := EncodeRecord(r, int32(4096*(i+1)), 77)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		got, next, err := DecodeRecord(b[:])
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		want := r
		want.Offset = int32(4096 * (i + 1))
		if got != want || next != 77 {
			t.Errorf("case %d: round trip\n got %+v next %d\nwant %+v", i, got, next, want)
		}
		b2, err := EncodeRecord(got, got.Offset, next)
		if err != nil || b2 != b {
			t.Errorf("case %d: re-encode differs (%v)", i, err)
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	long := func(n int) string { return strings.Repeat("z", n) }
	cases := []struct {
		name string
		r    Request
	}{
		{"lfn", Request{LFN: long(MaxLFN + 1)}},
		{"user", Request{User: long(MaxUser + 1)}},
		{"id", Request{ID: long(MaxID + 1)}},
		{"notify", Request{Notify: long(MaxNotify + 1)}},
		{"instance", Request{Instance: long(MaxInstance + 1)}},
		{"cks", Request{CksValue: long(MaxCksValue + 1)}},
		{"nul in id", Request{ID: "a\x00b"}},
		{"negative lfo", Request{LFO: -1}},
		{"opaque too big", Request{Opaque: szLFN}},
	}
	for _, c := range cases {
		if _, err := EncodeRecord(c.r, 4096, 0); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, n := range []int{0, 4095, 4097, 8192} {
		if _, _, err := DecodeRecord(make([]byte, n)); err == nil {
			t.Errorf("len %d: no error", n)
		}
	}
}

func TestPathCGIObject(t *testing.T) {
	cases := []struct {
		name              string
		r                 Request
		path, cgi, object string
	}{
		{"plain", Request{LFN: "/a/b"}, "/a/b", "", "/a/b"},
		{"frm cgi", Request{LFN: "/a/b\x00x=1", Opaque: 5}, "/a/b", "x=1", "/a/b"},
		{"xfragent 5.5.3 cgi", Request{LFN: "/a/b?x=1", Opaque: 5}, "/a/b", "x=1", "/a/b"},
		{"bare ?", Request{LFN: "/a/b", Opaque: 5}, "/a/b", "", "/a/b"},
		{"url", Request{LFN: "root://h.ex//u/v", LFO: 12}, "/u/v", "", "root://h.ex//u/v"},
		{"url cgi 5.5.3", Request{LFN: "root://h.ex//u/v?c=d", LFO: 12, Opaque: 17}, "/u/v", "c=d", "root://h.ex//u/v"},
		{"url cgi frm", Request{LFN: "root://h.ex//u/v\x00c=d", LFO: 12, Opaque: 17}, "/u/v", "c=d", "root://h.ex//u/v"},
		{"tombstone", Request{LFN: "\x00a/b"}, "", "", ""},
		{"bad offsets", Request{LFN: "/a", LFO: 100, Opaque: 200}, "", "", "/a"},
	}
	for _, c := range cases {
		if p := c.r.Path(); p != c.path {
			t.Errorf("%s: Path = %q want %q", c.name, p, c.path)
		}
		if g := c.r.CGI(); g != c.cgi {
			t.Errorf("%s: CGI = %q want %q", c.name, g, c.cgi)
		}
		if o := c.r.Object(); o != c.object {
			t.Errorf("%s: Object = %q want %q", c.name, o, c.object)
		}
	}
}

func TestSplitObject(t *testing.T) {
	cases := []struct {
		in          string
		lfn         string
		lfo, opaque int16
		err         string
	}{
		{"/a/b", "/a/b", 0, 0, ""},
		{"/a/b?x=1", "/a/b\x00x=1", 0, 5, ""},
		{"/a/b?", "/a/b", 0, 5, ""},
		{"root://host.example//x/y.dat", "root://host.example//x/y.dat", 20, 0, ""},
		{"root://h///x", "root://h///x", 10, 0, ""},
		{"root://h//x?a://b//c", "root://h//x\x00a://b//c", 9, 12, ""},
		{"bad", "", 0, 0, "Invalid url - bad"},
		{"root://h/x", "", 0, 0, "Invalid url - root://h/x"},
		{"x?a://b//c", "", 0, 0, "Invalid url - x?a://b//c"},
		{"root:/h//x", "", 0, 0, "Invalid url - root:/h//x"},
		{"/" + strings.Repeat("a", MaxLFN), "", 0, 0, "Path too long - /"},
	}
	for _, c := range cases {
		lfn, lfo, op, err := SplitObject(c.in)
		if c.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), c.err) {
				t.Errorf("%q: err %v want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || lfn != c.lfn || lfo != c.lfo || op != c.opaque {
			t.Errorf("%q: got %q %d %d %v want %q %d %d", c.in, lfn, lfo, op, err, c.lfn, c.lfo, c.opaque)
		}
	}
}
