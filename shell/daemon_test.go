package shell

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"frm/core/site"
)

// TestQueueAndCancelWithoutDaemon: with no daemon running, queue lists the
// queue files and says so, and cancel works in the queue files; a cancel
// of a request no queue holds is an error, also beside one that works.
func TestQueueAndCancelWithoutDaemon(t *testing.T) {
	s, _ := testSite(t)
	ctx := context.Background()
	r, err := s.Stage(ctx, []string{"/store/a/staged.fits"}, site.RequestOptions{RID: "r1"})
	if err != nil || r.Queued != 1 {
		t.Fatalf("stage: %+v %v", r, err)
	}

	sh, out, errb := newShell(s)
	if st := sh.Exec(ctx, []string{"queue"}); st != ExitOK {
		t.Fatalf("queue: status %d: %s", st, errb)
	}
	if !strings.Contains(out.String(), "stage") || !strings.Contains(out.String(), "/store/a/staged.fits") ||
		!strings.Contains(errb.String(), "daemon not reachable") || !strings.Contains(errb.String(), "reading the queue files") {
		t.Errorf("queue without a daemon:\n%s---\n%s", out, errb)
	}

	sh, out, _ = newShell(s)
	sh.JSON = true
	sh.Exec(ctx, []string{"queue"})
	var doc struct {
		Summary map[string]any `json:"summary"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil || doc.Summary["source"] != "queue files" {
		t.Errorf("queue -o json: source %v (%v):\n%s", doc.Summary["source"], err, out)
	}

	for _, tc := range []struct {
		args   []string
		status int
	}{
		{[]string{"cancel", "nosuch"}, ExitError},
		{[]string{"cancel", "r1", "nosuch"}, ExitPartial},
	} {
		sh, out, errb := newShell(s)
		if st := sh.Exec(ctx, tc.args); st != tc.status {
			t.Errorf("%v: status %d, want %d\n%s%s", tc.args, st, tc.status, out, errb)
		}
		if strings.Contains(strings.Join(tc.args, " "), "nosuch") && !strings.Contains(errb.String(), "cancel nosuch: no such request") {
			t.Errorf("%v: no error for the unknown request: %s", tc.args, errb)
		}
	}
}
