package meta

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// xattrDir returns a temporary directory whose file system supports user.*
// extended attributes, or skips the test.
func xattrDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	probe := filepath.Join(dir, "probe")
	if err := os.WriteFile(probe, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(probe, "user.frmtest", []byte("x"), 0); err != nil {
		if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EPERM) {
			t.Skipf("user.* extended attributes are not supported on the file system of %s (%v); skipping", dir, err)
		}
		t.Fatalf("probing xattr support: %v", err)
	}
	return dir
}

// newFile creates a file with content in dir.
func newFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rawAttr reads an attribute with the plain x/sys call, independently of
// the package's own read path.
func rawAttr(t testing.TB, path, name string) []byte {
	t.Helper()
	buf := make([]byte, 8192)
	n, err := unix.Getxattr(path, name, buf)
	if err != nil {
		t.Fatalf("getxattr %s %s: %v", name, path, err)
	}
	return buf[:n]
}

func TestEncodingsMatchReference(t *testing.T) {
	mtime2020 := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	zeros := func(n int) string { return strings.Repeat("00", n) }
	tests := []struct {
		name string
		got  []byte
		want string // hex
	}{
		{"Cpy mark -p mtime 2020-01-01", EncodeCopyTime(mtime2020), "000000005e0be100" + zeros(16)},
		{"Cpy 1 (xrootd create)", EncodeCopyTime(1), "0000000000000001" + zeros(16)},
		{"Cpy 0", EncodeCopyTime(0), zeros(24)},
		{"Pin forever", EncodePin(Pin{Flags: PinForever}), zeros(8) + "01" + zeros(15)},
		{"Pin +50h", EncodePin(Pin{Flags: PinIdle, Time: 180000}), "000000000002bf20" + "02" + zeros(15)},
		{"Pin keep", EncodePin(Pin{Flags: PinKeep, Time: 1924905600}), "0000000072bbba80" + "04" + zeros(15)},
		{"Mem mmap", EncodeMem(MemMap), "01" + zeros(7)},
		{"Mem mmap -keep", EncodeMem(MemMap | MemKeep), "03" + zeros(7)},
		{"Mem mmap -lock", EncodeMem(MemMap | MemLock), "05" + zeros(7)},
		{"Mem mmap -k -l", EncodeMem(MemMap | MemKeep | MemLock), "07" + zeros(7)},
		{"Pfn", EncodePfn("/srv/frmsrv/ns/mig/new1.dat"), hex.EncodeToString([]byte("/srv/frmsrv/ns/mig/new1.dat\x00"))},
		{"Pfn empty", EncodePfn(""), "00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := hex.EncodeToString(tc.got); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
	if n := len(EncodePfn("/srv/frmsrv/ns/mig/new1.dat")); n != 28 {
		t.Errorf("Pfn sample is %d bytes, want 28", n)
	}
}

func TestChecksumRecordMatchesReference(t *testing.T) {
	c := Checksum{Alg: "adler32", Value: mustHex(t, "1e720467"), MTime: 1577836800, Delta: 113}
	got, err := EncodeChecksum(c)
	if err != nil {
		t.Fatal(err)
	}
	want := mustHex(t, "61646c6572333200 0000000000000000"+ // "adler32" NUL padded to 16
		"000000005e0be100"+ // mtime
		"00000071"+ // delta 113
		"000000"+ // reserved
		"04"+ // length
		"1e720467"+strings.Repeat("00", 60))
	if !bytes.Equal(got, want) {
		t.Fatalf("record\n got %x\nwant %x", got, want)
	}
	if len(got) != ChecksumSize {
		t.Fatalf("record is %d bytes", len(got))
	}
	back, err := DecodeChecksum(got)
	if err != nil {
		t.Fatal(err)
	}
	if back.Alg != "adler32" || back.Hex() != "1e720467" || back.MTime != c.MTime || back.Delta != 113 {
		t.Fatalf("decoded %+v", back)
	}
}

func TestDecodeErrors(t *testing.T) {
	if _, err := DecodeCopyTime(make([]byte, 7)); !errors.Is(err, ErrBadValue) {
		t.Errorf("DecodeCopyTime(7 bytes) = %v", err)
	}
	if v, err := DecodeCopyTime(mustHex(t, "000000005e0be100")); err != nil || v != 1577836800 {
		t.Errorf("DecodeCopyTime(8 bytes) = %d, %v", v, err)
	}
	if _, err := DecodePin(make([]byte, 8)); !errors.Is(err, ErrBadValue) {
		t.Errorf("DecodePin(8 bytes) = %v", err)
	}
	if _, err := DecodeMem(nil); !errors.Is(err, ErrBadValue) {
		t.Errorf("DecodeMem(nil) = %v", err)
	}
	badCks := []struct {
		name string
		b    []byte
	}{
		{"short", make([]byte, 95)},
		{"no name", make([]byte, 96)},
		{"name not terminated", append(bytes.Repeat([]byte("a"), 16), make([]byte, 80)...)},
		{"length 0", append([]byte("adler32\x00\x00\x00\x00\x00\x00\x00\x00\x00"), make([]byte, 80)...)},
		{"length 65", func() []byte {
			b := append([]byte("adler32\x00\x00\x00\x00\x00\x00\x00\x00\x00"), make([]byte, 80)...)
			b[31] = 65
			return b
		}()},
	}
	for _, tc := range badCks {
		if _, err := DecodeChecksum(tc.b); !errors.Is(err, ErrBadValue) {
			t.Errorf("DecodeChecksum(%s) = %v, want ErrBadValue", tc.name, err)
		}
	}
	for _, c := range []Checksum{
		{Alg: "", Value: []byte{1}},
		{Alg: "sixteen-chars-xx", Value: []byte{1}},
		{Alg: "md5", Value: nil},
		{Alg: "md5", Value: make([]byte, 65)},
	} {
		if _, err := EncodeChecksum(c); !errors.Is(err, ErrBadValue) {
			t.Errorf("EncodeChecksum(%q, %d bytes) = %v, want ErrBadValue", c.Alg, len(c.Value), err)
		}
	}
}

func TestDecodePinAcceptsXrootdGarbageTail(t *testing.T) {
	// As written by xrootd 5.5.3 for "pin -k +50h": 8 bytes of stack garbage
	// ("/tmp/frm") at offset 16.
	raw := mustHex(t, "000000000002bf20 02 00000000000000 2f746d702f66726d")
	p, err := DecodePin(raw)
	if err != nil {
		t.Fatal(err)
	}
	if p != (Pin{Flags: PinIdle, Time: 180000}) {
		t.Fatalf("DecodePin = %+v", p)
	}
	// Garbage in the reserved bytes 9..15 is ignored too, and 9 bytes suffice.
	raw2 := mustHex(t, "0000000000000000 01 ffffffffffffff ffffffffffffffff")
	if p, err := DecodePin(raw2); err != nil || p != (Pin{Flags: PinForever}) {
		t.Fatalf("DecodePin(reserved garbage) = %+v, %v", p, err)
	}
	if p, err := DecodePin(raw[:9]); err != nil || p.Time != 180000 {
		t.Fatalf("DecodePin(9 bytes) = %+v, %v", p, err)
	}

	// The same bytes on disk, read through GetPin.
	dir := xattrDir(t)
	f := newFile(t, dir, "garbage.dat", "x")
	if err := unix.Setxattr(f, AttrPin, raw, 0); err != nil {
		t.Fatal(err)
	}
	got, ok, err := GetPin(f)
	if err != nil || !ok || got != (Pin{Flags: PinIdle, Time: 180000}) {
		t.Fatalf("GetPin = %+v, %v, %v", got, ok, err)
	}
}

func TestAttributesThroughSymlink(t *testing.T) {
	dir := xattrDir(t)
	data := newFile(t, dir, "868B026BFD25000000007f00000100000000174%", "data")
	link := filepath.Join(dir, "new1.dat")
	if err := os.Symlink(data, link); err != nil {
		t.Fatal(err)
	}

	// Everything set through the link must land on the target, byte exact.
	mtime2020 := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	if err := SetCopyTime(link, mtime2020); err != nil {
		t.Fatal(err)
	}
	if err := SetPin(link, Pin{Flags: PinIdle, Time: 180000}); err != nil {
		t.Fatal(err)
	}
	if err := SetMem(link, MemMap|MemKeep); err != nil {
		t.Fatal(err)
	}
	if err := SetPfn(link, "/srv/frmsrv/ns/mig/new1.dat"); err != nil {
		t.Fatal(err)
	}
	cks := Checksum{Alg: "adler32", Value: mustHex(t, "1e720467"), MTime: mtime2020, Delta: 5}
	if err := SetChecksum(link, cks); err != nil {
		t.Fatal(err)
	}

	wantRaw := map[string]string{
		AttrCopy: "000000005e0be100" + strings.Repeat("00", 16),
		AttrPin:  "000000000002bf20" + "02" + strings.Repeat("00", 15),
		AttrMem:  "03" + strings.Repeat("00", 7),
		AttrPfn:  hex.EncodeToString([]byte("/srv/frmsrv/ns/mig/new1.dat\x00")),
	}
	for name, want := range wantRaw {
		if got := hex.EncodeToString(rawAttr(t, data, name)); got != want {
			t.Errorf("%s on target = %s, want %s", name, got, want)
		}
		// Nothing on the link itself.
		if _, err := unix.Lgetxattr(link, name, make([]byte, 64)); err == nil {
			t.Errorf("%s was set on the symlink itself", name)
		}
	}
	if got := rawAttr(t, data, "user.XrdCks.adler32"); len(got) != 96 || got[31] != 4 {
		t.Errorf("checksum record on target = %x", got)
	}

	// And everything reads back through the link.
	if v, ok, err := GetCopyTime(link); err != nil || !ok || v != mtime2020 {
		t.Errorf("GetCopyTime = %d, %v, %v", v, ok, err)
	}
	if p, ok, err := GetPin(link); err != nil || !ok || p != (Pin{Flags: PinIdle, Time: 180000}) {
		t.Errorf("GetPin = %+v, %v, %v", p, ok, err)
	}
	if m, ok, err := GetMem(link); err != nil || !ok || m != MemMap|MemKeep {
		t.Errorf("GetMem = %v, %v, %v", m, ok, err)
	}
	if s, ok, err := GetPfn(link); err != nil || !ok || s != "/srv/frmsrv/ns/mig/new1.dat" {
		t.Errorf("GetPfn = %q, %v, %v", s, ok, err)
	}
	if c, ok, err := GetChecksum(link, "adler32"); err != nil || !ok || c.Hex() != "1e720467" || c.MTime != mtime2020 || c.Delta != 5 {
		t.Errorf("GetChecksum = %+v, %v, %v", c, ok, err)
	}

	// Removal through the link removes from the target; a second removal
	// reports nothing removed.
	removers := []struct {
		name string
		fn   func(string) (bool, error)
	}{
		{AttrCopy, RemoveCopyTime},
		{AttrPin, RemovePin},
		{AttrMem, RemoveMem},
		{AttrPfn, RemovePfn},
		{"user.XrdCks.adler32", func(p string) (bool, error) { return RemoveChecksum(p, "adler32") }},
	}
	for _, r := range removers {
		if removed, err := r.fn(link); err != nil || !removed {
			t.Errorf("remove %s = %v, %v; want true, nil", r.name, removed, err)
		}
		if _, err := unix.Getxattr(data, r.name, nil); !errors.Is(err, unix.ENODATA) {
			t.Errorf("%s still on target after remove: %v", r.name, err)
		}
		if removed, err := r.fn(link); err != nil || removed {
			t.Errorf("second remove %s = %v, %v; want false, nil", r.name, removed, err)
		}
	}
}

func TestGetAbsentAndErrors(t *testing.T) {
	dir := xattrDir(t)
	f := newFile(t, dir, "plain.dat", "x")

	if v, ok, err := GetCopyTime(f); err != nil || ok || v != 0 {
		t.Errorf("GetCopyTime(absent) = %d, %v, %v", v, ok, err)
	}
	if p, ok, err := GetPin(f); err != nil || ok || p != (Pin{}) {
		t.Errorf("GetPin(absent) = %+v, %v, %v", p, ok, err)
	}
	if m, ok, err := GetMem(f); err != nil || ok || m != 0 {
		t.Errorf("GetMem(absent) = %v, %v, %v", m, ok, err)
	}
	if s, ok, err := GetPfn(f); err != nil || ok || s != "" {
		t.Errorf("GetPfn(absent) = %q, %v, %v", s, ok, err)
	}
	if c, ok, err := GetChecksum(f, "adler32"); err != nil || ok || c.Alg != "" {
		t.Errorf("GetChecksum(absent) = %+v, %v, %v", c, ok, err)
	}

	// A dangling link or a missing file is an error wrapping ENOENT, with the
	// attribute and path in the message.
	dangling := filepath.Join(dir, "dangling")
	if err := os.Symlink(filepath.Join(dir, "nowhere"), dangling); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dangling, filepath.Join(dir, "missing")} {
		_, ok, err := GetCopyTime(p)
		if ok || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("GetCopyTime(%s) = %v, %v; want ENOENT", p, ok, err)
		}
		var pe *fs.PathError
		if !errors.As(err, &pe) || pe.Path != p || !strings.Contains(err.Error(), AttrCopy) {
			t.Errorf("GetCopyTime(%s) error %q lacks path/attr", p, err)
		}
		if _, _, err := GetPin(p); !errors.Is(err, unix.ENOENT) {
			t.Errorf("GetPin(%s) = %v", p, err)
		}
		if _, _, err := GetPfn(p); !errors.Is(err, unix.ENOENT) {
			t.Errorf("GetPfn(%s) = %v", p, err)
		}
		if err := SetPin(p, Pin{Flags: PinForever}); !errors.Is(err, unix.ENOENT) {
			t.Errorf("SetPin(%s) = %v", p, err)
		}
		if _, err := RemovePin(p); !errors.Is(err, unix.ENOENT) {
			t.Errorf("RemovePin(%s) = %v", p, err)
		}
	}

	// A path with a NUL byte is EINVAL, not a truncated lookup.
	if _, _, err := GetCopyTime(f + "\x00junk"); !errors.Is(err, unix.EINVAL) {
		t.Errorf("GetCopyTime(NUL in path) = %v", err)
	}

	// Too-short values written by someone else are decode errors.
	if err := unix.Setxattr(f, AttrCopy, []byte{1, 2, 3}, 0); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := GetCopyTime(f); ok || !errors.Is(err, ErrBadValue) {
		t.Errorf("GetCopyTime(3-byte value) = %v, %v", ok, err)
	}
	if err := unix.Setxattr(f, AttrPin, make([]byte, 8), 0); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := GetPin(f); ok || !errors.Is(err, ErrBadValue) {
		t.Errorf("GetPin(8-byte value) = %v, %v", ok, err)
	}
	if err := SetPfn(f, "a\x00b"); !errors.Is(err, ErrBadValue) {
		t.Errorf("SetPfn(NUL) = %v", err)
	}
}

