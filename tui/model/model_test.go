package model

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"frm/core/meta"
)

type row struct{ k string }

func newRowTable(keys ...string) *Table[row] {
	t := NewTable(func(r *row) string { return r.k }, func(r *row, f string) bool { return strings.Contains(r.k, f) })
	var rs []row
	for _, k := range keys {
		rs = append(rs, row{k})
	}
	t.SetRows(rs)
	return t
}

func TestTableSelectionFollowsKey(t *testing.T) {
	tests := []struct {
		name   string
		start  []string
		moveTo int
		op     func(t *Table[row])
		want   string
		cursor int
	}{
		{"reorder", []string{"a", "b", "c"}, 1, func(t *Table[row]) { t.SetRows([]row{{"c"}, {"a"}, {"b"}}) }, "b", 2},
		{"row gone keeps position", []string{"a", "b", "c"}, 1, func(t *Table[row]) { t.SetRows([]row{{"a"}, {"c"}}) }, "c", 1},
		{"last row gone clamps", []string{"a", "b", "c"}, 2, func(t *Table[row]) { t.SetRows([]row{{"a"}, {"b"}}) }, "b", 1},
		{"filter keeps selection", []string{"ab", "b", "cb", "d"}, 2, func(t *Table[row]) { t.SetFilter("b") }, "cb", 2},
		{"filter hides selection", []string{"a", "b", "c"}, 1, func(t *Table[row]) { t.SetFilter("c") }, "c", 0},
		{"sort", []string{"b", "a", "c"}, 0, func(t *Table[row]) { t.SetSort(func(a, b *row) bool { return a.k < b.k }) }, "b", 1},
		{"empty reload then back", []string{"a", "b"}, 1, func(t *Table[row]) { t.SetRows(nil); t.SetRows([]row{{"x"}, {"a"}, {"b"}}) }, "b", 2},
		{"append merges in order", []string{"a", "c"}, 1, func(t *Table[row]) {
			t.SetSort(func(a, b *row) bool { return a.k < b.k })
			t.Append([]row{{"b"}, {"0"}})
		}, "c", 3},
		{"select before arrival", []string{"a"}, 0, func(t *Table[row]) { t.Select("z"); t.Append([]row{{"y"}, {"z"}}) }, "z", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := newRowTable(tc.start...)
			tb.Move(tc.moveTo)
			tc.op(tb)
			r, ok := tb.Selected()
			if !ok || r.k != tc.want || tb.Cursor() != tc.cursor {
				t.Fatalf("selected %v (ok %v) at %d, want %q at %d; rows %v", r, ok, tb.Cursor(), tc.want, tc.cursor, tb.Keys())
			}
		})
	}
}

func TestTableWindow(t *testing.T) {
	var keys []string
	for i := range 100 {
		keys = append(keys, fmt.Sprintf("%03d", i))
	}
	tests := []struct {
		name     string
		op       func(t *Table[row])
		top, sel int
	}{
		{"start", func(t *Table[row]) {}, 0, 0},
		{"down inside window", func(t *Table[row]) { t.Move(9) }, 0, 9},
		{"down past window scrolls", func(t *Table[row]) { t.Move(10) }, 1, 9},
		{"page", func(t *Table[row]) { t.Page(1) }, 0, 9},
		{"end", func(t *Table[row]) { t.End() }, 90, 9},
		{"end then home", func(t *Table[row]) { t.End(); t.Home() }, 0, 0},
		{"shrink keeps cursor visible", func(t *Table[row]) { t.Move(9); t.SetHeight(5) }, 5, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := newRowTable(keys...)
			tb.SetHeight(10)
			tc.op(tb)
			rows, sel := tb.Visible()
			if tb.Top() != tc.top || sel != tc.sel || len(rows) != tb.Height() {
				t.Fatalf("top %d sel %d rows %d, want top %d sel %d", tb.Top(), sel, len(rows), tc.top, tc.sel)
			}
		})
	}
}

func TestRefresh(t *testing.T) {
	now := time.Unix(1000, 0)
	var r Refresh
	g1, ok := r.Begin()
	if !ok {
		t.Fatal("first Begin refused")
	}
	if _, ok := r.Begin(); ok || !r.Pending {
		t.Fatal("second Begin while in flight must be refused and remembered")
	}
	g2 := r.Restart() // the view changed: g1 is stale
	if r.End(g1, nil, now) {
		t.Fatal("stale generation accepted")
	}
	if !r.End(g2, errors.New("boom"), now) || r.Err == nil || !r.Loaded.IsZero() {
		t.Fatal("error not recorded")
	}
	g3, _ := r.Begin()
	if !r.End(g3, nil, now) || r.Err != nil || !r.Loaded.Equal(now) {
		t.Fatal("success not recorded")
	}
	if r.End(g3, nil, now) {
		t.Fatal("a generation must end once")
	}
}

