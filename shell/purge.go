package shell

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"frm/core/purge"
	"frm/core/site"
)

// ---- purge (frm addition: frm_purged's cycle as a command) ----

var purgeCmd = &command{
	name: "purge", min: 5, needSite: true,
	usage: usageText("Usage: purge [-dry-run|-n] [-f[orce]] [-O free[,hold]] [-v[erbose]] [space | path ...]", "",
		"Frees disk space as frm_purged does: in each space whose free space is below its policy's",
		"minimum, files safe in the MSS are removed, oldest access first, until the maximum is reached.",
		"  -dry-run, -n  only show the plan: a Zorch line per file that would go (nothing is removed)",
		"  -force        do not ask before purging a space",
		"  -O free[,hold] override min and max of every policy (even nopurge): N% or a size;",
		"                hold overrides every policy's hold (seconds, or 10m, 2h, 1d)",
		"  -verbose      also list every file kept and why (Kept lines), and Purged lines",
		"Arguments restrict the purge to spaces (by name) and paths (in purge exports)."),
	opts: []optSpec{{name: "dry-run", min: 3}, {name: "n", min: 1}, {name: "force", min: 1},
		{name: "O", min: 1, hasValue: true}, {name: "verbose", min: 1}},
	run: runPurge,
}

func runPurge(ctx context.Context, sh *Shell, r *report, c *command, args []string) error {
	o, pos, err := parseOpts(args, c.opts)
	if err != nil {
		return err
	}
	dry := o.has("dry-run") || o.has("n")
	verbose := o.has("verbose")
	var po purge.Options
	for _, a := range pos {
		if strings.HasPrefix(a, "/") {
			po.Paths = append(po.Paths, a)
		} else {
			po.Spaces = append(po.Spaces, a)
		}
	}
	if o.has("O") {
		w, hold, err := purge.ParseOverride(o.value("O"))
		if err != nil {
			return usagef("%v", err)
		}
		po.Override, po.HoldOverride = &w, hold
	}
	loc := sh.Site.Loc
	var scanned atomic.Int64
	po.Scanned = &scanned
	po.OnError = r.fail
	po.OnOldStyle = func(d string) { r.note("Found old-style files in directory " + d + "/; migrate and purge skip them.") }
	po.KeepReasons = dry && verbose
	po.Lazy = !dry
	pr := sh.startProgress("purge", &scanned)
	plan, err := purge.Build(ctx, sh.Site, po)
	pr.end(sh)
	if err != nil {
		return err
	}
	if plan.Skipped {
		r.done(statusFor(1, r.nErrs), map[string]any{"dry_run": dry, "skipped": true, "files": 0, "bytes": 0},
			"Purge cycle skipped; all policies met.")
		return nil
	}
	for i := range plan.Spaces {
		sp := &plan.Spaces[i]
		if sp.Err != nil {
			continue
		}
		r.result(purge.SpaceLine(sp, sp.Files), spaceItem(sp))
	}
	if dry {
		return purgeDryRun(ctx, sh, r, plan, verbose)
	}

	var res purge.Result
	eo := purge.ExecOptions{
		Refresh: true,
		OnError: r.fail,
		OnPurged: func(c purge.Candidate) {
			if verbose || sh.JSON {
				r.result(purge.FileLine("Purged ", c, loc), candidateItem("purged", c))
			}
		},
		OnKept: func(k purge.Kept) {
			if verbose || sh.JSON {
				r.result(keptLine(k, loc), keptItem(k))
			}
		},
		OnDir: func(d purge.EmptyDir) {
			if verbose || sh.JSON {
				r.result(dirLine("Purged ", d, loc), dirItem(d, true))
			}
		},
	}
	if !o.has("force") {
		eo.Confirm = func(sp *purge.SpacePlan) (bool, error) {
			q := fmt.Sprintf("Purge %d files (%d bytes) from %s?", len(sp.Candidates), sp.CandidateBytes, sp.Space)
			switch sh.Prompter.Ask(q, site.No) {
			case site.Yes:
				return true, nil
			case site.Abort:
				return false, site.ErrAborted
			}
			return false, nil
		}
	}
	res, err = purge.Execute(ctx, sh.Site, plan, eo)
	aborted := errors.Is(err, site.ErrAborted)
	if err != nil && !aborted {
		return err
	}
	for i := range plan.Spaces {
		sp := &plan.Spaces[i]
		if sp.Err != nil || !sp.Enabled {
			continue
		}
		sr := purge.SpaceResult{Space: sp.Space, Free: sp.Free, Max: sp.Max}
		for _, x := range res.Spaces {
			if x.Space == sp.Space {
				sr = x
			}
		}
		r.result(purge.FinalLine(sp, sr, sp.Files), finalItem(sp, sr))
	}
	sum := fmt.Sprintf("%s (%d bytes) purged", plural(int64(res.Files), "file", "files"), res.Bytes)
	if res.Dirs > 0 {
		sum += fmt.Sprintf(", %s removed", plural(int64(res.Dirs), "empty directory", "empty directories"))
	}
	sum += "."
	if aborted {
		sum = "purge aborted; " + sum
	}
	r.done(statusFor(res.Files, r.nErrs), map[string]any{"dry_run": false, "files": res.Files, "bytes": res.Bytes,
		"kept": res.Kept, "empty_dirs": res.Dirs, "aborted": aborted, "scanned": plan.Scanned}, sum)
	return nil
}

