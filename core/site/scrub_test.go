package site_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"frm/core/meta"
	"frm/core/site"
)

// scrubTree places the cases a scrub must tell apart below /store/s and
// returns the data files of those that are bad (rotten before the scrub)
// by lfn.
func scrubTree(t *testing.T, s *site.Site) (rotten map[string]string) {
	t.Helper()
	rotten = map[string]string{}
	body := strings.Repeat("0123456789abcdef", 4096) // 64 KiB
	place(t, s, "/store/s/good-xa.dat", "data", body)
	place(t, s, "/store/s/sub/good-plain.dat", "", body)
	place(t, s, "/store/s/sub/deeper/empty.dat", "", "")
	d := place(t, s, "/store/s/rot-xa.dat", "data", body)
	flip(t, d, 40000)
	rotten["/store/s/rot-xa.dat"] = d
	d = place(t, s, "/store/s/sub/rot-plain.dat", "", body)
	flip(t, d, 0)
	rotten["/store/s/sub/rot-plain.dat"] = d
	// Rotten and already marked by an earlier check: counted, not marked again.
	d = place(t, s, "/store/s/known.dat", "fast", body)
	flip(t, d, 7)
	earlier := meta.BadChecksum{Alg: "adler32", Found: 1, MTime: 2, Stored: []byte{1, 2, 3, 4}, Computed: []byte{5, 6, 7, 8}}
	if err := meta.SetBadChecksum(d, earlier); err != nil {
		t.Fatal(err)
	}
	// Modified the honest way (new mtime): the record is stale, not bad.
	d = place(t, s, "/store/s/stale.dat", "data", body)
	os.WriteFile(d, []byte("rewritten"), 0o644)
	os.Chtimes(d, time.Now(), time.Now().Add(time.Hour))
	// No record at all.
	if _, err := s.Place(context.Background(), "/store/s/nocks.dat", "", strings.NewReader(body), int64(len(body))); err != nil {
		t.Fatal(err)
	}
	return rotten
}

func TestScrub(t *testing.T) {
	for _, workers := range []int{1, 3} {
		t.Run("workers "+string(rune('0'+workers)), func(t *testing.T) {
			s := cksSite(t)
			rotten := scrubTree(t, s)
			// A name leading outside the site: reported, never read.
			outside := filepath.Join(t.TempDir(), "secret")
			os.WriteFile(outside, []byte("not frm's"), 0o644)
			os.Symlink(outside, s.PFN("/store/s/evil.dat"))
			meta.SetChecksum(outside, meta.Checksum{Alg: "adler32", Value: []byte{0, 0, 0, 1}, MTime: mtimeOf(t, outside)})

			var mu sync.Mutex
			var bad []string
			var errs []error
			checked := map[string]bool{}
			c := new(site.ScrubCounters)
			sum, err := s.Scrub(context.Background(), []string{"/store/s"}, site.ScrubOptions{Workers: workers, Counters: c,
				OnError: func(err error) { errs = append(errs, err) }},
				func(r site.ScrubResult) {
					mu.Lock()
					defer mu.Unlock()
					checked[r.LFN] = true
					if !r.Match {
						bad = append(bad, r.LFN)
						if r.Bad == nil || r.Stored.Hex() == r.Computed.Hex() {
							t.Errorf("%s: mismatch without a mark or with equal values: %+v", r.LFN, r)
						}
					}
				})
			if err != nil {
				t.Fatal(err)
			}
			sort.Strings(bad)
			want := []string{"/store/s/known.dat", "/store/s/rot-xa.dat", "/store/s/sub/rot-plain.dat"}
			if strings.Join(bad, " ") != strings.Join(want, " ") {
				t.Errorf("mismatches %v, want %v", bad, want)
			}
			wantSum := site.ScrubSummary{Files: 6, Bytes: 5 * 65536, Mismatches: 3, Marked: 2, Bad: 3, Stale: 1, NoChecksum: 1, Errors: 1}
			if sum != wantSum {
				t.Errorf("summary %+v\nwant    %+v", sum, wantSum)
			}
			if c.Files.Load() != 6 || c.Bytes.Load() != 5*65536 || c.Mismatches.Load() != 3 || c.Marked.Load() != 2 {
				t.Errorf("counters files %d bytes %d mismatches %d marked %d", c.Files.Load(), c.Bytes.Load(), c.Mismatches.Load(), c.Marked.Load())
			}
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), "outside") {
				t.Errorf("errors %v, want one about the link leading outside", errs)
			}
			if checked["/store/s/stale.dat"] || checked["/store/s/nocks.dat"] || checked["/store/s/evil.dat"] {
				t.Errorf("checked what must be skipped: %v", checked)
			}
			for lfn, data := range rotten {
				m, ok, _ := meta.GetBadChecksum(data)
				if !ok || m.Alg != "adler32" || m.Found != s.Now().Unix() && time.Since(time.Unix(m.Found, 0)) > time.Minute {
					t.Errorf("%s: mark %v %+v", lfn, ok, m)
				}
			}
			if m, _, _ := meta.GetBadChecksum(s.PFN("/store/s/known.dat")); m.Found != 1 {
				t.Errorf("an earlier mark was replaced: %+v", m)
			}
			for _, lfn := range []string{"/store/s/good-xa.dat", "/store/s/sub/good-plain.dat", "/store/s/stale.dat", "/store/s/nocks.dat"} {
				if _, ok, _ := meta.GetBadChecksum(s.PFN(lfn)); ok {
					t.Errorf("%s marked bad", lfn)
				}
			}
			assertNoAttr(t, outside, meta.AttrBadChecksum)

			// A second pass finds the same, marks nothing new.
			sum2, err := s.Scrub(context.Background(), []string{"/store/s"}, site.ScrubOptions{Workers: workers}, nil)
			if err != nil || sum2.Mismatches != 3 || sum2.Marked != 0 || sum2.Bad != 3 {
				t.Errorf("second pass %+v %v", sum2, err)
			}
		})
	}
}

