package config

import (
	"bytes"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestUnknownFrmDirectivesWarn: a misspelled frm directive used to be
// dropped without a word unless frm admin -d; every one is now a warning
// in Config.Warnings (which every command shows), with the directive it
// probably meant. Valid xrootd that frm ignores is no warning.
func TestUnknownFrmDirectivesWarn(t *testing.T) {
	tests := []struct {
		name, cfg string
		want      []string // substrings of the warnings, in order; nil: none
	}{
		{"copymax misspelt", "frm.xfr.copymx 4\n", []string{"x.cf:1: ignoring unknown frm directive frm.xfr.copymx (did you mean frm.xfr.copymax?)", "x.cf: no directive frm reads"}},
		{"waittime misspelt", "all.export /a\nfrm.purge.waitime 60\n", []string{"x.cf:2: ignoring unknown frm directive frm.purge.waitime (did you mean frm.purge.waittime?)"}},
		{"2009 directive", "all.export /a\nfrm.pstg.xfrcmd /bin/cp\n", []string{"x.cf:2: ignoring unknown frm directive frm.pstg.xfrcmd"}},
		{"no suggestion when far", "all.export /a\nfrm.something.else 1\n", []string{"ignoring unknown frm directive frm.something.else"}},
		{"inactive branch", "all.export /a\nif nosuchhost.example\nfrm.xfr.qchek 10\nfi\n", []string{"x.cf:3: ignoring unknown frm directive frm.xfr.qchek (did you mean frm.xfr.qcheck?)"}},
		{"known ignored frm.all", "all.export /a\nfrm.all.cnsd auto\nfrm.all.monitor x\n", nil},
		{"valid frm", "all.export /a\nfrm.xfr.copymax 4\nfrm.purge.waittime 60\n", nil},
		{"other prefixes stay quiet", "all.export /a\noss.spce x /y\nxrd.port 1094\n", nil},
		{"nothing frm reads", "xrd.port 1094\ncms.space min 2g\n", []string{"x.cf: no directive frm reads"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var debug []string
			c, err := Parse([]byte(tc.cfg), "x.cf", "", func(m string) { debug = append(debug, m) })
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Warnings) != len(tc.want) {
				t.Fatalf("warnings %q, want %d like %q", c.Warnings, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(c.Warnings[i], w) {
					t.Errorf("warning %d = %q, want %q", i, c.Warnings[i], w)
				}
			}
			for _, d := range debug {
				if strings.Contains(d, "unknown frm directive") {
					t.Errorf("a warning went to the debug callback only: %q", d)
				}
			}
		})
	}
}

// TestEmptyConfigRefused: an empty file (or only comments) used to load
// as the defaults, and the daemon then failed with "mss: mss: no MSS
// configured" after taking its lock. It is refused at load, with what is
// missing, whatever the format.
func TestEmptyConfigRefused(t *testing.T) {
	for _, tc := range []struct{ name, content, want string }{
		{"frm.toml", "", "frm.toml: empty configuration: no [[export]] or [[space]] tables"},
		{"frm.toml", "# all commented out\n#site = \"x\"\n\n", "no [mss] or remote_root"},
		{"xrootd.cf", "\n   \n", "xrootd.cf: empty configuration: no all.export or oss.space directives"},
		{"xrootd.cf", "# nothing\n", "no oss.remoteroot or frm.xfr.copycmd"},
	} {
		p := writeFile(t, t.TempDir(), tc.name, tc.content)
		if c, err := Load(p, ""); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %q: %+v, %v; want %q", tc.name, tc.content, c, err, tc.want)
		}
	}
}

// TestConvertRefusesWhatIsNotXrootd: frm config convert of a TOML file or
// of /etc/hosts printed an empty default configuration and exited 0.
func TestConvertRefusesWhatIsNotXrootd(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ file, content, want string }{
		{"frm.toml", "local_root = \"/ns\"\n[[export]]\npath = \"/a\"\n", "is a TOML file, not an xrootd configuration"},
		{"hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n", "is not an xrootd configuration: no line is a directive"},
		{"words.cf", "hello world\n", "is not an xrootd configuration"},
		{"empty.cf", "", "empty configuration"},
		{"ok.cf", "all.export /a mig\n", ""},
		{"only-other.cf", "xrd.port 1094\n", ""},
	} {
		p := writeFile(t, dir, tc.file, tc.content)
		_, err := ConvertXrootd(p, "")
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.file, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", tc.file, err, tc.want)
		}
	}
	if f := DetectFormat([]byte("127.0.0.1 localhost\n"), "hosts"); f != FormatTOML {
		t.Errorf("an address was taken for an xrootd directive: %s", f)
	}
}

// TestEffective: frm config show printed lease = "0s" and max_conns = 0
// instead of the values in use; Effective resolves them, is idempotent,
// and survives WriteTOML and a reload.
func TestEffective(t *testing.T) {
	c, err := Parse([]byte("[[export]]\npath = \"/a\"\n[mss]\nbackend = \"s3\"\n[mss.s3]\nbucket = \"b\"\n"), "e.toml", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	e := c.Effective()
	for _, ch := range []struct {
		name      string
		got, want any
	}{
		{"max_conns", e.Catalog.MaxConns, DefaultMaxConns()},
		{"lease", e.Catalog.Lease, Duration(60 * time.Second)},
		{"scan_interval", e.Catalog.ScanInterval, Duration(time.Minute)},
		{"scrub.interval", e.Scrub.Interval, Duration(24 * time.Hour)},
		{"scrub.readers", e.Scrub.Readers, 1},
		{"part_size", e.MSS.S3.PartSize, Size(64 << 20)},
		{"statement_timeout stays none", e.Catalog.StatementTimeout, Duration(0)},
		{"scrub.rate stays absent", e.Scrub.Rate, (*Rate)(nil)},
		{"original untouched", c.Catalog.Lease, Duration(0)},
	} {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	if DefaultMaxConns() < 4 {
		t.Errorf("DefaultMaxConns = %d", DefaultMaxConns())
	}
	var buf bytes.Buffer
	if err := e.WriteTOML(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`lease = "1m"`, `scan_interval = "1m"`, `interval = "1d"`, `part_size = "64m"`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("WriteTOML of Effective lacks %s:\n%s", want, buf.String())
		}
	}
	p := writeFile(t, t.TempDir(), "back.toml", buf.String())
	back, err := Load(p, "")
	if err != nil {
		t.Fatal(err)
	}
	a, b := *e, *back.Effective()
	a.Source, b.Source, a.Format, b.Format = "", "", "", ""
	if !reflect.DeepEqual(a, b) {
		t.Errorf("Effective not stable through WriteTOML:\n%+v\n%+v", a, b)
	}
	// The posix backend has no part size to show.
	c2, _ := Parse([]byte("remote_root = \"/m\"\n"), filepath.Join("x", "p.toml"), "", nil)
	if ps := c2.Effective().MSS.S3.PartSize; ps != 0 {
		t.Errorf("posix part_size = %v", ps)
	}
}
