// Package msstest is the conformance suite every mss.Backend must pass
// (restic's backend test suite, rclone's fstests): the same tests run
// against the posix tree, the copy-command backend and S3.
//
// The suite works below the lfn "/msstest" and removes what it stores. It
// reads the backend's mss.Properties (mss.PropertiesOf) for what it may
// demand: a backend that cannot stat (mss.ErrNoStat) has its Stat checks
// skipped, one without atomic stores is not held to all-or-nothing
// results of cancelled or concurrent stores, one that records checksums
// must report them from Stat.
//
// Contract details the suite fixes:
//   - a failed Fetch leaves no dst, not even one that existed before;
//   - Rename (backends with mss.Renamer) keeps size, mtime and recorded
//     checksum, never replaces an existing name, and reports a missing
//     source as IsNotExist;
//   - Result.Checksum is set exactly when an algorithm was asked for;
//   - an unknown checksum algorithm is a Permanent error.
package msstest

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"frm/core/meta"
	"frm/core/mss"
)

// Alg is the checksum algorithm the suite asks for (frm's default).
const Alg = "adler32"

// LargeSize is the size of the suite's large file: more than one S3 part
// when the part size is 5 MiB.
const LargeSize = 20 << 20

// CancelSize is the size of the file whose transfers the suite cancels
// midway: still more than one 5 MiB S3 part.
const CancelSize = 8 << 20

// Run exercises b. rfnFor maps an lfn to the rfn the backend expects
// (for example RemoteRoot + lfn).
func Run(t *testing.T, b mss.Backend, rfnFor func(lfn string) string) {
	s := &suite{b: b, rfnFor: rfnFor, props: mss.PropertiesOf(b)}
	t.Logf("backend %s, properties %+v", b.Name(), s.props)
	t.Run("StatMissing", s.statMissing)
	t.Run("StoreStatFetch", s.storeStatFetch)
	t.Run("Overwrite", s.overwrite)
	t.Run("Remove", s.remove)
	t.Run("FetchMissing", s.fetchMissing)
	t.Run("BadAlgorithm", s.badAlgorithm)
	t.Run("Large", s.large)
	t.Run("Names", s.names)
	t.Run("Cancel", s.cancel)
	t.Run("Concurrent", s.concurrent)
	t.Run("Rename", s.rename)
}

type suite struct {
	b      mss.Backend
	rfnFor func(string) string
	props  mss.Properties
}

// data returns n deterministic pseudo-random bytes for seed.
func data(seed uint64, n int) []byte {
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), 0x42})
	b := make([]byte, n)
	r.Read(b)
	return b
}

// adler returns the meta adler32 checksum of p in hex.
func adler(p []byte) string {
	h, _ := meta.NewHash(Alg)
	h.Write(p)
	return hex.EncodeToString(h.Sum(nil))
}

// writeSrc writes p to a new local file and returns its name.
func writeSrc(t *testing.T, p []byte) string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "src-*")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(p); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

func (s *suite) req(lfn string) mss.Request {
	return mss.Request{LFN: lfn, RFN: s.rfnFor(lfn), RID: "rq1", TID: "msstest", Mode: 'r'}
}

// store stores p as lfn with the suite's algorithm and checks the result.
// The object is removed at the end of the test.
func (s *suite) store(t *testing.T, lfn string, p []byte) {
	t.Helper()
	src := writeSrc(t, p)
	req := s.req(lfn)
	req.PFN = src
	t.Cleanup(func() { s.b.Remove(context.Background(), req.RFN) })
	res, err := s.b.Store(context.Background(), req, src, Alg)
	if err != nil {
		t.Fatalf("Store %q: %v", lfn, err)
	}
	if res.Bytes != int64(len(p)) {
		t.Errorf("Store %q: Bytes = %d, want %d", lfn, res.Bytes, len(p))
	}
	if res.Checksum == nil || res.Checksum.Alg != Alg || res.Checksum.Hex != adler(p) {
		t.Errorf("Store %q: Checksum = %v, want %s:%s", lfn, res.Checksum, Alg, adler(p))
	}
}

