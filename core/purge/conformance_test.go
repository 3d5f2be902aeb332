package purge

// Conformance with xrootd 5.5.3's frm_purged: two copies of the same demo
// site, shaped so that every case of the reference's R03 observation
// exists, are purged in test mode (-O 100%,3600 -T -v) by frm_purged and
// dry-run by Build; the files selected must be the same.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"frm/core/catalog"
	"frm/core/config"
	"frm/core/meta"
	"frm/core/sitegen"
	"frm/core/units"
	"frm/core/wire"
)

const xrootdPurged = "/usr/bin/frm_purged"

func requireXrootd(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(xrootdPurged); err != nil {
		if os.Getenv("FRM_REQUIRE_XROOTD") == "1" {
			t.Fatalf("%s is required (FRM_REQUIRE_XROOTD=1) but absent: %v", xrootdPurged, err)
		}
		t.Skipf("skipping the frm_purged conformance test: %s not installed (Debian/Ubuntu: apt-get install xrootd-server; FRM_REQUIRE_XROOTD=1 makes this a failure)", xrootdPurged)
	}
}

// r03Case names a file shaped into one of R03's cases and what both tools
// must do with it.
type r03Case struct {
	what   string
	lfn    string
	purged bool
}

// shapeR03 makes the cases of R03 exist on a demo site generated at now:
// every data file gets an old, distinct access time (the demo's MSS copy
// reads them, so their atime is "now"), then a few files are changed into
// the cases. The same site generated twice is shaped identically.
func shapeR03(t *testing.T, dir string, now time.Time) []r03Case {
	t.Helper()
	cfg, err := config.Load(filepath.Join(dir, "frm.toml"), "")
	if err != nil {
		t.Fatal(err)
	}
	s, err := wire.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var files []catalog.Entry
	for _, root := range []string{"/store", "/scratch"} {
		err := s.Catalog.Walk(ctx, root, catalog.WalkOptions{Want: catalog.WantStat | catalog.WantLink | catalog.WantCopy, Recursive: true, Workers: 1},
			func(e *catalog.Entry) error {
				if e.Type == catalog.File && !e.Dangling {
					files = append(files, *e)
				}
				return nil
			})
		if err != nil {
			t.Fatal(err)
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].LFN < files[j].LFN })
	for i, e := range files {
		at := now.Add(-5*24*time.Hour - time.Duration(i)*7*time.Minute)
		if err := os.Chtimes(e.PFN, at, time.Unix(e.Mtime, 0)); err != nil {
			t.Fatal(err)
		}
	}
	// Migrated HMI files (data space, XA) become the cases.
	var hmi []catalog.Entry
	for _, e := range files {
		if strings.HasPrefix(e.LFN, "/store/hmi/") && e.Migrated() && e.CopyTime != 0 {
			hmi = append(hmi, e)
		}
	}
	if len(hmi) < 10 {
		t.Fatalf("demo site has only %d migrated HMI files", len(hmi))
	}
	// Skip the pinned-forever day: take files from the start.
	var cases []r03Case
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	setAtime := func(e catalog.Entry, at time.Time) { must(os.Chtimes(e.PFN, at, time.Unix(e.Mtime, 0))) }
	c := hmi[0]
	setAtime(c, now.Add(-time.Minute))
	cases = append(cases, r03Case{"recent access within hold", c.LFN, false})
	c = hmi[1]
	must(meta.SetPin(c.PFN, meta.Pin{Flags: meta.PinIdle, Time: 86400}))
	cases = append(cases, r03Case{"idle pin, old atime", c.LFN, true})
	c = hmi[2]
	setAtime(c, now.Add(-3*time.Hour))
	must(meta.SetPin(c.PFN, meta.Pin{Flags: meta.PinIdle, Time: 86400}))
	cases = append(cases, r03Case{"idle pin, atime 3h ago", c.LFN, false})
	c = hmi[3]
	must(meta.SetPin(c.PFN, meta.Pin{Flags: meta.PinKeep, Time: now.Add(-24 * time.Hour).Unix()}))
	cases = append(cases, r03Case{"expired keep pin", c.LFN, true})
	c = hmi[4]
	must(meta.SetPin(c.PFN, meta.Pin{Flags: meta.PinKeep, Time: now.Add(5 * 24 * time.Hour).Unix()}))
	cases = append(cases, r03Case{"keep pin in the future", c.LFN, false})
	c = hmi[5]
	must(meta.SetCopyTime(c.PFN, 0))
	cases = append(cases, r03Case{"copy time 0 (migration deferred)", c.LFN, true})
	c = hmi[6]
	must(os.WriteFile(s.FailPath(c.PFN), nil, 0o644))
	cases = append(cases, r03Case{"migrated with a .fail file", c.LFN, true})
	c = hmi[7]
	must(meta.SetPin(c.PFN, meta.Pin{Flags: meta.PinForever}))
	cases = append(cases, r03Case{"pinned forever", c.LFN, false})
	c = hmi[8]
	cases = append(cases, r03Case{"migrated, old atime (XA, data space)", c.LFN, true})
	c = hmi[9]
	must(meta.SetCopyTime(c.PFN, c.Mtime-113))
	cases = append(cases, r03Case{"not migrated (mark -m)", c.LFN, false})
	// Plain (non-XA) public files in /scratch: five become migrated.
	for i := 10; i < 15; i++ {
		lfn := fmt.Sprintf("/scratch/jsoc/export_%03d.tar", i)
		var st unix.Stat_t
		must(unix.Stat(s.PFN(lfn), &st))
		must(meta.SetCopyTime(s.PFN(lfn), st.Mtim.Sec))
		if i == 10 {
			cases = append(cases, r03Case{"migrated plain public file", lfn, true})
		}
	}
	cases = append(cases, r03Case{"no copy time", "/scratch/jsoc/export_020.tar", false})
	return cases
}