func TestPfnValues(t *testing.T) {
	dir := xattrDir(t)
	f := newFile(t, dir, "data", "x")
	long := "/" + strings.Repeat("p", 3000)
	tests := []struct {
		name string
		raw  []byte
		want string
	}{
		{"reference sample", []byte("/srv/frmsrv/ns/mig/new1.dat\x00"), "/srv/frmsrv/ns/mig/new1.dat"},
		{"empty value", []byte{}, ""},
		{"lone NUL", []byte{0}, ""},
		{"no NUL", []byte("/a/b"), "/a/b"},
		{"longer than the stack buffer", []byte(long + "\x00"), long},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := DecodePfn(tc.raw); got != tc.want {
				t.Errorf("DecodePfn = %q", got)
			}
			if err := unix.Setxattr(f, AttrPfn, tc.raw, 0); err != nil {
				t.Fatal(err)
			}
			got, ok, err := GetPfn(f)
			if err != nil || !ok || got != tc.want {
				t.Errorf("GetPfn = %.40q, %v, %v", got, ok, err)
			}
		})
	}
	if err := SetPfn(f, long); err != nil {
		t.Fatal(err)
	}
	if got := rawAttr(t, f, AttrPfn); len(got) != len(long)+1 || got[len(long)] != 0 {
		t.Errorf("SetPfn(long) wrote %d bytes", len(got))
	}
}

