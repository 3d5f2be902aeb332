package config

import (
	"bytes"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// checkReparse asserts that an accepted configuration survives WriteTOML
// and a TOML reparse unchanged.
func checkReparse(t *testing.T, c *Config) {
	var buf bytes.Buffer
	if err := c.WriteTOML(&buf); err != nil {
		t.Fatalf("WriteTOML: %v", err)
	}
	back, err := parseAs(FormatTOML, buf.Bytes(), "rt.toml", "", nil, false)
	if err != nil {
		t.Fatalf("reparse of WriteTOML output failed: %v\n%s", err, buf.String())
	}
	a, b := *c, *back
	a.Source, a.Format, b.Source, b.Format = "", "", "", ""
	a.Warnings, b.Warnings = nil, nil
	a.MSS.S3.SecretKey, b.MSS.S3.SecretKey = "", ""
	a.Catalog.DSN, b.Catalog.DSN = "", ""
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("reparse differs:\nbefore %+v\nafter  %+v\n%s", a, b, buf.String())
	}
}

func FuzzParseXrootd(f *testing.F) {
	f.Add([]byte(referenceSample), "")
	f.Add([]byte("if named a\nall.export /a mig\nelse if h*\nall.export /b purge\nelse\nfi\n"), "a")
	f.Add([]byte("set x = /y\noss.localroot $x\noss.defaults mig\nall.export /$(x)/z stage+ r/o\n"), "")
	f.Add([]byte("frm.purge.policy = sname |/bin/p a\nfrm.purge.policy * 5g polprog hold forever\nfrm.purge.policy d nopurge\n"), "")
	f.Add([]byte("frm.xfr.copycmd url out timeout 5 /bin/x $SRC\\\n $DST\nfrm.xfr.copymax split 1 0\nxrootd.chksum max 2 md5\n"), "")
	f.Add([]byte("oss.space s /a chkmount x nofail\noss.cache c /b xa\noss.usage log /u sync 3\noss.xfr deny 1h fdir /f\n"), "")
	f.Add([]byte("frm.xfr.qcheck 0\nfrm.purge.waittime 0\nfrm.xfr.migr.idlehold 0\nfrm.xfr.migr.waittime 0\nfrm.purge.dirhold 0\n"), "")
	f.Add([]byte("frm.xfr.qcheck 9223372036\nfrm.xfr.copymax split 9223372036854775807 9223372036854775807\n"), "")
	f.Fuzz(func(t *testing.T, data []byte, instance string) {
		c, err := parseAs(FormatXrootd, data, "fuzz.cf", instance, func(string) {}, false)
		if err != nil {
			return
		}
		checkIntervals(t, c)
		checkReparse(t, c)
	})
}

func FuzzParseTOML(f *testing.F) {
	f.Add([]byte(fullTOML), "")
	f.Add([]byte("[[purge.policy]]\nspace = \"x\"\nmin = \"5g\"\n"), "i")
	f.Add([]byte("remote_root = \"/m\"\n[transfer]\nqcheck = 5\n[migrate]\nidle_hold = \"1h30m\"\n"), "")
	f.Add([]byte("[[export]]\npath = \"/a/\"\nmig = true\n[mss.s3]\nsecret_key = \"k\"\n"), "")
	f.Add([]byte("[transfer]\nqcheck = 0\nretries = 99\n[migrate]\nidle_hold = 0\nwait_time = 0\n[purge]\nwait_time = \"1ns\"\n[catalog]\nlease = 0\n"), "")
	f.Fuzz(func(t *testing.T, data []byte, instance string) {
		c, err := parseAs(FormatTOML, data, "fuzz.toml", instance, nil, false)
		if err != nil {
			return
		}
		checkIntervals(t, c)
		checkReparse(t, c)
	})
}

// FuzzNumericKeys sets one duration, count or size key (numericKeys) to
// any value, in TOML and in an xrootd file: either it loads and the
// daemons can use it (checkIntervals), or the one error names the key.
func FuzzNumericKeys(f *testing.F) {
	for i, k := range numericKeys {
		for _, v := range k.ok {
			f.Add(uint8(i), v)
		}
		for v := range k.bad {
			f.Add(uint8(i), v)
		}
	}
	f.Fuzz(func(t *testing.T, i uint8, v string) {
		if strings.ContainsAny(v, "\n\r#\\") {
			return // one value, not more lines
		}
		k := numericKeys[int(i)%len(numericKeys)]
		for _, file := range k.files(v) {
			format := FormatTOML
			if file.name == "site.cf" {
				format = FormatXrootd
			}
			c, err := parseAs(format, []byte(file.data), file.name, "", nil, false)
			if err == nil {
				checkIntervals(t, c)
				continue
			}
			// TOML: the line (decoding) or the key (validation); xrootd:
			// the line and the directive. One problem, one line.
			e := err.Error()
			key := regexp.QuoteMeta(k.key)
			want := `^frm\.toml(:\d+|: ` + key + `): `
			if file.name == "site.cf" {
				want = `^site\.cf:\d+: `
			}
			if !regexp.MustCompile(want).MatchString(e) || strings.Contains(e, "\n") {
				t.Fatalf("%s = %q (%s): %q does not name the key or its line in one message", k.key, v, file.name, e)
			}
		}
	})
}
