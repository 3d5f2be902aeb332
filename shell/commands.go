package shell

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"frm/core/catalog"
	"frm/core/meta"
	"frm/core/site"
	"frm/core/units"
	"frm/core/xrdq"
)

var helpCmd = &command{
	name: "help", min: 1, usage: "Usage: help [cmd]",
	run: func(ctx context.Context, sh *Shell, r *report, c *command, args []string) error {
		if len(args) == 0 {
			r.result(generalUsage, map[string]any{"usage": generalUsage, "commands": CommandNames()})
			r.done(ExitOK, nil)
			return nil
		}
		h, ok := lookup(args[0])
		if !ok || h.name == "exit" || h.name == "quit" {
			r.result(generalUsage, map[string]any{"usage": generalUsage})
			return usagef("no help for %s", args[0])
		}
		r.result(h.usage, map[string]any{"command": h.name, "usage": h.usage})
		r.done(ExitOK, nil)
		return nil
	},
}

var exitCmd = &command{name: "exit", min: 4, usage: "Usage: exit", run: quitRun}
var quitCmd = &command{name: "quit", min: 4, usage: "Usage: quit", run: quitRun}

func quitRun(ctx context.Context, sh *Shell, r *report, c *command, args []string) error {
	sh.quit = true
	r.done(ExitOK, nil)
	return nil
}

var setCmd = &command{
	name: "set", min: 3, usage: "Usage: set output text|json",
	run: func(ctx context.Context, sh *Shell, r *report, c *command, args []string) error {
		if len(args) != 2 || args[0] != "output" || args[1] != "text" && args[1] != "json" {
			return usagef("set: expected 'set output text' or 'set output json'")
		}
		sh.JSON = args[1] == "json"
		r.done(ExitOK, map[string]any{"output": args[1]})
		return nil
	},
}

// ---- find ----

var findCmd = &command{
	name: "find", min: 1, needSite: true,
	usage: usageText("Usage: find [-r[ecursive]] what ldir [ldir [...]]", "",
		"what: fail[files] | mmap[ped] | nochksum <type> | nolk[files] | pin[ned] | unmig[rated] | badc[hksum]",
		"",
		"badchksum (frm): files whose data failed their stored checksum (chksum verify, the scrubber)."),
	opts: []optSpec{{name: "recursive", min: 1}},
	subs: []string{"badchksum", "fail", "mmap", "nochksum", "nolkfiles", "pinned", "unmigrated"},
	run:  runFind,
}

func runFind(ctx context.Context, sh *Shell, r *report, c *command, args []string) error {
	o, pos, err := parseOpts(args, c.opts)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("find type not specified.")
	}
	what, ok := site.ParseFindWhat(pos[0])
	if !ok {
		return usagef("Unknown find type - %s", pos[0])
	}
	pos = pos[1:]
	alg := ""
	if what == site.FindNoChecksum {
		if len(pos) == 0 {
			return usagef("find target not specified.")
		}
		alg, pos = pos[0], pos[1:]
		if _, err := meta.NewHash(alg); err != nil {
			return usagef("%s checksum is not supported.", alg)
		}
		if len(pos) == 0 {
			return usagef("Find target not specified.") // sic, as frm_admin
		}
	}
	if len(pos) == 0 {
		return usagef("find target not specified.")
	}
	var scanned atomic.Int64
	pr := sh.startProgress("find", &scanned)
	fo := site.FindOptions{What: what, Alg: alg, Recursive: o.has("recursive"), Scanned: &scanned,
		OnError: r.fail,
	}
	if what != site.FindFail { // frm_admin's find fail does not complain
		fo.OnOldStyle = func(d string) {
			r.note("Found old-style files in directory " + d + "/")
			r.note("In new run mode, migrate & purge will skip them.")
		}
	}
	n, err := sh.Site.Find(ctx, pos, fo, func(f site.Finding) error {
		text, item := findingText(f, alg, sh.JSON, sh.Site.Loc)
		r.result(text, item)
		return nil
	})
	pr.end(sh)
	if err != nil {
		return err
	}
	var sum string
	nn := int64(n)
	switch what {
	case site.FindFail:
		sum = plural(nn, "fail file", "fail files") + " found."
	case site.FindMmap:
		sum = plural(nn, "mmapped file", "mmapped files") + " found."
	case site.FindNoChecksum:
		sum = plural(nn, "file", "files") + " found with no chksum."
	case site.FindPinned:
		sum = plural(nn, "pinned file", "pinned files") + " found."
	case site.FindUnmigrated:
		sum = plural(nn, "unmigrated file", "unmigrated files") + " found."
	case site.FindNoCopyTime:
		sum = plural(nn, "file", "files") + " found with no copy time."
	case site.FindBadChecksum:
		sum = plural(nn, "file", "files") + " found with a bad checksum."
	}
	r.done(statusFor(n+1, r.nErrs), map[string]any{"found": n, "scanned": scanned.Load()}, sum)
	return nil
}

// findingText renders a finding; the JSON item is built only when asked
// for (withItem), since a text-mode scan may print millions of lines.
func findingText(f site.Finding, alg string, withItem bool, loc *time.Location) (string, map[string]any) {
	e := f.Entry
	var item map[string]any
	set := func(k string, v any) {
		if item != nil {
			item[k] = v
		}
	}
	if withItem {
		item = map[string]any{"lfn": e.LFN, "pfn": e.PFN}
	}
	switch f.What {
	case site.FindFail:
		return e.PFN, item
	case site.FindMmap:
		set("keep", e.Mem&meta.MemKeep != 0)
		set("lock", e.Mem&meta.MemLock != 0)
		return "mmap " + f.Detail + e.PFN, item
	case site.FindNoChecksum:
		set("problem", strings.ToLower(f.Detail))
		set("type", alg)
		return f.Detail + " " + alg + " " + e.PFN, item
	case site.FindPinned:
		set("keep", f.Detail)
		return "pin -k " + f.Detail + " " + e.PFN, item
	case site.FindUnmigrated, site.FindNoCopyTime:
		set("reason", f.Detail)
		if f.Detail == "modified" {
			set("mtime", e.Mtime)
			set("copy_time", e.CopyTime)
			return "Unmigrated; modified: " + e.PFN, item
		}
		return "Unmigrated; no copy time: " + e.PFN, item
	case site.FindBadChecksum:
		m := e.BadChecksum
		if m.Alg == "" {
			// Present but unreadable (another version, a stray value).
			return "Bad checksum (mark not readable): " + e.PFN, item
		}
		set("type", m.Alg)
		set("stored", hex.EncodeToString(m.Stored))
		set("computed", hex.EncodeToString(m.Computed))
		set("found", m.Found)
		set("mtime", m.MTime)
		return fmt.Sprintf("Bad %s checksum (stored %s, data %s, found %s): %s", m.Alg, hex.EncodeToString(m.Stored),
			hex.EncodeToString(m.Computed), time.Unix(m.Found, 0).In(loc).Format("2006-01-02 15:04:05"), e.PFN), item
	}
	return e.PFN, item
}

