package site_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"frm/core/catalog"
	"frm/core/meta"
	"frm/core/site"
	"frm/core/usage"
)

// TestFixProblem: each kind of problem an audit reports is fixed by
// FixProblem (and the audit no longer reports it), or refused with
// ErrProblemChanged, changing nothing, when it no longer holds as recorded.
func TestFixProblem(t *testing.T) {
	// a and b are resident XA files (namespace symlink -> data file
	// holding a back reference).
	type files struct{ a, b *catalog.Entry }
	must := func(t *testing.T, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	relink := func(t *testing.T, target, pfn string) {
		t.Helper()
		must(t, os.Remove(pfn))
		must(t, os.Symlink(target, pfn))
	}
	gone := func(t *testing.T, p string) {
		t.Helper()
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there: %v", p, err)
		}
	}
	linksTo := func(t *testing.T, pfn, target string) {
		t.Helper()
		if got, err := os.Readlink(pfn); err != nil || got != target {
			t.Errorf("%s -> %q (%v), want %s", pfn, got, err, target)
		}
	}
	xref := func(t *testing.T, data, want string) {
		t.Helper()
		if got, _, _ := meta.GetPfn(data); got != want {
			t.Errorf("back reference of %s is %q, want %q", data, got, want)
		}
	}
	tests := []struct {
		name      string
		audit     string // names, space or usage
		make      func(t *testing.T, s *site.Site, f files)
		problem   site.Problem
		key       func(f files) string // the event's PFN, Data or Space
		meanwhile func(t *testing.T, s *site.Site, f files)
		err       error // nil, site.ErrProblemChanged or site.ErrNoFix
		after     func(t *testing.T, s *site.Site, f files)
	}{
		{name: "dangling link", audit: "names", problem: site.DanglingLink,
			make:  func(t *testing.T, s *site.Site, f files) { must(t, os.Remove(f.a.Link)) },
			key:   func(f files) string { return f.a.PFN },
			after: func(t *testing.T, s *site.Site, f files) { gone(t, f.a.PFN) }},
		{name: "dangling link restored meanwhile", audit: "names", problem: site.DanglingLink, err: site.ErrProblemChanged,
			make:      func(t *testing.T, s *site.Site, f files) { must(t, os.Remove(f.a.Link)) },
			key:       func(f files) string { return f.a.PFN },
			meanwhile: func(t *testing.T, s *site.Site, f files) { must(t, os.WriteFile(f.a.Link, []byte("back"), 0o644)) },
			after:     func(t *testing.T, s *site.Site, f files) { linksTo(t, f.a.PFN, f.a.Link) }},
		{name: "no copy time", audit: "names", problem: site.NoCopyTime,
			make: func(t *testing.T, s *site.Site, f files) { _, err := meta.RemoveCopyTime(f.a.PFN); must(t, err) },
			key:  func(f files) string { return f.a.PFN },
			after: func(t *testing.T, s *site.Site, f files) {
				if _, ok, _ := meta.GetCopyTime(f.a.PFN); !ok {
					t.Error("no copy time set")
				}
			}},
		{name: "copy time set meanwhile", audit: "names", problem: site.NoCopyTime, err: site.ErrProblemChanged,
			make:      func(t *testing.T, s *site.Site, f files) { _, err := meta.RemoveCopyTime(f.a.PFN); must(t, err) },
			key:       func(f files) string { return f.a.PFN },
			meanwhile: func(t *testing.T, s *site.Site, f files) { must(t, meta.SetCopyTime(f.a.PFN, 5)) },
			after: func(t *testing.T, s *site.Site, f files) {
				if ct, _, _ := meta.GetCopyTime(f.a.PFN); ct != 5 {
					t.Errorf("copy time %d, want 5 (untouched)", ct)
				}
			}},
		{name: "pfn xref missing", audit: "names", problem: site.PfnXrefMissing,
			make:  func(t *testing.T, s *site.Site, f files) { _, err := meta.RemovePfn(f.a.Link); must(t, err) },
			key:   func(f files) string { return f.a.PFN },
			after: func(t *testing.T, s *site.Site, f files) { xref(t, f.a.Link, f.a.PFN) }},
		{name: "pfn xref wrong", audit: "names", problem: site.PfnXrefWrong,
			make:  func(t *testing.T, s *site.Site, f files) { must(t, meta.SetPfn(f.a.Link, f.b.PFN)) },
			key:   func(f files) string { return f.a.PFN },
			after: func(t *testing.T, s *site.Site, f files) { xref(t, f.a.Link, f.a.PFN) }},
		{name: "pfn xref changed meanwhile", audit: "names", problem: site.PfnXrefWrong, err: site.ErrProblemChanged,
			make:      func(t *testing.T, s *site.Site, f files) { must(t, meta.SetPfn(f.a.Link, f.b.PFN)) },
			key:       func(f files) string { return f.a.PFN },
			meanwhile: func(t *testing.T, s *site.Site, f files) { must(t, meta.SetPfn(f.a.Link, "/elsewhere")) },
			after:     func(t *testing.T, s *site.Site, f files) { xref(t, f.a.Link, "/elsewhere") }},
		{name: "data without xref has no fix", audit: "space", problem: site.DataNoXref, err: site.ErrNoFix,
			make:  func(t *testing.T, s *site.Site, f files) { _, err := meta.RemovePfn(f.a.Link); must(t, err) },
			key:   func(f files) string { return f.a.Link },
			after: func(t *testing.T, s *site.Site, f files) { linksTo(t, f.a.PFN, f.a.Link) }},
		{name: "pfn missing", audit: "space", problem: site.DataXrefMissing,
			make:  func(t *testing.T, s *site.Site, f files) { must(t, os.Remove(f.a.PFN)) },
			key:   func(f files) string { return f.a.Link },
			after: func(t *testing.T, s *site.Site, f files) { linksTo(t, f.a.PFN, f.a.Link) }},
		{name: "pfn recreated meanwhile", audit: "space", problem: site.DataXrefMissing, err: site.ErrProblemChanged,
			make:      func(t *testing.T, s *site.Site, f files) { must(t, os.Remove(f.a.PFN)) },
			key:       func(f files) string { return f.a.Link },
			meanwhile: func(t *testing.T, s *site.Site, f files) { must(t, os.Symlink(f.b.Link, f.a.PFN)) },
			after:     func(t *testing.T, s *site.Site, f files) { linksTo(t, f.a.PFN, f.b.Link) }},
		{name: "pfn not a link deletes the data", audit: "space", problem: site.DataXrefNotLink,
			make: func(t *testing.T, s *site.Site, f files) {
				must(t, os.Remove(f.a.PFN))
				must(t, os.WriteFile(f.a.PFN, []byte("plain"), 0o644))
			},
			key: func(f files) string { return f.a.Link },
			after: func(t *testing.T, s *site.Site, f files) {
				gone(t, f.a.Link)
				if fi, err := os.Lstat(f.a.PFN); err != nil || !fi.Mode().IsRegular() {
					t.Errorf("the plain file %s was touched: %v", f.a.PFN, err)
				}
			}},
		{name: "unreferenced data is deleted", audit: "space", problem: site.DataXrefOther,
			make:  func(t *testing.T, s *site.Site, f files) { relink(t, f.b.Link, f.a.PFN) },
			key:   func(f files) string { return f.a.Link },
			after: func(t *testing.T, s *site.Site, f files) { gone(t, f.a.Link); linksTo(t, f.a.PFN, f.b.Link) }},
		{name: "pfn pointing to missing data is repointed", audit: "space", problem: site.DataXrefOther,
			make:  func(t *testing.T, s *site.Site, f files) { relink(t, f.a.Link+"-gone", f.a.PFN) },
			key:   func(f files) string { return f.a.Link },
			after: func(t *testing.T, s *site.Site, f files) { linksTo(t, f.a.PFN, f.a.Link) }},
		{name: "pfn repointed meanwhile", audit: "space", problem: site.DataXrefOther, err: site.ErrProblemChanged,
			make:      func(t *testing.T, s *site.Site, f files) { relink(t, f.b.Link, f.a.PFN) },
			key:       func(f files) string { return f.a.Link },
			meanwhile: func(t *testing.T, s *site.Site, f files) { relink(t, f.a.Link, f.a.PFN) },
			after: func(t *testing.T, s *site.Site, f files) {
				if _, err := os.Stat(f.a.Link); err != nil {
					t.Errorf("data file deleted: %v", err)
				}
			}},
		{name: "stale back reference is rewritten", audit: "space", problem: site.DataXrefStale,
			make:  func(t *testing.T, s *site.Site, f files) { must(t, os.Rename(f.a.PFN, f.a.PFN+".moved")) },
			key:   func(f files) string { return f.a.Link },
			after: func(t *testing.T, s *site.Site, f files) { xref(t, f.a.Link, f.a.PFN+".moved"); gone(t, f.a.PFN) }},
		{name: "stale back reference, moved back meanwhile", audit: "space", problem: site.DataXrefStale, err: site.ErrProblemChanged,
			make:      func(t *testing.T, s *site.Site, f files) { must(t, os.Rename(f.a.PFN, f.a.PFN+".moved")) },
			key:       func(f files) string { return f.a.Link },
			meanwhile: func(t *testing.T, s *site.Site, f files) { must(t, os.Rename(f.a.PFN+".moved", f.a.PFN)) },
			after:     func(t *testing.T, s *site.Site, f files) { xref(t, f.a.Link, f.a.PFN) }},
		{name: "stale back reference, moved on meanwhile", audit: "space", problem: site.DataXrefStale, err: site.ErrProblemChanged,
			make:      func(t *testing.T, s *site.Site, f files) { must(t, os.Rename(f.a.PFN, f.a.PFN+".moved")) },
			key:       func(f files) string { return f.a.Link },
			meanwhile: func(t *testing.T, s *site.Site, f files) { must(t, os.Rename(f.a.PFN+".moved", f.a.PFN+".again")) },
			after:     func(t *testing.T, s *site.Site, f files) { xref(t, f.a.Link, f.a.PFN) }},
		{name: "usage mismatch", audit: "usage", problem: site.UsageMismatch,
			make: func(t *testing.T, s *site.Site, f files) { must(t, usage.SetAdjust(s.UsagePath(), f.a.Space, 12345)) },
			key:  func(f files) string { return f.a.Space }},
		{name: "usage fixed meanwhile", audit: "usage", problem: site.UsageMismatch, err: site.ErrProblemChanged,
			make: func(t *testing.T, s *site.Site, f files) { must(t, usage.SetAdjust(s.UsagePath(), f.a.Space, 12345)) },
			key:  func(f files) string { return f.a.Space },
			meanwhile: func(t *testing.T, s *site.Site, f files) {
				must(t, s.AuditUsage(context.Background(), f.a.Space, site.AuditOptions{Fix: true, Force: true}, func(site.UsageAudit) {}))
			}},
	}
	ctx := context.Background()
	audit := func(t *testing.T, s *site.Site, mode, sp string) []site.AuditEvent {
		t.Helper()
		var evs []site.AuditEvent
		o := site.AuditOptions{Recursive: true, OnProblem: func(ev site.AuditEvent) { evs = append(evs, ev) }}
		var err error
		switch mode {
		case "names":
			_, err = s.AuditNames(ctx, "/store", o) // the export: its mode asks for copy times
		case "space":
			_, err = s.AuditSpace(ctx, sp, o)
		case "usage":
			err = s.AuditUsage(ctx, "", o, func(u site.UsageAudit) {
				if ev, ok := u.Event(); ok {
					evs = append(evs, ev)
				}
			})
		}
		if err != nil {
			t.Fatalf("audit %s: %v", mode, err)
		}
		return evs
	}
	find := func(evs []site.AuditEvent, p site.Problem, key string) (site.AuditEvent, bool) {
		for _, ev := range evs {
			if ev.Problem == p && (ev.PFN == key || ev.Data == key || ev.Space == key) {
				return ev, true
			}
		}
		return site.AuditEvent{}, false
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openDemo(t, 40)
			resident := func(e *catalog.Entry) bool {
				return strings.HasSuffix(e.Link, "%") && !e.Dangling && e.HasPfnRef && e.HasCopy && strings.HasPrefix(e.LFN, "/store/hmi/")
			}
			a := findEntry(t, s, "/store/hmi", resident)
			b := findEntry(t, s, "/store/hmi", func(e *catalog.Entry) bool { return resident(e) && e.LFN != a.LFN && e.Space == a.Space })
			f := files{a, b}
			tc.make(t, s, f)
			ev, ok := find(audit(t, s, tc.audit, a.Space), tc.problem, tc.key(f))
			if !ok {
				t.Fatalf("audit %s did not report problem %d for %s", tc.audit, tc.problem, tc.key(f))
			}
			if tc.meanwhile != nil {
				tc.meanwhile(t, s, f)
			}
			err := s.FixProblem(ctx, ev)
			switch {
			case tc.err == nil && err != nil:
				t.Fatalf("fix: %v", err)
			case tc.err != nil && !errors.Is(err, tc.err):
				t.Fatalf("fix: %v, want %v", err, tc.err)
			}
			if tc.err == nil {
				if _, still := find(audit(t, s, tc.audit, a.Space), tc.problem, tc.key(f)); still {
					t.Errorf("the audit still reports the problem after the fix")
				}
			}
			if tc.after != nil {
				tc.after(t, s, f)
			}
		})
	}
	s := openDemo(t, 40)
	if err := s.FixProblem(ctx, site.AuditEvent{Problem: 99, PFN: "/x"}); err == nil || !strings.Contains(err.Error(), "unknown problem") {
		t.Errorf("unknown problem: %v", err)
	}
	ctx2, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.FixProblem(ctx2, site.AuditEvent{Problem: site.DanglingLink, PFN: "/x"}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