// stat stats lfn; ok is false (and the test logs why) when the backend
// cannot stat.
func (s *suite) stat(t *testing.T, lfn string) (mss.Info, error, bool) {
	t.Helper()
	info, err := s.b.Stat(context.Background(), s.rfnFor(lfn))
	if errors.Is(err, mss.ErrNoStat) {
		if s.props.CanStat {
			t.Errorf("Stat %q: ErrNoStat from a backend that claims CanStat: %v", lfn, err)
		}
		t.Logf("Stat %q: backend cannot stat (%v)", lfn, err)
		return info, err, false
	}
	return info, err, true
}

// checkStat checks that lfn's MSS copy holds p.
func (s *suite) checkStat(t *testing.T, lfn string, p []byte) {
	t.Helper()
	info, err, ok := s.stat(t, lfn)
	if !ok {
		return
	}
	if err != nil {
		t.Fatalf("Stat %q: %v", lfn, err)
	}
	if info.Size != int64(len(p)) {
		t.Errorf("Stat %q: Size = %d, want %d", lfn, info.Size, len(p))
	}
	if info.ModTime.IsZero() {
		t.Errorf("Stat %q: zero ModTime", lfn)
	}
	switch {
	case info.Checksum != nil:
		if info.Checksum.Alg != Alg || info.Checksum.Hex != adler(p) {
			t.Errorf("Stat %q: Checksum = %v, want %s:%s", lfn, info.Checksum, Alg, adler(p))
		}
	case s.props.RecordsChecksum:
		t.Errorf("Stat %q: no checksum recorded by a backend that claims RecordsChecksum", lfn)
	}
}

// checkMissing checks that lfn has no MSS copy.
func (s *suite) checkMissing(t *testing.T, lfn string) {
	t.Helper()
	_, err, ok := s.stat(t, lfn)
	if ok && !mss.IsNotExist(err) {
		t.Errorf("Stat %q: err = %v, want IsNotExist", lfn, err)
	}
}

// fetch fetches lfn into a fresh local name and checks it holds p.
func (s *suite) fetch(t *testing.T, lfn string, p []byte) {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "sub", "dir", "fetched")
	res, err := s.b.Fetch(context.Background(), s.req(lfn), dst, Alg)
	if err != nil {
		t.Fatalf("Fetch %q: %v", lfn, err)
	}
	got, err := os.ReadFile(dst)
	if err != nil {
		t.Fatalf("Fetch %q: %v", lfn, err)
	}
	if !bytes.Equal(got, p) {
		t.Fatalf("Fetch %q: got %d bytes (adler32 %s), want %d bytes (adler32 %s)", lfn, len(got), adler(got), len(p), adler(p))
	}
	if res.Bytes != int64(len(p)) {
		t.Errorf("Fetch %q: Bytes = %d, want %d", lfn, res.Bytes, len(p))
	}
	if res.Checksum == nil || res.Checksum.Alg != Alg || res.Checksum.Hex != adler(p) {
		t.Errorf("Fetch %q: Checksum = %v, want %s:%s", lfn, res.Checksum, Alg, adler(p))
	}
}

func noFile(t *testing.T, path, why string) {
	t.Helper()
	if _, err := os.Lstat(path); err == nil {
		t.Errorf("%s: %s exists, want it absent", why, path)
	} else if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s: %v", why, err)
	}
}

func (s *suite) statMissing(t *testing.T) {
	s.checkMissing(t, "/msstest/missing/none.dat")
	s.checkMissing(t, "/msstest/missing-dir/a/b/none.dat")
}

