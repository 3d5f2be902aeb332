package xrdq

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"
)

// TestCompleteAndSweep: Complete ends one request where it is (a
// tombstone nobody lists), only if it is still the request meant; Sweep
// reclaims the tombstones and their slots are reused; the signature moves
// with every change and says whether somebody else changed the file.
func TestCompleteAndSweep(t *testing.T) {
	d := newDir(t)
	q := d.Queue(Stage, 1)
	var reqs []Request
	for i := range 10 {
		r := Request{ID: fmt.Sprintf("r%d", i), LFN: fmt.Sprintf("/f%d", i), Op: '+', Priority: 1, Added: 1700000000 + int64(i), Notify: "-"}
		if err := q.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	sig, err := q.WalkSig(func(r Request) error { reqs = append(reqs, r); return nil })
	if err != nil || len(reqs) != 10 {
		t.Fatalf("walk: %d %v", len(reqs), err)
	}
	if s2, _ := q.Signature(); s2 != sig {
		t.Fatalf("signature moved without a change: %+v %+v", sig, s2)
	}
	// Not the request meant: nothing happens.
	if done, _, _, err := q.Complete(reqs[3].Offset, "other", reqs[3].Added); done || err != nil {
		t.Fatalf("completed another request's record: %v %v", done, err)
	}
	if done, _, _, _ := q.Complete(reqs[3].Offset, reqs[3].ID, reqs[3].Added+1); done {
		t.Fatal("completed a record added at another time")
	}
	known := sig
	for _, i := range []int{0, 3, 4, 9} {
		done, before, after, err := q.Complete(reqs[i].Offset, reqs[i].ID, reqs[i].Added)
		if !done || err != nil {
			t.Fatalf("complete %s: %v %v", reqs[i].ID, done, err)
		}
		if before != known {
			t.Fatalf("complete %s: the file looked changed by someone else", reqs[i].ID)
		}
		if after == before {
			t.Fatalf("complete %s: signature unchanged", reqs[i].ID)
		}
		known = after
	}
	if done, _, _, _ := q.Complete(reqs[3].Offset, reqs[3].ID, reqs[3].Added); done {
		t.Fatal("completed twice")
	}
	// Somebody else adds: the next Complete sees it.
	if err := q.Add(Request{ID: "x", LFN: "/x", Op: '+', Notify: "-"}); err != nil {
		t.Fatal(err)
	}
	if _, before, _, _ := q.Complete(reqs[5].Offset, reqs[5].ID, reqs[5].Added); before == known {
		t.Fatal("another writer's change not seen")
	}
	list := func() []string {
		var ids []string
		if err := q.List(func(r Request) error { ids = append(ids, r.ID); return nil }); err != nil {
			t.Fatal(err)
		}
		slices.Sort(ids)
		return ids
	}
	want := []string{"r1", "r2", "r6", "r7", "r8", "x"}
	if got := list(); !slices.Equal(got, want) {
		t.Fatalf("after completions: %v, want %v", got, want)
	}
	n, _, err := q.Sweep()
	if err != nil || n != 5 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	if got := list(); !slices.Equal(got, want) {
		t.Fatalf("after sweep: %v, want %v", got, want)
	}
	first, last, free, err := q.Header()
	if err != nil || first == 0 || last == 0 || free == 0 {
		t.Fatalf("header %d %d %d %v", first, last, free, err)
	}
	// The freed slots are reused: the file does not grow.
	size := fileSize(t, q.Path())
	for i := range 5 {
		if err := q.Add(Request{ID: fmt.Sprintf("n%d", i), LFN: "/n", Op: '+', Notify: "-", Added: time.Now().Unix()}); err != nil {
			t.Fatal(err)
		}
	}
	if s := fileSize(t, q.Path()); s != size {
		t.Errorf("file grew from %d to %d bytes: freed slots not reused", size, s)
	}
	if got := list(); len(got) != 11 {
		t.Errorf("after reuse: %v", got)
	}
	// Everything completed and swept: an empty chain.
	q.List(func(r Request) error { q.Complete(r.Offset, r.ID, r.Added); return nil })
	if n, _, err := q.Sweep(); n != 11 || err != nil {
		t.Fatalf("final sweep %d %v", n, err)
	}
	// The chain is empty; Last stays on the final tail, as xrootd's Del
	// leaves it.
	if first, last, _, _ := q.Header(); first != 0 || last == 0 {
		t.Errorf("empty queue's header: first %d last %d", first, last)
	}
}

func fileSize(t *testing.T, p string) int64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
