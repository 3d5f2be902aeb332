package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"frm/core/sitegen"
)

// TestStageWait: frm admin stage -wait queues, wakes the daemon, waits for
// every file and reports each one; a file that cannot be staged makes the
// exit status say so (3: some failed), in text and JSON. Without a daemon,
// -wait is an error rather than a wait for nothing.
func TestStageWait(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	bin := buildBin(t)
	l := sitegen.NewLayout(filepath.Join(t.TempDir(), "site"))
	if err := l.WriteConfigs(); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(l.RemoteRoot, "store/w"), 0o755)
	for _, f := range []string{"a.fits", "b.fits", "c.fits"} {
		os.WriteFile(filepath.Join(l.RemoteRoot, "store/w", f), bytes.Repeat([]byte(f), 1000), 0o644)
	}
	admin := func(args ...string) (int, string, string) { return runAdmin(t, bin, l.Config, args...) }
	code, _, errs := admin("stage", "-wait", "/store/w/a.fits")
	if code != 1 || !strings.Contains(errs, "queued 1 files, but daemon not reachable") {
		t.Errorf("-wait without a daemon: %d %q", code, errs)
	}

	startDaemonProc(t, bin, "-c", l.Config, "-only", "stage")
	waitFor(t, "control socket", func() bool { _, err := os.Stat(filepath.Join(l.AdminPath, "frm", "frm.sock")); return err == nil })

	code, out, errs := admin("stage", "-wait", "/store/w/b.fits", "/store/w/none.fits")
	if code != 3 || !strings.Contains(out, "on disk /store/w/b.fits") || !strings.Contains(errs, "failed /store/w/none.fits") {
		t.Errorf("stage -wait b none: %d\n%s\n%s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(l.LocalRoot, "store/w/b.fits")); err != nil {
		t.Errorf("b.fits not on disk after stage -wait: %v", err)
	}
	// a.fits, queued while no daemon ran, was served when it started.
	waitFor(t, "a.fits staged", func() bool { _, err := os.Stat(filepath.Join(l.LocalRoot, "store/w/a.fits")); return err == nil })
	code, out, _ = admin("-json", "stage", "-w", "/store/w/c.fits")
	var doc struct {
		Status  int              `json:"status"`
		Results []map[string]any `json:"results"`
		Summary map[string]any   `json:"summary"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if code != 0 || len(doc.Results) != 1 || doc.Results[0]["outcome"] != "done" || doc.Summary["done"] != 1.0 {
		t.Errorf("JSON stage -wait: %d %s", code, out)
	}
}