func files(names ...string) []FileRow {
	var out []FileRow
	for i, n := range names {
		r := FileRow{Name: n, Size: int64(len(n) * 10), Mtime: int64(100 + i), Atime: int64(200 - i), Space: "public", Res: ResMigrated}
		if strings.HasSuffix(n, "/") {
			r.Name, r.Dir, r.Res = strings.TrimSuffix(n, "/"), true, ResDir
		}
		if strings.HasPrefix(n, "d") && !r.Dir {
			r.Space = "data"
		}
		out = append(out, r)
	}
	return out
}

func TestNamespace(t *testing.T) {
	tests := []struct {
		name string
		op   func(n *Namespace)
		want []string
		sel  string
	}{
		{"name order dirs first", func(n *Namespace) {}, []string{"sub", "a", "bbb", "cc", "dd"}, "sub"},
		{"size", func(n *Namespace) { n.SetSort(SortSize) }, []string{"sub", "bbb", "cc", "dd", "a"}, "sub"},
		{"size reversed", func(n *Namespace) { n.SetSort(SortSize); n.SetSort(SortSize) }, []string{"sub", "a", "cc", "dd", "bbb"}, "sub"},
		{"age newest first", func(n *Namespace) { n.SetSort(SortAge) }, []string{"sub", "cc", "dd", "a", "bbb"}, "sub"},
		{"atime", func(n *Namespace) { n.SetSort(SortAtime) }, []string{"sub", "a", "bbb", "cc", "dd"}, "sub"},
		{"filter", func(n *Namespace) { n.Table.Move(3); n.SetFilter("C") }, []string{"cc"}, "cc"},
		{"space only", func(n *Namespace) { n.SetSpaceOnly("data") }, []string{"sub", "dd"}, "sub"},
		{"selection follows sort", func(n *Namespace) { n.Table.Move(2); n.SetSort(SortSize) }, []string{"sub", "bbb", "cc", "dd", "a"}, "bbb"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := NewNamespace("/store")
			gen := n.Enter("/store")
			n.Chunk(gen, files("a", "cc", "sub/"), true)
			n.Chunk(gen, files("bbb", "dd"), false)
			n.Done(gen, nil, time.Unix(1, 0))
			tc.op(n)
			if got := n.Table.Keys(); !slices.Equal(got, tc.want) {
				t.Fatalf("rows %v, want %v", got, tc.want)
			}
			if r, _ := n.Table.Selected(); r == nil || r.Name != tc.sel {
				t.Fatalf("selected %v, want %s", r, tc.sel)
			}
		})
	}
}

func TestNamespaceNavigation(t *testing.T) {
	n := NewNamespace("/")
	g := n.Enter("/store/hmi")
	if got := n.Breadcrumbs(); !slices.Equal(got, []string{"/", "store", "hmi"}) {
		t.Fatalf("breadcrumbs %v", got)
	}
	g2, ok := n.Up()
	if !ok || n.Dir != "/store" || g2 == g {
		t.Fatalf("up: %v %s", ok, n.Dir)
	}
	// A chunk of the abandoned load is dropped.
	if n.Chunk(g, files("x"), true) {
		t.Fatal("stale chunk accepted")
	}
	n.Chunk(g2, files("aia/", "hmi/", "zz/"), true)
	if r, _ := n.Table.Selected(); r == nil || r.Name != "hmi" {
		t.Fatalf("up should select the directory it came from, got %v", r)
	}
	n.Done(g2, nil, time.Unix(1, 0))
	// A reload keeps the old rows until the first chunk, and through an error.
	g3, ok := n.Reload()
	if !ok || n.Table.Len() != 3 {
		t.Fatalf("reload cleared rows early")
	}
	n.Done(g3, errors.New("EIO"), time.Unix(2, 0))
	if n.Table.Len() != 3 || n.Refresh.Err == nil {
		t.Fatal("rows must stay through an error")
	}
	if _, ok := n.Open(); !ok || n.Dir != "/store/hmi" {
		t.Fatalf("open: %s", n.Dir)
	}
	if _, ok := NewNamespace("/").Up(); ok {
		t.Fatal("up from / must do nothing")
	}
}

