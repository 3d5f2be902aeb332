package purge

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"frm/core/sitegen/sitetest"

	"golang.org/x/sys/unix"

	"frm/core/config"
	"frm/core/meta"
	"frm/core/site"
	"frm/core/sitegen"
	"frm/core/space"
)

// now is the fixed clock of the unit tests.
var now = time.Unix(1_800_000_000, 0)

type fixture struct {
	t   *testing.T
	s   *site.Site
	l   sitegen.Layout
	ctx context.Context
}

// newFixture makes an empty demo-layout site: /store (mig stage purge),
// /scratch (stage purge), /archive (r/o); spaces public, data, fast;
// policy * 5% 10% hold 1h, fast nopurge.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	s, l := sitetest.Open(t, nil)
	s.Now = func() time.Time { return now }
	return &fixture{t: t, s: s, l: l, ctx: context.Background()}
}

// file creates lfn in space sp ("" = plain public file) with size bytes,
// the given access age and mtime age, and copy time = mtime (migrated).
func (f *fixture) file(lfn, sp string, size int, aAge, mAge time.Duration) string {
	f.t.Helper()
	pfn, err := f.s.Place(f.ctx, lfn, sp, strings.NewReader(strings.Repeat("x", size)), int64(size))
	if err != nil {
		f.t.Fatal(err)
	}
	mt := now.Add(-mAge)
	if err := os.Chtimes(pfn, now.Add(-aAge), mt); err != nil {
		f.t.Fatal(err)
	}
	f.setCpy(lfn, mt.Unix())
	return pfn
}

func (f *fixture) setCpy(lfn string, t int64) {
	f.t.Helper()
	if err := meta.SetCopyTime(f.s.PFN(lfn), t); err != nil {
		if errors.Is(err, meta.ErrNotSupported) {
			f.t.Skip("no user xattrs on this filesystem")
		}
		f.t.Fatal(err)
	}
}

func (f *fixture) noCpy(lfn string) {
	f.t.Helper()
	if _, err := meta.RemoveCopyTime(f.s.PFN(lfn)); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) pin(lfn string, p meta.Pin) {
	f.t.Helper()
	if err := meta.SetPin(f.s.PFN(lfn), p); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) setAtime(lfn string, at time.Time) {
	f.t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(f.s.PFN(lfn), &st); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Chtimes(f.s.PFN(lfn), at, time.Unix(st.Mtim.Sec, st.Mtim.Nsec)); err != nil {
		f.t.Fatal(err)
	}
}

// fakeDisk gives every space the same made-up figures.
func fakeDisk(total, free int64) func(space.Space) (int64, int64, error) {
	return func(space.Space) (int64, int64, error) { return total, free, nil }
}

func (f *fixture) build(o Options) *Plan {
	f.t.Helper()
	if o.Now.IsZero() {
		o.Now = now
	}
	if o.SpaceUsage == nil {
		o.SpaceUsage = fakeDisk(1_000_000, 10_000) // 1% free: every policy wants 10% = 100000
	}
	p, err := Build(f.ctx, f.s, o)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, err := range p.Errors {
		f.t.Errorf("plan error: %v", err)
	}
	return p
}

func keptByName(p *Plan) map[string]Kept {
	m := map[string]Kept{}
	for _, sp := range p.Spaces {
		for _, k := range sp.Kept {
			m[filepath.Base(k.LFN)] = k
		}
	}
	return m
}

func candNames(cs []Candidate) []string {
	var n []string
	for _, c := range cs {
		n = append(n, filepath.Base(c.LFN))
	}
	return n
}

const day = 24 * time.Hour

