package shell

import (
	"fmt"
	"slices"
)

// accessRule says whether a command only reads the site or changes it:
// the one table frm serve's /v1/admin judges a token's scope by (a read
// token runs only what reads; docs/sites.md). A command missing from
// accessRules changes state.
type accessRule struct {
	// read: the command only reads, unless one of changingOpts is given
	// (audit -fix).
	read         bool
	changingOpts []string
	// readingOpts: a command that changes state reads only with one of
	// these (purge -dry-run).
	readingOpts []string
	// readingSubs: a command that changes state reads only when its first
	// argument is one of these type words (chksum ls).
	readingSubs []string
	// remoteRefused are options no remote job may use (queue -watch
	// never ends).
	remoteRefused []string
}

var accessRules = map[string]accessRule{
	"help": {read: true}, "exit": {read: true}, "quit": {read: true}, "set": {read: true},
	"find": {read: true}, "query": {read: true}, "ls": {read: true}, "df": {read: true},
	"status": {read: true}, "hosts": {read: true},
	"queue":  {read: true, remoteRefused: []string{"watch"}},
	"audit":  {read: true, changingOpts: []string{"fix"}},
	"purge":  {readingOpts: []string{"dry-run", "n"}},
	"chksum": {readingSubs: []string{"ls"}},
	// Everything else changes the site: mark, pin, mmap, makelf, mv,
	// reloc, rm, chksum calc|set|unset|verify (verify marks bad data),
	// stage, cancel, priority, wake.
}

// ReadOnly reports whether the command line words (a command and its
// arguments, as frm admin takes them) only reads the site. An unknown
// command, a malformed line, or an option no remote job may use is an
// error.
func ReadOnly(words []string) (bool, error) {
	if len(words) == 0 {
		return false, fmt.Errorf("no command")
	}
	c, ok := lookup(words[0])
	if !ok {
		return false, fmt.Errorf("Invalid command - %s", words[0])
	}
	o, pos, err := parseOpts(words[1:], c.opts)
	if err != nil {
		return false, fmt.Errorf("%s: %w", c.name, err)
	}
	rule := accessRules[c.name]
	for _, name := range rule.remoteRefused {
		if o.has(name) {
			return false, fmt.Errorf("%s -%s is interactive: not for a remote job", c.name, name)
		}
	}
	switch {
	case rule.read:
		for _, name := range rule.changingOpts {
			if o.has(name) {
				return false, nil
			}
		}
		return true, nil
	case len(rule.readingOpts) > 0:
		return slices.ContainsFunc(rule.readingOpts, o.has), nil
	case len(rule.readingSubs) > 0:
		return len(pos) > 0 && slices.Contains(rule.readingSubs, pos[0]), nil
	}
	return false, nil
}