// ---- mark, pin, mmap, makelf ----

var markCmd = &command{
	name: "mark", min: 1, needSite: true,
	usage: usageText("Usage: mark [opts] lspec [lspec [...]]", "",
		"opts: -f[orce] -m[igratable] -p[urgeable] -r[ecursive]", "", "lspec: lfn | ldir[/*]"),
	opts: []optSpec{{name: "force", min: 1}, {name: "migratable", min: 1}, {name: "purgeable", min: 1}, {name: "recursive", min: 1}},
	run: func(ctx context.Context, sh *Shell, r *report, c *command, args []string) error {
		o, pos, err := parseOpts(args, c.opts)
		if err != nil {
			return err
		}
		if len(pos) == 0 {
			return usagef("mark lfn not specified.")
		}
		mode, word := site.ModeMigratable, "migratable"
		if o.has("purgeable") {
			if o.has("migratable") {
				return usagef("mark: -migratable and -purgeable are mutually exclusive.")
			}
			mode, word = site.ModePurgeable, "purgeable"
		}
		res := sh.Site.Mark(ctx, pos, mode, site.ApplyOptions{Recursive: o.has("recursive"), Force: o.has("force"), Prompter: sh.Prompter, OnError: r.fail})
		return batchDone(r, "mark", res, plural(int64(res.Count), "file", "files")+" marked "+word+".")
	},
}

func batchDone(r *report, name string, res site.BatchResult, summary string) error {
	if res.Err != nil {
		return res.Err
	}
	lines := []string{summary}
	status := statusFor(res.Count, res.Errors)
	if res.Aborted {
		lines = append([]string{name + " aborted!"}, lines...)
	}
	r.done(status, map[string]any{"count": res.Count, "errors": res.Errors, "aborted": res.Aborted}, lines...)
	return nil
}

var pinCmd = &command{
	name: "pin", min: 3, needSite: true,
	usage: usageText("Usage: pin [opts] lspec [lspec [...]]", "",
		"opts: -k[eep] <time> -r[ecursive]", "", "time: [+]<n>[d|h|m|s] | mm/dd/[yy]yy | forever", "", "lspec: lfn | ldir[/*]"),
	opts: []optSpec{{name: "keep", min: 1, hasValue: true}, {name: "recursive", min: 1}},
	run: func(ctx context.Context, sh *Shell, r *report, c *command, args []string) error {
		o, pos, err := parseOpts(args, c.opts)
		if err != nil {
			return err
		}
		if len(pos) == 0 {
			return usagef("pin lfn not specified.")
		}
		res, err := sh.Site.Pin(ctx, pos, o.value("keep"), site.ApplyOptions{Recursive: o.has("recursive"), Prompter: sh.Prompter, OnError: r.fail})
		if err != nil {
			return usagef("%v", err)
		}
		word := plural(int64(res.Count), "pin", "pins")
		if res.Unpin {
			word = plural(int64(res.Count), "unpin", "unpins")
		}
		return batchDone(r, "pin", res.BatchResult, word+" processed.")
	},
}

var mmapCmd = &command{
	name: "mmap", min: 2, needSite: true,
	usage: usageText("Usage: mmap [opts] lspec [lspec [...]]", "",
		"opts: -k[eep] -l[ock] -o[ff] -r[ecursive]", "", "lspec: lfn | ldir[/*]"),
	opts: []optSpec{{name: "keep", min: 1}, {name: "lock", min: 1}, {name: "off", min: 1}, {name: "recursive", min: 1}},
	run: func(ctx context.Context, sh *Shell, r *report, c *command, args []string) error {
		o, pos, err := parseOpts(args, c.opts)
		if err != nil {
			return err
		}
		if len(pos) == 0 {
			return usagef("mmap lfn not specified.")
		}
		var f meta.MemFlags
		if o.has("keep") {
			f |= meta.MemKeep
		}
		if o.has("lock") {
			f |= meta.MemLock
		}
		res := sh.Site.Mmap(ctx, pos, f, o.has("off"), site.ApplyOptions{Recursive: o.has("recursive"), Prompter: sh.Prompter, OnError: r.fail})
		return batchDone(r, "mmap", res, plural(int64(res.Count), "mmap", "mmaps")+" processed.")
	},
}

var makelfCmd = &command{
	name: "makelf", min: 6, needSite: true,
	usage: usageText("Usage: makelf [opts] lspec [lspec [...]]", "",
		"opts: -m[igratable] -o[wner] [usr][:[grp]] -p[urgeable] -r[ecursive]", "", "lspec: lfn | ldir[*]"),
	opts: []optSpec{{name: "migratable", min: 1}, {name: "owner", min: 1, hasValue: true}, {name: "purgeable", min: 1}, {name: "recursive", min: 1}},
	run: func(ctx context.Context, sh *Shell, r *report, c *command, args []string) error {
		o, pos, err := parseOpts(args, c.opts)
		if err != nil {
			return err
		}
		if len(pos) == 0 {
			return usagef("makelf lfn not specified.")
		}
		var owner *site.Owner
		if o.has("owner") {
			ow, err := site.ParseOwner(o.value("owner"))
			if err != nil {
				return usagef("%v", err)
			}
			owner = &ow
		}
		mode := site.ModeMigratable
		if o.has("purgeable") {
			mode = site.ModePurgeable
		}
		r.note("makelf is deprecated: xrootd 5 and frm ignore .lock files; use mark.")
		res := sh.Site.Makelf(ctx, pos, mode, owner, site.ApplyOptions{Recursive: o.has("recursive"), Prompter: sh.Prompter, OnError: r.fail})
		return batchDone(r, "makelf", res, plural(int64(res.Count), "lock file", "lock files")+" made.")
	},
}

// ---- audit ----

