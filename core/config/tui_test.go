package config

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestTUIKeys: [tui.keys] loads, survives WriteTOML, and every mistake in
// it is a load error that names the key.
func TestTUIKeys(t *testing.T) {
	tests := []struct {
		name string
		toml string
		want map[string][]string // nil: an error is expected
		log  string              // tui.daemon_log
		err  string
	}{
		{name: "none", toml: "site = \"x\"\n"},
		{name: "remap", toml: "[tui.keys]\npin = [\"P\"]\nquit = [\"q\", \"ctrl+c\"]\n",
			want: map[string][]string{"pin": {"P"}, "quit": {"q", "ctrl+c"}}},
		{name: "inline table", toml: "[tui]\nkeys = { stage = [\"S\", \"ctrl+s\"] }\n",
			want: map[string][]string{"stage": {"S", "ctrl+s"}}},
		{name: "unknown action", toml: "[tui.keys]\npinn = [\"p\"]\n", err: `tui.keys.pinn: unknown action "pinn" (actions: next_view`},
		{name: "empty list", toml: "[tui.keys]\nunpin = []\n", err: `tui.keys.unpin: no keys given`},
		{name: "empty key", toml: "[tui.keys]\nunpin = [\"\"]\n", err: `tui.keys.unpin: an empty key name`},
		{name: "not a list", toml: "[tui.keys]\nunpin = \"u\"\n", err: `frm.toml:2: tui.keys.unpin: incompatible types`},
		{name: "unknown tui key", toml: "[tui]\ncolour = true\n", err: `frm.toml:2: unknown key "tui.colour"`},
		{name: "daemon log", toml: "[tui]\ndaemon_log = \"/var/log/frm/daemon.log\"\n", log: "/var/log/frm/daemon.log"},
		{name: "relative daemon log", toml: "[tui]\ndaemon_log = \"daemon.log\"\n", err: `tui.daemon_log: must be absolute`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "frm.toml")
			if err := os.WriteFile(p, []byte(tc.toml), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := Load(p, "")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				if !strings.HasPrefix(err.Error(), p+":") {
					t.Errorf("error %q does not name the file", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.TUI.DaemonLog != tc.log {
				t.Errorf("daemon_log %q, want %q", c.TUI.DaemonLog, tc.log)
			}
			if len(c.TUI.Keys) != len(tc.want) {
				t.Fatalf("keys %v, want %v", c.TUI.Keys, tc.want)
			}
			for k, v := range tc.want {
				if !slices.Equal(c.TUI.Keys[k], v) {
					t.Errorf("%s = %v, want %v", k, c.TUI.Keys[k], v)
				}
			}
			// WriteTOML keeps the table (frm config convert, frm config show).
			var b bytes.Buffer
			if err := c.WriteTOML(&b); err != nil {
				t.Fatal(err)
			}
			back, err := Parse(b.Bytes(), "out.toml", "", nil)
			if err != nil {
				t.Fatalf("reload: %v\n%s", err, b.String())
			}
			if len(back.TUI.Keys) != len(tc.want) || back.TUI.DaemonLog != tc.log {
				t.Errorf("after WriteTOML keys %v, want %v", back.TUI.Keys, tc.want)
			}
			if len(tc.want) == 0 && tc.log == "" && strings.Contains(b.String(), "[tui") {
				t.Errorf("empty tui table written:\n%s", b.String())
			}
		})
	}
}
