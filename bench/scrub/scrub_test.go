package scrub

import (
	"context"
	"fmt"
	"hash/adler32"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"frm/core/config"
	"frm/core/meta"
	"frm/core/site"
	"frm/core/sitegen"
	"frm/core/wire"
)

func envInt(b *testing.B, name string, def int64, size bool) int64 {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	var n int64
	var err error
	if size {
		n, err = config.ParseSize(v)
	} else {
		n, err = strconv.ParseInt(v, 10, 64)
	}
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// benchSite opens (creating when needed) a site with n files of size
// bytes below /store/scrub and returns it with the data files' paths.
func benchSite(b *testing.B, dir string, n int, size int64) (*site.Site, []string) {
	l := sitegen.NewLayout(dir)
	marker := filepath.Join(dir, fmt.Sprintf("scrub-bench-%d-%d", n, size))
	if _, err := os.Stat(marker); err != nil {
		os.RemoveAll(dir)
		if err := l.WriteConfigs(); err != nil {
			b.Fatal(err)
		}
	}
	cfg, err := config.Load(l.Config, "")
	if err != nil {
		b.Fatal(err)
	}
	s, err := wire.Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	var data []string
	ctx := context.Background()
	rng := rand.NewChaCha8([32]byte{'f', 'r', 'm'})
	for i := range n {
		lfn := fmt.Sprintf("/store/scrub/f%03d.dat", i)
		if _, err := os.Stat(marker); err != nil {
			b.Logf("writing %s (%d bytes)", lfn, size)
			h := adler32.New()
			pfn, err := s.Place(ctx, lfn, "data", io.TeeReader(io.LimitReader(rng, size), h), size)
			if err != nil {
				b.Fatal(err)
			}
			st, err := os.Stat(pfn)
			if err != nil {
				b.Fatal(err)
			}
			if err := meta.SetChecksum(pfn, meta.Checksum{Alg: "adler32", Value: h.Sum(nil), MTime: st.ModTime().Unix()}); err != nil {
				b.Fatal(err)
			}
		}
		d, err := filepath.EvalSymlinks(s.PFN(lfn))
		if err != nil {
			b.Fatal(err)
		}
		data = append(data, d)
	}
	os.WriteFile(marker, nil, 0o644)
	return s, data
}

// evict drops the files' pages from the page cache.
func evict(b *testing.B, files []string) {
	for _, f := range files {
		fd, err := unix.Open(f, unix.O_RDONLY, 0)
		if err != nil {
			b.Fatal(err)
		}
		unix.Fdatasync(fd)
		if err := unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED); err != nil {
			b.Fatal(err)
		}
		unix.Close(fd)
	}
}

func BenchmarkScrubVsCat(b *testing.B) {
	nfiles := int(envInt(b, "FRM_BENCH_SCRUB_FILES", 8, false))
	size := envInt(b, "FRM_BENCH_SCRUB_SIZE", 256<<20, true)
	rounds := int(envInt(b, "FRM_BENCH_ROUNDS", 3, false))
	dir := os.Getenv("FRM_BENCH_DIR")
	if dir == "" {
		dir = filepath.Join(b.TempDir(), "site")
	}
	s, files := benchSite(b, dir, nfiles, size)
	total := float64(nfiles) * float64(size)
	ctx := context.Background()

	cat := func() {
		cmd := exec.Command("cat", files...)
		devnull, _ := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		defer devnull.Close()
		cmd.Stdout = devnull
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			b.Fatalf("cat: %v %s", err, stderr.String())
		}
	}
	scrub := func(workers int, rate int64, cached bool) func() {
		return func() {
			sum, err := s.Scrub(ctx, []string{"/store/scrub"}, site.ScrubOptions{Workers: workers, Rate: rate, Cached: cached,
				OnError: func(err error) { b.Error(err) }}, nil)
			if err != nil || sum.Files != int64(nfiles) || sum.Mismatches != 0 {
				b.Fatalf("scrub: %+v %v", sum, err)
			}
		}
	}
	type method struct {
		name string
		run  func()
	}
	methods := []method{{"cat FILES >/dev/null", cat}, {"scrub, 1 reader", scrub(1, 0, false)}, {"scrub, 2 readers", scrub(2, 0, false)},
		{"scrub cached, 1 reader", scrub(1, 0, true)}}
	best := map[string]map[bool]time.Duration{}
	for range b.N {
		for r := range rounds {
			for _, cold := range []bool{true, false} {
				for k := range methods {
					m := methods[(k+r)%len(methods)]
					if cold {
						evict(b, files)
					} else {
						m.run() // warm the cache
					}
					t0 := time.Now()
					m.run()
					el := time.Since(t0)
					if best[m.name] == nil {
						best[m.name] = map[bool]time.Duration{}
					}
					if old, ok := best[m.name][cold]; !ok || el < old {
						best[m.name][cold] = el
					}
				}
			}
		}
	}
	b.StopTimer()
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("\nscrub vs cat: %d files of %s (%.0f MiB) in %s, %d CPUs, best of %d rounds, load %s",
		nfiles, config.Size(size), total/(1<<20), dir, nprocs(), rounds, load)
	fmt.Printf("%-24s %12s %10s %12s %10s\n", "", "cold s", "cold MB/s", "warm s", "warm MB/s")
	names := make([]string, 0, len(best))
	for n := range best {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c, w := best[n][true], best[n][false]
		fmt.Printf("%-24s %12.3f %10.0f %12.3f %10.0f\n", n, c.Seconds(), total/c.Seconds()/1e6, w.Seconds(), total/w.Seconds()/1e6)
	}
	fmt.Println("(cold: the files' pages dropped before the run; warm: the files cached before the run. A scrub by default")
	fmt.Println(" drops the file's cached pages first, so that it checks what the disk holds: it reads the disk either way;")
	fmt.Println(" \"cached\" checks the cached pages as they are, the hash then being the only cost beside cat's.)")
	catName := methods[0].name
	for _, m := range methods[1:] {
		rc := best[catName][true].Seconds() / best[m.name][true].Seconds()
		rw := best[catName][false].Seconds() / best[m.name][false].Seconds()
		verdict := "met"
		if rc < 0.8 {
			verdict = "MISSED"
		}
		fmt.Printf("ratio %s / cat: cold %.2fx (target >= 0.8x: %s), warm %.2fx\n", m.name, rc, verdict, rw)
		if m.name == "scrub, 1 reader" {
			b.ReportMetric(rc, "cold-ratio")
			b.ReportMetric(rw, "warm-ratio")
		}
	}
	if r := os.Getenv("FRM_BENCH_SCRUB_RATE"); r != "" {
		rate, err := config.ParseRate(r)
		if err != nil {
			b.Fatal(err)
		}
		evict(b, files)
		t0 := time.Now()
		scrub(1, rate, false)()
		el := time.Since(t0).Seconds()
		fmt.Printf("scrub at rate %s: %.0f MiB/s achieved (%.3f s)\n", config.Rate(rate), total/el/(1<<20), el)
	}
}

func nprocs() int {
	var set unix.CPUSet
	if unix.SchedGetaffinity(0, &set) == nil {
		return set.Count()
	}
	return 1
}
