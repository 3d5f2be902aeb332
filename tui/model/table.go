// Package model holds the state of frm's terminal console (frm tui) as
// plain Go: rows, selection, filtering, sorting, scrolling, refresh
// bookkeeping, the status line and the action log. Nothing here knows of
// terminals, keys or colours, so every behaviour is tested with table tests;
// package tui only draws these models and turns key presses into calls.
package model

import "sort"

// Table is a list of rows shown through a window: filtered, sorted, with a
// selection that follows its row's key when rows are replaced, reordered
// or filtered, and a scroll offset that keeps the selection visible. Only
// the rows in the window are ever formatted, so a table of a million rows
// draws as fast as one of twenty.
//
// The zero Table is not usable; make one with NewTable.
type Table[R any] struct {
	key   func(*R) string
	match func(*R, string) bool

	rows   []R   // all rows (owned by the table)
	view   []int // indices into rows after filter and sort, in display order
	less   func(a, b *R) bool
	filter string

	cursor int    // index into view
	selKey string // key of the selected row; survives reloads
	want   string // key asked for by Select before its row arrived
	top    int    // first visible index into view
	height int    // rows in the window
}

// NewTable returns an empty table. key identifies a row (selection follows
// it); match reports whether a row passes a non-empty filter text.
func NewTable[R any](key func(*R) string, match func(*R, string) bool) *Table[R] {
	return &Table[R]{key: key, match: match, height: 10}
}

// SetRows replaces every row. The table takes ownership of rows. The
// selection stays on the row with the same key when it is still shown,
// else on the row now at the same position.
func (t *Table[R]) SetRows(rows []R) {
	t.rows = rows
	t.rebuild()
}

// Append adds rows (a chunk of a directory being loaded), keeping the order
// and the selection. It costs O(len(rows) log len(rows) + Len()), not a
// full re-sort.
func (t *Table[R]) Append(rows []R) {
	if len(rows) == 0 {
		return
	}
	base := len(t.rows)
	t.rows = append(t.rows, rows...)
	add := make([]int, 0, len(rows))
	for i := range rows {
		if t.passes(&t.rows[base+i]) {
			add = append(add, base+i)
		}
	}
	if t.less != nil {
		t.sortIdx(add)
		merged := make([]int, 0, len(t.view)+len(add))
		i, j := 0, 0
		for i < len(t.view) && j < len(add) {
			if t.less(&t.rows[add[j]], &t.rows[t.view[i]]) {
				merged = append(merged, add[j])
				j++
			} else {
				merged = append(merged, t.view[i])
				i++
			}
		}
		merged = append(merged, t.view[i:]...)
		merged = append(merged, add[j:]...)
		t.view = merged
	} else {
		t.view = append(t.view, add...)
	}
	t.reselect()
}

// Rows returns every row, filtered or not. The caller must not modify it.
func (t *Table[R]) Rows() []R { return t.rows }

// SetFilter shows only the rows that match text ("" shows all).
func (t *Table[R]) SetFilter(text string) {
	if text == t.filter {
		return
	}
	t.filter = text
	t.rebuild()
}

// Filter returns the filter text.
func (t *Table[R]) Filter() string { return t.filter }

// SetSort orders the rows by less (nil keeps insertion order). Sorting is
// stable, so rows that compare equal keep their order.
func (t *Table[R]) SetSort(less func(a, b *R) bool) {
	t.less = less
	t.rebuild()
}

// Refilter re-applies the filter and sort after a change in what match or
// less depend on.
func (t *Table[R]) Refilter() { t.rebuild() }

func (t *Table[R]) passes(r *R) bool {
	return t.filter == "" || t.match == nil || t.match(r, t.filter)
}

func (t *Table[R]) sortIdx(idx []int) {
	if t.less == nil {
		return
	}
	sort.SliceStable(idx, func(i, j int) bool { return t.less(&t.rows[idx[i]], &t.rows[idx[j]]) })
}

func (t *Table[R]) rebuild() {
	t.view = t.view[:0]
	for i := range t.rows {
		if t.passes(&t.rows[i]) {
			t.view = append(t.view, i)
		}
	}
	t.sortIdx(t.view)
	t.reselect()
}

// reselect puts the cursor back on the row whose key is selKey, or clamps
// it when that row is gone.
func (t *Table[R]) reselect() {
	if t.want != "" {
		for i, ri := range t.view {
			if t.key(&t.rows[ri]) == t.want {
				t.cursor, t.selKey, t.want = i, t.want, ""
				t.scroll()
				return
			}
		}
	}
	if t.selKey != "" {
		// Cheap check first: the row is often still where it was.
		if t.cursor < len(t.view) && t.key(&t.rows[t.view[t.cursor]]) == t.selKey {
			t.scroll()
			return
		}
		for i, ri := range t.view {
			if t.key(&t.rows[ri]) == t.selKey {
				t.cursor = i
				t.scroll()
				return
			}
		}
	}
	t.clamp()
	t.remember()
}

