package model

import (
	"strings"
	"testing"
	"time"
)

func TestAuditModel(t *testing.T) {
	now := time.Unix(1e9, 0)
	ps := []AuditProblem{
		{Code: 2, Kind: "no copy time", Name: "/b", PFN: "/b", Fix: "set the copy time of /b"},
		{Code: 1, Kind: "dangling link", Name: "/a", PFN: "/a", Fix: "remove symlink /a"},
		{Code: 5, Kind: "data without xref", Name: "/d%", Data: "/d%"},
		{Code: 7, Kind: "pfn not a link", Name: "/e%", Data: "/e%", Fix: "DELETE data file /e%", Destructive: true},
	}
	tests := []struct {
		name  string
		op    func(a *Audit)
		all   bool
		want  []string // names to fix
		fixed int
	}{
		{name: "selected (sorted by kind: dangling first)", want: []string{"/a"}},
		{name: "all skips the unfixable", all: true, want: []string{"/b", "/a", "/e%"}},
		{name: "marked", op: func(a *Audit) { a.Toggle(); a.Table.Move(2); a.Toggle() }, want: []string{"/b", "/a"}},
		{name: "toggle twice unmarks", op: func(a *Audit) { a.Toggle(); a.Toggle() }, want: []string{"/a"}},
		{name: "unfixable not marked", op: func(a *Audit) { a.Table.Move(1); a.Toggle() }, want: nil},
		{name: "fixed left out", op: func(a *Audit) { a.SetFixed([]string{ps[1].Key()}) }, all: true, want: []string{"/b", "/e%"}, fixed: 1},
		{name: "stale run dropped", op: func(a *Audit) {
			gen := a.Start("names", "/", now)
			a.Add(gen-1, []AuditProblem{{Kind: "x", Name: "ghost", Fix: "y"}})
			a.Add(gen, ps[:1])
		}, all: true, want: []string{"/b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := NewAudit()
			gen := a.Start("names", "/", now)
			a.Add(gen, append([]AuditProblem(nil), ps...))
			if !a.Finish(gen, "done", nil) || a.Running {
				t.Fatal("finish")
			}
			if tc.op != nil {
				tc.op(a)
			}
			var got []string
			for _, p := range a.ToFix(tc.all) {
				got = append(got, p.Name)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("to fix %v, want %v", got, tc.want)
			}
			if _, _, fixed := a.Counts(); fixed != tc.fixed {
				t.Errorf("fixed %d, want %d", fixed, tc.fixed)
			}
		})
	}
	txt := FixText(ps[:2], 1)
	if !strings.Contains(txt, "Fix 2 problems?") || !strings.Contains(txt, "set the copy time of /b") || !strings.Contains(txt, "... and 1 more") {
		t.Errorf("fix text %q", txt)
	}
	if txt := FixText(ps[3:], 5); !strings.Contains(txt, "1 of these DELETE data files") {
		t.Errorf("destructive fix not said: %q", txt)
	}
	a := NewAudit()
	a.Estimate, a.Scanned, a.Running = 100, 150, true
	if f := a.Progress(); f != 0.99 {
		t.Errorf("progress %v", f)
	}
}

