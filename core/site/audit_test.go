package site_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"frm/core/catalog"
	"frm/core/meta"
	"frm/core/site"
)

// namesOf maps every data file of the namespace to the names (pfns) whose
// symlinks lead to it.
func namesOf(t *testing.T, s *site.Site) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := s.Catalog.Walk(context.Background(), "/", catalog.WalkOptions{Want: catalog.WantLink, Recursive: true}, func(e *catalog.Entry) error {
		if e.Type == catalog.File && strings.HasSuffix(e.Link, "%") {
			out[e.Link] = append(out[e.Link], e.PFN)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAuditFixSpaceStaleXref: a data file whose back reference names a
// pfn that no longer leads to it, while another namespace name does (what
// xrootd's mv of a directory, or a crash in frm's, leaves), is reported as
// a stale back reference, and fixing it rewrites the back reference. The
// fix never creates a second name for the data file (xrootd recreates the
// old name as a link to it; removing that name later deletes the moved
// file's data) and never deletes it (xrootd does when the old name is now
// another file).
func TestAuditFixSpaceStaleXref(t *testing.T) {
	resident := func(e *catalog.Entry) bool {
		return strings.HasSuffix(e.Link, "%") && !e.Dangling && e.HasPfnRef && e.PfnRef == e.PFN && strings.HasPrefix(e.LFN, "/store/hmi/")
	}
	must := func(t *testing.T, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// Each case renames the namespace link of file a (or its whole
	// directory) behind frm's back, as the old mv did, and may put
	// something at the old name.
	for _, tc := range []struct {
		name string
		dir  bool // move a's whole directory
		// old makes something of a's old name (after the move).
		old func(t *testing.T, s *site.Site, a *catalog.Entry)
	}{
		{name: "directory moved", dir: true},
		{name: "file moved", old: nil},
		{name: "old name reused by a new file", old: func(t *testing.T, s *site.Site, a *catalog.Entry) {
			_, err := s.Place(context.Background(), a.LFN, a.Space, strings.NewReader("a new file"), 10)
			must(t, err)
		}},
		{name: "old name now a plain file", old: func(t *testing.T, s *site.Site, a *catalog.Entry) {
			must(t, os.WriteFile(a.PFN, []byte("plain"), 0o644))
		}},
		{name: "old name links to missing data", old: func(t *testing.T, s *site.Site, a *catalog.Entry) {
			must(t, os.Symlink(a.Link+"-gone", a.PFN))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openDemo(t, 100)
			ctx := context.Background()
			a := findEntry(t, s, "/store/hmi", resident)
			content, err := os.ReadFile(a.Link)
			must(t, err)
			from, to := a.LFN, "/store/moved/"+filepath.Base(a.LFN)
			if tc.dir {
				from, to = filepath.Dir(a.LFN), "/store/moved/"+filepath.Base(filepath.Dir(a.LFN))
			}
			must(t, os.MkdirAll(filepath.Dir(s.PFN(to)), 0o755))
			must(t, os.Rename(s.PFN(from), s.PFN(to)))
			moved := s.PFN(to + strings.TrimPrefix(a.LFN, from))
			if tc.old != nil {
				tc.old(t, s, a)
			}
			oldState, _ := os.Readlink(a.PFN)

			var problems []site.AuditEvent
			o := site.AuditOptions{Fix: true, Force: true, Prompter: site.Always(site.Yes),
				OnProblem: func(ev site.AuditEvent) { problems = append(problems, ev) }}
			r, err := s.AuditSpace(ctx, a.Space, o)
			must(t, err)
			found := false
			for _, ev := range problems {
				if ev.Data == a.Link {
					found = true
					if ev.Problem != site.DataXrefStale || ev.PFN != a.PFN || ev.Other != moved {
						t.Errorf("problem %d pfn %s other %s; want stale back reference %s, linked from %s", ev.Problem, ev.PFN, ev.Other, a.PFN, moved)
					}
				}
			}
			if !found {
				t.Fatalf("no problem reported for %s (%+v)", a.Link, problems)
			}
			if r.Unreachable != 0 {
				t.Errorf("%d bytes unreachable, want 0: every data file has a name", r.Unreachable)
			}
			// The moved file keeps its data, under its one name.
			if got, err := os.ReadFile(moved); err != nil || !bytes.Equal(got, content) {
				t.Errorf("moved file %s: %v (content intact %v)", moved, err, bytes.Equal(got, content))
			}
			if ref, _, _ := meta.GetPfn(a.Link); ref != moved {
				t.Errorf("back reference %q, want %q", ref, moved)
			}
			for data, names := range namesOf(t, s) {
				if len(names) > 1 {
					t.Errorf("data file %s has %d names: %q", data, len(names), names)
				}
			}
			// The old name is as the case left it.
			if got, _ := os.Readlink(a.PFN); got != oldState {
				t.Errorf("old name %s now links to %q, was %q", a.PFN, got, oldState)
			}
			if tc.old == nil && exists(a.PFN) {
				t.Errorf("old name %s recreated", a.PFN)
			}
			// Nothing left for audit space to report about the moved files.
			problems = nil
			_, err = s.AuditSpace(ctx, a.Space, site.AuditOptions{OnProblem: func(ev site.AuditEvent) { problems = append(problems, ev) }})
			must(t, err)
			for _, ev := range problems {
				t.Errorf("after the fix: problem %d pfn %s data %s", ev.Problem, ev.PFN, ev.Data)
			}
		})
	}
}
