package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSitesCLI: frm sites' usage and its errors exit 3 (UNKNOWN, as a
// Nagios plugin that cannot run), -h 0.
func TestSitesCLI(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "sites.toml")
	os.WriteFile(good, []byte("[[site]]\nname = \"a\"\nurl = \"https://127.0.0.1:1\"\ntoken_file = \"tok\"\n"), 0o644)
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("[[site]]\nname = \"a\"\nurl = \"ftp://x\"\ntoken_file = \"tok\"\ncolour = 1\n"), 0o644)
	for _, tc := range []struct {
		args   []string
		code   int
		stream string // "out" or "err"
		want   string
	}{
		{[]string{"-h"}, 0, "out", "Usage: frm sites"},
		{nil, 3, "err", "a command is needed"},
		{[]string{"--sites", good, "frob"}, 3, "err", `unknown command "frob"`},
		{[]string{"--sites", good, "status", "-o", "html"}, 3, "err", "status -o takes text or json"},
		{[]string{"--sites", good, "run"}, 3, "err", "run needs an admin command"},
		{[]string{"--sites", good, "report", "--tag", "x"}, 3, "err", "report covers every site"},
		{[]string{"--sites", good, "status", "--site", "zz"}, 3, "err", `no site "zz"`},
		{[]string{"--sites", good, "status", "--tag", "nope"}, 3, "err", "no site has tag nope"},
		{[]string{"--sites", bad, "status"}, 3, "err", "unknown keys: site.colour"},
		{[]string{"--sites", filepath.Join(dir, "none.toml"), "status"}, 3, "err", "no such file"},
		{[]string{"--sites", good, "--state-dir", filepath.Join(dir, "st"), "status", "-o", "json"}, 3, "out", `"token_file: open `},
	} {
		var out, errb bytes.Buffer
		code := sitesMain(context.Background(), tc.args, &out, &errb)
		got := errb.String()
		if tc.stream == "out" {
			got = out.String()
		}
		if code != tc.code || !strings.Contains(got, tc.want) {
			t.Errorf("frm sites %v: exit %d, %s %q; want %d and %q", tc.args, code, tc.stream, got, tc.code, tc.want)
		}
	}
}
