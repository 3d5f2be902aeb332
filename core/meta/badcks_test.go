package meta

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

func TestBadChecksumRecord(t *testing.T) {
	good := BadChecksum{Alg: "adler32", Found: 1800000000, MTime: 1700000000,
		Stored: []byte{0x1e, 0x72, 0x04, 0x67}, Computed: []byte{0x1e, 0x72, 0x04, 0x68}}
	enc, err := EncodeBadChecksum(good)
	if err != nil {
		t.Fatal(err)
	}
	// The layout is frm's own (xrootd has no such attribute), but it is
	// written down so other tools can read it: version, name[16], Found,
	// MTime, the two lengths, then the two values zero padded.
	want := mustHex(t, "01 00 61646c65723332000000000000000000"+
		"000000006b49d200 000000006553f100 04 04"+
		"1e720467"+string(bytes.Repeat([]byte("00"), 60))+
		"1e720468"+string(bytes.Repeat([]byte("00"), 60)))
	if !bytes.Equal(enc, want) {
		t.Fatalf("encoded\n%x\nwant\n%x", enc, want)
	}
	if back, err := DecodeBadChecksum(enc); err != nil || !reflect.DeepEqual(back, good) {
		t.Fatalf("round trip %+v, %v", back, err)
	}

	bad := []struct {
		name string
		b    BadChecksum
	}{
		{"no name", BadChecksum{Stored: []byte{1}, Computed: []byte{2}}},
		{"long name", BadChecksum{Alg: "0123456789abcdef", Stored: []byte{1}, Computed: []byte{2}}},
		{"no stored value", BadChecksum{Alg: "md5", Computed: []byte{2}}},
		{"no computed value", BadChecksum{Alg: "md5", Stored: []byte{1}}},
		{"value too long", BadChecksum{Alg: "md5", Stored: make([]byte, 65), Computed: []byte{2}}},
	}
	for _, tc := range bad {
		if _, err := EncodeBadChecksum(tc.b); !errors.Is(err, ErrBadValue) {
			t.Errorf("%s: EncodeBadChecksum error %v, want ErrBadValue", tc.name, err)
		}
	}
	undecodable := map[string][]byte{
		"short":       enc[:BadChecksumSize-1],
		"version 2":   append([]byte{2}, enc[1:]...),
		"empty name":  append(append([]byte{1, 0}, make([]byte, 16)...), enc[18:]...),
		"zero length": append(append([]byte(nil), enc[:34]...), append([]byte{0}, enc[35:]...)...),
		"length 65":   append(append([]byte(nil), enc[:35]...), append([]byte{65}, enc[36:]...)...),
	}
	for name, b := range undecodable {
		if _, err := DecodeBadChecksum(b); !errors.Is(err, ErrBadValue) {
			t.Errorf("%s: DecodeBadChecksum error %v, want ErrBadValue", name, err)
		}
	}
}

func TestBadChecksumAttribute(t *testing.T) {
	dir := xattrDir(t)
	data := newFile(t, dir, "data", "x")
	link := filepath.Join(dir, "link")
	if err := os.Symlink(data, link); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := GetBadChecksum(link); ok || err != nil {
		t.Fatalf("absent mark: ok %v err %v", ok, err)
	}
	m := BadChecksum{Alg: "crc32", Found: 5, MTime: 4, Stored: []byte{1, 2, 3, 4}, Computed: []byte{4, 3, 2, 1}}
	if err := SetBadChecksum(link, m); err != nil {
		t.Fatal(err)
	}
	// Written through the link onto the data file, where the data is.
	if raw := rawAttr(t, data, AttrBadChecksum); len(raw) != BadChecksumSize {
		t.Fatalf("attribute on the data file is %d bytes", len(raw))
	}
	got, ok, err := GetBadChecksum(link)
	if !ok || err != nil || !reflect.DeepEqual(got, m) {
		t.Fatalf("GetBadChecksum = %+v %v %v", got, ok, err)
	}
	dfd, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer dfd.Close()
	if got, ok, err := GetBadChecksumAt(int(dfd.Fd()), "link", link); !ok || err != nil || !reflect.DeepEqual(got, m) {
		t.Fatalf("GetBadChecksumAt = %+v %v %v", got, ok, err)
	}

	// A mark that does not decode is still a mark: the file must stay
	// until someone looks at it, so ok is true beside the error.
	if err := os.WriteFile(data, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	rawSet(t, data, AttrBadChecksum, []byte("garbage"))
	if _, ok, err := GetBadChecksum(link); !ok || !errors.Is(err, ErrBadValue) {
		t.Fatalf("undecodable mark: ok %v err %v", ok, err)
	}

	removed, err := RemoveBadChecksum(link)
	if !removed || err != nil {
		t.Fatalf("RemoveBadChecksum = %v %v", removed, err)
	}
	if removed, err := RemoveBadChecksum(link); removed || err != nil {
		t.Fatalf("second RemoveBadChecksum = %v %v", removed, err)
	}
	if _, ok, err := GetBadChecksum(filepath.Join(dir, "none")); ok || err == nil {
		t.Fatalf("missing file: ok %v err %v", ok, err)
	}
}

// rawSet writes an attribute with the plain x/sys call.
func rawSet(t testing.TB, path, name string, v []byte) {
	t.Helper()
	if err := unix.Setxattr(path, name, v, 0); err != nil {
		t.Fatalf("setxattr %s %s: %v", name, path, err)
	}
}
