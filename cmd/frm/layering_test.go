package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayering checks that dependencies point downwards: faces speak to the
// daemons through core/control and never link package daemons; the TUI
// links no line editor; frm serve links no other face; the engine (core)
// knows no face, no daemon and no wiring; the protocol packages stand
// alone.
func TestLayering(t *testing.T) {
	deps := func(pkgs ...string) map[string]bool {
		out, err := exec.Command("go", append([]string{"list", "-deps"}, pkgs...)...).Output()
		if err != nil {
			t.Fatalf("go list -deps %v: %v", pkgs, err)
		}
		m := map[string]bool{}
		for _, p := range strings.Fields(string(out)) {
			m[p] = true
		}
		return m
	}
	for _, tc := range []struct {
		pkgs      []string
		forbidden []string
	}{
		{[]string{"frm/shell", "frm/tui", "frm/tui/model", "frm/serve"}, []string{"frm/daemons", "frm/cmd/frm"}},
		{[]string{"frm/serve"}, []string{"frm/shell", "frm/tui", "github.com/chzyer/readline", "github.com/charmbracelet/bubbletea"}},
		{[]string{"frm/tui", "frm/tui/model"}, []string{"github.com/chzyer/readline", "frm/shell/lineedit"}},
		{[]string{"frm/shell"}, []string{"github.com/chzyer/readline", "github.com/charmbracelet/bubbletea"}},
		{[]string{"frm/core/..."}, []string{"frm/shell", "frm/tui", "frm/serve", "frm/daemons", "frm/cmd/frm", "github.com/charmbracelet/bubbletea", "github.com/chzyer/readline"}},
	} {
		got := deps(tc.pkgs...)
		for _, f := range tc.forbidden {
			if got[f] {
				t.Errorf("%v depends on %s", tc.pkgs, f)
			}
		}
	}
	// The engine is given its implementations (package wire chooses
	// them): it names no catalog implementation and no schema.
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "frm/core/...").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		for _, imp := range f[1:] {
			// sitegen builds demo and test sites through the wiring,
			// as a command would, and sitetest opens them for tests.
			if imp == "frm/core/wire" && f[0] != "frm/core/sitegen" && f[0] != "frm/core/sitegen/sitetest" {
				t.Errorf("%s imports frm/core/wire: only commands, daemons and faces open sites", f[0])
			}
			if f[0] == "frm/core/site" && (imp == "frm/core/catalog/pgcat" || imp == "frm/sql/schema") {
				t.Errorf("frm/core/site imports %s: the wiring chooses implementations", imp)
			}
		}
	}
	for _, proto := range []string{"frm/core/control", "frm/core/fedapi"} {
		for p := range deps(proto) {
			if strings.HasPrefix(p, "frm/") && p != proto {
				t.Errorf("%s depends on %s: a protocol package imports no other frm package", proto, p)
			}
		}
	}
}
