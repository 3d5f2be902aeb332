package mirror

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/adler32"
	"io"
	"os"
	"sync"
	"testing"

	"frm/core/config"
	"frm/core/fedapi"
)

// fakePeer is a source that answers in bulk: it counts the files it
// sends each way, sends rotten bytes for the names in rotten, an error
// record for those in refused, and cuts every bulk answer short after
// cutAfter records when set.
type fakePeer struct {
	files    map[string][]byte
	rotten   map[string]bool
	refused  map[string]bool
	cutAfter int

	mu           sync.Mutex
	bulkSent     map[string]int
	opened       map[string]int
	bulkRequests int
}

func (f *fakePeer) name() string { return "fake" }

func (f *fakePeer) bytesOf(lfn string) []byte {
	b := f.files[lfn]
	if f.rotten[lfn] {
		b = append([]byte{b[0] ^ 0xff}, b[1:]...)
	}
	return b
}

func (f *fakePeer) manifest(_ context.Context, product string, _ last, fn func(fedapi.ManifestEntry) error) (string, bool, error) {
	for lfn, b := range f.files {
		if under(lfn, product) {
			e := fedapi.ManifestEntry{LFN: lfn, Size: int64(len(b)), MTime: 1700000000, Checksum: fmt.Sprintf("adler32:%08x", adler32.Checksum(b))}
			if err := fn(e); err != nil {
				return "", false, err
			}
		}
	}
	return "", false, nil
}

func (f *fakePeer) Open(_ context.Context, lfn string, off int64, _ string) (*fedapi.File, error) {
	f.mu.Lock()
	f.opened[lfn]++
	f.mu.Unlock()
	if f.refused[lfn] {
		return nil, &fedapi.HTTPError{Status: 404, Msg: "absent", URL: lfn}
	}
	b := f.bytesOf(lfn)
	return &fedapi.File{Body: io.NopCloser(bytes.NewReader(b[off:])), Size: int64(len(b)), Offset: off, ETag: `"e"`}, nil
}

var errCut = errors.New("cut short")

func (f *fakePeer) bulk(_ context.Context, lfns []string, fn func(fedapi.BulkRecord) error) error {
	f.mu.Lock()
	f.bulkRequests++
	f.mu.Unlock()
	for i, lfn := range lfns {
		if f.cutAfter > 0 && i == f.cutAfter {
			return errCut
		}
		r := fedapi.BulkRecord{BulkHeader: fedapi.BulkHeader{LFN: lfn}, Body: bytes.NewReader(nil)}
		if f.refused[lfn] {
			r.Status, r.Error = 404, "absent: not on disk"
		} else {
			b := f.bytesOf(lfn)
			r.Size, r.ETag, r.Body = int64(len(b)), `"e"`, bytes.NewReader(b)
			f.mu.Lock()
			f.bulkSent[lfn]++
			f.mu.Unlock()
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// TestRunBulk runs a mirror in process against a source that answers in
// bulk: small files come in batches and land as downloaded ones do (the
// manifest's checksum checked: rotten bytes refused, the rest
// published), large ones are downloaded one by one, a name the source
// refuses in the stream and the files of a bulk answer cut short are
// downloaded on their own.
func TestRunBulk(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cutAfter int
	}{
		{"whole answers", 0},
		{"answers cut short", 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSite(t)
			f := &fakePeer{files: map[string][]byte{}, rotten: map[string]bool{"/p/d1/f0011": true},
				refused: map[string]bool{"/p/d2/f0012": true}, cutAfter: tc.cutAfter,
				bulkSent: map[string]int{}, opened: map[string]int{}}
			for i := range 1200 {
				f.files[fmt.Sprintf("/p/d%d/f%04d", i%10, i)] = bytes.Repeat([]byte{byte(i), byte(i >> 8), 7}, 10+i%300)
			}
			big := "/p/big"
			f.files[big] = bytes.Repeat([]byte("big"), bulkFileMax)
			m := config.Mirror{Name: "b", Source: "fake", Products: []string{"/p"}, Dest: "/store/b", Transfers: 3}
			var mu sync.Mutex
			failed := map[string]bool{}
			r := run(context.Background(), s, m, f, Options{Progress: &Progress{}, OnFile: func(e FileEvent) {
				if e.Action == Failed {
					mu.Lock()
					failed[e.LFN] = true
					mu.Unlock()
				}
			}})
			if r.Err != nil || r.New != 1199 || r.Failed != 2 || !failed["/store/b/p/d1/f0011"] || !failed["/store/b/p/d2/f0012"] {
				t.Fatalf("run: %+v, failed %v", r, failed)
			}
			for lfn, want := range f.files {
				got, err := os.ReadFile(s.PFN("/store/b" + lfn))
				switch {
				case f.rotten[lfn] || f.refused[lfn]:
					if _, err := os.Lstat(s.PFN("/store/b" + lfn)); err == nil {
						t.Errorf("%s is here", lfn)
					}
				case err != nil || !bytes.Equal(got, want):
					t.Errorf("%s: %d bytes, %v", lfn, len(got), err)
				}
			}
			if f.opened[big] != 1 || f.bulkSent[big] != 0 {
				t.Errorf("the large file: %d GETs, %d in bulk", f.opened[big], f.bulkSent[big])
			}
			if f.opened["/p/d2/f0012"] == 0 {
				t.Error("a name refused in the stream was not asked on its own")
			}
			bulked, opened := 0, 0
			for lfn := range f.files {
				if f.bulkSent[lfn] > 1 {
					t.Errorf("%s sent %d times in bulk", lfn, f.bulkSent[lfn])
				}
				if f.bulkSent[lfn] == 1 {
					bulked++
					if f.opened[lfn] != 0 && !f.rotten[lfn] {
						t.Errorf("%s came in bulk and was downloaded too", lfn)
					}
				}
				if f.opened[lfn] > 0 {
					opened++
				}
			}
			if tc.cutAfter == 0 && (bulked != 1199 || f.bulkRequests != 3) {
				t.Errorf("%d files in %d bulk requests; want 1199 in 3", bulked, f.bulkRequests)
			}
			if tc.cutAfter > 0 && (bulked != 3*tc.cutAfter || opened < 1200-3*tc.cutAfter) {
				t.Errorf("cut short: %d files in bulk, %d downloaded", bulked, opened)
			}
		})
	}
}