var auditCmd = &command{
	name: "audit", min: 5, needSite: true,
	usage: usageText("Usage: audit [opts] {names ldir | space name[:pdir] | usage [name] | catalog ldir}", "",
		"opts: -fix -f[orce] -m[igratable] -p[urgeable] -r[ecursive] -from {files|catalog}",
		"",
		"audit catalog (PostgreSQL catalog only) compares the shared catalog with this host's",
		"files under ldir, recursively. -fix adds missing rows, removes rows of files no longer",
		"here (always asked) and rewrites differing rows from the files, or with -from catalog",
		"the files' xattrs from the rows."),
	opts: []optSpec{{name: "fix", min: 3}, {name: "force", min: 1}, {name: "migratable", min: 1}, {name: "purgeable", min: 1}, {name: "recursive", min: 1},
		{name: "from", min: 4, hasValue: true}},
	subs: []string{"names", "space", "usage", "catalog"},
	run:  runAudit,
}

// auditType is one type word of audit: whether it needs a target, and
// what runs it (pos: the words after the type).
type auditType struct {
	needTarget bool
	run        func(ctx context.Context, sh *Shell, r *report, o parsedOpts, ao site.AuditOptions, pos []string) error
}

var auditTypes = map[string]auditType{
	"names":   {needTarget: true, run: auditNames},
	"space":   {needTarget: true, run: auditSpace},
	"catalog": {needTarget: true, run: auditCatalog},
	"usage":   {run: auditUsage},
}

func runAudit(ctx context.Context, sh *Shell, r *report, c *command, args []string) error {
	o, pos, err := parseOpts(args, c.opts)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("audit type not specified.")
	}
	ao := site.AuditOptions{Fix: o.has("fix"), Force: o.has("force"), Recursive: o.has("recursive"), Prompter: sh.Prompter, OnError: r.fail}
	switch {
	case o.has("migratable") && o.has("purgeable"):
		return usagef("audit: -migratable and -purgeable are mutually exclusive.")
	case o.has("migratable"):
		ao.Mode = site.ModeMigratable
	case o.has("purgeable"):
		ao.Mode = site.ModePurgeable
	}
	typ, pos := pos[0], pos[1:]
	at, ok := auditTypes[typ]
	if !ok {
		return usagef("Unknown audit type - %s", typ)
	}
	if at.needTarget && len(pos) == 0 {
		return usagef("audit target not specified.")
	}
	ao.OnProblem = func(ev site.AuditEvent) { text, item := auditProblemText(ev); r.result(text, item) }
	ao.OnFixed = func(ev site.AuditEvent) {
		r.result(auditFixedText(ev), map[string]any{"fixed": problemName(ev.Problem), "pfn": ev.PFN, "data": ev.Data})
	}
	return at.run(ctx, sh, r, o, ao, pos)
}

// auditCatalog runs audit catalog ldir...: the shared catalog against this
// host's files.
func auditCatalog(ctx context.Context, sh *Shell, r *report, o parsedOpts, ao site.AuditOptions, pos []string) error {
	from := site.FromFilesystem
	switch v := o.value("from"); v {
	case "", "files", "filesystem":
	case "catalog":
		from = site.FromCatalog
	default:
		return usagef("audit catalog: -from must be files or catalog (not %q).", v)
	}
	var scanned atomic.Int64
	ao.Scanned = &scanned
	for _, d := range pos {
		pr := sh.startProgress("audit", &scanned)
		res, err := sh.Site.AuditCatalog(ctx, d, from, ao)
		pr.end(sh)
		if err != nil {
			return err
		}
		auditWalkDone(r, "catalog", res, scanned.Load())
		if res.Aborted {
			return nil
		}
	}
	return nil
}

// auditNames runs audit names ldir...: links, copy times, back references.
func auditNames(ctx context.Context, sh *Shell, r *report, o parsedOpts, ao site.AuditOptions, pos []string) error {
	var scanned atomic.Int64
	ao.Scanned = &scanned
	pr := sh.startProgress("audit", &scanned)
	done := 0
	for _, d := range pos {
		res, err := sh.Site.AuditNames(ctx, d, ao)
		pr.end(sh)
		if errors.Is(err, site.ErrSkipped) {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			// frm_admin still prints the (empty) summary.
			r.fail(err)
		} else {
			done++
		}
		auditWalkDone(r, "names", res, scanned.Load())
		if res.Aborted {
			return nil
		}
	}
	if done == 0 && r.nErrs > 0 {
		r.status = ExitError
	}
	return nil
}

// auditSpace runs audit space name[:pdir]...: every data file of a space.
func auditSpace(ctx context.Context, sh *Shell, r *report, o parsedOpts, ao site.AuditOptions, pos []string) error {
	for _, spec := range pos {
		res, err := sh.Site.AuditSpace(ctx, spec, ao)
		if err != nil {
			return err
		}
		second := fmt.Sprintf("Space %s has %s with %d bytes in use (%d unreachable).", spec, plural(res.Files, "file", "files"), res.Bytes, res.Unreachable)
		if res.Aborted {
			second = "Audit space aborted!"
		}
		r.done(auditStatus(res, r.nErrs), map[string]any{"space": spec, "problems": res.Problems, "fixed": res.Fixed, "aborted": res.Aborted,
			"files": res.Files, "bytes": res.Bytes, "unreachable": res.Unreachable},
			fmt.Sprintf("%s found; %d fixed.", plural(int64(res.Problems), "problem", "problems"), res.Fixed), second)
	}
	return nil
}

// auditUsage runs audit usage [name]: data files counted against the
// usage log.
func auditUsage(ctx context.Context, sh *Shell, r *report, o parsedOpts, ao site.AuditOptions, pos []string) error {
	name := ""
	if len(pos) > 0 {
		name = pos[0]
	}
	var audits []site.UsageAudit
	err := sh.Site.AuditUsage(ctx, name, ao, func(ua site.UsageAudit) { audits = append(audits, ua) })
	// frm_admin lists spaces in reverse configuration order.
	for i := len(audits) - 1; i >= 0; i-- {
		ua := audits[i]
		errs := "no errors"
		if ua.Problems > 0 {
			errs = plural(int64(ua.Problems), "error", "errors")
		}
		text := fmt.Sprintf("Audit of %s in %s space completed with %s.", plural(ua.Files, "file", "files"), ua.Space, errs)
		if ua.Tracked {
			text += fmt.Sprintf("\nClaimed:%13d", ua.Claimed)
		}
		text += fmt.Sprintf("\nActual:%14d", ua.Actual)
		r.result(text, map[string]any{"space": ua.Space, "files": ua.Files, "actual": ua.Actual, "tracked": ua.Tracked, "claimed": ua.Claimed, "fixed": ua.Fixed})
	}
	if errors.Is(err, site.ErrAborted) {
		r.done(ExitOK, map[string]any{"aborted": true}, "Audit usage aborted!")
		return nil
	}
	if err != nil {
		return err
	}
	r.done(statusFor(1, r.nErrs), map[string]any{"spaces": len(audits)})
	return nil
}

