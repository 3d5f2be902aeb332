package shell

import (
	"strings"
	"testing"
)

func TestReadOnly(t *testing.T) {
	for _, tc := range []struct {
		line string
		ro   bool
		err  string
	}{
		{"audit -r names /store", true, ""},
		{"audit -fix names /store", false, ""},
		{"audit names /store -fix", false, ""},
		{"purge -dry-run", true, ""},
		{"purge -n public", true, ""},
		{"purge public", false, ""},
		{"find -r unmigrated /store", true, ""},
		{"f unmigrated /store", true, ""},
		{"query space", true, ""},
		{"df", true, ""},
		{"status", true, ""},
		{"ls -l /store", true, ""},
		{"chksum ls /store/a", true, ""},
		{"chksum calc /store/a", false, ""},
		{"chksum verify 01020304 /store/a", false, ""},
		{"rm -r /store", false, ""},
		{"mark -p /store/a", false, ""},
		{"stage /store/a", false, ""},
		{"cancel 1", false, ""},
		{"queue", true, ""},
		{"queue -watch", false, "interactive"},
		{"nosuch", false, "Invalid command"},
		{"audit -bogus names /x", false, "Invalid option"},
	} {
		ro, err := ReadOnly(strings.Fields(tc.line))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: %v, want error %q", tc.line, err, tc.err)
			}
			continue
		}
		if err != nil || ro != tc.ro {
			t.Errorf("%q: read-only %v %v, want %v", tc.line, ro, err, tc.ro)
		}
	}
	// Every command of the registry is judged: the table names only
	// commands that exist.
	for name := range accessRules {
		if _, ok := lookup(name); !ok {
			t.Errorf("accessRules names %q, which is no command", name)
		}
	}
	for _, c := range Commands() {
		if c.Name == "audit" && c.ReadOnly || c.Name == "ls" && !c.ReadOnly || c.Name == "rm" && c.ReadOnly {
			t.Errorf("CommandInfo %s ReadOnly %v", c.Name, c.ReadOnly)
		}
	}
}
