package shell

import "strings"

// CommandInfo describes one command of the admin language as the registry
// holds it: what help prints, and what completion offers. It is a copy:
// changing it changes nothing in the registry.
type CommandInfo struct {
	// Name is the command's full name ("find").
	Name string
	// Abbrev is the shortest abbreviation accepted ("f"); Name when the
	// command must be spelled out. A word abbreviates the first command,
	// in Commands order, it is a long enough prefix of.
	Abbrev string
	// Usage is the usage text help prints (several lines).
	Usage string
	// Options are the command's options, in the registry's order.
	Options []OptionInfo
	// Subwords are the type words the first argument may be (audit names
	// | space | ...), for completion; nil when the command has none.
	Subwords []string
	// NeedsSite: the command works on a site (a configuration).
	NeedsSite bool
	// Addition: frm's own command, not one of xrootd's frm_admin.
	Addition bool
	// ReadOnly: the command only reads the site whatever its options (a
	// read token may run it through frm serve). Commands that read or
	// change by their options (audit -fix, purge -dry-run, chksum ls) are
	// not; ReadOnly(words) judges a whole command line.
	ReadOnly bool
}

// OptionInfo is one option of a command, typed with one dash ("-force").
type OptionInfo struct {
	Name     string // "force"
	Abbrev   string // the shortest accepted prefix ("f")
	HasValue bool   // takes the next word as its value
}

// xrootdCommands are frm_admin's own commands; the others are frm's.
var xrootdCommands = map[string]bool{
	"audit": true, "chksum": true, "exit": true, "find": true, "help": true, "makelf": true, "mark": true,
	"mmap": true, "mv": true, "pin": true, "query": true, "quit": true, "reloc": true, "rm": true,
}

// Commands returns the admin commands in the registry's matching order:
// the one list that argv, batch and REPL modes, help, completion scripts
// and man pages are made from.
func Commands() []CommandInfo {
	out := make([]CommandInfo, 0, len(commands))
	for _, c := range commands {
		ci := CommandInfo{
			Name: c.name, Abbrev: c.name, Usage: c.usage, NeedsSite: c.needSite,
			Subwords: append([]string(nil), c.subs...), Addition: !xrootdCommands[c.name],
			ReadOnly: accessRules[c.name].read && len(accessRules[c.name].changingOpts) == 0,
		}
		if c.min > 0 && c.min < len(c.name) {
			ci.Abbrev = c.name[:c.min]
		}
		for _, o := range c.opts {
			oi := OptionInfo{Name: o.name, Abbrev: o.name, HasValue: o.hasValue}
			if o.min > 0 && o.min < len(o.name) {
				oi.Abbrev = o.name[:o.min]
			}
			ci.Options = append(ci.Options, oi)
		}
		if len(ci.Subwords) == 0 {
			ci.Subwords = nil
		}
		out = append(out, ci)
	}
	return out
}

// Prefixes returns the words that name c: its abbreviations from Abbrev to
// Name, shortest first.
func (c CommandInfo) Prefixes() []string {
	var p []string
	for n := len(c.Abbrev); n <= len(c.Name); n++ {
		p = append(p, c.Name[:n])
	}
	return p
}

// GeneralUsage is what help without a command prints.
func GeneralUsage() string { return generalUsage }

// Synopsis is the first line of c's usage without "Usage: " (for a query
// whose usage lists several forms, those forms joined with " | ").
func (c CommandInfo) Synopsis() string {
	lines := strings.Split(c.Usage, "\n")
	first := strings.TrimSpace(strings.TrimPrefix(lines[0], "Usage:"))
	if first != "" {
		return first
	}
	var forms []string
	for _, l := range lines[1:] {
		if strings.TrimSpace(l) == "" {
			break
		}
		forms = append(forms, strings.TrimSpace(l))
	}
	return strings.Join(forms, " | ")
}
