package config

import (
	"slices"
	"sort"
	"strings"
)

// TUI configures the full-screen console (frm tui).
type TUI struct {
	// Keys maps console action names (TUIActions) to the keys that
	// trigger them, in bubbletea's key names ("p", "ctrl+c", "enter",
	// "pgdown", " " for space, ...). A listed action gets exactly these
	// keys instead of its defaults; actions not listed keep theirs.
	Keys map[string][]string `toml:"keys,omitempty"`
	// DaemonLog is the log file of this site's frm daemon (its -l
	// FILE), whose last lines the Daemons view shows; "" shows none. The
	// daemon does not announce where it logs, hence this setting.
	DaemonLog string `toml:"daemon_log,omitempty"`
}

// TUIActions are the names of the console actions whose keys [tui.keys]
// may set. They live here, not in package tui, so that a misspelt action
// is an error when the configuration is loaded rather than a key that
// silently does nothing; package tui checks in its tests that it binds
// exactly these.
var TUIActions = []string{
	// global
	"next_view", "prev_view", "help", "quit", "refresh", "log", "palette",
	// lists
	"up", "down", "page_up", "page_down", "first", "last", "filter", "clear",
	// namespace, spaces
	"open", "back", "sort", "reverse",
	"pin", "unpin", "mark_migratable", "mark_purgeable", "relocate", "remove", "stage", "migrate",
	// queues
	"cancel", "wake", "priority_up", "priority_down",
	// audit, daemons
	"run_audit", "mark", "fix", "fix_all", "stop",
	// sites
	"probe",
	// dialogs
	"confirm", "abort",
}

// validateTUI checks [tui]: an absolute daemon_log; in keys, known action
// names, at least one key per action, no empty key names.
func (c *Config) validateTUI(v *validator) {
	v.absPath("tui.daemon_log", c.TUI.DaemonLog, false)
	names := make([]string, 0, len(c.TUI.Keys))
	for name := range c.TUI.Keys {
		names = append(names, name)
	}
	sort.Strings(names) // errors in a stable order
	for _, name := range names {
		key := "tui.keys." + name
		if !slices.Contains(TUIActions, name) {
			v.add(key, "unknown action %q (actions: %s)", name, strings.Join(TUIActions, ", "))
			continue
		}
		keys := c.TUI.Keys[name]
		if len(keys) == 0 {
			v.add(key, "no keys given; list at least one, e.g. [\"x\"] (leave the action out to keep its default keys)")
			continue
		}
		for _, k := range keys {
			if k == "" {
				v.add(key, "an empty key name")
			}
		}
	}
}
