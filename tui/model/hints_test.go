package model

import (
	"slices"
	"strings"
	"testing"
)

func TestFitHints(t *testing.T) {
	help := Hint{"?", "help"}
	hs := []Hint{{"enter", "open"}, {"bksp", "up dir"}, {"/", "filter"}, {"p", "pin"}, {"N", "migrate now"}}
	keysOf := func(hs []Hint) string {
		var ks []string
		for _, h := range hs {
			ks = append(ks, h.Key)
		}
		return strings.Join(ks, " ")
	}
	tests := []struct {
		name  string
		hints []Hint
		width int
		want  string
	}{
		{name: "all fit", hints: hs, width: 200, want: "enter bksp / p N ?"},
		{name: "most important first", hints: hs, width: 44, want: "enter bksp / ?"},
		{name: "stops at the first that does not fit", hints: []Hint{hs[0], hs[4], hs[3]}, width: 30, want: "enter ?"},
		{name: "exactly", hints: hs, width: 33, want: "enter bksp ?"}, // enter open • bksp up dir • ? help
		{name: "one short", hints: hs, width: 32, want: "enter ?"},
		{name: "help alone", hints: hs, width: 5, want: "?"},
		{name: "duplicates skipped", hints: []Hint{{"^r", "refresh"}, {"x", "mark"}, {"^r", "refresh"}, {"?", "help"}}, width: 80, want: "^r x ?"},
		{name: "no hints", width: 80, want: "?"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := FitHints(tc.hints, help, tc.width)
			if k := keysOf(got); k != tc.want {
				t.Errorf("got %q, want %q", k, tc.want)
			}
			if w := barWidth(got); w > tc.width && len(got) > 1 {
				t.Errorf("bar %d cells wide, room %d", w, tc.width)
			}
		})
	}
}

func barWidth(hs []Hint) int {
	w := 0
	for i, h := range hs {
		if i > 0 {
			w += HintSep
		}
		w += h.Width()
	}
	return w
}

func TestPartitionLabels(t *testing.T) {
	tests := []struct {
		name  string
		paths []string
		want  []string
	}{
		{name: "demo", paths: []string{"/tmp/frm-demo/spaces/data1", "/tmp/frm-demo/spaces/data2"}, want: []string{"data1", "data2"}},
		{name: "differ in the middle", paths: []string{"/srv/d1/frm", "/srv/d2/frm"}, want: []string{"d1/frm", "d2/frm"}},
		{name: "different depths", paths: []string{"/data/a", "/data/b/c", "/data/b/d"}, want: []string{"a", "b/c", "b/d"}},
		{name: "a common prefix is not a common directory", paths: []string{"/srv/data1", "/srv/data10"}, want: []string{"data1", "data10"}},
		{name: "trailing slashes", paths: []string{"/srv/p1/", "/srv/p2"}, want: []string{"p1", "p2"}},
		{name: "nothing shared but the root", paths: []string{"/a", "/b"}, want: []string{"/a", "/b"}},
		{name: "one partition keeps its path", paths: []string{"/tmp/frm-demo/spaces/fast1"}, want: []string{"/tmp/frm-demo/spaces/fast1"}},
		{name: "none", paths: nil, want: []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := PartitionLabels(tc.paths); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestRelocChoicesSkipNamespace: the namespace row of public is no place
// to relocate to, nor a space without partitions.
func TestRelocChoicesSkipNamespace(t *testing.T) {
	rows := []SpaceRow{
		{Space: "public", Free: 10}, {Space: "public", Partition: "/ns", Namespace: true, Free: 10},
		{Space: "data", Free: 20}, {Space: "data", Partition: "/d1", Free: 20},
	}
	p := RelocChoices(rows, "data")
	var vals []string
	for _, it := range p.Items {
		if !it.Disabled {
			vals = append(vals, it.Value)
		}
	}
	if strings.Join(vals, " ") != "data:/d1" || len(p.Items) != 3 {
		t.Errorf("choices %+v", p.Items)
	}
}
