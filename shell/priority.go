package shell

import (
	"context"
	"fmt"
	"strconv"

	"frm/core/xrdq"
)

// priorityCmd changes the priority of queued requests (site.SetPriority:
// the queue files and, with a PostgreSQL catalog, the shared queue); the
// daemon, if one runs, is woken to look at them.
var priorityCmd = &command{
	name: "priority", min: 4, needSite: true,
	usage: usageText("Usage: priority rid 0|1|2 [rid ...]", "",
		"Moves every queued record of the requests (stage, get, migrate, put) to the",
		"priority given (2 is served first), then wakes the daemon."),
	run: func(ctx context.Context, sh *Shell, r *report, c *command, args []string) error {
		if len(args) < 2 {
			return usagef("priority rid and level not specified.")
		}
		p, err := strconv.Atoi(args[1])
		if err != nil || p < 0 || p > xrdq.MaxPriority || len(args[1]) != 1 {
			return usagef("Invalid priority - %s", args[1])
		}
		rids := append([]string{args[0]}, args[2:]...)
		total := 0
		for _, rid := range rids {
			n, err := sh.Site.SetPriority(ctx, rid, p)
			if err != nil {
				r.fail(fmt.Errorf("priority %s: %w", rid, err))
				continue
			}
			total += n
			r.result(fmt.Sprintf("%s: %s moved to priority %d.", rid, plural(int64(n), "entry", "entries"), p),
				map[string]any{"rid": rid, "moved": n, "priority": p})
		}
		if total > 0 {
			daemonOf(sh).Wake(ctx) // no daemon: it reads the queues when it starts
		}
		r.done(statusFor(len(rids)-r.nErrs, r.nErrs), map[string]any{"moved": total})
		return nil
	},
}