func TestConformanceFrmPurged(t *testing.T) {
	requireXrootd(t)
	ctx := context.Background()
	gen := time.Now().Truncate(time.Second)
	var dirs [2]string
	var cases []r03Case
	for i := range dirs {
		dirs[i] = filepath.Join(t.TempDir(), "site")
		if _, _, err := sitegen.Demo(ctx, dirs[i], sitegen.DemoOptions{Files: 400, Seed: 53, Now: gen}); err != nil {
			if strings.Contains(err.Error(), "not supported") {
				t.Skip("no user xattrs on this filesystem")
			}
			t.Fatal(err)
		}
		cases = shapeR03(t, dirs[i], gen)
	}

	// xrootd on the first copy. A pid path of its own keeps it from
	// colliding with another frm_purged's /tmp/frm_purged.pid.
	cf := filepath.Join(dirs[0], "xrootd.cf")
	os.MkdirAll(filepath.Join(dirs[0], "run"), 0o755)
	f, err := os.OpenFile(cf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "all.pidpath %s\n", filepath.Join(dirs[0], "run"))
	f.Close()
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(rctx, xrootdPurged, "-c", cf, "-O", "100%,3600", "-T", "-v")
	for _, e := range os.Environ() {
		k, _, _ := strings.Cut(e, "=")
		if k != "XRDCONFIGFN" && k != "XRDNAME" && k != "XRDADMINPATH" {
			cmd.Env = append(cmd.Env, e)
		}
	}
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	t0 := time.Now()
	err = cmd.Run()
	t.Logf("frm_purged ran %v", time.Since(t0))
	if err != nil {
		t.Fatalf("frm_purged: %v\nstderr:\n%s", err, se.String())
	}
	norm := func(s, dir string) string { return strings.ReplaceAll(s, dir, "$SITE") }
	var xrd []string
	xrdOrder := map[string][]string{}
	for _, l := range strings.Split(se.String(), "\n") {
		if !strings.HasPrefix(l, "Zorch  ") || strings.HasPrefix(l, "Zorch  empty dir") {
			continue
		}
		l = norm(strings.TrimRight(l, " "), dirs[0])
		xrd = append(xrd, l)
		sp := strings.Fields(l)[1]
		xrdOrder[sp] = append(xrdOrder[sp], l)
	}

	// frm on the second copy, same override, as of the same moment.
	cfg, err := config.Load(filepath.Join(dirs[1], "frm.toml"), "")
	if err != nil {
		t.Fatal(err)
	}
	s, err := wire.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := Watermark{Percent: 100, IsPercent: true}
	hold := 3600 * time.Second
	p, err := Build(ctx, s, Options{Override: &w, HoldOverride: &hold, KeepReasons: true})
	if err != nil {
		t.Fatal(err)
	}
	var frm []string
	frmOrder := map[string][]string{}
	frmCands := map[string][]Candidate{}
	reasons := map[string]Reason{}
	for _, sp := range p.Spaces {
		for _, c := range sp.Candidates {
			l := zorchLine(c, dirs[1])
			frm = append(frm, l)
			frmOrder[c.Space] = append(frmOrder[c.Space], l)
			frmCands[c.Space] = append(frmCands[c.Space], c)
		}
		for _, k := range sp.Kept {
			reasons[k.LFN] = k.Reason
		}
	}
	if len(xrd) == 0 {
		t.Fatalf("frm_purged selected nothing; stderr:\n%s", se.String())
	}
	sort.Strings(xrd)
	sort.Strings(frm)
	if strings.Join(xrd, "\n") != strings.Join(frm, "\n") {
		t.Errorf("selected files differ:\n%s", diffLines(xrd, frm))
	}
	// Within a space frm purges strictly oldest first. frm_purged's order
	// is only approximately so: XrdFrmTSort bins by whole days of age
	// (all files 63 days or older share one bin) and orders inside a bin
	// by the age modulo 2^18 seconds. Check that frm's order is exact and
	// that xrootd's is the radix order for its cycle start time.
	for sp, cs := range frmCands {
		for i := 1; i < len(cs); i++ {
			if purgeBefore(&cs[i], &cs[i-1]) {
				t.Errorf("space %s: frm order not oldest first at %d", sp, i)
			}
		}
	}
	for sp, want := range xrdOrder {
		if strings.Join(frmOrder[sp], "\n") == strings.Join(want, "\n") {
			continue
		}
		matched := int64(0)
		for base := t0.Unix() - 2; base <= time.Now().Unix()+2 && matched == 0; base++ {
			if strings.Join(tsortLines(frmCands[sp], base, dirs[1]), "\n") == strings.Join(want, "\n") {
				matched = base
			}
		}
		if matched != 0 {
			t.Logf("space %s: frm_purged's order is XrdFrmTSort's for cycle start %d; frm's is exact", sp, matched)
		} else {
			t.Logf("space %s: frm_purged's order differs from frm's and from the XrdFrmTSort model", sp)
		}
	}
	sel := map[string]bool{}
	for _, l := range frm {
		sel[l[strings.LastIndexByte(l, ' ')+1:]] = true
	}
	for _, c := range cases {
		pfn := "$SITE/ns" + c.lfn
		if sel[pfn] != c.purged {
			t.Errorf("%s (%s): selected %v, want %v (kept for %v)", c.what, c.lfn, sel[pfn], c.purged, reasons[c.lfn])
		}
	}
	counts := map[Reason]int{}
	for _, sp := range p.Spaces {
		for r, n := range sp.Counts {
			counts[r] += n
		}
	}
	per := map[string]int{}
	for sp, ls := range frmOrder {
		per[sp] = len(ls)
	}
	t.Logf("frm_purged and frm both selected %d files %v; frm kept %v", len(frm), per, counts)
}

