package tui

import (
	"context"
	"testing"
	"time"

	"frm/core/sitegen/sitetest"

	"github.com/jackc/pgx/v5/pgxpool"

	"frm/core/config"
	"frm/core/pgqueue"
	"frm/core/pgtest"
	"frm/sql/schema"
	"frm/tui/model"
)

// TestSharedQueueBackend: with a PostgreSQL catalog the Queues view lists
// the site's shared queue without a daemon, and is told of changes by the
// database (a "changed" event after an add and after a cancel).
func TestSharedQueueBackend(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dsn := pgtest.Start(t).CreateDB(t)
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := schema.Migrate(ctx, pool, "test"); err != nil {
		t.Fatal(err)
	}
	s, _ := sitetest.Open(t, func(cfg *config.Config) { cfg.Catalog = config.Catalog{Kind: "postgres", DSN: dsn} })
	be := &SiteBackend{Site: s}

	events := make(chan model.QueueEvent, 16)
	go be.Events(ctx, func(ev model.QueueEvent) { events <- ev })
	wait := func(what string) {
		t.Helper()
		select {
		case ev := <-events:
			if ev.Type != model.QueueChanged {
				t.Fatalf("%s: event %+v", what, ev)
			}
		case <-time.After(patience):
			t.Fatalf("no change event after %s", what)
		}
	}
	wait("connecting")
	q := pgqueue.New(pool, pgqueue.Options{Site: s.Config().Site})
	if _, err := q.Add(ctx, pgqueue.NewRequest{Kind: "stage", LFN: "/store/q1", RID: "q1", Requester: "alice"}); err != nil {
		t.Fatal(err)
	}
	wait("an add")
	snap, err := be.Queue(ctx)
	if err != nil || len(snap.Rows) != 1 || snap.Rows[0].LFN != "/store/q1" || snap.Rows[0].Kind != "stage" || snap.Rows[0].TID != "alice" {
		t.Fatalf("queue snapshot %+v %v", snap, err)
	}
	if _, err := q.Cancel(ctx, "q1"); err != nil {
		t.Fatal(err)
	}
	wait("a cancel")
	if snap, _ := be.Queue(ctx); len(snap.Rows) != 0 {
		t.Fatalf("cancelled request still listed: %+v", snap.Rows)
	}
}