func (s *suite) storeStatFetch(t *testing.T) {
	for _, tc := range []struct {
		name string
		lfn  string
		size int
	}{
		{"empty", "/msstest/ssf/empty.dat", 0},
		{"small", "/msstest/ssf/small.dat", 1},
		{"100k", "/msstest/ssf/deep/er/100k.dat", 100 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := data(uint64(tc.size), tc.size)
			s.store(t, tc.lfn, p)
			s.checkStat(t, tc.lfn, p)
			s.fetch(t, tc.lfn, p)
			// Without an algorithm there is no checksum in the result.
			dst := filepath.Join(t.TempDir(), "nocks")
			res, err := s.b.Fetch(context.Background(), s.req(tc.lfn), dst, "")
			if err != nil {
				t.Fatalf("Fetch without alg: %v", err)
			}
			if res.Checksum != nil {
				t.Errorf("Fetch without alg: Checksum = %v, want nil", res.Checksum)
			}
		})
	}
}

func (s *suite) overwrite(t *testing.T) {
	lfn := "/msstest/overwrite.dat"
	first, second := data(1, 64<<10), data(2, 1000)
	s.store(t, lfn, first)
	s.store(t, lfn, second)
	s.checkStat(t, lfn, second)
	s.fetch(t, lfn, second)
}

func (s *suite) remove(t *testing.T) {
	lfn := "/msstest/remove/gone.dat"
	p := data(3, 4096)
	s.store(t, lfn, p)
	ctx := context.Background()
	if err := s.b.Remove(ctx, s.rfnFor(lfn)); errors.Is(err, mss.ErrNotSupported) {
		if s.props.CanStat {
			t.Errorf("Remove: ErrNotSupported from a backend that claims CanStat: %v", err)
		}
		t.Skipf("backend cannot remove: %v", err)
	} else if err != nil {
		t.Fatalf("Remove: %v", err)
	}
	s.checkMissing(t, lfn)
	dst := filepath.Join(t.TempDir(), "dst")
	if _, err := s.b.Fetch(ctx, s.req(lfn), dst, Alg); !mss.IsNotExist(err) {
		t.Errorf("Fetch after Remove: err = %v, want IsNotExist", err)
	}
	noFile(t, dst, "Fetch after Remove")
	if err := s.b.Remove(ctx, s.rfnFor(lfn)); err != nil {
		t.Errorf("Remove again: %v", err)
	}
	if err := s.b.Remove(ctx, s.rfnFor("/msstest/remove/never/was.dat")); err != nil {
		t.Errorf("Remove of a missing object: %v", err)
	}
}

func (s *suite) fetchMissing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		stale bool
	}{{"fresh dst", false}, {"stale dst", true}} {
		t.Run(tc.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "dst")
			if tc.stale {
				if err := os.WriteFile(dst, []byte("stale content"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := s.b.Fetch(context.Background(), s.req("/msstest/missing/none.dat"), dst, Alg)
			if !mss.IsNotExist(err) {
				t.Errorf("Fetch missing: err = %v, want IsNotExist", err)
			}
			noFile(t, dst, "failed Fetch")
		})
	}
}

func (s *suite) badAlgorithm(t *testing.T) {
	lfn := "/msstest/badalg.dat"
	p := data(4, 100)
	src := writeSrc(t, p)
	req := s.req(lfn)
	t.Cleanup(func() { s.b.Remove(context.Background(), req.RFN) })
	if _, err := s.b.Store(context.Background(), req, src, "nosuchalg"); !mss.IsPermanent(err) {
		t.Errorf("Store with alg nosuchalg: err = %v, want IsPermanent", err)
	}
	s.store(t, lfn, p)
	dst := filepath.Join(t.TempDir(), "dst")
	if _, err := s.b.Fetch(context.Background(), req, dst, "nosuchalg"); !mss.IsPermanent(err) {
		t.Errorf("Fetch with alg nosuchalg: err = %v, want IsPermanent", err)
	}
	noFile(t, dst, "failed Fetch")
}

func (s *suite) large(t *testing.T) {
	if testing.Short() {
		t.Skip("large transfer in -short mode")
	}
	lfn := "/msstest/large/big.dat"
	p := data(5, LargeSize)
	s.store(t, lfn, p)
	s.checkStat(t, lfn, p)
	s.fetch(t, lfn, p)
}

