package main

import (
	"bufio"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"frm/core/config"
	"frm/core/xrdq"
)

// TestPstgaKillLosesNoAcknowledgedRequest: frm pstga commits requests in
// groups and acknowledges a line only once its requests are durable. A
// kill -9 while it reads 100,000 lines loses none it acknowledged.
func TestPstgaKillLosesNoAcknowledgedRequest(t *testing.T) {
	lines := 100000
	if testing.Short() {
		lines = 20000
	}
	l := agentSite(t)
	bin := buildFrm(t, t.TempDir())
	cmd := exec.Command(bin, "pstga", "-ack", "-c", l.Config)
	cmd.Env = toolEnv()
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		w := bufio.NewWriter(stdin)
		for i := 1; i <= lines; i++ {
			fmt.Fprintf(w, "+ r%d - 0 r /store/f%d\n", i, i)
			if i%1000 == 0 {
				w.Flush() // arrive in pieces, as from a live requester
			}
		}
		w.Flush()
		// stdin stays open: the agent is killed while it waits for more.
	}()
	acked := 0
	sc := bufio.NewScanner(stdout)
	killAt := lines / 3
	for sc.Scan() {
		n, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "ack "))
		if err != nil || n <= acked {
			t.Fatalf("bad acknowledgement %q after %d", sc.Text(), acked)
		}
		acked = n
		if acked >= killAt {
			break
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, stdout)
	cmd.Wait()
	if acked < killAt {
		t.Fatalf("only %d lines acknowledged before the output ended", acked)
	}
	cfg, err := config.Load(l.Config, "")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	err = xrdq.Open(cfg.QueueDir()).List([]xrdq.Kind{xrdq.Stage}, -1, func(r xrdq.Request) error {
		if have[r.ID] {
			t.Errorf("%s queued twice", r.ID)
		}
		have[r.ID] = true
		if r.Path() != "/store/f"+strings.TrimPrefix(r.ID, "r") {
			t.Errorf("%s names %s", r.ID, r.Path())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	lost := 0
	for i := 1; i <= acked; i++ {
		if !have[fmt.Sprintf("r%d", i)] {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged requests lost", lost, acked)
	}
	t.Logf("%d lines acknowledged before the kill, %d requests queued", acked, len(have))
}
