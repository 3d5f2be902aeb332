package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"frm/core/sitegen"
)

// TestKilledDaemonsLeaveNothingBehind: the daemon is SIGKILLed three
// times while slow stages run (a copy command whose child writes the file
// over a second), and started again each time. At the end every file is
// staged, no data file lies in the partitions without a name leading to
// it, and no copy process lives on. Before, each kill left the data
// files of its stages behind (never purged, never audited away) and its
// copy commands kept writing.
func TestKilledDaemonsLeaveNothingBehind(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	bin := buildBin(t)
	l := sitegen.NewLayout(filepath.Join(t.TempDir(), "site"))
	if err := l.WriteConfigs(); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(l.Dir, "slowcopy.sh")
	os.WriteFile(script, []byte(`#!/bin/sh
mkdir -p "$(dirname "$2")" || exit 1
( i=0; while [ $i -lt 6 ]; do dd if="$1" bs=1024 skip=$i count=1 2>/dev/null; sleep 0.2; i=$((i+1)); done ) > "$2"
`), 0o755)
	cfg, _ := os.ReadFile(l.Config)
	slow := strings.Replace(string(cfg), `backend = "posix"`, `backend = "command"
copy_in = [`+fmt.Sprintf("%q", script)+`, "$SRC", "$DST"]
copy_out = ["/bin/cp", "$SRC", "$DST"]`, 1)
	slow = strings.Replace(slow, "[migrate]", "[transfer]\nqcheck = \"1s\"\ncopy_max = 4\n\n[migrate]", 1)
	os.WriteFile(l.Config, []byte(slow), 0o644)
	const n = 12
	var lines strings.Builder
	want := map[string][]byte{}
	for i := 0; i < n; i++ {
		lfn := fmt.Sprintf("/store/k/f%02d", i)
		data := make([]byte, 6*1024)
		for j := range data {
			data[j] = byte(rand.N(256))
		}
		rfn := filepath.Join(l.RemoteRoot, lfn)
		os.MkdirAll(filepath.Dir(rfn), 0o755)
		os.WriteFile(rfn, data, 0o644)
		want[lfn] = data
		fmt.Fprintf(&lines, "+ r%d - 1 r %s\n", i, lfn)
	}
	agent := exec.Command(bin, "pstga", "-c", l.Config)
	agent.Stdin = strings.NewReader(lines.String())
	if out, err := agent.CombinedOutput(); err != nil {
		t.Fatalf("frm pstga: %v %s", err, out)
	}
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "daemon", "-c", l.Config, "-only", "stage", "-l", filepath.Join(l.Dir, "daemon.log"))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	for k := 0; k < 3; k++ {
		d := start()
		waitFor(t, "stages in progress", func() bool {
			m, _ := filepath.Glob(filepath.Join(l.LocalRoot, "store/k/*.anew"))
			return len(m) > 0
		})
		time.Sleep(time.Duration(100+rand.N(400)) * time.Millisecond)
		d.Process.Signal(syscall.SIGKILL)
		d.Wait()
	}
	d := start()
	staged := func() int {
		k := 0
		for lfn, data := range want {
			if b, err := os.ReadFile(filepath.Join(l.LocalRoot, lfn)); err == nil && string(b) == string(data) {
				k++
			}
		}
		return k
	}
	deadline := time.Now().Add(60 * time.Second)
	for staged() < n && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	d.Process.Signal(syscall.SIGTERM)
	d.Wait()
	if k := staged(); k != n {
		t.Errorf("%d of %d files staged whole", k, n)
	}
	// Data files no name leads to.
	linked := map[string]bool{}
	filepath.WalkDir(l.LocalRoot, func(p string, e os.DirEntry, err error) error {
		if err == nil && e.Type()&os.ModeSymlink != 0 {
			if t, err := os.Readlink(p); err == nil {
				linked[t] = true
			}
		}
		return nil
	})
	filepath.WalkDir(filepath.Join(l.Dir, "spaces"), func(p string, e os.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() && strings.HasSuffix(p, "%") && !linked[p] {
			t.Errorf("orphan data file %s", p)
		}
		return nil
	})
	// Copy processes living on.
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		b, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), script) {
			t.Errorf("copy process %s lives on: %q", p.Name(), strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
}
