package config

import (
	"fmt"
	"path"
	"strings"
)

// Queue configures the transfer queue beyond xrootd's priorities: request
// classes, each with its own slots and timeout, so that long transfers
// never hold up short ones (docs/daemons.md, "Request classes"). With no
// class configured the queue is xrootd's: three priorities sharing
// transfer.copy_max slots.
type Queue struct {
	Classes []QueueClass `toml:"class,omitempty"`
}

// QueueClass is one request class. A request belongs to the first class
// whose rules all match it (a rule left empty matches any request; a
// class with no rule at all matches none), or names its class in its cgi
// (frm.class=NAME); a request no class matches belongs to the first.
type QueueClass struct {
	Name string `toml:"name"`
	// Slots: transfers of this class at once (at least 1).
	Slots int `toml:"slots"`
	// Timeout ends an attempt of a transfer of this class that runs
	// longer (its copy command's whole process group is killed); the
	// attempt counts as a passing fault, retried as transfer.retries
	// says. 0: none.
	Timeout Duration `toml:"timeout,omitempty"`
	// MaxSize: files up to this size (the disk file's for copies out, the
	// MSS copy's for stages).
	MaxSize Size `toml:"max_size,omitempty,omitzero"`
	// Prefixes: lfns at or under one of these paths.
	Prefixes []string `toml:"prefixes,omitempty"`
	// Requesters: requests whose requester (the tid, or its user part
	// before the first '.', ':' or '@') matches one of these shell
	// patterns.
	Requesters []string `toml:"requesters,omitempty"`
	// Kinds: requests of these kinds (stage, get, migrate, put).
	Kinds []string `toml:"kinds,omitempty"`
	// Lend lets other classes use this class's idle slots (default
	// true); they are given back as the borrowers' transfers end.
	Lend *bool `toml:"lend,omitempty"`
}

// Lends reports whether the class lends its idle slots (default true).
func (c QueueClass) Lends() bool { return c.Lend == nil || *c.Lend }

// QueueKinds are the request kinds classes may name.
var QueueKinds = []string{"stage", "get", "migrate", "put"}

func (c *Config) validateQueue(v *validator) {
	seen := map[string]int{}
	for i, cl := range c.Queue.Classes {
		key := fmt.Sprintf("queue.class[%d]", i)
		switch {
		case cl.Name == "":
			v.add(key+".name", "must be set")
		case !ValidSpaceName(cl.Name):
			v.add(key+".name", "invalid class name %q (1 to 63 characters of A-Z a-z 0-9 _ . -)", cl.Name)
		}
		if j, dup := seen[cl.Name]; dup && cl.Name != "" {
			v.add(key+".name", "class %q is already queue.class[%d]", cl.Name, j)
		}
		seen[cl.Name] = i
		v.count(key+".slots", cl.Slots, 1, -1, "")
		v.duration(key+".timeout", cl.Timeout)
		if cl.MaxSize < 0 {
			v.add(key+".max_size", "must not be negative (is %d)", cl.MaxSize)
		}
		for j, p := range cl.Prefixes {
			if !strings.HasPrefix(p, "/") || strings.IndexByte(p, 0) >= 0 || path.Clean(p) != p {
				v.add(fmt.Sprintf("%s.prefixes[%d]", key, j), "must be a clean absolute path: %q", p)
			}
		}
		for j, r := range cl.Requesters {
			if _, err := path.Match(r, ""); err != nil || r == "" {
				v.add(fmt.Sprintf("%s.requesters[%d]", key, j), "not a valid pattern: %q", r)
			}
		}
		for j, k := range cl.Kinds {
			known := false
			for _, q := range QueueKinds {
				known = known || k == q
			}
			if !known {
				v.add(fmt.Sprintf("%s.kinds[%d]", key, j), "unknown kind %q (one of %s)", k, strings.Join(QueueKinds, ", "))
			}
		}
	}
}
