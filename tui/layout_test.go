package tui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"frm/core/units"
	"frm/tui/model"
)

// screenOf returns the app's screen as lines, trailing blanks removed.
func screenOf(a *App) []string {
	lines := strings.Split(a.View(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return lines
}

// TestKeyBar: at every width the key bar of every view ends in "? help"
// and cuts no key (no "…"), shows the view's keys by importance, and every
// key it shows is on the ? screen.
func TestKeyBar(t *testing.T) {
	views := []struct {
		name  string
		keys  []string
		first string // the view's most important key
	}{
		{"spaces", nil, "enter open"},
		{"namespace", []string{"2", "enter"}, "enter open"},
		{"queues", []string{"3"}, "c cancel req"},
		{"audit", []string{"4", "a", "enter"}, "a run audit"},
		{"daemons", []string{"5"}, "s stop/resume"},
	}
	for _, v := range views {
		for _, ro := range []bool{false, true} {
			for _, w := range []int{60, 80, 120} {
				t.Run(fmt.Sprintf("%s/ro=%v/%d", v.name, ro, w), func(t *testing.T) {
					a := newTestApp(newFake(), ro)
					a.Update(tea.WindowSizeMsg{Width: w, Height: 24})
					drive(a, a.Init())
					press(a, v.keys...)
					defer a.stopBackground()
					lines := screenOf(a)
					bar := lines[len(lines)-1]
					if strings.Contains(bar, "…") || !strings.HasSuffix(bar, "? help") || lipgloss.Width(bar) > w {
						t.Errorf("key bar %q", bar)
					}
					if !ro && !strings.HasPrefix(bar, v.first) {
						t.Errorf("key bar %q does not start with %q", bar, v.first)
					}
					help := strings.Join(a.fullHelp(40), "\n")
					for _, hint := range strings.Split(bar, " • ") {
						k, _, _ := strings.Cut(hint, " ")
						if !strings.Contains(help, k) {
							t.Errorf("%q is in the bar, not on the ? screen:\n%s", hint, help)
						}
					}
				})
			}
		}
	}
}

// TestStatusWraps: a status longer than the screen wraps over the body
// (at most 3 lines, the last one cut), so the key it names is seen, and
// the screen keeps its height.
func TestStatusWraps(t *testing.T) {
	tests := []struct {
		name   string
		status string
		lines  int
		cut    bool
	}{
		{name: "short", status: "showing files of space data (esc shows all)", lines: 1},
		{name: "two lines", status: "showing files of space " + strings.Repeat("x", 50) + " (esc shows all)", lines: 2},
		{name: "three lines, cut", status: strings.Repeat("a long result ", 30) + "(esc shows all)", lines: 3, cut: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestApp(newFake(), false)
			drive(a, a.Init())
			a.report(tc.status, nil)
			a.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
			lines := screenOf(a)
			if len(lines) != 24 {
				t.Fatalf("%d lines", len(lines))
			}
			status := lines[len(lines)-1-tc.lines : len(lines)-1]
			joined := strings.Join(status, " ")
			if !strings.HasPrefix(status[0], tc.status[:20]) || !strings.HasPrefix(lines[len(lines)-2-tc.lines], "public [ok]") {
				t.Errorf("status not on the %d lines between the detail line and the key bar:\n%s", tc.lines, strings.Join(lines, "\n"))
			}
			if tc.cut != strings.HasSuffix(joined, "…") || !tc.cut && !strings.Contains(joined, "(esc shows all)") {
				t.Errorf("status %q", joined)
			}
			if got, want := a.spaces.Table.Height(), 24-5-tc.lines; got != want {
				t.Errorf("table height %d, want %d", got, want)
			}
		})
	}
}

// TestSizeColumn: the Namespace view's size column holds the widest
// output of units.Bytes (7 cells), right-aligned under its header, at
// every width.
func TestSizeColumn(t *testing.T) {
	sizes := []int64{0, 100, 1023, 1024, 1048575, 12 << 20, 1<<30 - 1, 251_900_000_000, 1<<40 - 1, 1023 << 40}
	for _, w := range []int{60, 80, 120} {
		t.Run(fmt.Sprint(w), func(t *testing.T) {
			f := newFake()
			var rows []model.FileRow
			for i, n := range sizes {
				rows = append(rows, model.FileRow{Name: fmt.Sprintf("f%02d", i), Size: n, Space: "data", Res: model.ResMigrated})
			}
			f.dirs["/sizes"] = rows
			a := New(Options{Backend: f, Dir: "/sizes", Now: func() time.Time { return t0 }, Loc: time.UTC, Every: -1})
			a.Update(tea.WindowSizeMsg{Width: w, Height: 24})
			drive(a, a.Init())
			press(a, "2")
			lines := screenOf(a)
			end := strings.Index(lines[2], "size") + len("size")
			for i, n := range sizes {
				s := units.Bytes(n)
				if len(s) > sizeW {
					t.Fatalf("%d formats as %q, wider than the column", n, s)
				}
				l := []rune(lines[3+i])
				if got := string(l[end-sizeW : end]); got != rcol(s, sizeW) {
					t.Errorf("size %d: %q under the header, want %q\n%s\n%s", n, got, s, lines[2], string(l))
				}
			}
		})
	}
}

// TestSpaceLabels: the partitions of a space are told apart at every
// width: whole paths when they fit, else the part that differs; a label is
// never cut at both ends.
func TestSpaceLabels(t *testing.T) {
	f := newFake()
	demoPaths(f)
	tests := []struct {
		room int
		want map[string]string // row key -> label
	}{
		{room: 100, want: map[string]string{"data:/tmp/frm-demo/spaces/data1": "  /tmp/frm-demo/spaces/data1", "public:/tmp/frm-demo/ns": "  (namespace)"}},
		{room: 28, want: map[string]string{"data:/tmp/frm-demo/spaces/data1": "  /tmp/frm-demo/spaces/data1"}},
		{room: 27, want: map[string]string{"data:/tmp/frm-demo/spaces/data1": "  data1", "public:/tmp/frm-demo/spaces/pub2": "  pub2", "public": "public"}},
		{room: 5, want: map[string]string{"data:/tmp/frm-demo/spaces/data2": "  data2"}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.room), func(t *testing.T) {
			labels, w := spaceLabels(f.spaces, tc.room)
			for k, want := range tc.want {
				if labels[k] != want {
					t.Errorf("%s: %q, want %q", k, labels[k], want)
				}
			}
			if w < spacesMinName {
				t.Errorf("column %d wide", w)
			}
		})
	}
	for _, width := range []int{60, 80, 100, 160} {
		a := newTestApp(f, false)
		a.Update(tea.WindowSizeMsg{Width: width, Height: 24})
		drive(a, a.Init())
		seen := map[string]bool{}
		for _, l := range screenOf(a)[3:10] {
			name := strings.Fields(strings.TrimLeft(l, "▸ "))[0]
			if seen[name] || strings.HasPrefix(name, "…") && strings.HasSuffix(name, "…") {
				t.Errorf("%d: row %q not told apart", width, l)
			}
			seen[name] = true
		}
	}
}