func TestEveryReason(t *testing.T) {
	f := newFixture(t)
	old := 10 * day
	f.file("/store/r/ok.dat", "data", 100, old, 20*day)
	f.file("/store/r/notmig.dat", "data", 100, old, 20*day)
	f.setCpy("/store/r/notmig.dat", now.Add(-20*day).Unix()-113)
	f.file("/store/r/nocpy.dat", "data", 100, old, 20*day)
	f.noCpy("/store/r/nocpy.dat")
	f.file("/store/r/forever.dat", "data", 100, old, 20*day)
	f.pin("/store/r/forever.dat", meta.Pin{Flags: meta.PinForever})
	keepT := now.Add(3 * day).Unix()
	f.file("/store/r/keep.dat", "data", 100, old, 20*day)
	f.pin("/store/r/keep.dat", meta.Pin{Flags: meta.PinKeep, Time: keepT})
	f.file("/store/r/keepover.dat", "data", 100, old, 20*day)
	f.pin("/store/r/keepover.dat", meta.Pin{Flags: meta.PinKeep, Time: now.Add(-day).Unix()})
	f.file("/store/r/idle.dat", "data", 100, 3*time.Hour, 20*day)
	f.pin("/store/r/idle.dat", meta.Pin{Flags: meta.PinIdle, Time: 86400})
	f.file("/store/r/idleold.dat", "data", 100, old, 20*day)
	f.pin("/store/r/idleold.dat", meta.Pin{Flags: meta.PinIdle, Time: 86400})
	f.file("/store/r/recent.dat", "data", 100, time.Minute, 20*day)
	f.file("/store/r/holdedge.dat", "data", 100, time.Hour, 20*day) // now-atime == hold: still held
	f.file("/store/r/deferred.dat", "data", 100, old, 20*day)
	f.setCpy("/store/r/deferred.dat", 0)
	f.file("/store/r/fast.dat", "fast", 100, old, 20*day) // fast is nopurge
	f.file("/store/r/plain.dat", "", 100, old, 20*day)    // public, not XA
	// A dangling XA link and a link to a file outside every partition.
	dangling := f.s.PFN("/store/r/dangling.dat")
	part := filepath.Join(f.l.Dir, "spaces", "data1")
	if err := os.Symlink(filepath.Join(part, "data", "FF", "00000000000000000000000000000000"+space.Suffix(part, "data")), dangling); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(f.l.Dir, "outside.dat")
	os.WriteFile(outside, []byte("x"), 0o644)
	os.Symlink(outside, f.s.PFN("/store/r/foreign.dat"))
	f.setCpy("/store/r/foreign.dat", 1)

	p := f.build(Options{KeepReasons: true})
	kept := keptByName(p)
	want := map[string]Reason{
		"notmig.dat": NotMigrated, "nocpy.dat": NoCopyTime, "forever.dat": PinnedForever, "keep.dat": PinnedUntil,
		"idle.dat": IdlePin, "recent.dat": InHold, "holdedge.dat": InHold, "fast.dat": NoPurgePolicy,
		"dangling.dat": Dangling, "foreign.dat": Foreign,
	}
	for name, r := range want {
		k, ok := kept[name]
		if !ok {
			t.Errorf("%s: not kept, want %v", name, r)
			continue
		}
		if k.Reason != r {
			t.Errorf("%s: kept for %v, want %v", name, k.Reason, r)
		}
	}
	if k := kept["keep.dat"]; k.Until != keepT {
		t.Errorf("keep pin until %d, want %d", k.Until, keepT)
	}
	if k, wantU := kept["idle.dat"], now.Add(-3*time.Hour).Unix()+86400; k.Until != wantU {
		t.Errorf("idle pin until %d, want %d", k.Until, wantU)
	}
	if k, wantU := kept["recent.dat"], now.Add(-time.Minute).Unix()+3600; k.Until != wantU {
		t.Errorf("hold until %d, want %d", k.Until, wantU)
	}
	var got []string
	for _, sp := range p.Spaces {
		got = append(got, candNames(sp.Candidates)...)
	}
	wantC := map[string]bool{"ok.dat": true, "keepover.dat": true, "idleold.dat": true, "deferred.dat": true, "plain.dat": true}
	if len(got) != len(wantC) {
		t.Errorf("candidates %v, want %v", got, wantC)
	}
	for _, n := range got {
		if !wantC[n] {
			t.Errorf("unexpected candidate %s", n)
		}
	}
	if sp, _ := p.Space("public"); sp == nil || len(sp.Candidates) != 1 || sp.Candidates[0].Space != "public" {
		t.Errorf("plain file not a public candidate: %+v", sp)
	}
	// Counts agree with the lists; Kept without KeepReasons is only counted.
	p2 := f.build(Options{})
	for i := range p2.Spaces {
		if len(p2.Spaces[i].Kept) != 0 {
			t.Errorf("%s: Kept collected without KeepReasons", p2.Spaces[i].Space)
		}
		if a, b := p2.Spaces[i].KeptCount(), p.Spaces[i].KeptCount(); a != b || b != len(p.Spaces[i].Kept) {
			t.Errorf("%s: counts %d / %d, kept list %d", p.Spaces[i].Space, a, b, len(p.Spaces[i].Kept))
		}
	}

	// KeepDeferred keeps Cpy == 0.
	p3 := f.build(Options{KeepReasons: true, KeepDeferred: true})
	if k := keptByName(p3)["deferred.dat"]; k.Reason != Deferred {
		t.Errorf("KeepDeferred: deferred.dat kept for %v", k.Reason)
	}
	// A hold forever policy disables the space; -O with a hold enables it.
	f.s.Config().Purge.Policies = append(f.s.Config().Purge.Policies, config.Policy{Space: "data", Min: "5%", Max: "10%", HoldForever: true})
	p4 := f.build(Options{KeepReasons: true})
	if k := keptByName(p4)["ok.dat"]; k.Reason != NoPurgePolicy {
		t.Errorf("hold forever: ok.dat kept for %v", k.Reason)
	}
	w := Watermark{Percent: 100, IsPercent: true}
	h := time.Duration(0)
	p5 := f.build(Options{KeepReasons: true, Override: &w, HoldOverride: &h})
	for _, name := range []string{"ok.dat", "fast.dat", "recent.dat"} {
		if k, ok := keptByName(p5)[name]; ok {
			t.Errorf("override: %s kept for %v", name, k.Reason)
		}
	}
}

