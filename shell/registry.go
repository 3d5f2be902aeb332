package shell

import (
	"context"
	"sort"
	"strings"
)

// command is one entry of the command registry, shared by argv, batch
// and REPL modes, help and completion.
type command struct {
	name     string
	min      int // shortest accepted abbreviation; len(name) = exact
	usage    string
	opts     []optSpec
	subs     []string // type words (audit names|space|usage ...), for completion
	needSite bool
	run      func(ctx context.Context, sh *Shell, r *report, c *command, args []string) error
}

// commands in frm_admin's matching order: the first command the word
// abbreviates wins, so "m" is mark and "mm" is mmap.
var commands []*command

func init() {
	commands = []*command{
		auditCmd, chksumCmd, exitCmd, findCmd, helpCmd, makelfCmd, markCmd, mmapCmd,
		mvCmd, pinCmd, queryCmd, quitCmd, relocCmd, rmCmd,
		// frm additions
		lsCmd, dfCmd, setCmd,
		purgeCmd, statusCmd, queueCmd, cancelCmd, stageCmd, priorityCmd, wakeCmd, hostsCmd,
	}
}

func lookup(word string) (*command, bool) {
	for _, c := range commands {
		if len(word) >= c.min && len(word) <= len(c.name) && c.name[:len(word)] == word {
			return c, true
		}
	}
	return nil, false
}

// CommandNames lists the commands (for completion), sorted.
func CommandNames() []string {
	var n []string
	for _, c := range commands {
		n = append(n, c.name)
	}
	sort.Strings(n)
	return n
}

// optionNames lists a command's options as typed ("-force").
func optionNames(c *command) []string {
	var n []string
	for _, o := range c.opts {
		n = append(n, "-"+o.name)
	}
	return n
}

const generalUsage = "Usage: [help] {audit | chksum | exit | f[ind] | makelf | mark | mmap | mv | pin | q[uery] | quit | reloc | rm} ...\n" +
	"frm also has: ls [-l] [-r] lspec ... | df [space ...] | purge [-dry-run] [space ...] | set output text|json\n" +
	"              status | queue [-watch] | cancel rid ... | priority rid 0|1|2 | wake   (a running frm daemon)\n" +
	"              hosts | audit catalog ldir   (a PostgreSQL catalog)"

func usageText(lines ...string) string { return strings.Join(lines, "\n") }
