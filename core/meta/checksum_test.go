package meta

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestNewHashVectors(t *testing.T) {
	tests := []struct {
		alg, input, want string
	}{
		{"adler32", "hello world\n", "1e720467"}, // reference §3.5
		{"adler32", "123456789", "091e01de"},
		{"adler32", "", "00000001"},
		// xrootd 5.5.3 crc32 == POSIX cksum(1): `printf 'hello world\n' | cksum`
		// prints 3733384285.
		{"crc32", "hello world\n", "de86ec5d"},
		{"crc32", "123456789", "377a6011"}, // `printf 123456789 | cksum` = 930766865
		{"crc32", "123", "541bdbbb"},       // `echo -n 123 | cksum` = 1411111867
		{"crc32", "", "ffffffff"},          // `cksum </dev/null` = 4294967295
		{"crc32c", "123456789", "e3069283"},
		{"crc32c", "", "00000000"},
		{"md5", "hello world\n", "6f5902ac237024bdd0c176cb93063dc4"},
	}
	for _, tc := range tests {
		h, err := NewHash(tc.alg)
		if err != nil {
			t.Fatalf("NewHash(%s): %v", tc.alg, err)
		}
		// Feed in two pieces to exercise incremental updates.
		h.Write([]byte(tc.input[:len(tc.input)/2]))
		h.Write([]byte(tc.input[len(tc.input)/2:]))
		c := Checksum{Value: h.Sum(nil)}
		if c.Hex() != tc.want {
			t.Errorf("%s(%q) = %s, want %s", tc.alg, tc.input, c.Hex(), tc.want)
		}
		if len(c.Value) != h.Size() {
			t.Errorf("%s: Sum is %d bytes, Size %d", tc.alg, len(c.Value), h.Size())
		}
		h.Reset()
		h.Write([]byte(tc.input))
		if got := (Checksum{Value: h.Sum(nil)}).Hex(); got != tc.want {
			t.Errorf("%s after Reset = %s", tc.alg, got)
		}
	}
	for _, alg := range []string{"bogus", "ADLER32", "sha1", ""} {
		if _, err := NewHash(alg); err == nil || err.Error() != alg+" checksums are not supported" {
			t.Errorf("NewHash(%q) error = %v", alg, err)
		}
	}
}

func TestParseChecksumValue(t *testing.T) {
	tests := []struct {
		alg, in, want, err string
	}{
		{"adler32", "1e720467", "1e720467", ""},
		{"adler32", "1E720467", "1e720467", ""},
		{"adler32", "xyz", "", "Invalid adler32 checksum value - xyz"},
		{"adler32", "1e72046", "", "Invalid adler32 checksum value - 1e72046"},
		{"adler32", "1e72046700", "", "Invalid adler32 checksum value - 1e72046700"},
		{"adler32", "", "", "Invalid adler32 checksum value - "},
		{"md5", "6f5902ac237024bdd0c176cb93063dc4", "6f5902ac237024bdd0c176cb93063dc4", ""},
		{"md5", "1e720467", "", "Invalid md5 checksum value - 1e720467"},
		{"bogus", "00", "", "bogus checksums are not supported"},
	}
	for _, tc := range tests {
		v, err := ParseChecksumValue(tc.alg, tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ParseChecksumValue(%s, %q) error = %v, want %q", tc.alg, tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || (Checksum{Value: v}).Hex() != tc.want {
			t.Errorf("ParseChecksumValue(%s, %q) = %x, %v", tc.alg, tc.in, v, err)
		}
	}
}

func TestChecksumFile(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "hello.dat")
	if err := os.WriteFile(f, []byte("hello world\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mtime := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(f, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(f, link); err != nil {
		t.Fatal(err)
	}
	c, err := ChecksumFile(link, "adler32")
	if err != nil {
		t.Fatal(err)
	}
	if c.Alg != "adler32" || c.Hex() != "1e720467" || c.MTime != mtime.Unix() {
		t.Fatalf("ChecksumFile = %+v", c)
	}
	if c.Delta < 3599 || c.Delta > 3700 {
		t.Errorf("Delta = %d, want about 3600", c.Delta)
	}
	if !c.ComputedAt().After(mtime) {
		t.Errorf("ComputedAt %v not after mtime %v", c.ComputedAt(), mtime)
	}

	// A file bigger than the read buffer.
	big := filepath.Join(dir, "big.dat")
	data := []byte(strings.Repeat("0123456789abcdef", 200000)) // 3.2 MB
	if err := os.WriteFile(big, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, alg := range []string{"adler32", "crc32", "crc32c", "md5"} {
		h, _ := NewHash(alg)
		h.Write(data)
		c, err := ChecksumFile(big, alg)
		if err != nil {
			t.Fatal(err)
		}
		if want := (Checksum{Value: h.Sum(nil)}).Hex(); c.Hex() != want {
			t.Errorf("ChecksumFile(big, %s) = %s, want %s", alg, c.Hex(), want)
		}
	}

	if _, err := ChecksumFile(filepath.Join(dir, "missing"), "adler32"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ChecksumFile(missing) = %v", err)
	}
	if _, err := ChecksumFile(f, "bogus"); err == nil || err.Error() != "bogus checksums are not supported" {
		t.Errorf("ChecksumFile(bogus) = %v", err)
	}
	if _, err := ChecksumFile(dir, "adler32"); !errors.Is(err, unix.EISDIR) {
		t.Errorf("ChecksumFile(dir) = %v", err)
	}
}

func TestListChecksums(t *testing.T) {
	dir := xattrDir(t)
	f := newFile(t, dir, "f", "hello world\n")
	link := filepath.Join(dir, "l")
	if err := os.Symlink(f, link); err != nil {
		t.Fatal(err)
	}
	if cs, err := ListChecksums(link); err != nil || len(cs) != 0 {
		t.Fatalf("ListChecksums(none) = %v, %v", cs, err)
	}
	for _, alg := range []string{"adler32", "md5", "crc32c"} {
		c, err := ChecksumFile(f, alg)
		if err != nil {
			t.Fatal(err)
		}
		if err := SetChecksum(link, c); err != nil {
			t.Fatal(err)
		}
	}
	// Unrelated attributes and a corrupt record are skipped.
	if err := SetCopyTime(f, 7); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(f, AttrChecksumPrefix+"broken", []byte("short"), 0); err != nil {
		t.Fatal(err)
	}
	cs, err := ListChecksums(link)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cs {
		got = append(got, c.Alg+"="+c.Hex())
	}
	sort.Strings(got)
	want := []string{"adler32=1e720467", "crc32c=" + mustSum(t, "crc32c", "hello world\n"), "md5=6f5902ac237024bdd0c176cb93063dc4"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("ListChecksums = %v, want %v", got, want)
	}
	if _, err := ListChecksums(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ListChecksums(missing) = %v", err)
	}
}

func mustSum(t *testing.T, alg, s string) string {
	t.Helper()
	h, err := NewHash(alg)
	if err != nil {
		t.Fatal(err)
	}
	h.Write([]byte(s))
	return Checksum{Value: h.Sum(nil)}.Hex()
}
