package xrdq

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// queueState lists every queue file's live records as "kindQ.p:id:lfn".
func queueState(t *testing.T, d *Dir) string {
	t.Helper()
	var out []string
	for _, k := range ListOrder {
		for p := 0; p <= MaxPriority; p++ {
			err := d.Queue(k, p).Walk(func(r Request) error {
				if int(r.Priority) != p {
					t.Errorf("%s holds a record of priority %d", d.Queue(k, p).Path(), r.Priority)
				}
				out = append(out, fmt.Sprintf("%sQ.%d:%s:%s@%d", k, p, r.ID, r.Path(), r.Added))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return strings.Join(out, " ")
}

func TestSetPriority(t *testing.T) {
	seed := []Request{
		{LFN: "/s/1", ID: "a", Op: '+', Priority: 0, Added: 100},
		{LFN: "/s/b", ID: "b", Op: '+', Priority: 0, Added: 101},
		{LFN: "/s/2", ID: "a", Op: '+', Priority: 1, Added: 102},
		{LFN: "/m/1", ID: "a", Op: '&', Priority: 0, Added: 103},
	}
	tests := []struct {
		name  string
		kinds []Kind
		id    string
		prty  int
		moved int
		want  string
		err   string
	}{
		{name: "every record of a request to 2", kinds: ListOrder, id: "a", prty: 2, moved: 3,
			want: "migrQ.2:a:/m/1@103 pstgQ.0:b:/s/b@101 pstgQ.2:a:/s/1@100 pstgQ.2:a:/s/2@102"},
		{name: "down to 0, stage only", kinds: []Kind{Stage}, id: "a", prty: 0, moved: 1,
			want: "migrQ.0:a:/m/1@103 pstgQ.0:a:/s/1@100 pstgQ.0:b:/s/b@101 pstgQ.0:a:/s/2@102"},
		{name: "already there", kinds: []Kind{Migrate}, id: "a", prty: 0, moved: 0,
			want: "migrQ.0:a:/m/1@103 pstgQ.0:a:/s/1@100 pstgQ.0:b:/s/b@101 pstgQ.1:a:/s/2@102"},
		{name: "unknown request", kinds: ListOrder, id: "zz", prty: 2, moved: 0,
			want: "migrQ.0:a:/m/1@103 pstgQ.0:a:/s/1@100 pstgQ.0:b:/s/b@101 pstgQ.1:a:/s/2@102"},
		{name: "priority out of range", kinds: ListOrder, id: "a", prty: 3, err: "out of range"},
		{name: "no id", kinds: ListOrder, id: "", prty: 1, err: "request id missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Open(filepath.Join(t.TempDir(), "Queues"))
			if err := d.Init(); err != nil {
				t.Fatal(err)
			}
			for _, r := range seed {
				r.Notify, r.User = "-", "t"
				if err := d.Add(r); err != nil {
					t.Fatal(err)
				}
			}
			n, err := d.SetPriority(tc.kinds, tc.id, tc.prty)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n != tc.moved {
				t.Errorf("moved %d, want %d", n, tc.moved)
			}
			if got := queueState(t, d); got != tc.want {
				t.Errorf("queues\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestSetPriorityServedMeanwhile: a record a daemon takes between the walk
// and the move is not re-queued at the new priority.
func TestSetPriorityServedMeanwhile(t *testing.T) {
	d := Open(filepath.Join(t.TempDir(), "Queues"))
	if err := d.Init(); err != nil {
		t.Fatal(err)
	}
	for _, lfn := range []string{"/s/1", "/s/2"} {
		if err := d.Add(Request{LFN: lfn, ID: "a", Op: '+', Notify: "-", Added: 100}); err != nil {
			t.Fatal(err)
		}
	}
	src, dst := d.Queue(Stage, 0), d.Queue(Stage, 2)
	var recs []Request
	src.Walk(func(r Request) error { recs = append(recs, r); return nil })
	// The daemon serves /s/1 now.
	if _, ok, err := src.Take(func(r Request) bool { return r.Path() == "/s/1" }); !ok || err != nil {
		t.Fatalf("take: %v %v", ok, err)
	}
	n, err := moveRecords(src, dst, recs)
	if err != nil || n != 1 {
		t.Fatalf("moved %d, %v", n, err)
	}
	if got := queueState(t, d); got != "pstgQ.2:a:/s/2@100" {
		t.Errorf("queues %s", got)
	}
}