// auditWalkDone writes the summary of an audit of a directory tree
// (names, catalog) as frm_admin words it.
func auditWalkDone(r *report, kind string, res site.AuditResult, scanned int64) {
	lines := []string{fmt.Sprintf("%s found; %d fixed.", plural(int64(res.Problems), "problem", "problems"), res.Fixed)}
	if res.Aborted {
		lines = append([]string{"Audit " + kind + " aborted!"}, lines...)
	}
	r.done(auditStatus(res, r.nErrs), map[string]any{"problems": res.Problems, "fixed": res.Fixed, "aborted": res.Aborted, "scanned": scanned}, lines...)
}

func auditStatus(res site.AuditResult, nErrs int) int {
	if nErrs > 0 {
		return ExitPartial
	}
	return ExitOK
}

func problemName(p site.Problem) string {
	return map[site.Problem]string{
		site.DanglingLink: "dangling_link", site.NoCopyTime: "no_copy_time", site.PfnXrefWrong: "pfn_xref_wrong",
		site.PfnXrefMissing: "pfn_xref_missing", site.DataNoXref: "data_no_xref", site.DataXrefMissing: "data_xref_missing",
		site.DataXrefNotLink: "data_xref_not_symlink", site.DataXrefOther: "data_xref_other", site.DataXrefStale: "data_xref_stale",
		site.CatalogMissing: "catalog_missing", site.CatalogStale: "catalog_stale", site.CatalogDiffers: "catalog_differs",
	}[p]
}

func auditProblemText(ev site.AuditEvent) (string, map[string]any) {
	item := map[string]any{"problem": problemName(ev.Problem)}
	if ev.PFN != "" {
		item["pfn"] = ev.PFN
	}
	if ev.Data != "" {
		item["data"] = ev.Data
		item["size"] = ev.Size
	}
	if ev.Other != "" {
		item["other"] = ev.Other
	}
	switch ev.Problem {
	case site.DanglingLink:
		return "Dangling link:  " + ev.PFN + "\nMissing target: " + ev.Other, item
	case site.NoCopyTime:
		return "No copy time for: " + ev.PFN, item
	case site.PfnXrefWrong:
		return "Incorrect pfn xref to " + ev.PFN + "\nData file refers to   " + ev.Other, item
	case site.PfnXrefMissing:
		return "Missing pfn xref to " + ev.PFN, item
	case site.DataNoXref:
		return "Missing pfn xref for data file " + ev.Data, item
	case site.DataXrefMissing:
		return "Data file xrefs missing pfn " + ev.PFN, item
	case site.DataXrefNotLink:
		return "Data file xrefs non-symlink pfn " + ev.PFN, item
	case site.DataXrefStale:
		return "Stale pfn xref in data file " + ev.Data + "\nData file xrefs pfn " + ev.PFN + "\nLinked from " + ev.Other, item
	case site.CatalogMissing:
		return "Not in the catalog: " + ev.PFN, item
	case site.CatalogStale:
		return "In the catalog, not on this host: " + ev.PFN, item
	case site.CatalogDiffers:
		return "Catalog differs (" + ev.Other + "): " + ev.PFN, item
	case site.DataXrefOther:
		item["other_exists"] = ev.OtherExists
		s := "Inconsistent data file: " + ev.Data + "\nData file xrefs pfn " + ev.PFN
		if ev.OtherExists {
			return s + "\nPfn points to a different data file that exists.", item
		}
		return s + "\nPfn points to a different data file that is missing.", item
	}
	return ev.PFN, item
}

func auditFixedText(ev site.AuditEvent) string {
	switch ev.Problem {
	case site.DanglingLink:
		return "Symlink removed."
	case site.NoCopyTime:
		return "Copy time set."
	case site.PfnXrefWrong, site.PfnXrefMissing, site.DataXrefStale:
		return "pfn xref set."
	case site.DataXrefMissing:
		return "pfn symlink created."
	case site.DataXrefNotLink:
		return "Data file removed."
	case site.CatalogMissing:
		return "Added to the catalog."
	case site.CatalogStale:
		return "Removed from the catalog."
	case site.CatalogDiffers:
		return "Reconciled."
	case site.DataXrefOther:
		if ev.OtherExists {
			return "Data file removed."
		}
		return "pfn symlink changed."
	}
	return "Fixed."
}

// ---- query ----

var queryCmd = &command{
	name: "query", min: 1, needSite: true,
	usage: usageText("Usage: ", "query pfn lspec [lspec [...]]", "query rfn lspec [lspec [...]]",
		"query space [[-r[ecursive]] lspec [...]]", "query usage [name]", "query xfrq  [name] [vars]", "", "lspec: lfn | ldir[*]"),
	subs: []string{"pfn", "rfn", "space", "usage", "xfrq"},
	run:  runQuery,
}