func TestDaemonsModel(t *testing.T) {
	now := time.Unix(1e9, 0)
	tests := []struct {
		name string
		st   DaemonStatus
		want string
	}{
		{"down", DaemonStatus{}, "down,down,down,down,down"},
		{"down with a stop file", DaemonStatus{Stopped: map[string]bool{"STOPPURGE": true}}, "down,down,down,down,suspended"},
		{"up", DaemonStatus{Up: true, Components: []string{"transfer", "purge"}}, "running,running,running,running,running"},
		{"no purger", DaemonStatus{Up: true, Components: []string{"transfer"}, Stopped: map[string]bool{"STOPSTAGE": true}}, "suspended,running,running,running,off"},
	}
	for _, tc := range tests {
		d := NewDaemons()
		d.SetStatus(tc.st, now)
		var got []string
		for _, r := range d.Table.Rows() {
			got = append(got, r.State)
		}
		if strings.Join(got, ",") != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, got, tc.want)
		}
	}
	// The transfer rows' detail: the slots per direction, or per request
	// class when the daemon has classes.
	up := DaemonStatus{Up: true, Components: []string{"transfer", "migrate"}, SlotsIn: 4, SlotsOut: 2, InUseIn: 1}
	classes := up
	classes.SlotsIn, classes.SlotsOut, classes.InUseIn = 0, 0, 2
	classes.Classes = []ClassSlots{{Name: "long", Slots: 1, Running: 2}, {Name: "short", Slots: 1}}
	for _, tc := range []struct {
		name string
		st   DaemonStatus
		want []string
	}{
		{"directions", up, []string{"slots in 1/4", "slots in 1/4", "slots out 0/2 · scan on", "slots out 0/2"}},
		{"classes", classes, []string{"long 2/1 · short 0/1", "long 2/1 · short 0/1", "long 2/1 · short 0/1 · scan on", "long 2/1 · short 0/1"}},
	} {
		d := NewDaemons()
		d.SetStatus(tc.st, now)
		for i, want := range tc.want {
			if got := d.Table.Rows()[i].Detail; got != want {
				t.Errorf("%s: row %d detail %q, want %q", tc.name, i, got, want)
			}
		}
	}

	d := NewDaemons()
	for i := range 250 {
		d.AddEvent(QueueEvent{Type: []string{"done", "fail"}[i%2]})
	}
	if len(d.Events) != 200 || d.Errors() != 100 {
		t.Errorf("tail %d errors %d", len(d.Events), d.Errors())
	}
}

func TestPalette(t *testing.T) {
	var p Palette
	p.Push("ls /")
	p.Push("ls /")
	p.Push("df")
	if len(p.History) != 2 {
		t.Fatalf("history %v", p.History)
	}
	if s, _ := p.Prev("dr"); s != "df" {
		t.Errorf("prev %q", s)
	}
	if s, _ := p.Prev(""); s != "ls /" {
		t.Errorf("prev %q", s)
	}
	if _, ok := p.Prev(""); ok {
		t.Errorf("prev past the first")
	}
	p.Next()
	if s, _ := p.Next(); s != "dr" {
		t.Errorf("draft %q", s)
	}
	p.SetOutput("ls", strings.Repeat("x\n", 30), 0)
	p.ScrollBy(100, 10)
	if p.Scroll != 20 {
		t.Errorf("scroll %d", p.Scroll)
	}
}

func TestLogLine(t *testing.T) {
	tests := []struct {
		in, want string
		bad      bool
	}{
		{`time=2025-06-01T12:00:05.123Z level=INFO msg="transfer complete" kind=stage lfn=/store/a bytes=12`, "12:00:05 INFO transfer complete kind=stage lfn=/store/a bytes=12", false},
		{`time=2025-06-01T12:00:06.000+02:00 level=WARN msg=retry err="copy_in exited 1"`, `10:00:06 WARN retry err="copy_in exited 1"`, true},
		{`time=2025-06-01T12:00:07Z level=ERROR msg="cannot start"`, "12:00:07 ERROR cannot start", true},
		{`{"time":"2025-06-01T12:00:08Z","level":"ERROR","msg":"x"}`, `{"time":"2025-06-01T12:00:08Z","level":"ERROR","msg":"x"}`, true},
		{"plain text from a wrapper script", "plain text from a wrapper script", false},
		{"time=garbage level=INFO msg=hi", "garbage INFO hi", false},
	}
	for _, tc := range tests {
		got, bad := LogLine(tc.in, time.UTC)
		if got != tc.want || bad != tc.bad {
			t.Errorf("LogLine(%q) = %q %v, want %q %v", tc.in, got, bad, tc.want, tc.bad)
		}
	}
}
