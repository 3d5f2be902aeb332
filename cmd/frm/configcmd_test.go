package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestConfigCommands: frm config check, show, convert and -d, on the
// sandbox site's two configurations, with a misspelt directive, an empty
// file and files that are no xrootd configuration.
func TestConfigCommands(t *testing.T) {
	l := agentSite(t)
	dir := t.TempDir()
	typo := filepath.Join(dir, "typo.cf")
	xrd, err := os.ReadFile(l.XrdConfig)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(typo, append(xrd, "\nxrd.port 1094\nfrm.xfr.copymx 4\nfrm.purge.waitime 60\n"...), 0o644)
	empty := filepath.Join(dir, "empty.toml")
	os.WriteFile(empty, nil, 0o644)
	hosts := filepath.Join(dir, "hosts")
	os.WriteFile(hosts, []byte("127.0.0.1 localhost\n::1 localhost\n"), 0o644)

	tests := []struct {
		name       string
		args       []string
		code       int
		out, errs  []string // substrings
		notOut     []string
		noWarnings bool
	}{
		{name: "check clean toml", args: []string{"check", "-c", l.Config}, code: 0,
			out: []string{l.Config + ": toml configuration, no problems found"}, noWarnings: true},
		{name: "check clean xrootd", args: []string{"check", "-c", l.XrdConfig}, code: 0,
			out: []string{"xrootd configuration, no problems found"}, noWarnings: true},
		{name: "check misspelt", args: []string{"check", "-c", typo}, code: 1,
			out: []string{typo + ": xrootd configuration with 2 warnings"},
			errs: []string{"frm config: warning: " + typo + ":", "ignoring unknown frm directive frm.xfr.copymx (did you mean frm.xfr.copymax?)",
				"frm.purge.waitime (did you mean frm.purge.waittime?)"}},
		{name: "check empty", args: []string{"check", "-c", empty}, code: 4,
			errs: []string{"empty configuration: no [[export]] or [[space]] tables"}},
		{name: "check missing", args: []string{"check", "-c", filepath.Join(dir, "none")}, code: 4,
			errs: []string{"no configuration file found"}},
		{name: "show warns", args: []string{"show", "-c", typo}, code: 0,
			out: []string{"copy_max = "}, errs: []string{"ignoring unknown frm directive frm.xfr.copymx"}},
		{name: "show effective", args: []string{"show", "-c", l.Config}, code: 0,
			out:    []string{`lease = "1m"`, `scan_interval = "1m"`, "max_conns = " + strconv.Itoa(max(4, runtime.NumCPU())), `interval = "1d"`},
			notOut: []string{`lease = "0s"`, "max_conns = 0"}, noWarnings: true},
		{name: "show -d", args: []string{"show", "-d", "-c", typo}, code: 0,
			errs: []string{"frm config: " + typo + ":", "ignoring directive xrd.port"}},
		{name: "show empty", args: []string{"show", "-c", empty}, code: 4, errs: []string{"empty configuration"}},
		{name: "convert toml", args: []string{"convert", l.Config}, code: 4,
			errs: []string{"is a TOML file, not an xrootd configuration"}},
		{name: "convert hosts", args: []string{"convert", hosts}, code: 4,
			errs: []string{"/hosts is not an xrootd configuration"}},
		{name: "convert xrootd", args: []string{"convert", l.XrdConfig}, code: 0, out: []string{"[[export]]"}, noWarnings: true},
		{name: "convert warns", args: []string{"convert", typo}, code: 0, errs: []string{"warning:", "frm.xfr.copymx"}},
		{name: "unknown subcommand", args: []string{"verify"}, code: 2, errs: []string{`unknown subcommand "verify"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCLI(t, "", append([]string{"frm", "config"}, tc.args...)...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errs)
			}
			for _, s := range tc.out {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tc.notOut {
				if strings.Contains(out, s) {
					t.Errorf("stdout has %q:\n%s", s, out)
				}
			}
			for _, s := range tc.errs {
				if !strings.Contains(errs, s) {
					t.Errorf("stderr lacks %q:\n%s", s, errs)
				}
			}
			if tc.noWarnings && errs != "" {
				t.Errorf("stderr: %s", errs)
			}
		})
	}
}

// TestConfigWarningsEverywhere: the commands that load a configuration
// show its warnings, not only frm admin -d.
func TestConfigWarningsEverywhere(t *testing.T) {
	l := agentSite(t)
	appendFile(t, l.XrdConfig, "\nfrm.xfr.copymx 4\n")
	const want = "ignoring unknown frm directive frm.xfr.copymx"
	for _, tc := range []struct {
		args  []string
		stdin string
	}{
		{[]string{"frm", "admin", "-c", l.XrdConfig, "query", "pfn", "/a"}, ""},
		{[]string{"frm_admin", "-c", l.XrdConfig, "query", "pfn", "/a"}, ""},
		{[]string{"frm", "admin", "-c", l.XrdConfig}, "query pfn /a\n"},
		{[]string{"frm", "pstga", "-c", l.XrdConfig}, ""},
		{[]string{"frm", "config", "show", "-c", l.XrdConfig}, ""},
	} {
		code, _, errs := runCLI(t, tc.stdin, tc.args...)
		if code != 0 || !strings.Contains(errs, want) || !strings.Contains(errs, "warning:") {
			t.Errorf("%q: exit %d, stderr %q", tc.args, code, errs)
		}
	}
}

// TestAgentCreatesPrivateAdminDirs: when frm pstga runs before any
// daemon, the admin directory and Queues/ are created 0700 (0770 with
// admin_group), as documented; they used to be 0755.
func TestAgentCreatesPrivateAdminDirs(t *testing.T) {
	for _, group := range []bool{false, true} {
		l := agentSite(t)
		want := os.FileMode(0o700)
		if group {
			// admin_group is a top-level key: it goes before any table.
			b, _ := os.ReadFile(l.Config)
			os.WriteFile(l.Config, append([]byte("admin_group = true\n"), b...), 0o644)
			want = 0o770
		}
		if code, _, errs := runCLI(t, "+ r1 - 1 r /store/a\n", "frm", "pstga", "-c", l.Config); code != 0 {
			t.Fatalf("pstga: %d %s", code, errs)
		}
		for _, d := range []string{filepath.Join(l.AdminPath, "frm"), filepath.Join(l.AdminPath, "frm", "Queues")} {
			st, err := os.Stat(d)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != want {
				t.Errorf("group %v: %s is %04o, want %04o", group, d, st.Mode().Perm(), want)
			}
		}
	}
}