// diffLines lists lines only in a (-) or only in b (+).
func diffLines(a, b []string) string {
	in := func(xs []string) map[string]bool {
		m := map[string]bool{}
		for _, x := range xs {
			m[x] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out []string
	for _, x := range a {
		if !mb[x] {
			out = append(out, "- xrootd only: "+x)
		}
	}
	for _, x := range b {
		if !ma[x] {
			out = append(out, "+ frm only:    "+x)
		}
	}
	if len(out) == 0 {
		return "(same lines, different order)"
	}
	return strings.Join(out, "\n")
}

// zorchLine is frm_purged's -T line for c, the site directory replaced.
func zorchLine(c Candidate, dir string) string {
	return strings.ReplaceAll(fmt.Sprintf("Zorch  %s %8s %s %s", c.Space, units.Bytes(c.Size),
		time.Unix(c.Atime, 0).Format("060102 15:04:05"), c.PFN), dir, "$SITE")
}

// tsortLines orders cs as xrootd 5.5.3's XrdFrmTSort does for a cycle
// started at base: by day bin of age (capped at 63) descending, then by
// age modulo 2^18 descending, then larger first.
func tsortLines(cs []Candidate, base int64, dir string) []string {
	type aged struct {
		c        Candidate
		day, low int64
	}
	var as []aged
	for _, c := range cs {
		age := base - c.Atime
		if age < 0 {
			continue // xrootd's Add refuses files accessed after the cycle start
		}
		as = append(as, aged{c, min(age/86400, 63), age & 0x3ffff})
	}
	sort.SliceStable(as, func(i, j int) bool {
		a, b := as[i], as[j]
		if a.day != b.day {
			return a.day > b.day
		}
		if a.low != b.low {
			return a.low > b.low
		}
		return a.c.Size > b.c.Size
	})
	var out []string
	for _, a := range as {
		out = append(out, zorchLine(a.c, dir))
	}
	return out
}
