package purge

import (
	"container/heap"
	"sort"
)

// purgeBefore is the purge order: oldest access first; on equal access
// time the larger file first (it frees more); then by name, so plans are
// reproducible.
func purgeBefore(a, b *Candidate) bool {
	if a.Atime != b.Atime {
		return a.Atime < b.Atime
	}
	if a.Size != b.Size {
		return a.Size > b.Size
	}
	return a.PFN < b.PFN
}

// boundedHeap keeps the first files in purge order whose sizes add up to
// at least need bytes, and nothing more. It is a max-heap on the purge
// order: the root is the candidate that would be purged last. After each
// push, the root is dropped while the others still reach need, so the
// files held, all but the last, always add up to less than need: memory is
// bounded by the bytes to free, not by the number of files scanned. A dropped file
// can never come back: every later file either goes behind it or pushes out
// something that goes after it. At the end the heap holds exactly the
// shortest prefix of the purge order that frees need bytes.
type boundedHeap struct {
	need  int64
	bytes int64
	items []Candidate
}

func (h *boundedHeap) Len() int           { return len(h.items) }
func (h *boundedHeap) Less(i, j int) bool { return purgeBefore(&h.items[j], &h.items[i]) }
func (h *boundedHeap) Swap(i, j int)      { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *boundedHeap) Push(x any)         { h.items = append(h.items, x.(Candidate)) }
func (h *boundedHeap) Pop() any {
	n := len(h.items) - 1
	c := h.items[n]
	h.items[n] = Candidate{}
	h.items = h.items[:n]
	return c
}

// add offers c and calls drop for every candidate that is no longer
// needed (possibly c itself).
func (h *boundedHeap) add(c Candidate, drop func(Candidate)) {
	if h.need <= 0 {
		drop(c)
		return
	}
	heap.Push(h, c)
	h.bytes += c.Size
	for len(h.items) > 1 && h.bytes-h.items[0].Size >= h.need {
		top := heap.Pop(h).(Candidate)
		h.bytes -= top.Size
		drop(top)
	}
}

// sorted returns the kept candidates in purge order and empties the heap.
func (h *boundedHeap) sorted() []Candidate {
	out := h.items
	h.items, h.bytes = nil, 0
	sort.Slice(out, func(i, j int) bool { return purgeBefore(&out[i], &out[j]) })
	return out
}
