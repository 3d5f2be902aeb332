package pgqueue

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestClassClaims: requests arrive unclassified and are claimed by no
// class until classified; a class's claim takes only its own; a class no
// host knows goes to the first class's unknown claim; a daemon that
// classified later does not overwrite an earlier class; Depth counts by
// class.
func TestClassClaims(t *testing.T) {
	p := newPool(t)
	ctx := context.Background()
	q := New(p, Options{Host: "h1"})
	ids := map[string]int64{}
	for _, lfn := range []string{"/long/1", "/long/2", "/short/1", "/odd/1"} {
		a, err := q.Add(ctx, NewRequest{Kind: "stage", LFN: lfn, RID: lfn})
		if err != nil {
			t.Fatal(err)
		}
		ids[lfn] = a.ID
	}
	if got, err := q.ClaimClass(ctx, "w", []string{"stage"}, "long", 10, time.Hour); err != nil || len(got) != 0 {
		t.Fatalf("claimed unclassified requests: %v %v", got, err)
	}
	un, err := q.Unclassified(ctx, 10)
	if err != nil || len(un) != 4 {
		t.Fatalf("unclassified %d, %v", len(un), err)
	}
	if err := q.SetClass(ctx, []int64{ids["/long/1"], ids["/long/2"], ids["/short/1"], ids["/odd/1"]}, []string{"long", "long", "short", "gone"}); err != nil {
		t.Fatal(err)
	}
	// A second classifier (another host) does not change them.
	if err := q.SetClass(ctx, []int64{ids["/long/1"]}, []string{"short"}); err != nil {
		t.Fatal(err)
	}
	if un, _ := q.Unclassified(ctx, 10); len(un) != 0 {
		t.Errorf("still unclassified: %d", len(un))
	}
	depth, err := q.Depth(ctx)
	if err != nil || fmt.Sprint(depth) != "map[gone:1 long:2 short:1]" {
		t.Errorf("depth %v %v", depth, err)
	}
	lfns := func(rs []Request) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.LFN+"="+r.Class)
		}
		slices.Sort(out)
		return out
	}
	short, err := q.ClaimClass(ctx, "w", []string{"stage"}, "short", 10, time.Hour)
	if err != nil || !slices.Equal(lfns(short), []string{"/short/1=short"}) {
		t.Errorf("short claims %v %v", lfns(short), err)
	}
	odd, err := q.ClaimUnknownClass(ctx, "w", []string{"stage"}, []string{"long", "short"}, 10, time.Hour)
	if err != nil || !slices.Equal(lfns(odd), []string{"/odd/1=gone"}) {
		t.Errorf("unknown-class claims %v %v", lfns(odd), err)
	}
	long, err := q.ClaimClass(ctx, "w", []string{"stage"}, "long", 1, time.Hour)
	if err != nil || !slices.Equal(lfns(long), []string{"/long/1=long"}) {
		t.Errorf("long claims %v %v (oldest first, within n)", lfns(long), err)
	}
	if err := q.SetClass(ctx, []int64{1}, nil); err == nil {
		t.Error("SetClass with mismatched lengths accepted")
	}
}
