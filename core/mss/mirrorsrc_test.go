package mss

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/adler32"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"frm/core/fedapi"
)

// countingOpener serves one file's bytes and counts the downloads.
type countingOpener struct {
	data  []byte
	opens atomic.Int32
}

func (o *countingOpener) Open(_ context.Context, _ string, offset int64, _ string) (*fedapi.File, error) {
	o.opens.Add(1)
	return &fedapi.File{Body: io.NopCloser(bytes.NewReader(o.data[offset:])), Size: int64(len(o.data)), Offset: offset}, nil
}

func adlerHex(b []byte) string { return fmt.Sprintf("%08x", adler32.Checksum(b)) }

// TestMirrorSupplied: bytes fetched in bulk land without a download of
// their own, checked first (wrong bytes never reach the disk), over a
// leftover file of an earlier run (cut to the new length); bytes of
// another size than the manifest's are set aside for a download.
func TestMirrorSupplied(t *testing.T) {
	good := []byte("the bytes the manifest describes")
	mf := MirrorFile{Src: "/p/f", Size: int64(len(good)), MTime: 1700000000, Checksum: fedapi.Checksum{Alg: "adler32", Hex: adlerHex(good)}}
	for _, tc := range []struct {
		name      string
		supplied  []byte
		leftover  []byte // in dst before the fetch (nil: none)
		wantErr   error  // nil: lands good
		downloads int32
	}{
		{name: "fresh", supplied: good},
		{name: "over a longer leftover", supplied: good, leftover: bytes.Repeat([]byte("x"), 100)},
		{name: "over a shorter leftover", supplied: good, leftover: []byte("xy")},
		{name: "wrong bytes", supplied: bytes.ToUpper(good), wantErr: ErrChecksumMismatch},
		{name: "another size", supplied: good[:5], downloads: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "data%")
			if tc.leftover != nil {
				if err := os.WriteFile(dst, tc.leftover, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			src := &countingOpener{data: good}
			m := &Mirror{Origin: "dist", Src: src}
			m.Add("/m/p/f", "/p/f", mf)
			m.Supply("/m/p/f", tc.supplied)
			res, err := m.Fetch(context.Background(), Request{LFN: "/m/p/f"}, dst, "adler32")
			if got := src.opens.Load(); got != tc.downloads {
				t.Errorf("%d downloads, want %d", got, tc.downloads)
			}
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !IsPermanent(err) {
					t.Fatalf("err %v, want a permanent %v", err, tc.wantErr)
				}
				if b, _ := os.ReadFile(dst); !bytes.Equal(b, tc.leftover) {
					t.Errorf("wrong bytes reached the disk: %q", b)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(dst); !bytes.Equal(b, good) {
				t.Errorf("landed %q, want %q", b, good)
			}
			fi, _ := os.Stat(dst)
			if fi.ModTime().Unix() != mf.MTime {
				t.Errorf("mtime %d, want the manifest's %d", fi.ModTime().Unix(), mf.MTime)
			}
			if res.Bytes != mf.Size || res.Checksum == nil || res.Checksum.Hex != mf.Checksum.Hex || res.Origin != "dist" {
				t.Errorf("result %+v", res)
			}
		})
	}
}

// TestMirrorSuppliedNeverThroughALink: a symlink where the file should
// land is not written through.
func TestMirrorSuppliedNeverThroughALink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("keep"), 0o644)
	dst := filepath.Join(dir, "f.anew")
	if err := os.Symlink(victim, dst); err != nil {
		t.Fatal(err)
	}
	good := []byte("bytes")
	m := &Mirror{Origin: "dist", Src: &countingOpener{data: good}}
	m.Add("/m/f", "/f", MirrorFile{Src: "/f", Size: int64(len(good)), MTime: 1, Checksum: fedapi.Checksum{Alg: "adler32", Hex: adlerHex(good)}})
	m.Supply("/m/f", good)
	if _, err := m.Fetch(context.Background(), Request{LFN: "/m/f"}, dst, "adler32"); err == nil {
		t.Error("landed through a symlink")
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Errorf("the link's target was written: %q", b)
	}
}
