package xrdq

import (
	"strings"
	"testing"
	"time"
)

func FuzzDecodeRecord(f *testing.F) {
	seed := func(r Request) {
		b, err := EncodeRecord(r, 4096, 8192)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:])
	}
	seed(Request{})
	seed(Request{LFN: "/stg/new1.dat", User: "frm_xfragent", ID: "req1", Notify: "-", Instance: "anon", Added: 1, Op: '+'})
	seed(Request{LFN: "root://h.ex//u/v?c=d", LFO: 12, Opaque: 17, Op: '<', Options: 0x25, Priority: 2, Added: 1})
	seed(Request{LFN: "/p/a\x00x=1", Opaque: 5, Op: '=', Added: 1})
	f.Add([]byte("short"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < RecordSize {
			b = append(b, make([]byte, RecordSize-len(b))...)
		}
		b = b[:RecordSize]
		r, next, err := DecodeRecord(b)
		if err != nil {
			t.Fatal(err)
		}
		_, _, _ = r.Path(), r.CGI(), r.Object()
		_ = r.Live()
		all := strings.Fields("lfn lfncgi obj objcgi mode note op prty qwt rid tid tod")
		if _, err := FormatVars(r, all, time.Unix(0, 0)); err != nil {
			t.Fatal(err)
		}
		FormatVars(r, nil, time.Unix(0, 0))
		enc, err := EncodeRecord(r, r.Offset, next)
		if err != nil {
			return // fields that do not fit (no NUL) or bad offsets
		}
		r2, next2, err := DecodeRecord(enc[:])
		if err != nil || r2 != r || next2 != next {
			t.Fatalf("decode/encode/decode not stable:\n%+v\n%+v", r, r2)
		}
	})
}

func FuzzParseAgentLine(f *testing.F) {
	for _, s := range []string{
		"+ req1 - 0 r /stg/new1.dat",
		"<me r2 file:///x 1 wfn /g/a?x=1 root://h.ex//u/v?c=d bad",
		"= r3 - 7 w /p/b", "-r7", "- r7", "~ r", "?+< lfn prty", "!+", "bogus", "",
		"^ r - 99999999999999999999 qs x?a://b//c", "& a b c d :////",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		cmd, err := ParseAgentLine(line)
		if err != nil || cmd.Type != CmdAdd {
			return
		}
		if cmd.Prty < 0 || cmd.Prty > MaxPriority {
			t.Fatalf("priority %d", cmd.Prty)
		}
		for _, p := range cmd.Paths {
			r := BuildRequest(cmd, p, "inst", time.Unix(1, 0))
			if _, err := EncodeRecord(r, 4096, 0); err != nil {
				t.Fatalf("valid path %q gives an unencodable request: %v", p, err)
			}
			obj, _, _ := strings.Cut(p, "?")
			if r.Object() != obj {
				t.Fatalf("%q: Object %q", p, r.Object())
			}
		}
	})
}