func TestReasonNames(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Reasons() {
		s := r.String()
		if seen[s] || strings.HasPrefix(s, "reason(") {
			t.Errorf("bad or duplicate name %q", s)
		}
		seen[s] = true
		back, ok := ParseReason(s)
		if !ok || back != r {
			t.Errorf("ParseReason(%q) = %v, %v", s, back, ok)
		}
		b, _ := r.MarshalText()
		var u Reason
		if err := u.UnmarshalText(b); err != nil || u != r {
			t.Errorf("text round trip of %v: %v %v", r, u, err)
		}
	}
	if len(seen) != 16 {
		t.Errorf("%d reasons", len(seen))
	}
}

func TestOrderAndNotNeeded(t *testing.T) {
	f := newFixture(t)
	// Ages in days and sizes; two share an access time (larger first).
	for _, x := range []struct {
		name string
		age  time.Duration
		size int
	}{{"a", 5 * day, 300}, {"b", 9 * day, 100}, {"c", 7 * day, 200}, {"d", 7 * day, 400}, {"e", 2 * day, 500}} {
		f.file("/store/o/"+x.name, "data", x.size, x.age, 30*day)
	}
	// Enough for everything: full order.
	p := f.build(Options{Spaces: []string{"data"}})
	sp, _ := p.Space("data")
	if got := strings.Join(candNames(sp.Candidates), ","); got != "b,d,c,a,e" {
		t.Errorf("order %s, want b,d,c,a,e", got)
	}
	if len(p.Spaces) != 1 {
		t.Errorf("Spaces restriction: %d spaces planned", len(p.Spaces))
	}
	// Need 450 bytes (min 10%, max = free + 450): b(100)+d(400) reach it.
	p = f.build(Options{Spaces: []string{"data"}, KeepReasons: true, SpaceUsage: fakeDisk(10_000, 550),
		Override: &Watermark{Bytes: 1000, IsPercent: false}})
	sp, _ = p.Space("data")
	if sp.Needed != 450 {
		t.Fatalf("needed %d, want 450", sp.Needed)
	}
	if got := strings.Join(candNames(sp.Candidates), ","); got != "b,d" {
		t.Errorf("candidates %s, want b,d", got)
	}
	if sp.CandidateBytes != 500 || sp.Eligible != 5 || sp.EligibleBytes != 1500 {
		t.Errorf("bytes %d eligible %d/%d", sp.CandidateBytes, sp.Eligible, sp.EligibleBytes)
	}
	for _, n := range []string{"a", "c", "e"} {
		if k := keptByName(p)[n]; k.Reason != NotNeeded {
			t.Errorf("%s kept for %v, want not_needed", n, k.Reason)
		}
	}
	// Free above min: nothing needed, every eligible file NotNeeded.
	p = f.build(Options{Spaces: []string{"data"}, SpaceUsage: fakeDisk(10_000, 5_000)})
	sp, _ = p.Space("data")
	if sp.Needed != 0 || len(sp.Candidates) != 0 || sp.Counts[NotNeeded] != 5 {
		t.Errorf("no need: needed %d, %d candidates, %d not needed", sp.Needed, len(sp.Candidates), sp.Counts[NotNeeded])
	}
	// Lazy: no scan at all.
	p = f.build(Options{SpaceUsage: fakeDisk(10_000, 5_000), Lazy: true})
	if !p.Skipped || p.Scanned != 0 {
		t.Errorf("lazy: skipped %v scanned %d", p.Skipped, p.Scanned)
	}
	// Watermarks: 5% and 10% of 10000 with 300 free.
	p = f.build(Options{Spaces: []string{"data"}, SpaceUsage: fakeDisk(10_000, 300)})
	sp, _ = p.Space("data")
	if sp.Min != 500 || sp.Max != 1000 || sp.Needed != 700 {
		t.Errorf("min %d max %d needed %d", sp.Min, sp.Max, sp.Needed)
	}
}

