package daemons

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"frm/core/catalog"
	"frm/core/catalog/embedded"
	"frm/core/catalog/pgcat"
	"frm/core/config"
	"frm/core/control"
	"frm/core/meta"
	"frm/core/names"
	"frm/core/pgqueue"
	"frm/core/pgtest"
	"frm/core/xrdq"
	"frm/sql/schema"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	os.Exit(code)
}

// sharedSite is a test site whose catalog is a fresh PostgreSQL database
// on the package's shared server.
func sharedSite(t *testing.T, mutate func(*config.Config)) (tsite, *pgxpool.Pool) {
	t.Helper()
	return sharedSiteOn(t, pgtest.Shared(t), mutate)
}

// sharedSiteOn is sharedSite on server srv (a test that stops or
// restarts its server has one of its own).
func sharedSiteOn(t *testing.T, srv *pgtest.Server, mutate func(*config.Config)) (tsite, *pgxpool.Pool) {
	t.Helper()
	dsn := srv.CreateDB(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := schema.Migrate(ctx, pool, "test"); err != nil {
		t.Fatal(err)
	}
	s := newSite(t, func(c *config.Config) {
		c.Catalog.Kind, c.Catalog.DSN = "postgres", dsn
		c.Catalog.Lease = config.Duration(3 * time.Second)
		if mutate != nil {
			mutate(c)
		}
	})
	return s, pool
}

func count(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func TestSharedQueueStagesLocalAndSharedRequests(t *testing.T) {
	s, pool := sharedSite(t, nil)
	s.mssFile(t, "/store/local.fits", "from the queue file\n")
	s.mssFile(t, "/store/shared.fits", "from the database\n")
	s.mssFile(t, "/store/elsewhere.fits", "not ours\n")
	notes := filepath.Join(s.l.Dir, "notes")
	os.WriteFile(notes, nil, 0o644)
	r := start(t, s, "stage")
	host := r.d.Site.HostName()

	// A requester on this host writes the queue file (as frm_xfragent);
	// another host's admin puts requests straight into the database.
	queueAdd(t, s, "+tid1 rl file://"+notes+" 1 rsn /store/local.fits")
	q := pgqueue.New(pool, pgqueue.Options{Site: s.cfg.Site, Host: "admin"})
	ctx := context.Background()
	if _, err := q.Add(ctx, pgqueue.NewRequest{Kind: "stage", LFN: "/store/shared.fits", RID: "rs", Notify: "file://" + notes}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Add(ctx, pgqueue.NewRequest{Kind: "stage", LFN: "/store/elsewhere.fits", RID: "re", Host: "other-host"}); err != nil {
		t.Fatal(err)
	}
	r.d.Transfer.Wake()
	r.waitEvent(t, "done", "/store/local.fits")
	r.waitEvent(t, "done", "/store/shared.fits") // woken by NOTIFY, not by a wake-up
	for lfn, want := range map[string]string{"store/local.fits": "from the queue file\n", "store/shared.fits": "from the database\n"} {
		if b, _ := os.ReadFile(filepath.Join(s.l.LocalRoot, lfn)); string(b) != want {
			t.Errorf("%s staged as %q", lfn, b)
		}
	}
	if _, err := os.Stat(filepath.Join(s.l.LocalRoot, "store/elsewhere.fits")); err == nil {
		t.Error("a request bound to another host was run here")
	}
	// The queue-file record moved into the database, bound to this host.
	if n := count(t, pool, `SELECT count(*) FROM transfer_history WHERE final AND ok AND host = $1 AND lfn = '/store/local.fits'`, host); n != 1 {
		t.Errorf("local request: %d final history rows by %s, want 1", n, host)
	}
	if n := count(t, pool, `SELECT count(*) FROM transfer_history WHERE final AND ok AND lfn = '/store/shared.fits'`); n != 1 {
		t.Errorf("shared request: %d final history rows, want 1", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM requests WHERE state = 'queued' AND lfn = '/store/elsewhere.fits'`); n != 1 {
		t.Errorf("the other host's request is not waiting for it (%d)", n)
	}
	n := 0
	xrdq.Open(s.cfg.QueueDir()).List(pgqueue.XrdqKinds, -1, func(xrdq.Request) error { n++; return nil })
	if n != 0 {
		t.Errorf("%d records left in the queue files", n)
	}
	// Both requesters were told, once each.
	deadline := time.Now().Add(patience)
	var b []byte
	for time.Now().Before(deadline) {
		if b, _ = os.ReadFile(notes); strings.Count(string(b), "\n") >= 2 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := string(b); strings.Count(got, "stage OK /store/local.fits") != 1 || strings.Count(got, "stage OK /store/shared.fits") != 1 {
		t.Errorf("notifications:\n%s", got)
	}
	// The host registered itself and its partitions (at start, beside
	// the transfers: not necessarily before they ended).
	deadline = time.Now().Add(patience)
	for count(t, pool, `SELECT count(*) FROM partitions WHERE host = $1`, host) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := count(t, pool, `SELECT count(*) FROM hosts WHERE name = $1 AND heartbeat > now() - interval '1 minute'`, host); n != 1 {
		t.Errorf("host %s not registered", host)
	}
	if n := count(t, pool, `SELECT count(*) FROM partitions WHERE host = $1`, host); n == 0 {
		t.Errorf("no partitions registered for %s", host)
	}
}

func TestSharedCancelStopsRunningTransfer(t *testing.T) {
	s, pool := sharedSite(t, func(c *config.Config) {
		slowStage(c)
		c.Transfer.CopyMax = 1
	})
	s.mssFile(t, "/store/slow", "x")
	r := start(t, s, "stage")
	q := pgqueue.New(pool, pgqueue.Options{Site: s.cfg.Site})
	ctx := context.Background()
	if _, err := q.Add(ctx, pgqueue.NewRequest{Kind: "stage", LFN: "/store/slow", RID: "rslow"}); err != nil {
		t.Fatal(err)
	}
	r.waitEvent(t, "start", "/store/slow")
	dctx, cancel := context.WithTimeout(ctx, patience)
	defer cancel()
	c := control.New(s.cfg.AdminDir())
	entries, err := c.Queue(dctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || !entries[0].Running || entries[0].Owner != r.d.Site.HostName() {
		t.Fatalf("queue over the control socket: %+v", entries)
	}
	if n, err := c.Cancel(dctx, "rslow"); err != nil || n != 1 {
		t.Fatalf("cancel: %d %v", n, err)
	}
	r.waitEvent(t, "lost", "/store/slow")
	if n := count(t, pool, `SELECT count(*) FROM requests WHERE state = 'cancelled' AND rid = 'rslow'`); n != 1 {
		t.Errorf("request not cancelled in the database")
	}
	if n := count(t, pool, `SELECT count(*) FROM transfer_history WHERE final`); n != 0 {
		t.Errorf("a cancelled request got %d final history rows", n)
	}
}

// TestSharedDrainGivesRequestsBack: a transfer cut short by a drain goes
// back to the shared queue at once, for any host to take.
func TestSharedDrainGivesRequestsBack(t *testing.T) {
	s, pool := sharedSite(t, func(c *config.Config) {
		slowStage(c)
	})
	s.mssFile(t, "/store/slow", "x")
	_, started, cancel, done := runDraining(t, s, 100*time.Millisecond)
	q := pgqueue.New(pool, pgqueue.Options{Site: s.cfg.Site})
	if _, err := q.Add(context.Background(), pgqueue.NewRequest{Kind: "stage", LFN: "/store/slow", RID: "r1"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(patience):
		t.Fatal("transfer did not start")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := count(t, pool, `SELECT count(*) FROM requests WHERE state = 'queued' AND lease_owner IS NULL AND lfn = '/store/slow'`); n != 1 {
		t.Fatalf("the interrupted request is not queued again (%d)", n)
	}
}

// TestPurgeLeaderPerPartitionSet: hosts mounting the same partitions
// elect one purger per space; a host with its own partitions (same space
// names and layout, other disks) purges them at the same time; when the
// leader stops, another host takes over.
func TestPurgeLeaderPerPartitionSet(t *testing.T) {
	a, _ := sharedSite(t, nil)
	b := a
	bcfg := *a.cfg
	bcfg.Instance = "b" // same partitions, another daemon instance
	b.cfg = &bcfg
	c := newSite(t, func(cc *config.Config) { // own partitions, same spaces
		cc.Catalog = a.cfg.Catalog
		cc.Instance = "c"
	})
	ra := start(t, a, "purge")
	waitLead := func(r *running, want int) {
		t.Helper()
		deadline := time.Now().Add(patience)
		for len(r.d.Purger.leader.leading()) != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s leads %v, want %d spaces", r.d.Site.HostName(), r.d.Purger.leader.leading(), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	spaces := len(a.cfg.Spaces)
	waitLead(ra, spaces)
	rb := start(t, b, "purge")
	rc := start(t, c, "purge")
	waitLead(rc, spaces)                // its own partitions: its own leases
	time.Sleep(1500 * time.Millisecond) // b has refreshed at least once
	waitLead(rb, 0)
	if st := rb.d.Purger.Cycle(context.Background()); !st.Skipped || len(st.Leading) != 0 {
		t.Errorf("a non-leader's cycle: %+v", st)
	}
	ra.stop(t) // resigns
	waitLead(rb, spaces)
}

// TestSharedSurvivesDatabaseRestart: the daemon rides out a PostgreSQL
// restart (its connections break) and serves requests added afterwards,
// woken again by LISTEN once it has reconnected.
func TestSharedSurvivesDatabaseRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts a PostgreSQL server")
	}
	srv := pgtest.Start(t)
	ctx := context.Background()
	s, pool := sharedSiteOn(t, srv, func(c *config.Config) {
		c.Transfer.QCheck = config.Duration(time.Hour) // only NOTIFY can wake it
	})
	s.mssFile(t, "/store/before", "1")
	s.mssFile(t, "/store/after", "2")
	r := start(t, s, "stage")
	q := pgqueue.New(pool, pgqueue.Options{Site: s.cfg.Site})
	if _, err := q.Add(ctx, pgqueue.NewRequest{Kind: "stage", LFN: "/store/before", RID: "r1"}); err != nil {
		t.Fatal(err)
	}
	r.waitEvent(t, "done", "/store/before")

	srv.Restart(t)
	// No wait for the listener: whether its NOTIFY comes or falls while
	// it reconnects, the reconnection itself wakes it (pgqueue.Listen).
	add := func() error {
		_, err := q.Add(ctx, pgqueue.NewRequest{Kind: "stage", LFN: "/store/after", RID: "r2"})
		return err
	}
	for i := 0; add() != nil; i++ { // the test's own pool reconnects too
		if i > 50 {
			t.Fatal("cannot add a request after the restart")
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.waitEvent(t, "done", "/store/after")
	if n := count(t, pool, `SELECT count(*) FROM transfer_history WHERE final AND ok`); n != 2 {
		t.Errorf("%d completions recorded, want 2", n)
	}
}

// TestRemoteChangesReachTheFile: a pin set on another host (an admin
// workstation) changes the row at once, and the daemon of the host that
// holds the file writes it onto the file's xattrs.
func TestRemoteChangesReachTheFile(t *testing.T) {
	s, pool := sharedSite(t, nil)
	ctx := context.Background()
	lfn := "/store/remote/pinned.fits"
	pfn := filepath.Join(s.l.LocalRoot, lfn)
	os.MkdirAll(filepath.Dir(pfn), 0o755)
	if err := os.WriteFile(pfn, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := start(t, s, "stage")
	host := r.d.Site.HostName()
	m := names.NewMapper(s.l.LocalRoot, "")
	fs := embedded.New(m, "")
	if _, err := pgcat.Import(ctx, pool, fs, "/", pgcat.ImportOptions{Site: s.cfg.Site, Host: host}); err != nil {
		t.Fatal(err)
	}
	// The workstation has no such file: its catalog writes the row only.
	ws := pgcat.New(pool, pgcat.Options{Names: names.NewMapper(t.TempDir(), ""), Site: s.cfg.Site, Host: "workstation"})
	pin := meta.Pin{Flags: meta.PinForever}
	if _, err := ws.Apply(ctx, lfn, catalog.Change{Kind: catalog.SetPin, Pin: pin}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(patience)
	for {
		e, err := fs.Lookup(ctx, lfn, catalog.WantPin)
		if err == nil && e.HasPin && e.Pin.Flags == meta.PinForever {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pin never reached the file: %+v %v", e, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The host registers itself beside its work: the mark of the applied
	// change may reach its row a moment later.
	for {
		var n int64
		err := pool.QueryRow(ctx, `SELECT applied_event FROM hosts WHERE name = $1`, host).Scan(&n)
		if err == nil && n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the applied change is not recorded: %d %v", n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSharedTransfersStopWhenLeasesCannotBeRenewed: a host that cannot
// reach the database for a whole lease stops its shared transfers (the
// other hosts may have taken them over), and once the database is back
// the requests run to completion.
func TestSharedTransfersStopWhenLeasesCannotBeRenewed(t *testing.T) {
	if testing.Short() {
		t.Skip("stops a PostgreSQL server")
	}
	srv := pgtest.Start(t)
	ctx := context.Background()
	// The copy waits for the gate, opened once the transfer was stopped:
	// a fixed sleep raced the lease on a loaded machine (stopping the
	// server alone can take seconds).
	gate := filepath.Join(t.TempDir(), "gate")
	s, pool := sharedSiteOn(t, srv, func(c *config.Config) {
		c.MSS.Backend = "command"
		c.MSS.CopyIn = []string{"/bin/sh", "-c", `while [ ! -e "$2" ]; do sleep 0.05; done; cp "$0" "$1"`, "$SRC", "$DST", gate}
		c.MSS.CopyOut = []string{"/bin/cp", "$SRC", "$DST"}
	})
	s.mssFile(t, "/store/partitioned", "x")
	r := start(t, s, "stage")
	q := pgqueue.New(pool, pgqueue.Options{Site: s.cfg.Site})
	if _, err := q.Add(ctx, pgqueue.NewRequest{Kind: "stage", LFN: "/store/partitioned", RID: "r1"}); err != nil {
		t.Fatal(err)
	}
	r.waitEvent(t, "start", "/store/partitioned")
	pool.Reset()
	srv.Down(t)
	r.waitEvent(t, "lost", "/store/partitioned") // within about a lease and a third
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	srv.Up(t)
	deadline := time.Now().Add(patience)
	for {
		var n int
		pool.QueryRow(ctx, `SELECT count(*) FROM transfer_history WHERE final AND ok`).Scan(&n)
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the request never completed after the database came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
