package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"frm/core/catalog"
	"frm/core/pgqueue"
	"frm/core/pgtest"
	"frm/core/sitegen"
)

// host is one frm daemon of a multi-host site: its own instance name,
// namespace, partitions and admin directory; the MSS and the database are
// shared.
type mhHost struct {
	name string // instance
	l    sitegen.Layout
	cmd  *exec.Cmd
	log  *bytes.Buffer
}

func (h *mhHost) start(t *testing.T, bin string) {
	t.Helper()
	h.cmd = exec.Command(bin, "daemon", "-c", h.l.Config, "-only", "stage", "-drain", "1s")
	h.log = &bytes.Buffer{}
	h.cmd.Stdout, h.cmd.Stderr = h.log, h.log
	h.cmd.Env = append(os.Environ(), "FRM_CATALOG_DSN=")
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd, log := h.cmd, h.log
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("daemon %s log:\n%s", h.name, log.String())
		}
	})
}

// TestMultiHostKillMidTransfer runs three frm daemons, each its own
// "host" (instance) with its own partitions, on one PostgreSQL queue. One
// is SIGKILLed while it stages; the others take over its requests when
// its leases expire. Every request completes exactly once (one final
// history row, ok), each staged file exists on exactly the host that
// completed it, requests bound to a host are run by that host, and
// nothing is left queued.
func TestMultiHostKillMidTransfer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes and PostgreSQL")
	}
	bin := buildBin(t)
	dsn := pgtest.Start(t).CreateDB(t)
	root := t.TempDir()
	mssDir := filepath.Join(root, "mss")
	os.MkdirAll(mssDir, 0o755)

	hosts := []*mhHost{{name: "h1"}, {name: "h2"}, {name: "h3"}}
	for _, h := range hosts {
		h.l = sitegen.NewLayout(filepath.Join(root, h.name))
		h.l.RemoteRoot = mssDir
		if err := h.l.WriteConfigs(); err != nil {
			t.Fatal(err)
		}
		cfg, _ := os.ReadFile(h.l.Config)
		// A slow copy, so that transfers are running when the kill lands;
		// a short lease, so that the takeover happens within the test.
		s := strings.Replace(string(cfg), `backend = "posix"`, `backend = "command"
copy_in = ["/bin/sh", "-c", "sleep 0.5; cp \"$0\" \"$1\"", "$SRC", "$DST"]
copy_out = ["/bin/cp", "$SRC", "$DST"]`, 1)
		s = strings.Replace(s, `site = "demo"`, fmt.Sprintf("site = \"demo\"\ninstance = %q", h.name), 1)
		s += fmt.Sprintf("\n[catalog]\nkind = \"postgres\"\ndsn = %q\nlease = \"3s\"\n\n[transfer]\ncopy_max = 3\nqcheck = \"1m\"\n", dsn)
		if err := os.WriteFile(h.l.Config, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command(bin, "db", "init", "-c", hosts[0].l.Config).CombinedOutput(); err != nil {
		t.Fatalf("db init: %v\n%s", err, out)
	}

	// The files in the MSS.
	const shared, bound = 24, 3
	var lfns []string
	for i := range shared + 2*bound {
		lfn := fmt.Sprintf("/store/mh/f%02d.fits", i)
		lfns = append(lfns, lfn)
		os.MkdirAll(filepath.Join(mssDir, "store/mh"), 0o755)
		if err := os.WriteFile(filepath.Join(mssDir, lfn), []byte("content of "+lfn), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	hostName := func(h *mhHost) string { return catalog.HostName(h.name) }

	// Requests for any host go straight into the database; requests for
	// h3 are bound to it; h2's own requester writes its queue file (as
	// frm_xfragent does), which binds them to h2.
	q := pgqueue.New(pool, pgqueue.Options{Site: "demo"})
	for i, lfn := range lfns[:shared] {
		if _, err := q.Add(ctx, pgqueue.NewRequest{Kind: "stage", LFN: lfn, RID: fmt.Sprintf("any%02d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i, lfn := range lfns[shared : shared+bound] {
		if _, err := q.Add(ctx, pgqueue.NewRequest{Kind: "stage", LFN: lfn, RID: fmt.Sprintf("h3r%d", i), Host: hostName(hosts[2])}); err != nil {
			t.Fatal(err)
		}
	}
	var agentIn strings.Builder
	for i, lfn := range lfns[shared+bound:] {
		fmt.Fprintf(&agentIn, "+ h2r%d - 0 r %s\n", i, lfn)
	}
	agent := exec.Command(bin, "pstga", "-c", hosts[1].l.Config)
	agent.Stdin = strings.NewReader(agentIn.String())
	if out, err := agent.CombinedOutput(); err != nil {
		t.Fatalf("pstga: %v\n%s", err, out)
	}

	// h1 starts first and takes what it can; it is killed once it is
	// in the middle of its transfers.
	hosts[0].start(t, bin)
	var running int
	waitFor(t, "h1 to be mid-transfer", func() bool {
		pool.QueryRow(ctx, `SELECT count(*) FROM requests WHERE state = 'running' AND lease_owner = $1`, hostName(hosts[0])).Scan(&running)
		return running > 0
	})
	hosts[1].start(t, bin)
	hosts[2].start(t, bin)
	time.Sleep(300 * time.Millisecond)
	hosts[0].cmd.Process.Signal(syscall.SIGKILL)
	hosts[0].cmd.Wait()
	var orphaned []string
	rows, err := pool.Query(ctx, `SELECT lfn FROM requests WHERE state = 'running' AND lease_owner = $1`, hostName(hosts[0]))
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var lfn string
		rows.Scan(&lfn)
		orphaned = append(orphaned, lfn)
	}
	rows.Close()
	if len(orphaned) == 0 {
		t.Fatal("h1 held no request when it was killed: the test proves nothing")
	}
	t.Logf("h1 killed holding %d requests", len(orphaned))

	deadline := time.Now().Add(60 * time.Second)
	for {
		var left int
		pool.QueryRow(ctx, `SELECT count(*) FROM requests WHERE state IN ('queued', 'running')`).Scan(&left)
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d requests still live a minute after the kill", left)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Exactly one final, successful history row per request; the file
	// is on the host that completed it, and only there.
	rows, err = pool.Query(ctx, `SELECT lfn, host, ok, count(*) OVER (PARTITION BY request_id) FROM transfer_history WHERE final ORDER BY lfn`)
	if err != nil {
		t.Fatal(err)
	}
	doneBy := map[string]string{}
	for rows.Next() {
		var lfn, host string
		var ok bool
		var n int
		if err := rows.Scan(&lfn, &host, &ok, &n); err != nil {
			t.Fatal(err)
		}
		if !ok || n != 1 {
			t.Errorf("%s: final row ok=%v, %d final rows for its request", lfn, ok, n)
		}
		if prev, dup := doneBy[lfn]; dup {
			t.Errorf("%s completed twice (by %s and %s)", lfn, prev, host)
		}
		doneBy[lfn] = host
	}
	rows.Close()
	if len(doneBy) != len(lfns) {
		t.Fatalf("%d of %d requests completed", len(doneBy), len(lfns))
	}
	for i, lfn := range lfns {
		var on []string
		for _, h := range hosts {
			if b, err := os.ReadFile(filepath.Join(h.l.LocalRoot, lfn)); err == nil {
				if string(b) != "content of "+lfn {
					t.Errorf("%s on %s holds %q", lfn, h.name, b)
				}
				on = append(on, hostName(h))
			}
		}
		if len(on) != 1 || on[0] != doneBy[lfn] {
			t.Errorf("%s: completed by %s, present on %v", lfn, doneBy[lfn], on)
		}
		switch {
		case i >= shared+bound && doneBy[lfn] != hostName(hosts[1]):
			t.Errorf("%s, requested on h2, was staged by %s", lfn, doneBy[lfn])
		case i >= shared && i < shared+bound && doneBy[lfn] != hostName(hosts[2]):
			t.Errorf("%s, bound to h3, was staged by %s", lfn, doneBy[lfn])
		}
	}
	// The requests h1 held when it died were finished by the others
	// once its leases expired; h1 left nothing under their names.
	for _, lfn := range orphaned {
		if doneBy[lfn] == hostName(hosts[0]) {
			t.Errorf("%s, held by h1 when it was killed, is recorded as completed by h1", lfn)
		}
	}
	// Every host and its partitions, as the hosts command shows them.
	out, err := exec.Command(bin, "admin", "-c", hosts[2].l.Config, "hosts").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "3 hosts registered.") {
		t.Errorf("hosts: %v\n%s", err, out)
	}
	for _, h := range hosts {
		if !strings.Contains(string(out), hostName(h)+" ") || !strings.Contains(string(out), filepath.Join(h.l.Dir, "spaces", "pub1")) {
			t.Errorf("hosts does not show %s and its partitions:\n%s", h.name, out)
		}
	}
	var heartbeats int
	pool.QueryRow(ctx, `SELECT count(*) FROM hosts WHERE heartbeat > now() - interval '1 minute'`).Scan(&heartbeats)
	if heartbeats != 3 {
		t.Errorf("%d hosts registered with a fresh heartbeat, want 3", heartbeats)
	}
}
