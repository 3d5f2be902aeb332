package xrdq

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"frm/core/names"
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
		"+ r - 0 r /a/../../x /ok root://h//../y /n\x00ul", "+ r - 0 r /a/./../b?c=/../..",
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
			// What is queued is what the daemon will take: no NUL cuts
			// the name, and the path part is a name it accepts.
			if strings.IndexByte(p, 0) >= 0 {
				t.Fatalf("path %q with a NUL accepted", p)
			}
			if _, err := names.Clean(r.Path()); err != nil {
				t.Fatalf("path %q accepted, the daemon refuses it: %v", p, err)
			}
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

// FuzzAgentReader: the agent's line intake returns every line of its
// input in order, numbered from 1, each at most the limit long; a longer
// one is reported (with its length) instead, never cut, and reading goes
// on; however the input arrives in pieces.
func FuzzAgentReader(f *testing.F) {
	f.Add([]byte("+ r1 - 0 r /a\n+ r2 - 0 r /b"), uint8(8), false)
	f.Add([]byte("\n\n123456789\nx"), uint8(4), true)
	f.Add([]byte(strings.Repeat("y", 300)+"\nz\n"), uint8(20), false)
	f.Fuzz(func(t *testing.T, data []byte, max uint8, oneByte bool) {
		limit := int(max)%64 + 1
		var r io.Reader = bytes.NewReader(data)
		if oneByte {
			r = iotest.OneByteReader(r)
		}
		want := strings.Split(string(data), "\n")
		if strings.HasSuffix(string(data), "\n") || len(data) == 0 {
			want = want[:len(want)-1]
		}
		ar := NewAgentReader(r, limit)
		for i := 0; ; i++ {
			line, num, err := ar.Next()
			if err == io.EOF {
				if i != len(want) {
					t.Fatalf("EOF after %d lines, want %d", i, len(want))
				}
				if _, _, err := ar.Next(); err != io.EOF {
					t.Fatalf("after EOF: %v", err)
				}
				return
			}
			if i >= len(want) || num != i+1 {
				t.Fatalf("line %d numbered %d; %d lines in the input", i+1, num, len(want))
			}
			var tl *LineTooLongError
			switch {
			case len(want[i]) > limit:
				if !errors.As(err, &tl) || tl.Len != int64(len(want[i])) || line != "" || !strings.HasPrefix(want[i], tl.Prefix) {
					t.Fatalf("line %d (%d bytes, limit %d): %q, %v", num, len(want[i]), limit, line, err)
				}
			case err != nil || line != want[i]:
				t.Fatalf("line %d: %q, %v; want %q", num, line, err, want[i])
			}
		}
	})
}
