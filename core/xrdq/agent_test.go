package xrdq

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestParseAgentLine(t *testing.T) {
	cases := []struct {
		line string
		want AgentCmd
		err  string
	}{
		{"", AgentCmd{Type: CmdNone}, ""},
		{"   \n", AgentCmd{Type: CmdNone}, ""},
		{"+ req1 - 0 r /stg/new1.dat\n", AgentCmd{Type: CmdAdd, Op: '+', Token: "+", ReqID: "req1", Notify: "-", Prty: 0, Mode: "r",
			Paths: []string{"/stg/new1.dat"}, Kinds: []Kind{Stage}}, ""},
		{"<me@host  r2 file:///n 1 wfn /a /b?x=1 root://h//c", AgentCmd{Type: CmdAdd, Op: '<', Token: "<me@host", TID: "me@host", ReqID: "r2",
			Notify: "file:///n", Prty: 1, Mode: "wfn", Paths: []string{"/a", "/b?x=1", "root://h//c"}, Kinds: []Kind{Get}}, ""},
		{"> r - 5 r /a", AgentCmd{Type: CmdAdd, Op: '>', Token: ">", ReqID: "r", Notify: "-", Prty: 2, Mode: "r", Paths: []string{"/a"}, Kinds: []Kind{Put}}, ""},
		{"= r - -1 r /a", AgentCmd{Type: CmdAdd, Op: '=', Token: "=", ReqID: "r", Notify: "-", Prty: 0, Mode: "r", Paths: []string{"/a"}, Kinds: []Kind{Put}}, ""},
		{"& r - x r /a", AgentCmd{Type: CmdAdd, Op: '&', Token: "&", ReqID: "r", Notify: "-", Prty: 0, Mode: "r", Paths: []string{"/a"}, Kinds: []Kind{Migrate}}, ""},
		{"^ r - 1x r /a", AgentCmd{Type: CmdAdd, Op: '^', Token: "^", ReqID: "r", Notify: "-", Prty: 1, Mode: "r", Paths: []string{"/a"}, Kinds: []Kind{Migrate}}, ""},
		{"+", AgentCmd{}, "request id missing in '+' request."},
		{"< r", AgentCmd{}, "notify path missing in '<' request."},
		{"> r -", AgentCmd{}, "priority missing in '>' request."},
		{"& r - 0", AgentCmd{}, "mode missing in '&' request."},
		{"= r - 0 w", AgentCmd{}, "path missing in '=' request."},
		{"-req7", AgentCmd{Type: CmdCancel, Op: '-', Token: "-req7", ReqID: "req7", Kinds: []Kind{Stage, Get}}, ""},
		{"-  req2 extra", AgentCmd{Type: CmdCancel, Op: '-', Token: "-", ReqID: "req2", Kinds: []Kind{Stage, Get}}, ""},
		{"~req3", AgentCmd{Type: CmdCancel, Op: '~', Token: "~req3", ReqID: "req3", Kinds: []Kind{Migrate, Put}}, ""},
		{"~ req4", AgentCmd{Type: CmdCancel, Op: '~', Token: "~", ReqID: "req4", Kinds: []Kind{Migrate, Put}}, ""},
		{"-", AgentCmd{}, "request id missing in cancel request."},
		{"?", AgentCmd{Type: CmdList, Op: '?', Token: "?", Kinds: []Kind{Stage, Get}}, ""},
		{"?+< lfn bogus prty rid tod", AgentCmd{Type: CmdList, Op: '?', Token: "?+<", Kinds: []Kind{Stage, Get},
			Vars: []string{"lfn", "prty", "rid", "tod"}}, ""},
		{"?>=&^x+", AgentCmd{Type: CmdList, Op: '?', Token: "?>=&^x+", Kinds: []Kind{Put, Put, Migrate, Migrate, Stage}}, ""},
		{"?x", AgentCmd{Type: CmdList, Op: '?', Token: "?x"}, ""},
		{"?" + strings.Repeat(" lfn", 14), AgentCmd{Type: CmdList, Op: '?', Token: "?", Kinds: []Kind{Stage, Get},
			Vars: strings.Fields(strings.Repeat(" lfn", 12))}, ""},
		{"!", AgentCmd{Type: CmdWake, Op: '!', Token: "!"}, ""},
		{"!+<", AgentCmd{Type: CmdWake, Op: '!', Token: "!+<", Kinds: []Kind{Stage, Get}}, ""},
		{"bogus", AgentCmd{}, "Invalid request, ' bogus '."},
		{"* x", AgentCmd{}, "Invalid request, ' * '."},
		// A TAB is not a separator (XrdOucStream): "+\treq3" is the op token.
		{"+\treq3 - 0 r /tab", AgentCmd{}, "path missing in '+' request."},
	}
	for _, c := range cases {
		got, err := ParseAgentLine(c.line)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("%q: err %v, want %q", c.line, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.line, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", c.line, got, c.want)
		}
	}
}

