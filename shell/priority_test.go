package shell

import (
	"context"
	"os"
	"strings"
	"testing"

	"frm/core/xrdq"
)

// TestPriorityCommand: `priority rid N` moves the request's records
// between the queue files; bad arguments are usage errors.
func TestPriorityCommand(t *testing.T) {
	tests := []struct {
		args   string
		status int
		out    string
		prty   int // priority of r1's records afterwards
	}{
		{"priority r1 1", ExitOK, "r1: 2 entries moved to priority 1.", 1},
		{"priority r1 2", ExitOK, "r1: 2 entries moved to priority 2.", 2},
		{"prio r1 0", ExitOK, "r1: 0 entries moved to priority 0.", 0},
		{"priority r1 2 nosuch", ExitOK, "nosuch: 0 entries moved to priority 2.", 2},
		{"priority r1 3", ExitUsage, "Invalid priority - 3", 0},
		{"priority r1 x", ExitUsage, "Invalid priority - x", 0},
		{"priority r1", ExitUsage, "not specified", 0},
	}
	for _, tc := range tests {
		t.Run(tc.args, func(t *testing.T) {
			s, _ := testSite(t)
			qdir := s.Config().QueueDir()
			if err := os.MkdirAll(qdir, 0o755); err != nil {
				t.Fatal(err)
			}
			d := xrdq.Open(qdir)
			for _, r := range []xrdq.Request{
				{LFN: "/store/a/x", ID: "r1", Op: '+', Notify: "-"},
				{LFN: "/store/a/y", ID: "r1", Op: '&', Notify: "-"},
				{LFN: "/store/a/z", ID: "r2", Op: '+', Notify: "-"},
			} {
				if err := d.Add(r); err != nil {
					t.Fatal(err)
				}
			}
			sh, out, errb := newShell(s)
			words, _ := Split(tc.args)
			if st := sh.RunArgs(context.Background(), words, strings.NewReader("")); st != tc.status {
				t.Errorf("status %d, want %d (stderr %q)", st, tc.status, errb.String())
			}
			if !strings.Contains(out.String()+errb.String(), tc.out) {
				t.Errorf("output %q %q, want %q", out.String(), errb.String(), tc.out)
			}
			d.Walk(xrdq.ListOrder, -1, func(r xrdq.Request) error {
				want := tc.prty
				if r.ID == "r2" {
					want = 0
				}
				if int(r.Priority) != want {
					t.Errorf("%s %s at priority %d, want %d", r.ID, r.Path(), r.Priority, want)
				}
				return nil
			})
		})
	}
}
