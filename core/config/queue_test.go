package config

import (
	"strings"
	"testing"
)

// TestQueueClassValidation: every malformed class is one error naming the
// class and the key; good classes load with lend defaulting to true.
func TestQueueClassValidation(t *testing.T) {
	const good = `
[[queue.class]]
name = "short"
slots = 2
timeout = "10m"
max_size = "100m"
prefixes = ["/store/user"]
requesters = ["alice", "prod*"]
kinds = ["stage", "get"]

[[queue.class]]
name = "long"
slots = 1
lend = false
`
	c, err := Parse([]byte(good), "frm.toml", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(c.Queue.Classes); n != 2 {
		t.Fatalf("%d classes, want 2", n)
	}
	if s := c.Queue.Classes[0]; !s.Lends() || s.Slots != 2 || s.MaxSize != 100<<20 || s.Timeout.Std().Minutes() != 10 {
		t.Errorf("short = %+v", s)
	}
	if c.Queue.Classes[1].Lends() {
		t.Error("lend = false not kept")
	}
	for _, tc := range []struct{ toml, want string }{
		{"[[queue.class]]\nslots = 1\n", "name: must be set"},
		{"[[queue.class]]\nname = \"a b\"\nslots = 1\n", `invalid class name "a b"`},
		{"[[queue.class]]\nname = \"a\"\nslots = 1\n[[queue.class]]\nname = \"a\"\nslots = 1\n", `class "a" is already queue.class[0]`},
		{"[[queue.class]]\nname = \"a\"\n", "slots: must be at least 1 (is 0)"},
		{"[[queue.class]]\nname = \"a\"\nslots = 1\nprefixes = [\"store\"]\n", `prefixes[0]: must be a clean absolute path: "store"`},
		{"[[queue.class]]\nname = \"a\"\nslots = 1\nprefixes = [\"/store/../x\"]\n", "must be a clean absolute path"},
		{"[[queue.class]]\nname = \"a\"\nslots = 1\nrequesters = [\"[\"]\n", `requesters[0]: not a valid pattern: "["`},
		{"[[queue.class]]\nname = \"a\"\nslots = 1\nkinds = [\"purge\"]\n", `kinds[0]: unknown kind "purge"`},
	} {
		_, err := Parse([]byte(tc.toml), "frm.toml", "", nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "frm.toml") {
			t.Errorf("%q: error %v, want one with %q", tc.toml, err, tc.want)
		}
	}
}