// laterView stands for a view added later: one type, one line to register.
type laterView struct{ table *model.Table[model.SpaceRow] }

func (v *laterView) Name() string                               { return "Sites" }
func (v *laterView) Keys(k *keys) []key.Binding                 { return []key.Binding{k.Wake} }
func (v *laterView) Help(k *keys) [][]key.Binding               { return [][]key.Binding{{k.Wake}} }
func (v *laterView) Update(a *App, msg tea.Msg) (tea.Cmd, bool) { return nil, false }
func (v *laterView) Refresh(a *App, force bool) tea.Cmd         { return nil }
func (v *laterView) Every() int                                 { return 0 }
func (v *laterView) List() list                                 { return v.table }
func (v *laterView) Loads() *model.Refresh                      { return nil }
func (v *laterView) View(a *App, w, h int) screen               { return screen{title: "Sites  2 sites"} }
func (v *laterView) HandleKey(a *App, m tea.KeyMsg) (tea.Cmd, bool) {
	if key.Matches(m, a.keys.Wake) {
		a.report("woke every site", nil)
		return nil, true
	}
	return nil, false
}

// TestAddedView: a view registered after the five is reached by its
// number key and Tab, has its tab, help and key bar, and takes its keys.
func TestAddedView(t *testing.T) {
	a := newTestApp(newFake(), false)
	a.views = append(a.views, &laterView{table: model.NewSpaces().Table})
	a.bindViewKeys()
	drive(a, a.Init())
	press(a, "6")
	if a.view != 6 {
		t.Fatalf("view %d", a.view)
	}
	press(a, "w")
	lines := screenOf(a)
	if !strings.Contains(lines[0], "[6 Sites]") || lines[1] != "Sites  2 sites" || !strings.HasPrefix(lines[len(lines)-1], "w wake daemon") || a.status != "woke every site" {
		t.Errorf("screen:\n%s\nstatus %q", strings.Join(lines, "\n"), a.status)
	}
	press(a, "tab")
	if a.view != viewSpaces {
		t.Errorf("tab from the last view: %d", a.view)
	}
	press(a, "6", "?")
	if help := strings.Join(screenOf(a), "\n"); !strings.Contains(help, "Sites keys") || !strings.Contains(help, "1-6") {
		t.Errorf("help:\n%s", help)
	}
}