// Names is a set of hostile lfns every backend must carry unchanged.
var Names = []string{
	"/msstest/names/with space.dat",
	`/msstest/names/quo"te's.dat`,
	"/msstest/names/semi;colon;rm -rf x.dat",
	"/msstest/names/$(touch pwned) `id` $SRC $HOME.dat",
	"/msstest/names/dir with space/*?[x]&a=1#frag%41+plus.dat",
	"/msstest/names/-leading-dash.dat",
	"/msstest/names/ünïcødé €.dat",
}

func (s *suite) names(t *testing.T) {
	for i, lfn := range Names {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			p := append([]byte(lfn), data(uint64(100+i), 1000)...)
			s.store(t, lfn, p)
			s.checkStat(t, lfn, p)
			s.fetch(t, lfn, p)
			if err := s.b.Remove(context.Background(), s.rfnFor(lfn)); err == nil {
				s.checkMissing(t, lfn)
			} else if !errors.Is(err, mss.ErrNotSupported) {
				t.Errorf("Remove %q: %v", lfn, err)
			}
		})
	}
}

// prompt is how long a cancelled transfer may take to return.
const prompt = 10 * time.Second

func (s *suite) cancel(t *testing.T) {
	t.Run("before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		lfn := "/msstest/cancel/before.dat"
		p := data(6, 1<<20)
		src := writeSrc(t, p)
		req := s.req(lfn)
		t.Cleanup(func() { s.b.Remove(context.Background(), req.RFN) })
		if _, err := s.b.Store(ctx, req, src, Alg); err == nil {
			t.Errorf("Store with a cancelled context succeeded")
		}
		s.checkMissing(t, lfn)

		s.store(t, lfn, p)
		dst := filepath.Join(t.TempDir(), "dst")
		if _, err := s.b.Fetch(ctx, req, dst, Alg); err == nil {
			t.Errorf("Fetch with a cancelled context succeeded")
		}
		noFile(t, dst, "cancelled Fetch")
	})
	t.Run("during", func(t *testing.T) {
		if testing.Short() {
			t.Skip("large transfer in -short mode")
		}
		// Time an uncancelled transfer each way, then cancel at fractions
		// of that time so the cancellation lands inside the transfer.
		ctx := context.Background()
		old, neu := data(7, CancelSize), data(8, CancelSize-1000)
		lfn := "/msstest/cancel/during.dat"
		start := time.Now()
		s.store(t, lfn, old)
		storeTime := time.Since(start)
		dst := filepath.Join(t.TempDir(), "dst")
		start = time.Now()
		if _, err := s.b.Fetch(ctx, s.req(lfn), dst, Alg); err != nil {
			t.Fatal(err)
		}
		fetchTime := time.Since(start)
		t.Logf("store %v, fetch %v", storeTime, fetchTime)
		fracs := []float64{0.2, 0.5, 0.8}

		// Fetch: an error and no dst, or the complete file.
		for _, f := range fracs {
			delay := time.Duration(float64(fetchTime) * f)
			dst := filepath.Join(t.TempDir(), "dst")
			cctx, cancel := context.WithTimeout(ctx, delay)
			start := time.Now()
			_, err := s.b.Fetch(cctx, s.req(lfn), dst, Alg)
			cancel()
			if d := time.Since(start); d > delay+prompt {
				t.Errorf("Fetch cancelled after %v returned after %v", delay, d)
			}
			if err != nil {
				noFile(t, dst, "cancelled Fetch")
			} else if got, _ := os.ReadFile(dst); !bytes.Equal(got, old) {
				t.Errorf("Fetch cancelled after %v reported success with %d bytes", delay, len(got))
			}
			t.Logf("Fetch cancelled after %v: %v", delay, err)
		}

		// Store over the object: an error, and the old or the complete
		// new object (atomic backends), or success and the new object.
		src := writeSrc(t, neu)
		for _, f := range fracs {
			delay := time.Duration(float64(storeTime) * f)
			cctx, cancel := context.WithTimeout(ctx, delay)
			start := time.Now()
			_, err := s.b.Store(cctx, s.req(lfn), src, Alg)
			cancel()
			if d := time.Since(start); d > delay+prompt {
				t.Errorf("Store cancelled after %v returned after %v", delay, d)
			}
			t.Logf("Store cancelled after %v: %v", delay, err)
			if err != nil && !s.props.AtomicStore {
				continue
			}
			dst := filepath.Join(t.TempDir(), "dst")
			// A server may still be finishing the cancelled store: the
			// object can change under the first read (a transient error).
			var ferr error
			for try := 0; try < 3; try++ {
				if _, ferr = s.b.Fetch(ctx, s.req(lfn), dst, Alg); ferr == nil || !mss.IsTransient(ferr) {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			if ferr != nil {
				t.Errorf("Fetch after Store cancelled after %v (err %v): %v", delay, err, ferr)
				continue
			}
			got, _ := os.ReadFile(dst)
			switch {
			case bytes.Equal(got, neu):
			case err == nil:
				t.Errorf("Store cancelled after %v succeeded but the object has %d bytes", delay, len(got))
			case !bytes.Equal(got, old):
				t.Errorf("Store cancelled after %v left an object of %d bytes, neither version", delay, len(got))
			}
		}

		// A new name: nothing (or the complete object) after a
		// cancelled store.
		fresh := "/msstest/cancel/fresh.dat"
		req := s.req(fresh)
		t.Cleanup(func() { s.b.Remove(context.Background(), req.RFN) })
		cctx, cancel := context.WithTimeout(ctx, storeTime/2)
		_, err := s.b.Store(cctx, req, src, Alg)
		cancel()
		info, serr, ok := s.stat(t, fresh)
		switch {
		case !ok:
		case err == nil && (serr != nil || info.Size != int64(len(neu))):
			t.Errorf("cancelled Store succeeded, but Stat = %+v, %v", info, serr)
		case err != nil && serr == nil && info.Size != int64(len(neu)) && s.props.AtomicStore:
			t.Errorf("cancelled Store left a partial object of %d bytes", info.Size)
		case err != nil && serr != nil && !mss.IsNotExist(serr):
			t.Errorf("Stat after cancelled Store: %v", serr)
		}
	})
}

func (s *suite) concurrent(t *testing.T) {
	const n = 8
	t.Run("distinct", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := range n {
			lfn := fmt.Sprintf("/msstest/conc/f%d.dat", i)
			p := data(uint64(200+i), 256<<10+i)
			src := writeSrc(t, p)
			req := s.req(lfn)
			t.Cleanup(func() { s.b.Remove(context.Background(), req.RFN) })
			dst := filepath.Join(t.TempDir(), "dst")
			wg.Go(func() {
				ctx := context.Background()
				if _, err := s.b.Store(ctx, req, src, Alg); err != nil {
					t.Errorf("Store %s: %v", lfn, err)
					return
				}
				res, err := s.b.Fetch(ctx, req, dst, Alg)
				if err != nil {
					t.Errorf("Fetch %s: %v", lfn, err)
					return
				}
				if got, _ := os.ReadFile(dst); !bytes.Equal(got, p) || res.Checksum == nil || res.Checksum.Hex != adler(p) {
					t.Errorf("Fetch %s: wrong content or checksum %v", lfn, res.Checksum)
				}
			})
		}
		wg.Wait()
	})
	t.Run("same name", func(t *testing.T) {
		if !s.props.AtomicStore {
			t.Skip("backend does not promise atomic stores")
		}
		lfn := "/msstest/conc/same.dat"
		versions := map[string]bool{}
		var srcs []string
		for i := range n {
			p := data(uint64(300+i), 128<<10+i*1000)
			versions[adler(p)] = true
			srcs = append(srcs, writeSrc(t, p))
		}
		req := s.req(lfn)
		t.Cleanup(func() { s.b.Remove(context.Background(), req.RFN) })
		var wg sync.WaitGroup
		for _, src := range srcs {
			wg.Go(func() {
				if _, err := s.b.Store(context.Background(), req, src, Alg); err != nil {
					t.Errorf("Store: %v", err)
				}
			})
		}
		wg.Wait()
		dst := filepath.Join(t.TempDir(), "dst")
		res, err := s.b.Fetch(context.Background(), req, dst, Alg)
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		got, _ := os.ReadFile(dst)
		if !versions[adler(got)] || res.Checksum == nil || res.Checksum.Hex != adler(got) {
			t.Errorf("after concurrent stores the object (%d bytes, adler32 %s) is none of the versions", len(got), adler(got))
		}
		s.checkStat(t, lfn, got)
	})
}

