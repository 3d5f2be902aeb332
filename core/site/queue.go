package site

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"frm/core/control"
	"frm/core/pgqueue"
	"frm/core/xrdq"
)

// QueueSource says where a queue listing came from.
type QueueSource string

const (
	FromSharedQueue QueueSource = "shared queue" // the PostgreSQL catalog's, every host's requests
	FromDaemon      QueueSource = "daemon"       // the running daemon's view (knows what runs)
	FromQueueFiles  QueueSource = "queue files"  // read from the files, no daemon running
)

// QueueListing is the site's queued transfer requests.
type QueueListing struct {
	Entries []control.QueueEntry
	Source  QueueSource
	// Note says why a fallback was taken ("" when the first choice
	// answered): faces show it, so that a listing without running
	// transfers is not mistaken for an idle daemon.
	Note string
}

// ListQueue lists the queued transfer requests with its fallbacks, the one
// way every face lists them: the shared queue of a PostgreSQL catalog
// (which every host's daemon serves); else the daemon reached through c
// (nil: not asked), which knows which requests run; else the queue files
// themselves.
func (s *Site) ListQueue(ctx context.Context, c *control.Client) (QueueListing, error) {
	if sh, ok := s.Shared(); ok {
		e, err := SharedQueueEntries(ctx, sh.SharedQueue())
		return QueueListing{Entries: e, Source: FromSharedQueue}, err
	}
	var note string
	if c != nil {
		e, err := c.Queue(ctx)
		if err == nil {
			return QueueListing{Entries: e, Source: FromDaemon}, nil
		}
		note = err.Error() + "; reading the queue files"
	}
	d := xrdq.Open(s.Config().QueueDir())
	if !d.Exists() {
		return QueueListing{Source: FromQueueFiles, Note: note}, &NoQueuesError{Dir: s.Config().QueueDir()}
	}
	e, err := QueueFileEntries(d, nil)
	return QueueListing{Entries: e, Source: FromQueueFiles, Note: note}, err
}

// ErrNoRequest is a cancel of a request id that no queue holds.
var ErrNoRequest = errors.New("no such request")

// CancelRequest cancels request rid, queued or running, through the
// daemon reached by c, or, with none running, in the queue files (every
// kind); the one way every face cancels. It returns how many queue records
// it removed; a request no queue holds is ErrNoRequest.
func (s *Site) CancelRequest(ctx context.Context, c *control.Client, rid string) (int, error) {
	n, err := c.Cancel(ctx, rid)
	if control.IsNotRunning(err) {
		n, err = xrdq.Open(s.Config().QueueDir()).Cancel(xrdq.ListOrder, rid)
	}
	if err == nil && n == 0 {
		err = ErrNoRequest
	}
	if err != nil {
		return 0, fmt.Errorf("cancel %s: %w", rid, err)
	}
	return n, nil
}

// NoQueuesError is a listing of a site whose queue files were never
// created (no daemon or agent ever ran): nothing is queued.
type NoQueuesError struct{ Dir string }

func (e *NoQueuesError) Error() string { return "No transfer queues found in " + e.Dir + "/" }

// SharedQueueEntries lists the live requests of a shared queue, every
// host's, in claim order.
func SharedQueueEntries(ctx context.Context, q *pgqueue.Queue) ([]control.QueueEntry, error) {
	reqs, err := q.List(ctx, pgqueue.Filter{})
	if err != nil {
		return nil, fmt.Errorf("shared queue: %w", err)
	}
	out := make([]control.QueueEntry, 0, len(reqs))
	for _, r := range reqs {
		x := r.Xrdq()
		out = append(out, control.QueueEntry{Kind: r.Kind, Priority: r.Priority, LFN: r.LFN, RID: r.RID, TID: r.Requester,
			Notify: strings.Join(r.Notify, " "), Added: r.Created.Unix(), Op: string(x.Op),
			Running: r.State == pgqueue.Running, Host: r.Host, Owner: r.LeaseOwner, Class: r.Class})
	}
	return out, nil
}

// QueueFileEntries lists the requests of the queue files in d, in the
// order a transfer daemon serves them; annotate, when not nil, adds what
// the daemon knows of each (whether it runs, its class).
func QueueFileEntries(d *xrdq.Dir, annotate func(*control.QueueEntry)) ([]control.QueueEntry, error) {
	var out []control.QueueEntry
	err := d.Walk(xrdq.ListOrder, -1, func(r xrdq.Request) error {
		k, _ := xrdq.KindForOp(r.Op)
		e := control.QueueEntry{Kind: pgqueue.KindName(k), Priority: int(r.Priority), LFN: r.Path(), RID: r.ID, TID: r.User,
			Notify: r.Notify, Added: r.Added, Op: string(r.Op)}
		if annotate != nil {
			annotate(&e)
		}
		out = append(out, e)
		return nil
	})
	return out, err
}