func runQuery(ctx context.Context, sh *Shell, r *report, c *command, args []string) error {
	if len(args) == 0 {
		return usagef("query type not specified.")
	}
	typ, args := args[0], args[1:]
	switch typ {
	case "pfn", "rfn":
		if len(args) == 0 {
			return usagef("lfn not specified.")
		}
		ok := 0
		for _, a := range args {
			var n string
			var err error
			if typ == "pfn" {
				n, err = sh.Site.Names.PFN(a)
			} else {
				n, err = sh.Site.Names.RFN(a)
			}
			if err != nil {
				r.fail(err)
				continue
			}
			ok++
			r.result(n, map[string]string{"lfn": a, typ: n})
		}
		r.done(statusFor(ok, r.nErrs), nil)
		return nil
	case "space":
		o, pos, err := parseOpts(args, []optSpec{{name: "recursive", min: 1}})
		if err != nil {
			return err
		}
		if len(pos) == 0 {
			if o.has("recursive") {
				return usagef("lfn not specified.")
			}
			sps := sh.Site.Spaces.All()
			if len(sps) == 0 {
				return errors.New("No outplace space has been configured.")
			}
			for i := len(sps) - 1; i >= 0; i-- {
				for j := len(sps[i].Partitions) - 1; j >= 0; j-- {
					p := sps[i].Partitions[j]
					r.result(fmt.Sprintf("%s %s/ xa", sps[i].Name, p.Path), map[string]string{"space": sps[i].Name, "path": p.Path + "/", "type": "xa"})
				}
			}
			r.done(ExitOK, nil)
			return nil
		}
		n := 0
		errs := sh.Site.QuerySpace(ctx, pos, o.has("recursive"), func(e site.SpaceEntry) {
			n++
			item := map[string]any{"space": e.Space, "pfn": e.PFN}
			if e.Origin != nil {
				// JSON only: the text is xrootd's format.
				item["origin"] = map[string]any{"peer": e.Origin.Peer, "at": e.Origin.At.Unix()}
			}
			r.result(e.Space+" "+e.PFN, item)
		}, r.fail)
		r.done(statusFor(n, errs), map[string]any{"files": n})
		return nil
	case "usage":
		name := ""
		if len(args) > 0 {
			name = args[0]
		}
		es, err := sh.Site.QueryUsage(name)
		if err != nil {
			return err
		}
		for i := len(es) - 1; i >= 0; i-- {
			e := es[i]
			r.result(fmt.Sprintf("Space %s\n%20d Used\n%20d Staged\n%20d Purged\n%20d Adjust\n%20d Effective", e.Name, e.Used, e.Staged, e.Purged, e.Adjust, e.Effective()),
				map[string]any{"space": e.Name, "used": e.Used, "staged": e.Staged, "purged": e.Purged, "adjust": e.Adjust, "effective": e.Effective()})
		}
		r.done(ExitOK, nil)
		return nil
	case "xfrq":
		return queryXfrq(ctx, sh, r, c, args)
	}
	return usagef("Invalid query type - %s", typ)
}

func queryXfrq(ctx context.Context, sh *Shell, r *report, c *command, args []string) error {
	kinds, prty, vars, err := xrdq.ParseXfrqArgs(args)
	if err != nil {
		return usagef("%v", err)
	}
	qdir := sh.Site.Config().QueueDir()
	d := xrdq.Open(qdir)
	if !d.Exists() {
		r.fail(fmt.Errorf("No transfer queues found in %s/", qdir))
		return errors.New("Unable to list the xfrq.")
	}
	now := time.Now()
	n := 0
	err = d.List(kinds, prty, func(q xrdq.Request) error {
		text, err := xrdq.FormatVars(q, vars, now)
		if err != nil {
			return err
		}
		n++
		r.result(text, map[string]any{"lfn": q.Path(), "cgi": q.CGI(), "op": string(q.Op), "priority": q.Priority,
			"rid": q.ID, "tid": q.User, "notify": q.Notify, "added": q.Added, "instance": q.Instance})
		return nil
	})
	if err != nil {
		return err
	}
	if n == 0 {
		r.done(ExitOK, map[string]any{"entries": 0}, "No entries found.")
		return nil
	}
	r.done(ExitOK, map[string]any{"entries": n})
	return nil
}

// ---- mv, reloc, rm ----

var mvCmd = &command{
	name: "mv", min: 2, needSite: true, usage: "Usage: mv oldlfn newlfn",
	run: func(ctx context.Context, sh *Shell, r *report, c *command, args []string) error {
		pos, err := parseNoOpts(args)
		if err != nil {
			return err
		}
		switch len(pos) {
		case 0:
			return usagef("mv oldlfn not specified.")
		case 1:
			return usagef("mv newlfn not specified.")
		case 2:
		default:
			return usagef("mv: too many arguments.")
		}
		res, err := sh.Site.Mv(ctx, pos[0], pos[1])
		for _, e := range res.Errors {
			r.fail(e)
		}
		if err != nil {
			return err
		}
		r.result(pos[0]+" renamed to "+pos[1], map[string]string{"from": pos[0], "to": pos[1]})
		fields, lines := mvSummary(res)
		r.done(statusFor(1, r.nErrs), fields, lines...)
		return nil
	},
}

// mvSummary is what mv says besides the rename (xrootd says nothing
// more): what became of the MSS copies of migrated files, and for a
// directory the back references rewritten. The lines go with the result,
// on stdout.
func mvSummary(res site.MvResult) (map[string]any, []string) {
	fields := map[string]any{"migrated": res.Migrated, "mss_renamed": res.Renamed, "remigrate": res.Remigrate, "xrefs": res.Xrefs}
	var lines []string
	if res.Renamed > 0 {
		lines = append(lines, fmt.Sprintf("Renamed in the MSS: %s.", plural(int64(res.Renamed), "copy", "copies")))
	}
	if res.Remigrate > 0 {
		why := "unknown"
		if res.Why != nil {
			why = res.Why.Error()
		}
		fields["remigrate_reason"], fields["no_mig"] = why, res.NoMig
		lines = append(lines, fmt.Sprintf("Marked migratable: %s (migrated again under the new name; not purgeable until then). MSS copy not renamed: %s",
			plural(int64(res.Remigrate), "file", "files"), why))
		if res.NoMig > 0 {
			lines = append(lines, fmt.Sprintf("Not in a mig export, so left on disk until copied to the MSS under the new name: %s.",
				plural(int64(res.NoMig), "file", "files")))
		}
	}
	if res.Dir {
		lines = append(lines, fmt.Sprintf("Back references rewritten: %d.", res.Xrefs))
	}
	return fields, lines
}

var relocCmd = &command{
	name: "reloc", min: 5, needSite: true, usage: "Usage: reloc lfn {cgroup[:path]}",
	run: func(ctx context.Context, sh *Shell, r *report, c *command, args []string) error {
		pos, err := parseNoOpts(args)
		if err != nil {
			return err
		}
		switch len(pos) {
		case 0:
			return usagef("reloc lfn not specified.")
		case 1:
			return usagef("reloc target not specified.")
		case 2:
		default:
			return usagef("reloc: too many arguments.")
		}
		if err := sh.Site.Reloc(ctx, pos[0], pos[1]); err != nil {
			return err
		}
		r.result(pos[0]+" relocated to space "+pos[1], map[string]string{"lfn": pos[0], "space": pos[1]})
		r.done(ExitOK, nil)
		return nil
	},
}

