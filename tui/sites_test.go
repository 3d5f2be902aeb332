package tui

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"frm/core/sites"
)

// TestSitesView: with a sites file the console has a Sites view on key 6:
// one row per site with its state, usage and queues; Enter shows a site's
// full status; r probes again.
func TestSitesView(t *testing.T) {
	var probes atomic.Int32
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		probes.Add(1)
		w.Write([]byte(`{"site":"alpha","version":"1.4.0","spaces":[{"name":"public","partitions":2,"total":1000,"free":50}],"queue":{"stage":3,"migrate":0},"failures_24h":0}`))
	}))
	defer good.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	dir := t.TempDir()
	tok := filepath.Join(dir, "tok")
	os.WriteFile(tok, []byte("t"), 0o600)
	path := filepath.Join(dir, "sites.toml")
	os.WriteFile(path, []byte("[probe]\ntimeout = \"1s\"\nretries = 0\n[[site]]\nname = \"alpha\"\nurl = \""+good.URL+"\"\ntoken_file = \"tok\"\n[[site]]\nname = \"beta\"\nurl = \""+downURL+"\"\ntoken_file = \"tok\"\n"), 0o644)
	f, err := sites.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a := New(Options{Backend: newFake(), Now: func() time.Time { return t0 }, Loc: time.UTC, Every: -1,
		Sites: &sites.Run{File: f, StateDir: filepath.Join(dir, "state")}})
	if len(a.views) != 6 || a.views[5].Name() != "Sites" {
		t.Fatalf("views %d", len(a.views))
	}
	a.Update(tea.WindowSizeMsg{Width: 200, Height: 30})
	press(a, "6")
	out := a.View()
	for _, want := range []string{"Sites", "alpha", "CRITICAL", "public 95%", "stage 3", "space public 95% used (critical at 95%)",
		"beta", "not answering: connection refused", "2 critical"} {
		if !strings.Contains(out, want) {
			t.Errorf("the Sites view lacks %q:\n%s", want, out)
		}
	}
	press(a, "enter")
	out = a.View()
	for _, want := range []string{"alpha  CRITICAL", "frm 1.4.0", "space public", "50 free of 1000", "queue: migrate 0, stage 3", "failed transfers in 24h: 0"} {
		if !strings.Contains(out, want) {
			t.Errorf("the full status lacks %q:\n%s", want, out)
		}
	}
	press(a, "esc")
	n := probes.Load()
	press(a, "r")
	if probes.Load() != n+1 {
		t.Errorf("r: %d probes of alpha, want %d", probes.Load(), n+1)
	}

	// Without a sites file: five views.
	if b := newTestApp(newFake(), false); len(b.views) != 5 {
		t.Errorf("without sites: %d views", len(b.views))
	}
}