func TestLongPathFallback(t *testing.T) {
	dir := xattrDir(t)
	p := dir
	for range 5 {
		p = filepath.Join(p, strings.Repeat("d", 240))
	}
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	f := newFile(t, p, "file.dat", "x")
	if len(f) < pathBufLen {
		t.Fatalf("path only %d bytes", len(f))
	}
	if err := SetCopyTime(f, 42); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := GetCopyTime(f); err != nil || !ok || v != 42 {
		t.Errorf("GetCopyTime(long path) = %d, %v, %v", v, ok, err)
	}
	if _, ok, err := GetPin(f); err != nil || ok {
		t.Errorf("GetPin(long path) = %v, %v", ok, err)
	}
}

func TestHotPathDoesNotAllocate(t *testing.T) {
	dir := xattrDir(t)
	f := newFile(t, dir, "hot.dat", "x")
	bare := newFile(t, dir, "bare.dat", "x")
	if err := SetCopyTime(f, 1577836800); err != nil {
		t.Fatal(err)
	}
	if err := SetPin(f, Pin{Flags: PinKeep, Time: 2000000000}); err != nil {
		t.Fatal(err)
	}
	if err := SetMem(f, MemMap); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{f, bare} {
		allocs := testing.AllocsPerRun(200, func() {
			if _, _, err := GetCopyTime(p); err != nil {
				t.Fatal(err)
			}
			if _, _, err := GetPin(p); err != nil {
				t.Fatal(err)
			}
			if _, _, err := GetMem(p); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("GetCopyTime+GetPin+GetMem(%s) allocate %.1f times per call", filepath.Base(p), allocs)
		}
	}
}

func TestConcurrentAccess(t *testing.T) {
	dir := xattrDir(t)
	shared := newFile(t, dir, "shared", "x")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := newFile(t, dir, "own"+string(rune('a'+g)), "x")
			for i := range 200 {
				want := Pin{Flags: PinIdle, Time: int64(g*1000 + i)}
				if err := SetPin(own, want); err != nil {
					t.Error(err)
					return
				}
				if got, ok, err := GetPin(own); err != nil || !ok || got != want {
					t.Errorf("GetPin = %+v, %v, %v; want %+v", got, ok, err, want)
					return
				}
				if err := SetCopyTime(shared, int64(i)); err != nil {
					t.Error(err)
					return
				}
				if _, ok, err := GetCopyTime(shared); err != nil || !ok {
					t.Errorf("GetCopyTime(shared) = %v, %v", ok, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestSideFiles(t *testing.T) {
	tests := []struct {
		name     string
		suffix   string
		oldStyle bool
	}{
		{"x.dat", "", false},
		{"x", "", false},
		{"x.fail", ".fail", false},
		{"x.dat.fail", ".fail", false},
		{"x.anew", ".anew", false},
		{"x.pfn", ".pfn", false},
		{"x.lock", ".lock", true},
		{"x.pin", ".pin", true},
		{"x.mmap", ".mmap", true},
		{"x.mkeep", ".mkeep", true},
		{"x.mlock", ".mlock", true},
		{"/srv/ns/mig/m.dat.lock", ".lock", true},
		{"x.lock.TEMP", "", false},
		{"x.LOCK", "", false},
		{"x.failed", "", false},
		{".fail", ".fail", false},
		{"lock", "", false},
		{"DIR_LOCK", "", false},
		{"174%", "", false},
	}
	for _, tc := range tests {
		if got := SideSuffix(tc.name); got != tc.suffix {
			t.Errorf("SideSuffix(%q) = %q, want %q", tc.name, got, tc.suffix)
		}
		if got := IsSideFile(tc.name); got != (tc.suffix != "") {
			t.Errorf("IsSideFile(%q) = %v", tc.name, got)
		}
		if got := IsOldStyle(tc.name); got != tc.oldStyle {
			t.Errorf("IsOldStyle(%q) = %v, want %v", tc.name, got, tc.oldStyle)
		}
	}
}