func purgeDryRun(ctx context.Context, sh *Shell, r *report, plan *purge.Plan, verbose bool) error {
	loc := sh.Site.Loc
	files, spaces := 0, 0
	var bytes int64
	kept := map[purge.Reason]int{}
	for i := range plan.Spaces {
		sp := &plan.Spaces[i]
		if len(sp.Candidates) > 0 {
			spaces++
		}
		for _, c := range sp.Candidates {
			files++
			bytes += c.Size
			r.result(purge.FileLine("Zorch  ", c, loc), candidateItem("candidate", c))
		}
		for _, k := range sp.Kept {
			r.result(keptLine(k, loc), keptItem(k))
		}
		for rs, n := range sp.Counts {
			kept[rs] += n
		}
	}
	hold := sh.Site.Config().Purge.DirHold.Std()
	if hold <= 0 {
		hold = 40 * time.Hour
	}
	dirs, err := purge.EmptyDirs(ctx, sh.Site, plan.Roots, plan.Now.Add(-hold).Unix(), false, func(d purge.EmptyDir) {
		r.result(dirLine("Zorch  ", d, loc), dirItem(d, false))
	}, r.fail)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(purge.StopFile(sh.Site)); err == nil {
		r.note("STOPPURGE is present in the admin directory: a real purge would refuse to run.")
	}
	nKept := 0
	for _, n := range kept {
		nKept += n
	}
	lines := []string{fmt.Sprintf("%s (%d bytes) would be purged from %s; %s kept%s.",
		plural(int64(files), "file", "files"), bytes, plural(int64(spaces), "space", "spaces"),
		plural(int64(nKept), "file", "files"), reasonCounts(kept))}
	if dirs > 0 {
		lines = append(lines, plural(int64(dirs), "empty directory", "empty directories")+" would be removed.")
	}
	counts := map[string]int{}
	for rs, n := range kept {
		counts[rs.String()] = n
	}
	r.done(statusFor(1, r.nErrs), map[string]any{"dry_run": true, "files": files, "bytes": bytes, "kept": counts,
		"empty_dirs": dirs, "scanned": plan.Scanned}, lines...)
	return nil
}

// reasonCounts renders " (3 not_migrated, 1 in_hold)" in reason order.
func reasonCounts(m map[purge.Reason]int) string {
	var parts []string
	for _, rs := range purge.Reasons() {
		if n := m[rs]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, rs))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func spaceItem(sp *purge.SpacePlan) map[string]any {
	counts := map[string]int{}
	for rs, n := range sp.Counts {
		counts[rs.String()] = n
	}
	item := map[string]any{"kind": "space", "space": sp.Space, "enabled": sp.Enabled, "total": sp.Total, "free": sp.Free,
		"min": sp.Min, "max": sp.Max, "hold": int64(sp.Hold / time.Second), "needed": sp.Needed, "files": sp.Files,
		"eligible": sp.Eligible, "eligible_bytes": sp.EligibleBytes, "candidates": len(sp.Candidates),
		"candidate_bytes": sp.CandidateBytes, "kept": counts}
	if sp.UsedKnown {
		item["used"] = sp.Used
	}
	return item
}

func finalItem(sp *purge.SpacePlan, sr purge.SpaceResult) map[string]any {
	item := map[string]any{"kind": "result", "space": sp.Space, "files": sr.Files, "bytes": sr.Bytes, "kept": sr.Kept,
		"free": sr.Free, "max": sr.Max, "met": sr.Met(), "stopped": sr.Stopped}
	if sp.UsedKnown {
		item["used"] = sp.Used - sr.Bytes
	}
	return item
}

func keptLine(k purge.Kept, loc *time.Location) string {
	until := ""
	if k.Reason.HasUntil() && k.Until != 0 {
		until = " until " + time.Unix(k.Until, 0).In(loc).Format("2006-01-02 15:04")
	}
	return fmt.Sprintf("Kept   %s %s%s %s", k.Space, k.Reason, until, k.PFN)
}

func dirLine(what string, d purge.EmptyDir, loc *time.Location) string {
	return what + "empty dir " + time.Unix(d.Mtime, 0).In(loc).Format("060102 15:04:05") + " " + d.PFN
}

func candidateItem(kind string, c purge.Candidate) map[string]any {
	return map[string]any{"kind": kind, "space": c.Space, "lfn": c.LFN, "pfn": c.PFN, "size": c.Size, "atime": c.Atime, "mtime": c.Mtime}
}

func keptItem(k purge.Kept) map[string]any {
	item := candidateItem("kept", k.Candidate)
	item["reason"] = k.Reason.String()
	if k.Until != 0 {
		item["until"] = k.Until
	}
	return item
}

func dirItem(d purge.EmptyDir, removed bool) map[string]any {
	return map[string]any{"kind": "empty_dir", "lfn": d.LFN, "pfn": d.PFN, "mtime": d.Mtime, "removed": removed}
}