func (t *Table[R]) clamp() {
	if t.cursor >= len(t.view) {
		t.cursor = len(t.view) - 1
	}
	if t.cursor < 0 {
		t.cursor = 0
	}
	t.scroll()
}

func (t *Table[R]) remember() {
	// With no row shown the key is kept: the row may come back with the
	// next reload or chunk.
	if t.cursor < len(t.view) {
		t.selKey = t.key(&t.rows[t.view[t.cursor]])
	}
}

// scroll moves the window so that the cursor is inside it.
func (t *Table[R]) scroll() {
	h := max(t.height, 1)
	if t.cursor < t.top {
		t.top = t.cursor
	}
	if t.cursor >= t.top+h {
		t.top = t.cursor - h + 1
	}
	if maxTop := max(len(t.view)-h, 0); t.top > maxTop {
		t.top = maxTop
	}
	if t.top < 0 {
		t.top = 0
	}
}

// SetHeight sets the number of rows in the window.
func (t *Table[R]) SetHeight(h int) {
	t.height = max(h, 1)
	t.scroll()
}

// Height returns the number of rows in the window.
func (t *Table[R]) Height() int { return t.height }

// Len is the number of rows shown (after the filter).
func (t *Table[R]) Len() int { return len(t.view) }

// Total is the number of rows, filtered or not.
func (t *Table[R]) Total() int { return len(t.rows) }

// Cursor is the position of the selection among the rows shown.
func (t *Table[R]) Cursor() int { return t.cursor }

// Top is the position of the first row in the window.
func (t *Table[R]) Top() int { return t.top }

// Move moves the selection by delta rows (negative: up), clamped.
func (t *Table[R]) Move(delta int) {
	if len(t.view) == 0 {
		return
	}
	t.want = ""
	t.cursor += delta
	t.clamp()
	t.remember()
}

// Page moves the selection by n windows.
func (t *Table[R]) Page(n int) { t.Move(n * max(t.height-1, 1)) }

// Home selects the first row, End the last.
func (t *Table[R]) Home() { t.Move(-len(t.view)) }

// End selects the last row.
func (t *Table[R]) End() { t.Move(len(t.view)) }

// Select selects the row with key k; it reports whether it is shown.
func (t *Table[R]) Select(k string) bool {
	for i, ri := range t.view {
		if t.key(&t.rows[ri]) == k {
			t.cursor = i
			t.selKey, t.want = k, ""
			t.scroll()
			return true
		}
	}
	t.want = k // it may arrive with the next chunk
	return false
}

// SelectedKey is the key the selection follows.
func (t *Table[R]) SelectedKey() string { return t.selKey }

// Selected returns the selected row.
func (t *Table[R]) Selected() (*R, bool) {
	if t.cursor < 0 || t.cursor >= len(t.view) {
		return nil, false
	}
	return &t.rows[t.view[t.cursor]], true
}

// Visible returns the rows in the window, in display order, and the index
// of the selected one among them (-1 when none is). The rows are pointers
// into the table: the caller must not keep them past the next change.
func (t *Table[R]) Visible() (rows []*R, sel int) {
	end := min(t.top+t.height, len(t.view))
	sel = -1
	rows = make([]*R, 0, max(end-t.top, 0))
	for i := t.top; i < end; i++ {
		if i == t.cursor {
			sel = len(rows)
		}
		rows = append(rows, &t.rows[t.view[i]])
	}
	return rows, sel
}

// Keys returns the keys of the rows shown, in order (for tests).
func (t *Table[R]) Keys() []string {
	out := make([]string, 0, len(t.view))
	for _, ri := range t.view {
		out = append(out, t.key(&t.rows[ri]))
	}
	return out
}

// Clear removes every row but remembers the selected key, so that a reload
// of the same rows selects the same one.
func (t *Table[R]) Clear() {
	// The selected row is looked for again in the rows to come: a reload
	// streams the rows in chunks, and the selected one may be in a later
	// chunk than the first (after an action on a row far down).
	if t.want == "" {
		t.want = t.selKey
	}
	t.rows = nil
	t.view = t.view[:0]
	t.cursor, t.top = 0, 0
}

// Settle ends the wait for a row asked for (Select, Clear) once every row
// is there: a row that did not come back is gone, and a later load must
// not jump to it.
func (t *Table[R]) Settle() { t.want = "" }

// Reset removes every row and forgets the selection.
func (t *Table[R]) Reset() {
	t.Clear()
	t.selKey, t.want = "", ""
}