// parseNoOpts is parseOpts for a command without options: frm_admin
// quotes an unknown option with its dash then.
func parseNoOpts(args []string) ([]string, error) {
	_, pos, err := parseOpts(args, nil)
	var ue *usageError
	if errors.As(err, &ue) && strings.HasPrefix(ue.msg, "Invalid option, '") {
		for _, a := range args {
			if a == "--" {
				break
			}
			if len(a) > 1 && a[0] == '-' {
				return nil, usagef("Invalid option, '%s'.", a)
			}
		}
	}
	return pos, err
}

var rmCmd = &command{
	name: "rm", min: 2, needSite: true,
	usage: usageText("Usage: rm [opts] lspec [lspec [...]]", "", "opts: -e[cho] -f[orce] -r[ecursive]", "", "lspec: lfn | ldir[*]"),
	opts:  []optSpec{{name: "echo", min: 1}, {name: "force", min: 1}, {name: "recursive", min: 1}},
	run: func(ctx context.Context, sh *Shell, r *report, c *command, args []string) error {
		o, pos, err := parseOpts(args, c.opts)
		if err != nil {
			return err
		}
		if len(pos) == 0 {
			return usagef("rm lfn not specified.")
		}
		echo := o.has("echo")
		res := sh.Site.Rm(ctx, pos, site.RmOptions{Force: o.has("force"), Recursive: o.has("recursive"), Prompter: sh.Prompter, OnError: r.fail,
			OnRemoved: func(ev site.RmEvent) {
				item := map[string]any{"lfn": ev.LFN, "pfn": ev.PFN, "directory": ev.Dir}
				if !echo && !sh.JSON {
					return
				}
				if ev.Dir && ev.Rmdir {
					// frm_admin names the lfn for a plain rmdir.
					r.result("Local directory "+ev.LFN+" removed.", item)
				} else if ev.Dir {
					r.result("Local directory "+ev.PFN+" removed.", item)
				} else {
					r.result("Local file "+ev.PFN+" removed.", item)
				}
			}})
		dirs := "directories"
		if res.Dirs == 1 {
			dirs = "directory"
		}
		sum := fmt.Sprintf("%s and %d %s deleted.", plural(int64(res.Files), "file", "files"), res.Dirs, dirs)
		switch {
		case res.Aborted:
			sum = "rm aborted; only " + sum
		case res.Errors > 0:
			sum = "rm incomplete; only " + sum
		}
		r.done(statusFor(res.Files+res.Dirs, res.Errors), map[string]any{"files": res.Files, "directories": res.Dirs, "errors": res.Errors, "aborted": res.Aborted}, sum)
		return nil
	},
}

// ---- chksum ----

var chksumCmd = &command{
	name: "chksum", min: 6, needSite: true,
	usage: usageText("Usage: chksum [opts] {calc | ls | set <csval> | unset | ver[ify] <csval>} fn", "",
		"opts: -f[orce] -pfn -t[ype] <cstype> -v[erbose]",
		"",
		"verify -f compares with the checksum of the data read now (frm; see docs/commands.md).",
		"chksum [-t cstype] [-v] -r[ecursive] verify ldir [ldir [...]] (frm) re-reads every file",
		"below ldir that has a current stored checksum and lists those whose data differs;",
		"-v lists every file verified."),
	opts: []optSpec{{name: "force", min: 1}, {name: "pfn", min: 3}, {name: "recursive", min: 1}, {name: "type", min: 1, hasValue: true}, {name: "verbose", min: 1}},
	subs: []string{"calc", "ls", "set", "unset", "verify"},
	run:  runChksum,
}

func runChksum(ctx context.Context, sh *Shell, r *report, c *command, args []string) error {
	o, pos, err := parseOpts(args, c.opts)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("chksum function not specified.")
	}
	fnc, pos := pos[0], pos[1:]
	alg := o.value("type")
	if alg == "" {
		alg = sh.Site.Config().Checksum.Default
	}
	if _, err := meta.NewHash(alg); err != nil {
		return usagef("%s checksums are not supported.", alg)
	}
	if o.has("recursive") {
		if !(len(fnc) >= 3 && strings.HasPrefix("verify", fnc)) {
			return usagef("chksum -recursive is only for verify.")
		}
		return runChksumTree(ctx, sh, r, o, pos)
	}
	needVal := fnc == "set" || len(fnc) >= 3 && strings.HasPrefix("verify", fnc)
	val := ""
	if needVal {
		if len(pos) == 0 {
			return usagef("chksum target not specified.")
		}
		val, pos = pos[0], pos[1:]
		if _, err := meta.ParseChecksumValue(alg, val); err != nil {
			return usagef("%v", err)
		}
	}
	if len(pos) == 0 {
		return usagef("chksum target not specified.")
	}
	name := pos[0]
	lfn, err := sh.Site.ChecksumTarget(name, o.has("pfn"))
	if err != nil {
		return err
	}
	show := func(c meta.Checksum) {
		text := c.Hex() + " " + c.Alg
		if o.has("verbose") {
			text += " " + time.Unix(c.MTime+int64(c.Delta), 0).In(sh.Site.Loc).Format("01/02/06 15:04:05") + " " + name
		}
		r.result(text, map[string]any{"type": c.Alg, "value": c.Hex(), "mtime": c.MTime, "file": name})
	}
	switch {
	case fnc == "calc":
		c, err := sh.Site.ChecksumCalc(ctx, lfn, alg, o.has("force"))
		if err != nil {
			return err
		}
		show(c.Checksum)
		if m := c.Cleared; m != nil {
			r.note(fmt.Sprintf("%s: bad checksum mark removed (found %s: %s); the data is accepted as it is", name, sh.localTime(m.Found), m))
		}
		if m := c.Bad; m != nil {
			r.note(fmt.Sprintf("%s: still marked bad (%s); 'chksum -f -t %s calc' accepts the data", name, m, m.Alg))
		}
	case fnc == "ls":
		cs, _, err := sh.Site.ChecksumList(ctx, lfn, o.value("type"))
		if errors.Is(err, site.ErrNoChecksums) {
			r.done(ExitOK, map[string]any{"checksums": 0}, "No checksums exist for "+name)
			return nil
		}
		if err != nil {
			return &site.OpError{Action: "list checksums of", Name: name, Err: err}
		}
		for _, c := range cs {
			show(c)
		}
	case fnc == "set":
		if err := sh.Site.ChecksumSet(ctx, lfn, alg, val); err != nil {
			return err
		}
	case fnc == "unset":
		removed, err := sh.Site.ChecksumUnset(ctx, lfn, alg)
		if err != nil {
			return err
		}
		if !removed {
			return &site.OpError{Action: "unset " + alg + " checksum", Err: syscall.ENODATA}
		}
	case needVal:
		v, err := sh.Site.ChecksumVerify(ctx, lfn, alg, val, o.has("force"))
		if err != nil {
			return err
		}
		r.result(verifyText(sh, alg, name, v), verifyItem(alg, name, val, v))
		if !v.OK() {
			r.done(ExitError, nil)
			return nil
		}
	default:
		return usagef("Unknown chksum function - %s", fnc)
	}
	r.done(ExitOK, nil)
	return nil
}