func TestSpaceRow(t *testing.T) {
	const G = 1 << 30
	tests := []struct {
		name  string
		r     SpaceRow
		level Level
		bar   string
	}{
		{"ok", SpaceRow{Total: 100 * G, Free: 50 * G, MinFree: 5 * G, MaxFree: 10 * G}, LevelOK, "#####.....:|"[:10] + ""},
		{"warn", SpaceRow{Total: 100 * G, Free: 8 * G, MinFree: 5 * G, MaxFree: 10 * G}, LevelWarn, "#########|"},
		{"critical", SpaceRow{Total: 100 * G, Free: 2 * G, MinFree: 5 * G, MaxFree: 10 * G}, LevelCritical, "#########|"},
		{"nopurge by fraction", SpaceRow{Total: 100 * G, Free: 10 * G, NoPurge: true}, LevelWarn, "#########."},
		{"unknown", SpaceRow{Err: "statfs: EIO"}, LevelUnknown, "??????????"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.r.Level(); got != tc.level {
				t.Errorf("level %v, want %v", got, tc.level)
			}
			if tc.name == "ok" {
				tc.bar = "#####....|" // max at 90% used, min at 95%: both in the last cell, min drawn last
			}
			if got := tc.r.Bar(10); got != tc.bar {
				t.Errorf("bar %q, want %q", got, tc.bar)
			}
		})
	}
	wide := SpaceRow{Total: 100 * G, Free: 50 * G, MinFree: 5 * G, MaxFree: 20 * G}
	if got := wide.Bar(20); got != "##########......:..|" {
		t.Errorf("wide bar %q", got)
	}
}

func TestQueuesApply(t *testing.T) {
	t0 := time.Unix(10_000, 0)
	q := NewQueues()
	q.Table.SetRows([]QueueRow{
		{Kind: "stage", Priority: 0, LFN: "/a", RID: "r1", Added: 1},
		{Kind: "stage", Priority: 2, LFN: "/b", RID: "r2", Added: 2},
		{Kind: "migrate", Priority: 0, LFN: "/c", RID: "r3", Added: 0},
	})
	steps := []struct {
		ev   QueueEvent
		want []string
	}{
		{QueueEvent{}, []string{"/b", "/c", "/a"}},
		{QueueEvent{Time: t0, Type: "start", Kind: "stage", LFN: "/a", RID: "r1"}, []string{"/a", "/b", "/c"}},
		{QueueEvent{Time: t0, Type: "queued", Kind: "get", LFN: "/d", RID: "r4"}, []string{"/a", "/b", "/c", "/d"}},
		{QueueEvent{Time: t0, Type: "done", Kind: "stage", LFN: "/a", RID: "r1", Bytes: 1000}, []string{"/b", "/c", "/d"}},
		{QueueEvent{Time: t0.Add(20 * time.Second), Type: "cancel", RID: "r2"}, []string{"/c", "/d"}},
	}
	for i, st := range steps {
		if st.ev.Type != "" {
			q.Apply(st.ev)
		}
		var got []string
		for _, k := range q.Table.Keys() {
			got = append(got, k[strings.LastIndexByte(k, 0)+1:])
		}
		if !slices.Equal(got, st.want) {
			t.Fatalf("step %d: %v, want %v", i, got, st.want)
		}
	}
	if q.Done != 1 || q.Throughput[len(q.Throughput)-1] != 1000 {
		t.Fatalf("done %d throughput %v", q.Done, q.Throughput)
	}
}

func TestPinCheck(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		spec string
		ok   bool
		has  string
	}{
		{"", false, "type a keep spec"},
		{"forever", true, "pin forever"},
		{"0", true, "unpin"},
		{"+3d", true, "within 3d"},
		{"2h", true, "until 2025-06-01 14:00"},
		{"12/31/2026", true, "until 2026-12-31"},
		{"bad", false, "not a number"},
		{"02/31/2026", false, "Invalid pin keep date"},
	}
	for _, tc := range tests {
		desc, ok := PinCheck(tc.spec, now, time.UTC)
		if ok != tc.ok || !strings.Contains(desc, tc.has) {
			t.Errorf("PinCheck(%q) = %q, %v; want %v containing %q", tc.spec, desc, ok, tc.ok, tc.has)
		}
	}
	r := FileRow{Pinned: true, Pin: meta.Pin{Flags: meta.PinIdle, Time: 3 * 86400}}
	if got := r.PinText(now, time.UTC); got != "idle 3d" {
		t.Errorf("PinText %q", got)
	}
}

func TestConfirmAndPicker(t *testing.T) {
	txt := ConfirmText("Remove", []string{"/a", "/b", "/c", "/d", "/e", "/f", "/g"})
	if !strings.HasPrefix(txt, "Remove 7 files?\n  /a") || !strings.HasSuffix(txt, "... and 2 more") {
		t.Fatalf("confirm %q", txt)
	}
	p := RelocChoices([]SpaceRow{{Space: "public", Free: 10}, {Space: "public", Partition: "/p1", Free: 10}, {Space: "data", Free: 20}}, "public")
	if it, ok := p.Selected(); !ok || it.Value != "public:/p1" {
		t.Fatalf("first selectable %v", it)
	}
	p.Move(1)
	p.Move(1) // wraps, skipping the disabled own space
	if it, _ := p.Selected(); it.Value != "public:/p1" {
		t.Fatalf("wrap %v", it)
	}
}

