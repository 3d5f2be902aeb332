package config

import (
	"bytes"
	"reflect"
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
	f.Fuzz(func(t *testing.T, data []byte, instance string) {
		c, err := parseAs(FormatXrootd, data, "fuzz.cf", instance, func(string) {}, false)
		if err != nil {
			return
		}
		checkReparse(t, c)
	})
}

func FuzzParseTOML(f *testing.F) {
	f.Add([]byte(fullTOML), "")
	f.Add([]byte("[[purge.policy]]\nspace = \"x\"\nmin = \"5g\"\n"), "i")
	f.Add([]byte("remote_root = \"/m\"\n[transfer]\nqcheck = 5\n[migrate]\nidle_hold = \"1h30m\"\n"), "")
	f.Add([]byte("[[export]]\npath = \"/a/\"\nmig = true\n[mss.s3]\nsecret_key = \"k\"\n"), "")
	f.Fuzz(func(t *testing.T, data []byte, instance string) {
		c, err := parseAs(FormatTOML, data, "fuzz.toml", instance, nil, false)
		if err != nil {
			return
		}
		checkReparse(t, c)
	})
}