func TestParseAgentLineBadPaths(t *testing.T) {
	cmd, err := ParseAgentLine("= req2 file:///x 1 wf /p/a?x=1 bad root://h.ex//u/v?c=d x?a://b//c")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/p/a?x=1", "root://h.ex//u/v?c=d"}; !reflect.DeepEqual(cmd.Paths, want) {
		t.Errorf("paths %v", cmd.Paths)
	}
	var msgs []string
	for _, e := range cmd.PathErrors {
		msgs = append(msgs, e.Error())
	}
	if want := []string{"Invalid url - bad", "Invalid url - x?a://b//c"}; !reflect.DeepEqual(msgs, want) {
		t.Errorf("path errors %q", msgs)
	}
}

func TestAtoiPrty(t *testing.T) {
	cases := map[string]int{
		"0": 0, "1": 1, "2": 2, "3": 2, "5": 2, "-1": 0, "+1": 1, "x": 0, "": 0, "1x": 1,
		"127": 2, "128": 0, "255": 0, "256": 0, "257": 1, "258": 2, "4294967297": 1,
		"99999999999999999999999":  0, // LONG_MAX -> int -1 -> char -1 -> 0
		"-99999999999999999999999": 0,
	}
	for in, want := range cases {
		if got := atoiPrty(in); got != want {
			t.Errorf("atoiPrty(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestModeOptions(t *testing.T) {
	cases := []struct {
		notify, mode string
		want         Options
	}{
		{"-", "r", 0},
		{"-", "wfsn", ReadWrite},
		{"-x", "f", 0},
		{"file:///n", "r", NotifyFail},
		{"file:///n", "q", 0},
		{"file:///n", "qf", NotifyFail},
		{"file:///n", "s", NotifySucc | NotifyFail},
		{"file:///n", "nq", NotifySucc},
		{"udp://h:1/m", "wqn", ReadWrite | NotifySucc},
		{"", "r", NotifyFail},
	}
	for _, c := range cases {
		if got := ModeOptions(c.notify, c.mode); got != c.want {
			t.Errorf("ModeOptions(%q, %q) = %#x, want %#x", c.notify, c.mode, got, c.want)
		}
	}
}

func TestBuildRequest(t *testing.T) {
	now := time.Unix(1795329464, 0)
	parse := func(line string) AgentCmd {
		c, err := ParseAgentLine(line)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cases := []struct {
		line, path, inst string
		want             Request
	}{
		{"+ req1 - 0 r /stg/new1.dat", "/stg/new1.dat", "",
			Request{LFN: "/stg/new1.dat", User: "frm_xfragent", ID: "req1", Notify: "-", Instance: "anon", Added: 1795329464, Op: '+'}},
		{"=me r2 file:///x 1 wf /p/a?x=1", "/p/a?x=1", "inst1",
			Request{LFN: "/p/a\x00x=1", User: "me", ID: "r2", Notify: "file:///x", Instance: "inst1", Added: 1795329464,
				Options: Purge | ReadWrite | NotifyFail, Opaque: 5, Op: '=', Priority: 1}},
		{"^ r3 udp://h:9/m 9 qs root://h.ex//u/v?c=d", "root://h.ex//u/v?c=d", "default",
			Request{LFN: "root://h.ex//u/v\x00c=d", User: "frm_xfragent", ID: "r3", Notify: "udp://h:9/m", Instance: "anon",
				Added: 1795329464, Options: Purge | NotifySucc, LFO: 12, Opaque: 17, Op: '^', Priority: 2}},
		{"& r4 - 0 w /m?", "/m?", "anon",
			Request{LFN: "/m", User: "frm_xfragent", ID: "r4", Notify: "-", Instance: "anon", Added: 1795329464,
				Options: ReadWrite, Opaque: 3, Op: '&'}},
		{"<" + strings.Repeat("t", 300) + " " + strings.Repeat("i", 50) + " - 0 r /x", "/x", strings.Repeat("n", 40),
			Request{LFN: "/x", User: strings.Repeat("t", 255), ID: strings.Repeat("i", 39), Notify: "-",
				Instance: strings.Repeat("n", 31), Added: 1795329464, Op: '<'}},
	}
	for _, c := range cases {
		got := BuildRequest(parse(c.line), c.path, c.inst, now)
		if got != c.want {
			t.Errorf("%q:\n got %+v\nwant %+v", c.line, got, c.want)
		}
		if _, err := EncodeRecord(got, 4096, 0); err != nil {
			t.Errorf("%q: %v", c.line, err)
		}
	}
	r := BuildRequest(parse("+ r - 0 r /p?a=1&b=2"), "/p?a=1&b=2", "", now)
	if r.Path() != "/p" || r.CGI() != "a=1&b=2" {
		t.Errorf("Path %q CGI %q", r.Path(), r.CGI())
	}
}

func ExampleParseAgentLine() {
	cmd, _ := ParseAgentLine("+ req1 - 0 r /stg/new1.dat?oss.cgroup=fast")
	r := BuildRequest(cmd, cmd.Paths[0], "", time.Unix(1795329464, 0))
	s, _ := FormatVars(r, []string{"lfn", "lfncgi", "prty", "rid", "tod"}, time.Now())
	fmt.Printf("%q\n", s)
	// Output: "/stg/new1.dat /stg/new1.dat?oss.cgroup=fast 0 req1 1795329464 "
}

// TestParseAgentLineRefusesNUL: a line holding a NUL byte is refused
// whole. frm_xfragent reads it as a C string and queues the name cut at
// the NUL ("/stg/nul\x00.dat" becomes "/stg/nul", another file).
func TestParseAgentLineRefusesNUL(t *testing.T) {
	for _, line := range []string{"+ r1 - 0 r /stg/nul\x00.dat", "+ r1 - 0 r /stg/a\x00", "-r\x00x", "\x00", "?+ lfn\x00"} {
		cmd, err := ParseAgentLine(line)
		if err == nil || !strings.Contains(err.Error(), "NUL") {
			t.Errorf("%q: err %v, cmd %+v", line, err, cmd)
		}
		if len(cmd.Paths) != 0 || cmd.Type != CmdNone {
			t.Errorf("%q: a refused line still has work: %+v", line, cmd)
		}
	}
}

// TestParseAgentLineRefusesEscapingNames: names that climb above the root
// (the daemon's names.Clean refuses them) or have an over-long component
// are path errors at intake, like invalid URLs; the line's other paths
// stay. ".." inside the root is canonicalised by the daemon and accepted.
func TestParseAgentLineRefusesEscapingNames(t *testing.T) {
	long := "/s/" + strings.Repeat("c", 256)
	cmd, err := ParseAgentLine("+ r - 0 r /a/../../etc /ok /../x root://h//a/../../x root://h//a/../b?x=/../.. /a/.. " + long)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/ok", "root://h//a/../b?x=/../..", "/a/.."}; !reflect.DeepEqual(cmd.Paths, want) {
		t.Errorf("paths %q, want %q", cmd.Paths, want)
	}
	var msgs []string
	for _, e := range cmd.PathErrors {
		msgs = append(msgs, e.Error())
	}
	want := []string{
		`invalid lfn "/a/../../etc": climbs above the namespace root with ..`,
		`invalid lfn "/../x": climbs above the namespace root with ..`,
		`invalid lfn "root://h//a/../../x": climbs above the namespace root with ..`,
		`invalid lfn "` + long + `": path component too long`,
	}
	if !reflect.DeepEqual(msgs, want) {
		t.Errorf("path errors:\n%q\nwant\n%q", msgs, want)
	}
}

// TestAgentReader: lines come back without their newline, numbered from
// 1; a line over the limit is skipped to its newline and reported with its
// number and length, and reading goes on; the last line needs no newline;
// a read error ends the input without returning the line it cut.
func TestAgentReader(t *testing.T) {
	type got struct {
		line string
		num  int
		err  string
	}
	read := func(r io.Reader, max int) []got {
		ar := NewAgentReader(r, max)
		var out []got
		for {
			line, num, err := ar.Next()
			if err == io.EOF {
				return out
			}
			g := got{line, num, ""}
			if err != nil {
				g.err = err.Error()
			}
			out = append(out, g)
			var tl *LineTooLongError
			if err != nil && !errors.As(err, &tl) {
				return out
			}
		}
	}
	cases := []struct {
		in   string
		want []got
	}{
		{"", nil},
		{"\n", []got{{"", 1, ""}}},
		{"a\nbb\n\nccc", []got{{"a", 1, ""}, {"bb", 2, ""}, {"", 3, ""}, {"ccc", 4, ""}}},
		{"12345\n123456\nx\n1234567", []got{{"12345", 1, ""}, {"", 2, "request line too long (6 bytes, at most 5): \"12345...\""},
			{"x", 3, ""}, {"", 4, "request line too long (7 bytes, at most 5): \"12345...\""}}},
		{strings.Repeat("y", 100) + "\nz\n", []got{{"", 1, "request line too long (100 bytes, at most 5): \"yyyyy...\""}, {"z", 2, ""}}},
	}
	for _, c := range cases {
		for _, r := range []io.Reader{strings.NewReader(c.in), iotest.OneByteReader(strings.NewReader(c.in))} {
			if g := read(r, 5); !reflect.DeepEqual(g, c.want) {
				t.Errorf("%q:\n got %+v\nwant %+v", c.in, g, c.want)
			}
		}
	}
	// A read error: the line it cut is not returned (it may name another
	// file), the error is, and nothing after it.
	r := io.MultiReader(strings.NewReader("a\nbcd"), iotest.ErrReader(errors.New("input/output error")))
	want := []got{{"a", 1, ""}, {"", 2, "input/output error"}}
	if g := read(r, 5); !reflect.DeepEqual(g, want) {
		t.Errorf("read error:\n got %+v\nwant %+v", g, want)
	}
	// The default limit is a mebibyte.
	long := strings.Repeat("p", MaxAgentLine)
	if g := read(strings.NewReader(long+"\n"+long+"q\n"), 0); len(g) != 2 || g[0].line != long || g[1].err == "" || g[1].num != 2 {
		t.Errorf("default limit: %d lines, second %q", len(g), g[len(g)-1].err)
	}
}
