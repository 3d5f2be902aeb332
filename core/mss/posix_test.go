package mss_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"frm/core/meta"
	"frm/core/mss"
	"frm/core/mss/msstest"
)

func newPosix(t *testing.T) (*mss.Posix, string) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "mss")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := mss.NewPosix(mss.PosixOptions{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	return b, root
}

// TestPosixRootGone: with the remote root missing (the MSS not mounted),
// every operation and the probe are outages — not "no such file" for
// every name, and no store into an empty mount point.
func TestPosixRootGone(t *testing.T) {
	b, root := newPosix(t)
	ctx := context.Background()
	if err := b.Probe(ctx); err != nil {
		t.Fatalf("probe with the root there: %v", err)
	}
	if _, err := b.Stat(ctx, root+"/missing"); !mss.IsNotExist(err) {
		t.Fatalf("a missing file with the root there: %v", err)
	}
	os.Remove(root)
	src := filepath.Join(t.TempDir(), "src")
	os.WriteFile(src, []byte("x"), 0o644)
	if _, err := b.Stat(ctx, root+"/f"); !mss.IsOutage(err) {
		t.Errorf("Stat: %v", err)
	}
	if _, err := b.Fetch(ctx, mss.Request{RFN: root + "/f"}, filepath.Join(t.TempDir(), "dst"), ""); !mss.IsOutage(err) {
		t.Errorf("Fetch: %v", err)
	}
	if _, err := b.Store(ctx, mss.Request{RFN: root + "/d/f"}, src, ""); !mss.IsOutage(err) {
		t.Errorf("Store: %v", err)
	}
	if _, err := os.Stat(root); err == nil {
		t.Error("Store created the missing root")
	}
	if err := b.Probe(ctx); !mss.IsOutage(err) {
		t.Errorf("Probe: %v", err)
	}
}

func TestPosixConformance(t *testing.T) {
	b, root := newPosix(t)
	msstest.Run(t, b, func(lfn string) string { return root + lfn })
	assertNoTemps(t, root)
}

// assertNoTemps fails if a temporary file was left anywhere under dir.
func assertNoTemps(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".frmtmp-") {
			t.Errorf("temporary file left behind: %s", p)
		}
		return nil
	})
}

