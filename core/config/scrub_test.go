package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestScrubSettings: [scrub] loads with its defaults (the daemon reads at
// 50 MiB/s unless told, the command unlimited unless told), takes rates
// as frm sizes a second, survives WriteTOML, and names its key in errors.
func TestScrubSettings(t *testing.T) {
	tests := []struct {
		name     string
		toml     string
		enabled  bool
		daemon   int64 // bytes a second, 0 unlimited
		command  int64
		interval time.Duration
		readers  int // 0: 1
		err      string
	}{
		{name: "absent", toml: "site = \"x\"\n", daemon: 50 << 20, interval: 24 * time.Hour},
		{name: "rate as the issue writes it", toml: "[scrub]\nenabled = true\nrate = \"50MB/s\"\ninterval = \"7d\"\n",
			enabled: true, daemon: 50 << 20, command: 50 << 20, interval: 7 * 24 * time.Hour},
		{name: "size forms", toml: "[scrub]\nrate = \"1g\"\n", daemon: 1 << 30, command: 1 << 30, interval: 24 * time.Hour},
		{name: "MiB/s", toml: "[scrub]\nrate = \"200MiB/s\"\n", daemon: 200 << 20, command: 200 << 20, interval: 24 * time.Hour},
		{name: "integer bytes", toml: "[scrub]\nrate = 1048576\n", daemon: 1 << 20, command: 1 << 20, interval: 24 * time.Hour},
		{name: "zero is unlimited", toml: "[scrub]\nrate = \"0\"\n", daemon: 0, command: 0, interval: 24 * time.Hour},
		{name: "bad rate", toml: "[scrub]\nrate = \"fast\"\n", err: `scrub.rate: invalid rate "fast"`},
		{name: "negative rate", toml: "[scrub]\nrate = -5\n", err: `invalid rate -5`},
		{name: "bad interval", toml: "[scrub]\ninterval = \"soon\"\n", err: `scrub.interval`},
		{name: "unknown key", toml: "[scrub]\nspeed = 1\n", err: `unknown key "scrub.speed"`},
		{name: "readers", toml: "[scrub]\nreaders = 2\n", daemon: 50 << 20, interval: 24 * time.Hour, readers: 2},
		{name: "too many readers", toml: "[scrub]\nreaders = 1000\n", err: `scrub.readers: must be 1 to 64`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "frm.toml")
			if err := os.WriteFile(p, []byte(tc.toml), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := Load(p, "")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			check := func(c *Config, what string) {
				if c.Scrub.Enabled != tc.enabled || c.Scrub.DaemonRate() != tc.daemon || c.Scrub.CommandRate() != tc.command ||
					c.Scrub.IntervalOrDefault() != tc.interval || c.Scrub.ReadersOrDefault() != max(tc.readers, 1) {
					t.Errorf("%s: enabled %v daemon %d command %d interval %v", what, c.Scrub.Enabled, c.Scrub.DaemonRate(),
						c.Scrub.CommandRate(), c.Scrub.IntervalOrDefault())
				}
			}
			check(c, "loaded")
			var b bytes.Buffer
			if err := c.WriteTOML(&b); err != nil {
				t.Fatal(err)
			}
			back, err := Parse(b.Bytes(), "written.toml", "", nil)
			if err != nil {
				t.Fatalf("WriteTOML output does not load: %v\n%s", err, b.String())
			}
			check(back, "written and loaded again")
		})
	}
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "4096": 4096, "10k": 10 << 10, "10K/s": 10 << 10, "50MB/s": 50 << 20,
		"50 MB/s": 50 << 20, "50mib/s": 50 << 20, "2G": 2 << 30, "1t/s": 1 << 40, "100B/s": 100, "100/s": 100} {
		got, err := ParseRate(in)
		if err != nil || got != want {
			t.Errorf("ParseRate(%q) = %d, %v; want %d", in, got, err, want)
		}
		if got > 0 {
			if back, err := ParseRate(Rate(got).String()); err != nil || back != got {
				t.Errorf("ParseRate(Rate(%d).String() = %q) = %d, %v", got, Rate(got).String(), back, err)
			}
		}
	}
	for _, bad := range []string{"", "/s", "fast", "-1", "1.5m", "5x/s", "MB/s", "5MB/h"} {
		if _, err := ParseRate(bad); err == nil {
			t.Errorf("ParseRate(%q) accepted", bad)
		}
	}
}

// TestScrubReload: a running scrubber takes a new rate, interval and
// number of readers; whether it runs at all is decided at start.
func TestScrubReload(t *testing.T) {
	cur, next := Default(), Default()
	r := Rate(10 << 20)
	next.Scrub = Scrub{Enabled: true, Rate: &r, Interval: Duration(time.Hour), Readers: 2}
	applied, changes := Reload(cur, next)
	got := map[string]bool{}
	for _, c := range changes {
		got[c.Key] = c.Applied
	}
	want := map[string]bool{"scrub.enabled": false, "scrub.rate": true, "scrub.interval": true, "scrub.readers": true}
	if len(got) != len(want) {
		t.Fatalf("changes %v, want %v", got, want)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s: applied %v (reported %v), want %v", k, g, ok, v)
		}
	}
	if applied.Scrub.Enabled || applied.Scrub.DaemonRate() != 10<<20 || applied.Scrub.IntervalOrDefault() != time.Hour || applied.Scrub.ReadersOrDefault() != 2 {
		t.Errorf("applied %+v", applied.Scrub)
	}
}
