package xrdq

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseXfrqArgs(t *testing.T) {
	all := []Kind{Get, Migrate, Stage, Put}
	cases := []struct {
		args  string
		kinds []Kind
		prty  int
		vars  []string
		err   string
	}{
		{"", all, -1, []string{"lfn"}, ""},
		{"all", all, -1, []string{"lfn"}, ""},
		{"stage put get", []Kind{Get, Stage, Put}, -1, []string{"lfn"}, ""},
		{"migrate migr stage stage", []Kind{Migrate, Stage}, -1, []string{"lfn"}, ""},
		{"get migr put stage lfn lfncgi obj objcgi op mode note prty rid tid", all, -1,
			[]string{"lfn", "lfncgi", "obj", "objcgi", "op", "mode", "note", "prty", "rid", "tid"}, ""},
		{"0", all, 0, []string{"lfn"}, ""},
		{"put 2 rid", []Kind{Put}, 2, []string{"rid"}, ""},
		{"stage 3", nil, 0, nil, "Invalid xfrq priority - 3"},
		{"stage 9 lfn", nil, 0, nil, "Invalid xfrq priority - 9"},
		{"stage 1 2", nil, 0, nil, "Invalid xfrq variable - 2"},
		{"bad", nil, 0, nil, "Invalid xfrq variable - bad"},
		{"lfn stage", nil, 0, nil, "Invalid xfrq variable - stage"},
		{"-1", nil, 0, nil, "Invalid xfrq variable - -1"},
		{"12", nil, 0, nil, "Invalid xfrq variable - 12"},
		{strings.Repeat("lfn ", 12), all, -1, strings.Fields(strings.Repeat("lfn ", 12)), ""},
		{strings.Repeat("lfn ", 12) + "tod", nil, 0, nil, "Too many xfrq variables starting at tod"},
	}
	for _, c := range cases {
		kinds, prty, vars, err := ParseXfrqArgs(strings.Fields(c.args))
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("%q: err %v want %q", c.args, err, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(kinds, c.kinds) || prty != c.prty || !reflect.DeepEqual(vars, c.vars) {
			t.Errorf("%q: got %v %d %v %v", c.args, kinds, prty, vars, err)
		}
	}
}

func TestFormatVars(t *testing.T) {
	now := time.Unix(1795329500, 0)
	urlReq := Request{LFN: "root://host.example//x/y.dat", LFO: 20, User: "frm_xfragent", ID: "req4", Notify: "-",
		Op: '<', Added: 1795329464}
	putReq := Request{LFN: "/mig/m_cpy_ok.dat", User: "frm_xfragent", ID: "req5", Notify: "file:///srv/frmsite-notify",
		Op: '>', Priority: 2, Options: NotifyFail | NotifySucc, Added: 1795329464}
	sampleVars := strings.Fields("lfn lfncgi obj objcgi op mode note prty rid tid")
	cases := []struct {
		name string
		r    Request
		vars []string
		want string
	}{
		// The two lines of the reference's query xfrq sample (Q03-Q10).
		{"sample url", urlReq, sampleVars,
			"/x/y.dat /x/y.dat? root://host.example//x/y.dat root://host.example//x/y.dat? < r - 0 req4 frm_xfragent "},
		{"sample put", putReq, sampleVars,
			"/mig/m_cpy_ok.dat /mig/m_cpy_ok.dat? /mig/m_cpy_ok.dat /mig/m_cpy_ok.dat? > rfn file:///srv/frmsite-notify 2 req5 frm_xfragent "},
		// The agent sample (Q01).
		{"agent sample", Request{LFN: "/stg/new1.dat", ID: "req1", Added: 1795329464, Op: '+'}, []string{"lfn", "prty", "rid", "tod"},
			"/stg/new1.dat 0 req1 1795329464 "},
		{"qwt tod", urlReq, []string{"qwt", "tod"}, "36 1795329464 "},
		{"mode wfn", Request{Options: ReadWrite | NotifyFail | NotifySucc | Purge}, []string{"mode"}, "wfn "},
		{"mode n", Request{Options: NotifySucc}, []string{"mode"}, "rn "},
		{"prty odd", Request{Priority: -4}, []string{"prty"}, "0 "},
		// frm's layout: cgi after a NUL.
		{"frm cgi", Request{LFN: "/p/a\x00x=1", Opaque: 5}, []string{"lfn", "lfncgi", "obj", "objcgi"},
			"/p/a /p/a?x=1 /p/a /p/a?x=1 "},
		{"frm url cgi", Request{LFN: "root://h.ex//u/v\x00c=d", LFO: 12, Opaque: 17}, []string{"lfn", "lfncgi", "obj", "objcgi"},
			"/u/v /u/v?c=d root://h.ex//u/v root://h.ex//u/v?c=d "},
		// frm_xfragent 5.5.3 layout: cgi kept in the LFN, lfncgi gets a second '?'.
		{"5.5.3 cgi", Request{LFN: "/p/a?x=1", Opaque: 5}, []string{"lfn", "lfncgi", "obj", "objcgi"},
			"/p/a?x=1 /p/a?x=1? /p/a?x=1 /p/a?x=1? "},
		{"5.5.3 url cgi", Request{LFN: "root://h.ex//u/v?c=d", LFO: 12, Opaque: 17}, []string{"lfn", "objcgi", "lfncgi"},
			"/u/v?c=d root://h.ex//u/v?c=d? /u/v?c=d? "},
		{"no vars: raw LFN", Request{LFN: "root://h.ex//u/v?c=d", LFO: 12, Opaque: 17}, nil, "root://h.ex//u/v?c=d"},
		{"no vars: frm cgi", Request{LFN: "/p/a\x00x=1", Opaque: 5}, nil, "/p/a"},
		{"op NUL ends line", Request{ID: "r"}, []string{"rid", "op", "rid"}, "r "},
		// 8190-byte buffer: the third lfn is cut.
		{"truncation", Request{LFN: "/" + strings.Repeat("a", 3000)}, []string{"lfn", "lfn", "lfn"},
			"/" + strings.Repeat("a", 3000) + " /" + strings.Repeat("a", 3000) + " /" + strings.Repeat("a", 8190-1-2*3002-1)},
		{"exact fit", Request{LFN: "/" + strings.Repeat("a", 1999), User: strings.Repeat("t", 185)},
			[]string{"lfn", "lfn", "lfn", "lfn", "tid", "rid"},
			strings.Repeat("/"+strings.Repeat("a", 1999)+" ", 4) + strings.Repeat("t", 185) + " "},
		{"one over", Request{LFN: "/" + strings.Repeat("a", 1999), User: strings.Repeat("t", 186)},
			[]string{"lfn", "lfn", "lfn", "lfn", "tid", "rid"},
			strings.Repeat("/"+strings.Repeat("a", 1999)+" ", 4) + strings.Repeat("t", 185)},
	}
	for _, c := range cases {
		got, err := FormatVars(c.r, c.vars, now)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
	if _, err := FormatVars(urlReq, []string{"lfn", "bad"}, now); err == nil || err.Error() != "Invalid xfrq variable - bad" {
		t.Errorf("unknown var: %v", err)
	}
}
