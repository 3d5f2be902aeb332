package daemons

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"frm/core/config"
	"frm/core/control"
	"frm/core/meta"
	"frm/core/wire"
)

// scrubFiles places files with stored adler32 records through a site of
// its own (the daemon opens another) and rots those named in bad (one
// byte changed, mtime kept).
func scrubFiles(t *testing.T, s tsite, files map[string]int, bad ...string) {
	t.Helper()
	st, err := wire.Open(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	for lfn, size := range files {
		if _, err := st.Place(ctx, lfn, "data", strings.NewReader(strings.Repeat("d", size)), int64(size)); err != nil {
			t.Fatal(err)
		}
		if _, err := st.ChecksumCalc(ctx, lfn, "adler32", false); err != nil {
			if errors.Is(err, meta.ErrNotSupported) {
				t.Skip("no user xattrs here")
			}
			t.Fatal(err)
		}
	}
	for _, lfn := range bad {
		data, err := filepath.EvalSymlinks(st.PFN(lfn))
		if err != nil {
			t.Fatal(err)
		}
		var fi unix.Stat_t
		unix.Stat(data, &fi)
		f, err := os.OpenFile(data, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteAt([]byte("X"), 1)
		f.Close()
		unix.UtimesNanoAt(unix.AT_FDCWD, data, []unix.Timespec{fi.Atim, fi.Mtim}, 0)
	}
}

// waitRecent waits for an event of type typ (and lfn, when not "") among
// the daemon's recent events.
func waitRecent(t *testing.T, d *Daemon, typ, lfn string) control.Event {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		d.mu.Lock()
		for _, ev := range d.recent {
			if ev.Type == typ && (lfn == "" || ev.LFN == lfn) {
				d.mu.Unlock()
				return ev
			}
		}
		d.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	t.Fatalf("no %s event for %q; events %+v", typ, lfn, d.recent)
	return control.Event{}
}

// TestScrubDaemon: frm daemon -only scrub finds the file whose data rotted,
// marks it, publishes one event, and shows it in status and metrics.
func TestScrubDaemon(t *testing.T) {
	unlimited := config.Rate(0)
	s := newSite(t, func(c *config.Config) { c.Scrub.Rate = &unlimited })
	scrubFiles(t, s, map[string]int{"/store/ok.fits": 100000, "/store/rot.fits": 200000, "/scratch/ok.tar": 1000}, "/store/rot.fits")
	d, err := New(s.cfg, Options{Only: []string{"scrub"}, Log: testLog()})
	if err != nil {
		t.Fatal(err)
	}
	if d.Transfer != nil || d.Purger != nil || d.Scrubber == nil {
		t.Fatalf("-only scrub started %v", d.components())
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr, err := d.ServeMetrics(ctx, "127.0.0.1:0") // before Run, as frm daemon does
	if err != nil {
		t.Fatal(err)
	}
	r := &running{d: d, done: make(chan error, 1), cancel: cancel}
	go func() { r.done <- d.Run(ctx, 5*time.Second) }()
	t.Cleanup(func() { r.stop(t); d.Close() })
	ev := waitRecent(t, r.d, "bad_checksum", "/store/rot.fits")
	if ev.Kind != "scrub" || !strings.Contains(ev.Err, "stored ") || ev.Bytes != 200000 {
		t.Errorf("event %+v", ev)
	}
	waitRecent(t, r.d, "scrub_pass", "")
	n := 0
	r.d.mu.Lock()
	for _, e := range r.d.recent {
		if e.Type == "bad_checksum" {
			n++
		}
	}
	r.d.mu.Unlock()
	if n != 1 {
		t.Errorf("%d bad_checksum events, want 1", n)
	}
	if _, ok, _ := meta.GetBadChecksum(filepath.Join(s.l.LocalRoot, "store/rot.fits")); !ok {
		t.Error("rotten file not marked")
	}
	if _, ok, _ := meta.GetBadChecksum(filepath.Join(s.l.LocalRoot, "store/ok.fits")); ok {
		t.Error("good file marked")
	}
	st := r.d.status(time.Now())
	if st.Scrub == nil || st.Scrub.Last == nil || !st.Scrub.Last.Complete || st.Scrub.Last.Files != 3 ||
		st.Scrub.Last.Mismatches != 1 || st.Scrub.Last.Marked != 1 || st.Scrub.Bad != 1 || st.Scrub.Rate != 0 {
		t.Errorf("status scrub %+v last %+v", st.Scrub, st.Scrub.Last)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, want := range []string{"frm_scrub_bytes_total 301000\n", "frm_scrub_files_total 3\n",
		"frm_scrub_mismatches_total 1\n", "frm_scrub_bad_files 1\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestScrubDaemonStopsPromptly: SIGTERM (the context) stops a pass that
// is reading a file slowly.
func TestScrubDaemonStopsPromptly(t *testing.T) {
	slow := config.Rate(1 << 20)
	s := newSite(t, func(c *config.Config) { c.Scrub.Rate = &slow })
	scrubFiles(t, s, map[string]int{"/store/big.fits": 16 << 20}) // 16 s at 1 MiB/s
	r := start(t, s, "scrub")
	deadline := time.Now().Add(10 * time.Second)
	for r.d.Scrubber.Counters.Bytes.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	t0 := time.Now()
	r.stop(t)
	if el := time.Since(t0); el > 2*time.Second {
		t.Errorf("the daemon took %v to stop a scrub", el)
	}
	if got := r.d.Scrubber.Counters.Bytes.Load(); got >= 16<<20 {
		t.Errorf("read %d bytes: the pass was not cut short", got)
	}
}

// TestScrubComponentSelection: scrub is in the default set only when
// [scrub] enabled says so; -only scrub runs it anyway.
func TestScrubComponentSelection(t *testing.T) {
	tests := []struct {
		enabled bool
		only    []string
		want    string
	}{
		{false, nil, "transfer migrate purge"},
		{true, nil, "transfer migrate purge scrub"},
		{false, []string{"scrub"}, "scrub"},
		{false, []string{"purge", "scrub"}, "purge scrub"},
	}
	for _, tc := range tests {
		s := newSite(t, func(c *config.Config) { c.Scrub.Enabled = tc.enabled })
		d, err := New(s.cfg, Options{Only: tc.only, Log: testLog()})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(d.components(), " "); got != tc.want {
			t.Errorf("enabled %v only %v: components %q, want %q", tc.enabled, tc.only, got, tc.want)
		}
		d.Close()
	}
	if _, err := New(newSite(t, nil).cfg, Options{Only: []string{"scrubber"}}); err == nil || !strings.Contains(err.Error(), "scrub") {
		t.Errorf("unknown component: %v", err)
	}
}