// rename checks the optional mss.Renamer capability: a renamed copy keeps
// its data, size, mtime and recorded checksum under the new name only,
// parents of the new name are created, a missing source is IsNotExist, and
// an existing new name is never replaced.
func (s *suite) rename(t *testing.T) {
	r, ok := mss.RenamerOf(s.b)
	if !ok {
		t.Skip("backend has no mss.Renamer")
	}
	ctx := context.Background()
	unsupported := func(t *testing.T, err error) {
		t.Helper()
		if errors.Is(err, mss.ErrNotSupported) {
			if !mss.IsPermanent(err) {
				t.Errorf("Rename: ErrNotSupported not Permanent: %v", err)
			}
			t.Skipf("backend cannot rename: %v", err)
		}
	}
	t.Run("keeps data", func(t *testing.T) {
		from, to := "/msstest/rename/old name.dat", "/msstest/rename/new/deep er/new name.dat"
		p := data(9, 70<<10)
		s.store(t, from, p)
		t.Cleanup(func() { s.b.Remove(ctx, s.rfnFor(to)) })
		before, _, canStat := s.stat(t, from)
		err := r.Rename(ctx, s.rfnFor(from), s.rfnFor(to))
		unsupported(t, err)
		if err != nil {
			t.Fatalf("Rename: %v", err)
		}
		s.checkStat(t, to, p)
		s.fetch(t, to, p)
		s.checkMissing(t, from)
		if after, err, _ := s.stat(t, to); canStat && err == nil && !after.ModTime.Equal(before.ModTime) {
			t.Errorf("Rename changed the mtime: %v, was %v", after.ModTime, before.ModTime)
		}
	})
	t.Run("missing", func(t *testing.T) {
		to := "/msstest/rename/never.dat"
		t.Cleanup(func() { s.b.Remove(ctx, s.rfnFor(to)) })
		err := r.Rename(ctx, s.rfnFor("/msstest/rename/missing.dat"), s.rfnFor(to))
		unsupported(t, err)
		if !mss.IsNotExist(err) {
			t.Errorf("Rename of a missing name: err = %v, want IsNotExist", err)
		}
		s.checkMissing(t, to)
	})
	t.Run("no replace", func(t *testing.T) {
		a, b := "/msstest/rename/a.dat", "/msstest/rename/b.dat"
		pa, pb := data(10, 3000), data(11, 5000)
		s.store(t, a, pa)
		s.store(t, b, pb)
		err := r.Rename(ctx, s.rfnFor(a), s.rfnFor(b))
		unsupported(t, err)
		switch {
		case err == nil:
			t.Errorf("Rename onto an existing name succeeded")
		case s.props.CanStat && (!errors.Is(err, mss.ErrExist) || !mss.IsPermanent(err)):
			t.Errorf("Rename onto an existing name: err = %v, want a permanent ErrExist", err)
		}
		s.fetch(t, a, pa)
		s.fetch(t, b, pb)
	})
	t.Run("names", func(t *testing.T) {
		for i, from := range Names[:3] {
			to := Names[len(Names)-1-i] + ".renamed"
			p := append([]byte(from), data(uint64(400+i), 500)...)
			s.store(t, from, p)
			t.Cleanup(func() { s.b.Remove(ctx, s.rfnFor(to)) })
			err := r.Rename(ctx, s.rfnFor(from), s.rfnFor(to))
			unsupported(t, err)
			if err != nil {
				t.Fatalf("Rename %q -> %q: %v", from, to, err)
			}
			s.fetch(t, to, p)
			s.checkMissing(t, from)
		}
	})
}