func mtimeOf(t *testing.T, p string) int64 {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.ModTime().Unix()
}

func assertNoAttr(t *testing.T, path, name string) {
	t.Helper()
	if _, ok, _ := meta.GetBadChecksum(path); ok {
		t.Errorf("%s written on %s", name, path)
	}
}

// TestScrubRateAndCancel: the rate bounds the reading, and cancelling
// (SIGTERM in the daemon) stops a scrub in the middle of a file.
func TestScrubRateAndCancel(t *testing.T) {
	s := cksSite(t)
	body := strings.Repeat("x", 3<<20)
	place(t, s, "/store/r/a.dat", "", body)
	place(t, s, "/store/r/b.dat", "", body)

	// 6 MiB at 8 MiB/s with a burst of 1 MiB: at least 5/8 s.
	start := time.Now()
	sum, err := s.Scrub(context.Background(), []string{"/store/r"}, site.ScrubOptions{Rate: 8 << 20}, nil)
	el := time.Since(start)
	if err != nil || sum.Files != 2 {
		t.Fatalf("%+v %v", sum, err)
	}
	if el < 550*time.Millisecond {
		t.Errorf("6 MiB at 8 MiB/s took %v", el)
	}

	// At 1 MiB/s the pass would take 6 s; cancelled after 200 ms it must
	// return at once, having read about 1 MiB (the burst) + 0.2 MiB.
	ctx, cancel := context.WithCancel(context.Background())
	c := new(site.ScrubCounters)
	time.AfterFunc(200*time.Millisecond, cancel)
	start = time.Now()
	sum, err = s.Scrub(ctx, []string{"/store/r"}, site.ScrubOptions{Rate: 1 << 20, Counters: c}, nil)
	el = time.Since(start)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled scrub returned %v", err)
	}
	if el > time.Second || sum.Files != 0 || c.Bytes.Load() > 3<<20 {
		t.Errorf("cancelled after 200ms: returned after %v, %d files, %d bytes read", el, sum.Files, c.Bytes.Load())
	}
}