// TestQueueClasses: the Queues view's class column is under its header at
// every width, only when some request has a class, and the title gives
// the requests waiting per class, with the per-kind counts when they fit
// and the daemon's state always.
func TestQueueClasses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   func(*fake)
		width   int
		title   string // the title's start (cut at 60 columns, as it is without classes)
		kinds   bool   // the per-kind counts are in the title
		columns bool   // a class column
	}{
		{"no classes", nil, 80, "Queues  stage 2 · migrate 1 · get 0 · put 0 · running 1  daemon up", true, false},
		{"classes 60", withClasses, 60, "Queues  long 1,912 · short 1 · unclassified 1 · running 2  …", false, true},
		{"classes 80", withClasses, 80, "Queues  long 1,912 · short 1 · unclassified 1 · running 2  daemon up", false, true},
		{"classes 120", withClasses, 120, "Queues  long 1,912 · short 1 · unclassified 1 · running 2 · stage 3 · migrate 1,912 · get 1 · put 0  daemon up", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			if tc.setup != nil {
				tc.setup(f)
			}
			a := newTestApp(f, false)
			a.Update(tea.WindowSizeMsg{Width: tc.width, Height: 24})
			drive(a, a.Init())
			press(a, "3")
			defer a.stopBackground()
			lines := screenOf(a)
			if !strings.HasPrefix(lines[1], tc.title) || strings.Contains(lines[1], "· put ") != tc.kinds {
				t.Errorf("title %q, want %q", lines[1], tc.title)
			}
			at := strings.Index(lines[2], "class")
			if (at >= 0) != tc.columns {
				t.Fatalf("header %q: class column %v, want %v", lines[2], at >= 0, tc.columns)
			}
			if !tc.columns {
				return
			}
			want := map[string]string{"r100": "long", "r101": "long", "r102": "short", "r103": "-", "m0": "long"}
			for _, l := range lines[3:8] {
				f := strings.Fields(strings.TrimLeft(l, "▸ "))
				rid := f[3]
				cell := strings.Fields(string([]rune(l)[at:]))[0]
				if cell != want[rid] {
					t.Errorf("%s: class %q under the header, want %q\n%s\n%s", rid, cell, want[rid], lines[2], l)
				}
			}
		})
	}
}