// runChksumTree is chksum -r verify ldir...: site.Scrub over the
// directories, at the configured [scrub] rate (unlimited when the site
// sets none). Mismatches are results; with -v every file verified is.
func runChksumTree(ctx context.Context, sh *Shell, r *report, o parsedOpts, dirs []string) error {
	if len(dirs) == 0 {
		return usagef("chksum target not specified.")
	}
	for i, d := range dirs {
		lfn, err := sh.Site.ChecksumTarget(d, o.has("pfn"))
		if err != nil {
			return err
		}
		dirs[i] = lfn
	}
	c := new(site.ScrubCounters)
	start := time.Now()
	pr := sh.startProgressFunc(func() string {
		return fmt.Sprintf("chksum verify: %d entries scanned, %d files verified, %s read, %d mismatches",
			c.Entries.Load(), c.Files.Load(), units.Bytes(c.Bytes.Load()), c.Mismatches.Load())
	})
	sum, err := sh.Site.Scrub(ctx, dirs, site.ScrubOptions{Alg: o.value("type"), Rate: sh.Site.Config().Scrub.CommandRate(),
		Workers:  sh.Site.Config().Scrub.ReadersOrDefault(),
		Counters: c, OnError: r.fail},
		func(x site.ScrubResult) {
			if x.Match && !o.has("verbose") && x.Bad == nil {
				return
			}
			v := site.VerifyResult{Match: x.Match, Value: x.Computed, Source: "data", Computed: &x.Computed, Rot: !x.Match, Bad: x.Bad, Marked: x.Marked}
			if x.Stored.Alg != "" {
				v.Stored = &x.Stored
			}
			item := verifyItem(x.Alg, x.LFN, x.Stored.Hex(), v)
			delete(item, "expected")
			item["lfn"], item["pfn"], item["size"] = x.LFN, x.PFN, x.Size
			r.result(verifyText(sh, x.Alg, x.LFN, v), item)
		})
	pr.end(sh)
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	lines := []string{fmt.Sprintf("%s verified (%s bytes, %.2fs, %s/s): %s, %d marked bad now, %d marked bad in all.",
		plural(sum.Files, "file", "files"), strconv.FormatInt(sum.Bytes, 10), secs, units.Bytes(int64(float64(sum.Bytes)/max(secs, 1e-3))),
		plural(int64(sum.Mismatches), "mismatch", "mismatches"), sum.Marked, sum.Bad)}
	var skipped []string
	if sum.Stale > 0 {
		skipped = append(skipped, fmt.Sprintf("%d with a stale checksum (modified since)", sum.Stale))
	}
	if sum.NoChecksum > 0 {
		skipped = append(skipped, fmt.Sprintf("%d without a checksum", sum.NoChecksum))
	}
	if sum.Changed > 0 {
		skipped = append(skipped, fmt.Sprintf("%d changed while read", sum.Changed))
	}
	if len(skipped) > 0 {
		lines = append(lines, "Skipped: "+strings.Join(skipped, ", ")+".")
	}
	st := statusFor(int(sum.Files)+1, r.nErrs)
	if sum.Mismatches > 0 {
		st = ExitError
	}
	r.done(st, map[string]any{"files": sum.Files, "bytes": sum.Bytes, "seconds": secs, "mismatches": sum.Mismatches,
		"marked": sum.Marked, "bad": sum.Bad, "stale": sum.Stale, "no_checksum": sum.NoChecksum, "changed": sum.Changed,
		"errors": sum.Errors}, lines...)
	return nil
}

// verifyText is the result line of chksum verify: frm_admin's "<alg>
// checksums match|differ for <fn>", and, when the data was read, what it
// was compared with and what the stored record says.
func verifyText(sh *Shell, alg, name string, v site.VerifyResult) string {
	word := "match"
	if !v.Match {
		word = "differ"
	}
	line := alg + " checksums " + word + " for " + name
	if v.Source != "data" {
		return line // the stored record, as frm_admin compares
	}
	var why string
	switch {
	case v.Rot:
		why = fmt.Sprintf("computed from the data: %s; the stored checksum %s differs", v.Computed.Hex(), v.Stored.Hex())
	case v.Stored != nil:
		why = "computed from the data; the stored checksum agrees"
	default:
		why = "computed from the data: " + v.Computed.Hex() + "; no current stored checksum, now stored"
	}
	switch {
	case v.Marked:
		why += ": marked bad"
	case v.Bad != nil && v.Rot:
		why += ": marked bad since " + sh.localTime(v.Bad.Found)
	case v.Bad != nil:
		why += fmt.Sprintf("; marked bad since %s (%s)", sh.localTime(v.Bad.Found), v.Bad)
	}
	return line + " (" + why + ")"
}

// verifyItem is the JSON result of chksum verify: value is what the given
// value (expected) was compared with, source says where it came from
// ("stored" record or the "data"); computed and stored are the data's
// checksum and the current record when there are.
func verifyItem(alg, name, val string, v site.VerifyResult) map[string]any {
	item := map[string]any{"type": alg, "match": v.Match, "value": v.Value.Hex(), "expected": strings.ToLower(val),
		"file": name, "source": v.Source, "bad": v.Bad != nil, "marked": v.Marked, "rot": v.Rot}
	if v.Computed != nil {
		item["computed"] = v.Computed.Hex()
	}
	if v.Stored != nil {
		item["stored"] = v.Stored.Hex()
	}
	if v.Bad != nil {
		item["bad_since"] = v.Bad.Found
	}
	return item
}

// localTime renders an epoch time for messages.
func (sh *Shell) localTime(t int64) string {
	return time.Unix(t, 0).In(sh.Site.Loc).Format("2006-01-02 15:04:05")
}

