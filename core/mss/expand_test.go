package mss

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestExpandArgs(t *testing.T) {
	req := Request{
		LFN: "/stg/new1.dat", RFN: "/mss/stg/new1.dat", PFN: "/ns/stg/new1.dat",
		RID: "rq1", TID: "tidX", Priority: 10, Mode: 'w',
		CGI: "foo=FOOVAL&bar=BARVAL&oss.cgroup=public&empty=&flag&foo=second",
	}
	v := newCopyVars(req, "/mss/stg/new1.dat", "/ns/stg/new1.dat.anew", "/ns/stg/new1.dat.anew")
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"$SRC", "/mss/stg/new1.dat"},
		{"$DST", "/ns/stg/new1.dat.anew"},
		{"$PFN", "/ns/stg/new1.dat.anew"},
		{"$LFN", "/stg/new1.dat"},
		{"$RFN", "/mss/stg/new1.dat"},
		{"$RID/$TID", "rq1/tidX"},
		{"$PRTY", "10"},
		{"$FMODE", "12"}, // octal, as xrootd
		{"$OFLAG", "w"},
		{"$OPTS $MDP", "0 0"},
		{"$CGI", "&foo=FOOVAL&bar=BARVAL&oss.cgroup=public&empty=&flag&foo=second"},
		{"$foo", "FOOVAL"}, // the first value wins
		{"$bar-$foo", "BARVAL-FOOVAL"},
		{"$oss.cgroup", "public"}, // '.' is a name character
		{"$empty|", "|"},
		{"$flag|", "|"},
		{"$missing", "$missing"}, // unknown: left as is
		{"$USER", "$USER"},
		{"$SRC.tmp", "$SRC.tmp"}, // the name is "SRC.tmp"
		{`\$SRC`, "$SRC"},
		{`\\$SRC`, `\$SRC`}, // only "\$" is special: "\" then "\$"
		{`a\b`, `a\b`},
		{`trailing\`, `trailing\`},
		{"$", "$"},
		{"$$", "$$"},
		{"$ SRC", "$ SRC"},
		{"$-x", "$-x"},
		{"$(id)", "$(id)"},
		{"${SRC}", "${SRC}"},
		{"pre$SRC/post", "pre/mss/stg/new1.dat/post"},
		{"$SRC$DST", "/mss/stg/new1.dat/ns/stg/new1.dat.anew"},
		{"$1 $0 $9x", "$1 $0 $9x"}, // never CGI, even if such keys exist
		{"$src", "$src"},           // names are case sensitive
	} {
		got := expandArgs([]string{tc.in}, v.lookup)
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("expand(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestExpandNoRescan: substituted values are literal, whatever they
// contain, and built-ins cannot be overridden through the CGI.
func TestExpandNoRescan(t *testing.T) {
	evil := `/a b/'q"$(touch x);rm -rf /*` + "`id`" + `$DST\$SRC`
	req := Request{LFN: evil, RFN: "/mss" + evil, CGI: "SRC=hijack&1=hijack&0=hijack&x=$DST"}
	v := newCopyVars(req, req.RFN, "/local/dst", "/local/dst")
	argv := []string{"/bin/sh", "-c", `cp "$0" "$1" # $x`, "$SRC", "$DST", "$LFN", "$x"}
	got := expandArgs(argv, v.lookup)
	want := []string{"/bin/sh", "-c", `cp "$0" "$1" # $DST`, "/mss" + evil, "/local/dst", evil, "$DST"}
	if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if argv[3] != "$SRC" {
		t.Errorf("expandArgs modified its input")
	}
}

func TestParseCGI(t *testing.T) {
	for _, tc := range []struct{ in, render string }{
		{"", ""},
		{"a=1", "&a=1"},
		{"?a=1&b=2", "&a=1&b=2"},
		{"&&a=1&&b=2&", "&a=1&b=2"},
		{"a=%20x+y", "&a=%20x+y"}, // not decoded
		{"k", "&k"},
	} {
		if got := renderCGI(parseCGI(tc.in)); got != tc.render {
			t.Errorf("renderCGI(parseCGI(%q)) = %q, want %q", tc.in, got, tc.render)
		}
	}
}

func TestOflagDefault(t *testing.T) {
	v := newCopyVars(Request{}, "s", "d", "p")
	if s, _ := v.lookup("OFLAG"); s != "r" {
		t.Errorf("OFLAG = %q, want r", s)
	}
}

func TestTailBuffer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		writes []string
		max    int
		want   string
	}{
		{"empty", nil, 8, ""},
		{"fits", []string{"abc", "def"}, 8, "abcdef"},
		{"exact", []string{"abcd", "efgh"}, 8, "abcdefgh"},
		{"drops oldest", []string{"abcd", "efgh", "ij"}, 8, "…cdefghij"},
		{"one big write", []string{"0123456789"}, 8, "…23456789"},
		{"big after small", []string{"ab", "0123456789"}, 8, "…23456789"},
		{"trimmed", []string{"  err\n"}, 8, "err"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &tailBuffer{max: tc.max}
			for _, w := range tc.writes {
				if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if got := b.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}

// FuzzExpand: expansion never panics, keeps the element count, leaves
// text without '$' alone, and with no variables known only removes the
// backslashes of "\$".
func FuzzExpand(f *testing.F) {
	for _, s := range []string{"", "$SRC", `\$SRC`, "$", `\`, "$a.b.c$", "a$1b", "$CGI&x", "$(x)$foo"} {
		f.Add(s, "a b", "foo=1&bar=$SRC")
	}
	f.Fuzz(func(t *testing.T, arg, lfn, cgi string) {
		v := newCopyVars(Request{LFN: lfn, CGI: cgi}, "src", "dst", "pfn")
		in := []string{arg, lfn, arg + "$LFN" + arg}
		out := expandArgs(in, v.lookup)
		if len(out) != len(in) {
			t.Fatalf("expandArgs: %d elements in, %d out", len(in), len(out))
		}
		if !strings.Contains(arg, "$") && out[0] != arg {
			t.Errorf("expand(%q) = %q, want it unchanged", arg, out[0])
		}
		none := expandArgs([]string{arg}, func(string) (string, bool) { return "", false })
		if want := strings.ReplaceAll(arg, `\$`, "$"); none[0] != want {
			t.Errorf("expand(%q) with no variables = %q, want %q", arg, none[0], want)
		}
		if utf8.ValidString(arg) && utf8.ValidString(lfn) && utf8.ValidString(cgi) && !utf8.ValidString(out[2]) {
			t.Errorf("expand produced invalid UTF-8 from valid input")
		}
	})
}
