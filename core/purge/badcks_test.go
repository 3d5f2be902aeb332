package purge

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"frm/core/meta"
)

// TestBadChecksumNeverPurged: a file whose data failed its checksum is
// kept (bad_checksum) by every plan, also one told to free everything and
// ignore access times, until an administrator clears the mark. The mark
// is only looked at for files that would otherwise go.
func TestBadChecksumNeverPurged(t *testing.T) {
	f := newFixture(t)
	old := 10 * day
	m := meta.BadChecksum{Alg: "adler32", Found: now.Unix(), MTime: 1, Stored: []byte{1, 2, 3, 4}, Computed: []byte{4, 3, 2, 1}}
	tests := []struct {
		lfn, space string
		mark       func(pfn string)
		want       Reason // 0: a candidate
	}{
		{"/store/b/xa.dat", "data", func(p string) { meta.SetBadChecksum(p, m) }, BadChecksum},
		{"/store/b/plain.dat", "", func(p string) { meta.SetBadChecksum(p, m) }, BadChecksum},
		// A mark frm cannot read is still a mark.
		{"/store/b/garbled.dat", "data", func(p string) { unix.Setxattr(p, meta.AttrBadChecksum, []byte("?"), 0) }, BadChecksum},
		// Kept for an earlier reason: the mark is not even read.
		{"/store/b/pinned.dat", "data", func(p string) {
			meta.SetBadChecksum(p, m)
			meta.SetPin(p, meta.Pin{Flags: meta.PinForever})
		}, PinnedForever},
		{"/store/b/clean.dat", "data", nil, 0},
	}
	for _, tc := range tests {
		pfn := f.file(tc.lfn, tc.space, 100, old, 20*day)
		if tc.mark != nil {
			tc.mark(pfn)
		}
	}
	w := Watermark{Percent: 100, IsPercent: true}
	h := time.Duration(0)
	for _, o := range []Options{{KeepReasons: true}, {KeepReasons: true, Override: &w, HoldOverride: &h}} {
		p := f.build(o)
		kept := keptByName(p)
		cand := map[string]bool{}
		for _, sp := range p.Spaces {
			for _, n := range candNames(sp.Candidates) {
				cand[n] = true
			}
		}
		for _, tc := range tests {
			name := tc.lfn[len("/store/b/"):]
			switch {
			case tc.want == 0 && !cand[name]:
				t.Errorf("%s: not a candidate (kept for %v)", name, kept[name].Reason)
			case tc.want != 0 && kept[name].Reason != tc.want:
				t.Errorf("%s: kept for %v, want %v (candidate %v)", name, kept[name].Reason, tc.want, cand[name])
			}
		}
	}
	if r, ok := ParseReason("bad_checksum"); !ok || r != BadChecksum {
		t.Errorf("ParseReason(bad_checksum) = %v %v", r, ok)
	}
}