func writeFile(t *testing.T, path, body string, mtime time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o640); err != nil {
		t.Fatal(err)
	}
	if !mtime.IsZero() {
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPosixStoreKeepsMetadata: the MSS copy has the source's mtime and
// mode and the xrootd checksum record; Fetch gives the local copy the
// MSS copy's mtime.
func TestPosixStoreKeepsMetadata(t *testing.T) {
	b, root := newPosix(t)
	ctx := context.Background()
	mt := time.Date(2020, 5, 6, 7, 8, 9, 123456789, time.UTC)
	src := filepath.Join(t.TempDir(), "src")
	writeFile(t, src, "hello world\n", mt)
	rfn := root + "/a/b.dat"
	res, err := b.Store(ctx, mss.Request{LFN: "/a/b.dat", RFN: rfn}, src, "adler32")
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(rfn)
	if err != nil {
		t.Fatal(err)
	}
	if !st.ModTime().Equal(mt) || st.Mode().Perm() != 0o640 {
		t.Errorf("MSS copy mtime %v mode %v, want %v 0640", st.ModTime(), st.Mode().Perm(), mt)
	}
	c, ok, err := meta.GetChecksum(rfn, "adler32")
	if err != nil || !ok {
		t.Fatalf("checksum xattr: %v %v", ok, err)
	}
	if c.Hex() != res.Checksum.Hex || c.MTime != mt.Unix() {
		t.Errorf("xattr %s mtime %d, want %s %d", c.Hex(), c.MTime, res.Checksum.Hex, mt.Unix())
	}
	info, err := b.Stat(ctx, rfn)
	if err != nil || info.Checksum == nil || *info.Checksum != *res.Checksum || !info.ModTime.Equal(mt) {
		t.Errorf("Stat = %+v, %v", info, err)
	}

	dst := filepath.Join(t.TempDir(), "dst")
	if _, err := b.Fetch(ctx, mss.Request{RFN: rfn}, dst, ""); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(dst); !st.ModTime().Equal(mt) {
		t.Errorf("fetched mtime %v, want %v", st.ModTime(), mt)
	}

	// A record whose mtime no longer matches the file is stale.
	if err := os.Chtimes(rfn, time.Now(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if info, _ := b.Stat(ctx, rfn); info.Checksum != nil {
		t.Errorf("stale checksum reported: %v", info.Checksum)
	}
}

// TestPosixFetchVerifies: a recorded checksum that does not match the
// data fails the fetch permanently and leaves no dst.
func TestPosixFetchVerifies(t *testing.T) {
	b, root := newPosix(t)
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "src")
	writeFile(t, src, "original data", time.Time{})
	rfn := root + "/v.dat"
	if _, err := b.Store(ctx, mss.Request{RFN: rfn}, src, "adler32"); err != nil {
		t.Fatal(err)
	}
	// Corrupt the MSS copy in place, keeping its mtime (so the record
	// still looks valid).
	st, _ := os.Stat(rfn)
	if err := os.WriteFile(rfn, []byte("ORIGINAL DATA"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(rfn, st.ModTime(), st.ModTime())
	for _, alg := range []string{"", "adler32", "md5"} {
		dst := filepath.Join(t.TempDir(), "dst")
		_, err := b.Fetch(ctx, mss.Request{RFN: rfn}, dst, alg)
		if !errors.Is(err, mss.ErrChecksumMismatch) || !mss.IsPermanent(err) {
			t.Errorf("alg %q: err = %v, want a permanent checksum mismatch", alg, err)
		}
		if _, err := os.Stat(dst); err == nil {
			t.Errorf("alg %q: dst left after a failed fetch", alg)
		}
	}
	assertNoTemps(t, root)
}

func TestPosixBadNames(t *testing.T) {
	b, root := newPosix(t)
	ctx := context.Background()
	for _, rfn := range []string{
		"relative/x",
		root,
		root + "/../escape",
		root + "/a//b",
		root + "/a/",
		"/elsewhere/x",
		root + "x/y",
		root + "/a.frmtmp-123",
	} {
		if _, err := b.Stat(ctx, rfn); !errors.Is(err, mss.ErrBadName) || !mss.IsPermanent(err) {
			t.Errorf("Stat(%q) = %v, want a permanent ErrBadName", rfn, err)
		}
		if err := b.Remove(ctx, rfn); !errors.Is(err, mss.ErrBadName) {
			t.Errorf("Remove(%q) = %v, want ErrBadName", rfn, err)
		}
	}
}

func TestPosixErrors(t *testing.T) {
	b, root := newPosix(t)
	ctx := context.Background()
	// A path through a regular file does not exist.
	writeFile(t, root+"/file", "x", time.Time{})
	if _, err := b.Stat(ctx, root+"/file/below"); !mss.IsNotExist(err) {
		t.Errorf("Stat through a file: %v, want IsNotExist", err)
	}
	// A directory is not an object.
	os.MkdirAll(root+"/dir", 0o755)
	if _, err := b.Stat(ctx, root+"/dir"); !mss.IsPermanent(err) {
		t.Errorf("Stat of a directory: %v, want IsPermanent", err)
	}
	// A missing source is NotExist; a source that is a directory is
	// Permanent.
	if _, err := b.Store(ctx, mss.Request{RFN: root + "/x"}, root+"/nope", ""); !mss.IsNotExist(err) {
		t.Errorf("Store of a missing source: %v", err)
	}
	if _, err := b.Store(ctx, mss.Request{RFN: root + "/x"}, root+"/dir", ""); !mss.IsPermanent(err) {
		t.Errorf("Store of a directory: %v", err)
	}
	// Storing below a regular file cannot work.
	src := filepath.Join(t.TempDir(), "src")
	writeFile(t, src, "data", time.Time{})
	if _, err := b.Store(ctx, mss.Request{RFN: root + "/file/below"}, src, ""); !mss.IsPermanent(err) {
		t.Errorf("Store below a file: %v, want IsPermanent", err)
	}
	assertNoTemps(t, root)
}

// TestPosixReadOnly: a read-only MSS tree (EROFS/EACCES) is a permanent
// failure. Root ignores permissions, so this runs only as another user.
func TestPosixReadOnly(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("permission checks do not apply to root")
	}
	b, root := newPosix(t)
	os.MkdirAll(root+"/ro", 0o555)
	src := filepath.Join(t.TempDir(), "src")
	writeFile(t, src, "data", time.Time{})
	if _, err := b.Store(context.Background(), mss.Request{RFN: root + "/ro/x"}, src, ""); !mss.IsPermanent(err) {
		t.Errorf("Store into a read-only directory: %v, want IsPermanent", err)
	}
}
