package site_test

import (
	"context"
	"fmt"
	"path"
	"strings"
	"testing"

	"frm/core/catalog"
	"frm/core/site"
	"frm/core/xrdq"
)

// TestRequests: Stage and MigrateNow queue the records frm_xfragent would
// ("+" in pstgQ, "&" in migrQ, at the given priority, one request id),
// skip files with nothing to do and refuse the others with a reason.
func TestRequests(t *testing.T) {
	s := openDemo(t, 200)
	dangling := findEntry(t, s, "/store", func(e *catalog.Entry) bool { return e.Dangling }).LFN
	migrated := findEntry(t, s, "/store", func(e *catalog.Entry) bool { return e.Migrated() && !e.Dangling }).LFN
	needsMig := findEntry(t, s, "/store", func(e *catalog.Entry) bool { return e.NeedsMigration() }).LFN
	noCopy := findEntry(t, s, "/store", func(e *catalog.Entry) bool { return !e.HasCopy && !e.Dangling }).LFN
	scratch := findEntry(t, s, "/scratch", func(e *catalog.Entry) bool { return true }).LFN
	purged := "/store/hmi/purged_long_ago.fits" // only in the MSS: the usual stage

	tests := []struct {
		name    string
		migrate bool
		lfns    []string
		prty    int
		queued  []string // lfns queued
		skipped string   // a skip reason expected
		errs    []string // error texts expected, in order
		fatal   string
	}{
		{name: "stage a dangling file", lfns: []string{dangling}, queued: []string{dangling}},
		{name: "stage a purged file at priority 2", lfns: []string{purged}, prty: 2, queued: []string{purged}},
		{name: "stage a resident file is skipped", lfns: []string{migrated}, skipped: "already on disk"},
		{name: "stage a directory", lfns: []string{path.Dir(migrated)}, errs: []string{"Unable to stage " + path.Dir(migrated) + "; is a directory"}},
		{name: "stage outside the exports", lfns: []string{"/nowhere/x", purged}, queued: []string{purged},
			errs: []string{"Unable to stage /nowhere/x; not under an export with the stage option"}},
		{name: "stage a bad name", lfns: []string{"relative"}, errs: []string{"Unable to queue relative;"}},
		{name: "migrate modified and never-copied files", migrate: true, lfns: []string{needsMig, noCopy}, prty: 1, queued: []string{needsMig, noCopy}},
		{name: "migrate a migrated file is skipped", migrate: true, lfns: []string{migrated}, skipped: "already migrated"},
		{name: "migrate a nomig export", migrate: true, lfns: []string{scratch}, errs: []string{"Unable to migrate " + scratch + "; not under an export with the mig option"}},
		{name: "migrate a dangling file", migrate: true, lfns: []string{dangling}, errs: []string{"its data file is missing"}},
		{name: "migrate a missing file", migrate: true, lfns: []string{purged}, errs: []string{"Unable to migrate " + purged + "; no such file or directory"}},
		{name: "bad priority", lfns: []string{purged}, prty: 3, fatal: "priority 3"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			var errs []string
			o := site.RequestOptions{Priority: tc.prty, RID: fmt.Sprintf("t%d", i), TID: "tester", OnError: func(err error) { errs = append(errs, err.Error()) }}
			var r site.RequestResult
			var err error
			kind, op := xrdq.Stage, byte('+')
			if tc.migrate {
				kind, op = xrdq.Migrate, '&'
				r, err = s.MigrateNow(ctx, tc.lfns, o)
			} else {
				r, err = s.Stage(ctx, tc.lfns, o)
			}
			if tc.fatal != "" {
				if err == nil || !strings.Contains(err.Error(), tc.fatal) {
					t.Fatalf("err %v, want %q", err, tc.fatal)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Queued != len(tc.queued) || r.RID != o.RID || r.Errors != len(tc.errs) {
				t.Errorf("result %+v, want %d queued", r, len(tc.queued))
			}
			if len(errs) != len(tc.errs) {
				t.Fatalf("errors %q, want %q", errs, tc.errs)
			}
			for j := range errs {
				if !strings.Contains(errs[j], tc.errs[j]) {
					t.Errorf("error %q, want %q", errs[j], tc.errs[j])
				}
			}
			if tc.skipped != "" && (len(r.Skipped) != 1 || r.Skipped[0].Why != tc.skipped) {
				t.Errorf("skipped %+v, want %q", r.Skipped, tc.skipped)
			}
			// The records, as frm_xfrd and frm's daemon will read them.
			var got []string
			err = xrdq.Open(s.Config().QueueDir()).Walk([]xrdq.Kind{xrdq.Stage, xrdq.Migrate}, -1, func(q xrdq.Request) error {
				if q.ID != o.RID {
					return nil
				}
				k, _ := xrdq.KindForOp(q.Op)
				if k != kind || q.Op != op || int(q.Priority) != tc.prty || q.User != "tester" || q.Notify != "-" {
					t.Errorf("record %+v: want kind %v op %c prty %d", q, kind, op, tc.prty)
				}
				got = append(got, q.Path())
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, " ") != strings.Join(tc.queued, " ") {
				t.Errorf("queued %q, want %q", got, tc.queued)
			}
		})
	}
	// Without a request id one is made, unique per call.
	a, _ := s.Stage(context.Background(), []string{purged}, site.RequestOptions{})
	b, _ := s.Stage(context.Background(), []string{purged}, site.RequestOptions{})
	if a.RID == "" || a.RID == b.RID || !strings.HasPrefix(a.RID, "frm-") {
		t.Errorf("request ids %q %q", a.RID, b.RID)
	}
}