func TestPathsAndExports(t *testing.T) {
	f := newFixture(t)
	// A non-purge export nested in /store: its files are never looked at.
	f.s.Config().Exports = append(f.s.Config().Exports, config.Export{Path: "/store/keep", Mig: true})
	f.file("/store/x/a", "data", 10, 5*day, 9*day)
	f.file("/store/keep/b", "data", 10, 5*day, 9*day)
	f.file("/scratch/c", "", 10, 5*day, 9*day)
	f.file("/archive/d", "", 10, 5*day, 9*day)
	p := f.build(Options{})
	var all []string
	for _, sp := range p.Spaces {
		all = append(all, candNames(sp.Candidates)...)
		if sp.Files != len(sp.Candidates) {
			t.Errorf("%s: %d files, %d candidates", sp.Space, sp.Files, len(sp.Candidates))
		}
	}
	if strings.Join(sortedCopy(all), ",") != "a,c" {
		t.Errorf("candidates %v, want a,c", all)
	}
	p = f.build(Options{Paths: []string{"/scratch"}})
	all = nil
	for _, sp := range p.Spaces {
		all = append(all, candNames(sp.Candidates)...)
	}
	if strings.Join(all, ",") != "c" || len(p.Roots) != 1 || p.Roots[0] != "/scratch" {
		t.Errorf("paths /scratch: %v roots %v", all, p.Roots)
	}
	for _, bad := range []string{"/archive", "/store/keep", "/nowhere"} {
		_, err := Build(f.ctx, f.s, Options{Paths: []string{bad}, SpaceUsage: fakeDisk(1, 0)})
		if !errors.Is(err, ErrNotPurgeable) || err.Error() != bad+" is not marked purgeable" {
			t.Errorf("%s: %v", bad, err)
		}
	}
	if _, err := Build(f.ctx, f.s, Options{Spaces: []string{"nope"}}); err == nil {
		t.Error("unknown space accepted")
	}
	f.s.Config().Exports = append(f.s.Config().Exports, config.Export{Path: "/store-b", Purge: true})
	roots, _ := Roots(f.s, []string{"/store/x", "/store", "/scratch", "/store-b", "/store/x/y"})
	if strings.Join(roots, ",") != "/scratch,/store,/store-b" {
		t.Errorf("roots %v", roots)
	}
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	for i := 1; i < len(c); i++ {
		for j := i; j > 0 && c[j] < c[j-1]; j-- {
			c[j], c[j-1] = c[j-1], c[j]
		}
	}
	return c
}

func TestParseOverride(t *testing.T) {
	for _, tt := range []struct {
		in   string
		w    string
		hold time.Duration
		has  bool
		bad  bool
	}{
		{"100%", "100%", 0, false, false},
		{"100%,3600", "100%", time.Hour, true, false},
		{"2g,10m", "2g", 10 * time.Minute, true, false},
		{"5%,0", "5%", 0, true, false},
		{"x", "", 0, false, true},
		{"101%", "", 0, false, true},
		{"5%,bad", "", 0, false, true},
	} {
		w, h, err := ParseOverride(tt.in)
		if (err != nil) != tt.bad {
			t.Errorf("%s: err %v", tt.in, err)
			continue
		}
		if tt.bad {
			continue
		}
		if w.String() != tt.w || (h != nil) != tt.has || h != nil && *h != tt.hold {
			t.Errorf("%s: %v %v", tt.in, w, h)
		}
	}
	if (Watermark{Percent: 10, IsPercent: true}).Of(1000) != 100 || (Watermark{Bytes: 7}).Of(1000) != 7 {
		t.Error("Of")
	}
}
