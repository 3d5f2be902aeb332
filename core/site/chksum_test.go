package site_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"frm/core/sitegen/sitetest"

	"golang.org/x/sys/unix"

	"frm/core/meta"
	"frm/core/site"
)

// cksSite makes an empty site (sitegen layout: /store, /scratch; spaces
// public, data, fast).
func cksSite(t *testing.T) *site.Site {
	t.Helper()
	s, _ := sitetest.Open(t, nil)
	return s
}

// place writes lfn (in space sp, "" = plain) with content and stores its
// adler32 record; it returns the data file's path.
func place(t *testing.T, s *site.Site, lfn, sp, content string) string {
	t.Helper()
	ctx := context.Background()
	pfn, err := s.Place(ctx, lfn, sp, strings.NewReader(content), int64(len(content)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ChecksumCalc(ctx, lfn, "adler32", false); err != nil {
		if errors.Is(err, meta.ErrNotSupported) {
			t.Skip("no user xattrs on this filesystem")
		}
		t.Fatal(err)
	}
	data, err := filepath.EvalSymlinks(pfn)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// flip changes the byte at off of path and puts the mtime back.
func flip(t *testing.T, path string, off int64) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	f.ReadAt(b, off)
	b[0] ^= 1
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, path, []unix.Timespec{st.Atim, st.Mtim}, 0); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyCases(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(t *testing.T, data string) // after the record was stored
		force    bool
		source   string
		match    bool // against the original content's value
		rot      bool
		marked   bool
		restored bool // the record now holds the data's value (there was no current one)
	}{
		{"current record, no -f", nil, false, "stored", true, false, false, false},
		{"current record, -f", nil, true, "data", true, false, false, false},
		{"bit rot, no -f: not seen", func(t *testing.T, d string) { flip(t, d, 2) }, false, "stored", true, false, false, false},
		{"bit rot, -f", func(t *testing.T, d string) { flip(t, d, 2) }, true, "data", false, true, true, false},
		// A real change moves the mtime: the record is stale, the data's
		// checksum is taken as the new record, nothing is bad.
		{"modified, no -f", func(t *testing.T, d string) {
			os.WriteFile(d, []byte("new content"), 0o644)
			os.Chtimes(d, time.Now(), time.Now().Add(time.Hour))
		}, false, "data", false, false, false, true},
		{"modified, -f", func(t *testing.T, d string) {
			os.WriteFile(d, []byte("new content"), 0o644)
			os.Chtimes(d, time.Now(), time.Now().Add(time.Hour))
		}, true, "data", false, false, false, true},
		{"no record", func(t *testing.T, d string) { meta.RemoveChecksum(d, "adler32") }, false, "data", true, false, false, true},
	}
	const content = "the original content of the file"
	h, _ := meta.NewHash("adler32")
	h.Write([]byte(content))
	good := (meta.Checksum{Value: h.Sum(nil)}).Hex()
	for _, tc := range tests {
		for _, sp := range []string{"", "data"} {
			t.Run(tc.name+"/space "+sp, func(t *testing.T) {
				s := cksSite(t)
				const lfn = "/store/v/f.dat"
				data := place(t, s, lfn, sp, content)
				if tc.setup != nil {
					tc.setup(t, data)
				}
				r, err := s.ChecksumVerify(context.Background(), lfn, "adler32", good, tc.force)
				if err != nil {
					t.Fatal(err)
				}
				if r.Source != tc.source || r.Match != tc.match || r.Rot != tc.rot || r.Marked != tc.marked || (r.Bad != nil) != tc.marked {
					t.Errorf("got source %s match %v rot %v marked %v bad %v", r.Source, r.Match, r.Rot, r.Marked, r.Bad)
				}
				m, ok, _ := meta.GetBadChecksum(data)
				if ok != tc.marked {
					t.Errorf("mark on the data file: %v, want %v", ok, tc.marked)
				}
				if ok && (m.Alg != "adler32" || (meta.Checksum{Value: m.Stored}).Hex() != good || !bytes.Equal(m.Computed, r.Computed.Value)) {
					t.Errorf("mark %s", m)
				}
				rec, _, _ := meta.GetChecksum(data, "adler32")
				want := good // the record is evidence: bit rot never replaces it
				if tc.restored {
					want = r.Computed.Hex()
				}
				if rec.Hex() != want {
					t.Errorf("record %s after verify, want %s", rec.Hex(), want)
				}
			})
		}
	}
}

// TestVerifyNeverMarksARemovedFile: the purger holds the residency lock
// while a verify -f that found bit rot waits for it, and removes the
// file; the mark must not land on the removed data.
func TestVerifyNeverMarksARemovedFile(t *testing.T) {
	s := cksSite(t)
	const lfn = "/store/v/gone.dat"
	data := place(t, s, lfn, "data", strings.Repeat("x", 4096))
	flip(t, data, 100)
	keep, err := os.Open(data) // to look at the inode once it is unlinked
	if err != nil {
		t.Fatal(err)
	}
	defer keep.Close()
	purger, err := os.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(purger.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.ChecksumVerify(context.Background(), lfn, "adler32", "00000001", true)
		done <- err
	}()
	time.Sleep(100 * time.Millisecond) // the verify reads, then waits for the lock
	if err := os.Remove(s.PFN(lfn)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(data); err != nil {
		t.Fatal(err)
	}
	purger.Close() // releases the lock
	select {
	case err := <-done:
		if err == nil {
			t.Error("verify of a file removed under it succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("verify did not return")
	}
	if _, ok, _ := meta.GetBadChecksum("/proc/self/fd/" + itoa(int(keep.Fd()))); ok {
		t.Error("the removed data file was marked bad")
	}
}

func itoa(i int) string {
	var b [20]byte
	n := len(b)
	for {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			return string(b[n:])
		}
	}
}

// TestCalcForceAcceptsOnlyItsAlgorithm: calc -f clears a mark about the
// algorithm it recomputes, not one about another.
func TestCalcForceAcceptsOnlyItsAlgorithm(t *testing.T) {
	s := cksSite(t)
	ctx := context.Background()
	const lfn = "/store/v/two.dat"
	data := place(t, s, lfn, "", "two algorithms")
	if _, err := s.ChecksumCalc(ctx, lfn, "md5", false); err != nil {
		t.Fatal(err)
	}
	mark := meta.BadChecksum{Alg: "md5", Found: 1, MTime: 1, Stored: []byte{1}, Computed: []byte{2}}
	if err := meta.SetBadChecksum(data, mark); err != nil {
		t.Fatal(err)
	}
	r, err := s.ChecksumCalc(ctx, lfn, "adler32", true)
	if err != nil || r.Cleared != nil || r.Bad == nil || r.Bad.Alg != "md5" {
		t.Fatalf("calc -f adler32: %+v %v", r, err)
	}
	if _, ok, _ := meta.GetBadChecksum(data); !ok {
		t.Fatal("calc -f adler32 removed the md5 mark")
	}
	r, err = s.ChecksumCalc(ctx, lfn, "md5", true)
	if err != nil || r.Cleared == nil || r.Cleared.Alg != "md5" {
		t.Fatalf("calc -f md5: %+v %v", r, err)
	}
	if _, ok, _ := meta.GetBadChecksum(data); ok {
		t.Fatal("calc -f md5 left the md5 mark")
	}
}