func TestLog(t *testing.T) {
	l := Log{Max: 2}
	for i := range 3 {
		l.Add(time.Unix(int64(i), 0), fmt.Sprint(i), false)
	}
	if e, _ := l.Last(); len(l.Entries) != 2 || e.Text != "2" || l.Entries[0].Text != "1" {
		t.Fatalf("log %v", l.Entries)
	}
}

// TestReloadKeepsSelectionAcrossChunks: a reload streams the rows in
// chunks; the selected row is selected again when its chunk arrives, even
// if it is not in the first one, and a row that did not come back is not
// waited for by later loads.
func TestReloadKeepsSelectionAcrossChunks(t *testing.T) {
	n := NewNamespace("/store")
	g := n.Enter("/store")
	n.Chunk(g, files("a", "b"), true)
	n.Chunk(g, files("c", "d"), false)
	n.Done(g, nil, time.Unix(1, 0))
	n.Table.Move(3) // d, in the second chunk
	g, _ = n.Reload()
	n.Chunk(g, files("a", "b"), true)
	if r, _ := n.Table.Selected(); r == nil || r.Name == "d" {
		t.Fatalf("selected %v before d is back", r)
	}
	n.Chunk(g, files("c", "d"), false)
	n.Done(g, nil, time.Unix(2, 0))
	if r, _ := n.Table.Selected(); r == nil || r.Name != "d" {
		t.Fatalf("selected %v after the reload, want d", r)
	}
	// d is removed: the reload ends on another row, and the next reload
	// (d created again meanwhile) stays there.
	g, _ = n.Reload()
	n.Chunk(g, files("a", "b", "c"), true)
	n.Done(g, nil, time.Unix(3, 0))
	sel, _ := n.Table.Selected()
	g, _ = n.Reload()
	n.Chunk(g, files("a", "b", "c"), true)
	n.Chunk(g, files("d"), false)
	n.Done(g, nil, time.Unix(4, 0))
	if r, _ := n.Table.Selected(); r == nil || r.Name != sel.Name {
		t.Fatalf("selected %v, want %s (no jump back to d)", r, sel.Name)
	}
}

// TestQueuesDepths: the requests waiting per class (running ones not
// counted): the daemon's classes in order, then others the rows name,
// then those not classified yet; none without classes.
func TestQueuesDepths(t *testing.T) {
	n := 0
	r := func(class string, running bool) QueueRow {
		n++
		return QueueRow{Kind: "stage", RID: fmt.Sprintf("r%d", n), LFN: "/f", Class: class, Running: running}
	}
	tests := []struct {
		name    string
		classes []string
		rows    []QueueRow
		want    string
		width   int
	}{
		{"no classes", nil, []QueueRow{r("", false), r("", true)}, "", 0},
		{"daemon classes, empty queue", []string{"long", "short"}, nil, "long 0, short 0", 0},
		{"running not counted", []string{"long", "short"}, []QueueRow{r("long", true), r("long", false), r("long", false), r("short", true)}, "long 2, short 0", 5},
		{"not classified yet", []string{"long", "short"}, []QueueRow{r("", false), r("", true), r("short", false)}, "long 0, short 1,  1", 5},
		{"classes only the rows name", nil, []QueueRow{r("zeta", false), r("alpha", true), r("", false)}, "alpha 0, zeta 1,  1", 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := NewQueues()
			q.Classes = tc.classes
			q.Table.SetRows(tc.rows)
			var got []string
			for _, d := range q.Depths() {
				got = append(got, fmt.Sprintf("%s %d", d.Name, d.Waiting))
			}
			if s := strings.Join(got, ", "); s != tc.want {
				t.Errorf("depths %q, want %q", s, tc.want)
			}
			if w := q.ClassWidth(); w != tc.width {
				t.Errorf("class width %d, want %d", w, tc.width)
			}
		})
	}
}

// TestQueuesApplyClass: a queued or started request's class comes with
// its event.
func TestQueuesApplyClass(t *testing.T) {
	q := NewQueues()
	q.Table.SetRows([]QueueRow{{Kind: "stage", LFN: "/a", RID: "r1"}})
	q.Apply(QueueEvent{Type: "queued", Kind: "get", LFN: "/b", RID: "r2", Class: "short"})
	q.Apply(QueueEvent{Type: "start", Kind: "stage", LFN: "/a", RID: "r1", Class: "long"})
	got := map[string]string{}
	for _, r := range q.Table.Rows() {
		got[r.RID] = r.Class
	}
	if got["r1"] != "long" || got["r2"] != "short" {
		t.Errorf("classes %v", got)
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 1912: "1,912", 1234567: "1,234,567", -1912: "-1,912"} {
		if got := Count(n); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
}