// ---- ls, df (frm additions) ----

var lsCmd = &command{
	name: "ls", min: 2, needSite: true,
	usage: usageText("Usage: ls [-l] [-r[ecursive]] lspec [lspec [...]]", "",
		"Lists files with their residency: space, size, migrated / needs migration / no copy time,",
		"pin and until when, failed transfers, checksums (-l for all columns).", "", "lspec: lfn | ldir[/*]"),
	opts: []optSpec{{name: "long", min: 1}, {name: "recursive", min: 1}},
	run:  runLs,
}

func residency(e *catalog.Entry) string {
	switch {
	case e.Dangling:
		return "dangling"
	case !e.HasCopy:
		return "nocopy"
	case e.CopyTime < e.Mtime:
		return "needs-mig"
	}
	return "migrated"
}

func runLs(ctx context.Context, sh *Shell, r *report, c *command, args []string) error {
	o, pos, err := parseOpts(args, c.opts)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("ls lfn not specified.")
	}
	long := o.has("long")
	now := sh.Site.Now()
	n := 0
	var scanned atomic.Int64
	pr := sh.startProgress("ls", &scanned)
	errs, err := sh.Site.Ls(ctx, pos, o.has("recursive"), func(e *catalog.Entry) error {
		scanned.Add(1)
		n++
		if e.Type == catalog.Dir {
			r.result(fmt.Sprintf("%-9s %-8s %12s  %s/", "dir", "-", "-", e.LFN), map[string]any{"lfn": e.LFN, "type": "dir"})
			return nil
		}
		pin := "-"
		if e.HasPin && !e.Pin.Expired(now) {
			pin = e.Pin.FindSpec(now, sh.Site.Loc)
		}
		state := residency(e)
		item := map[string]any{"lfn": e.LFN, "pfn": e.PFN, "type": "file", "space": e.Space, "size": e.Size, "mtime": e.Mtime, "atime": e.Atime,
			"residency": state, "failed": e.Failed}
		if e.HasCopy {
			item["copy_time"] = e.CopyTime
		}
		if pin != "-" {
			item["pin"] = pin
		}
		if e.Link != "" {
			item["data"] = e.Link
		}
		var cks []string
		for _, c := range e.Checksums {
			cks = append(cks, c.Alg+":"+c.Hex())
		}
		if len(cks) > 0 {
			item["checksums"] = cks
		}
		from := ""
		if e.HasOrigin {
			item["origin"] = map[string]any{"peer": e.Origin.Peer, "at": e.Origin.At.Unix()}
			from = " from=" + e.Origin.Peer + "@" + e.Origin.At.In(sh.Site.Loc).Format("2006-01-02T15:04")
		}
		flags := ""
		if e.Failed {
			flags = " FAILED"
		}
		text := fmt.Sprintf("%-9s %-8s %12d  %s%s", state, e.Space, e.Size, e.LFN, flags)
		if long {
			c := "-"
			if len(cks) > 0 {
				c = strings.Join(cks, ",")
			}
			text = fmt.Sprintf("%-9s %-8s %12d %s pin=%s cks=%s%s  %s%s", state, e.Space, e.Size,
				time.Unix(e.Mtime, 0).In(sh.Site.Loc).Format("2006-01-02T15:04"), pin, c, from, e.LFN, flags)
		}
		r.result(text, item)
		return nil
	}, r.fail)
	pr.end(sh)
	if err != nil {
		return err
	}
	r.done(statusFor(n, errs), map[string]any{"entries": n})
	return nil
}

var dfCmd = &command{
	name: "df", min: 2, needSite: true,
	usage: usageText("Usage: df [-c[ount]] [space ...]", "",
		"Shows each space and its partitions: total, used and free bytes (a filesystem shared",
		"by several partitions is counted once in the space total); -count also counts the data files.",
		"The public space also has the namespace's own filesystem (local_root): its plain files, stored",
		"in the namespace rather than as XA links, belong to public (xrootd's default space)."),
	opts: []optSpec{{name: "count", min: 1}},
	run: func(ctx context.Context, sh *Shell, r *report, c *command, args []string) error {
		o, pos, err := parseOpts(args, c.opts)
		if err != nil {
			return err
		}
		sus, err := sh.Site.Df(ctx, pos, o.has("count"))
		if err != nil {
			return err
		}
		count := o.has("count")
		files := func(n int64) string {
			if !count {
				return "-"
			}
			return strconv.FormatInt(n, 10)
		}
		// Without -count nothing was counted: null in JSON, as "-" in text.
		counted := func(n int64) any {
			if !count {
				return nil
			}
			return n
		}
		r.result(fmt.Sprintf("%-12s %10s %10s %10s %5s %10s  %s", "SPACE", "TOTAL", "USED", "FREE", "USE%", "FILES", "PARTITION"), map[string]any{"header": true})
		for _, su := range sus {
			r.result(fmt.Sprintf("%-12s %10s %10s %10s %5s %10s  %s", su.Name, units.Bytes(su.Total), units.Bytes(su.Total-su.Free), units.Bytes(su.Free), pct(su.Total-su.Free, su.Total), files(su.Files), "(all)"),
				map[string]any{"space": su.Name, "total": su.Total, "used": su.Total - su.Free, "free": su.Free, "files": counted(su.Files), "bytes": counted(su.Bytes)})
			parts := su.Partitions
			if su.Namespace != nil {
				parts = append(parts[:len(parts):len(parts)], *su.Namespace)
			}
			for i, p := range parts {
				if p.Err != nil {
					r.fail(p.Err)
					continue
				}
				doc := map[string]any{"space": su.Name, "partition": p.Path, "total": p.Total, "used": p.Used(), "free": p.Free, "files": counted(p.Files), "bytes": counted(p.Bytes), "cap": p.Cap}
				where := p.Path
				if i == len(su.Partitions) {
					where += " (namespace: plain files)"
					doc["namespace"] = true
				}
				r.result(fmt.Sprintf("%-12s %10s %10s %10s %5s %10s  %s", "", units.Bytes(p.Total), units.Bytes(p.Used()), units.Bytes(p.Free), pct(p.Used(), p.Total), files(p.Files), where), doc)
			}
		}
		r.done(statusFor(len(sus)+1, r.nErrs), nil)
		return nil
	},
}

func pct(used, total int64) string {
	if total <= 0 {
		return "-"
	}
	return fmt.Sprintf("%d%%", (used*100+total-1)/total)
}
