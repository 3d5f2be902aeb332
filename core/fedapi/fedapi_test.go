package fedapi

import (
	"hash/adler32"
	"strings"
	"testing"
)

func TestDigests(t *testing.T) {
	c := Checksum{Alg: "adler32", Hex: "11e60398"} // "Wikipedia"
	if got := ReprDigest(c); got != "adler=:EeYDmA==:" {
		t.Errorf("ReprDigest = %q", got)
	}
	if got := LegacyDigest(c); got != "adler32=11e60398" {
		t.Errorf("LegacyDigest = %q", got)
	}
	for _, tc := range []struct{ repr, legacy, want string }{
		{"adler=:EeYDmA==:", "", "adler32:11e60398"},
		{"sha-256=:AAAA:, adler=:EeYDmA==:", "", "adler32:11e60398"},
		{"", "adler32=11E60398", "adler32:11e60398"},
		{"", "md5=abc, adler32=11e60398", "adler32:11e60398"},
		{"", "adler32=EeYDmA==", "adler32:11e60398"}, // base64, as RFC 3230 says
		{"adler=:bad:", "", ""},
		{"adler=EeYDmA==", "", ""}, // not a byte sequence
		{"", "adler32=123", ""},
		{"", "", ""},
	} {
		if got := ParseDigests(tc.repr, tc.legacy).String(); got != tc.want {
			t.Errorf("ParseDigests(%q, %q) = %q, want %q", tc.repr, tc.legacy, got, tc.want)
		}
	}
	if s := adler32.Checksum([]byte("Wikipedia")); s != 0x11e60398 {
		t.Fatalf("adler32 of Wikipedia %08x", s)
	}
}

func TestParseChecksum(t *testing.T) {
	for in, want := range map[string]string{"adler32:11E60398": "adler32:11e60398", "": "", "md5:00": "md5:00"} {
		c, err := ParseChecksum(in)
		if err != nil || c.String() != want {
			t.Errorf("ParseChecksum(%q) = %q, %v", in, c, err)
		}
	}
	for _, bad := range []string{"adler32", ":00", "adler32:xyz", "adler32:"} {
		if _, err := ParseChecksum(bad); err == nil {
			t.Errorf("ParseChecksum(%q) accepted", bad)
		}
	}
}

func TestFileURLPath(t *testing.T) {
	for lfn, want := range map[string]string{
		"/store/a.fits":   "/v1/files/store/a.fits",
		"/a b/c?d#e%":     "/v1/files/a%20b/c%3Fd%23e%25",
		"/store/dir/x..y": "/v1/files/store/dir/x..y",
	} {
		if got := FileURLPath(lfn); got != want {
			t.Errorf("FileURLPath(%q) = %q, want %q", lfn, got, want)
		}
	}
}

// FuzzParseDigests: any header values parse without panicking, to the
// zero checksum or a 4-byte adler32 that renders back.
func FuzzParseDigests(f *testing.F) {
	f.Add("adler=:EeYDmA==:", "adler32=11e60398")
	f.Add("a=:,:", "adler32=,")
	f.Fuzz(func(t *testing.T, repr, legacy string) {
		c := ParseDigests(repr, legacy)
		if c.Alg == "" {
			return
		}
		if c.Alg != "adler32" || len(c.Hex) != 8 || strings.ToLower(c.Hex) != c.Hex {
			t.Fatalf("parsed %+v", c)
		}
		if back := ParseDigests(ReprDigest(c), ""); back != c {
			t.Fatalf("round trip %+v -> %+v", c, back)
		}
	})
}
