package tui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"frm/core/site"
	"frm/core/units"
	"frm/shell"
	"frm/tui/model"
)

// AuditRequest names an audit: Mode names (Target a directory, walked
// recursively), space (Target space[:partition]) or usage (Target a space,
// or empty for all).
type AuditRequest struct {
	Mode, Target string
}

// problemOf describes an audit event for the Audit view, with the exact
// change its fix makes (as core/site does it).
func problemOf(ev site.AuditEvent) model.AuditProblem {
	p := model.AuditProblem{Code: int(ev.Problem), Name: ev.PFN, PFN: ev.PFN, Data: ev.Data, Other: ev.Other, OtherExists: ev.OtherExists, Size: ev.Size,
		Destructive: ev.Destructive()}
	switch ev.Problem {
	case site.DanglingLink:
		p.Kind, p.Fix = "dangling link", "remove symlink "+ev.PFN+" (its data "+ev.Other+" is gone)"
	case site.NoCopyTime:
		p.Kind, p.Fix = "no copy time", "set the copy time of "+ev.PFN
	case site.PfnXrefMissing:
		p.Kind, p.Fix = "pfn xref missing", "write the back reference of "+ev.PFN+"'s data file"
	case site.PfnXrefWrong:
		p.Kind, p.Fix = "pfn xref wrong", "rewrite the back reference of "+ev.PFN+"'s data file (now "+ev.Other+")"
	case site.DataNoXref:
		p.Kind, p.Name = "data without xref", ev.Data // not fixable: the owner is unknown
	case site.DataXrefMissing:
		p.Kind, p.Name, p.Fix = "pfn missing", ev.Data, "create symlink "+ev.PFN+" -> "+ev.Data
	case site.DataXrefNotLink:
		p.Kind, p.Name, p.Fix = "pfn not a link", ev.Data, "DELETE data file "+ev.Data+" ("+ev.PFN+" is not a symlink)"
	case site.DataXrefOther:
		p.Name = ev.Data
		if ev.OtherExists {
			p.Kind, p.Fix = "unreferenced data", "DELETE data file "+ev.Data+" ("+ev.PFN+" uses "+ev.Other+")"
		} else {
			p.Kind, p.Fix = "pfn points elsewhere", "repoint symlink "+ev.PFN+" to "+ev.Data+" (now to missing "+ev.Other+")"
		}
	case site.DataXrefStale:
		p.Kind, p.Name, p.Fix = "stale xref", ev.Data, "rewrite the back reference of "+ev.Data+" to "+ev.Other+" (it names "+ev.PFN+")"
	case site.UsageMismatch:
		p.Kind, p.Name, p.Space, p.Claimed, p.Other = "usage mismatch", ev.Space, ev.Space, ev.Claimed,
			fmt.Sprintf("log %s, disk %s", units.Bytes(ev.Claimed), units.Bytes(ev.Size))
		p.Fix = fmt.Sprintf("adjust the usage log of %s to the bytes on disk (%d when audited; it says %d)", ev.Space, ev.Size, ev.Claimed)
		p.Size = 0 // the space's bytes, not a file's size
	default:
		p.Kind = fmt.Sprintf("problem %d", ev.Problem)
	}
	return p
}

// eventOf is the core's record of a problem listed in the Audit view.
func eventOf(p model.AuditProblem) site.AuditEvent {
	ev := site.AuditEvent{Problem: site.Problem(p.Code), PFN: p.PFN, Data: p.Data, Other: p.Other, OtherExists: p.OtherExists, Size: p.Size,
		Space: p.Space, Claimed: p.Claimed}
	if ev.Problem == site.UsageMismatch {
		ev.Other = ""
	}
	return ev
}

// Audit implements Backend: site.AuditNames (recursive), AuditSpace or
// AuditUsage without fixing; problems are emitted as found and scanned
// counts the entries examined.
func (b *SiteBackend) Audit(ctx context.Context, req AuditRequest, emit func(model.AuditProblem), scanned *atomic.Int64) (string, error) {
	var es errs
	o := site.AuditOptions{Prompter: site.Always(site.No), OnError: es.add, Scanned: scanned, Recursive: true,
		OnProblem: func(ev site.AuditEvent) { emit(problemOf(ev)) }}
	switch req.Mode {
	case "names":
		r, err := b.Site.AuditNames(ctx, req.Target, o)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("audit names %s: %d problems, %d errors", req.Target, r.Problems, r.Errors), es.err()
	case "space":
		r, err := b.Site.AuditSpace(ctx, req.Target, o)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("audit space %s: %d problems in %d files (%s), %s unreachable", req.Target, r.Problems, r.Files, units.Bytes(r.Bytes), units.Bytes(r.Unreachable)), es.err()
	case "usage":
		n, spaces := 0, 0
		err := b.Site.AuditUsage(ctx, req.Target, o, func(u site.UsageAudit) {
			spaces++
			scanned.Add(u.Files)
			if ev, ok := u.Event(); ok {
				n++
				emit(problemOf(ev))
			}
		})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("audit usage: %d of %d spaces differ from the usage log", n, spaces), es.err()
	}
	return "", fmt.Errorf("unknown audit %q", req.Mode)
}

// FixProblems implements Backend with site.FixProblem, one problem at
// a time: each is checked to still hold as the audit recorded it, and
// fixed exactly as the audit's own fix would. Problems that changed since
// the audit are left alone and counted (audit again to see them as they
// are); fixed receives the key of each problem fixed.
func (b *SiteBackend) FixProblems(ctx context.Context, ps []model.AuditProblem, fixed func(key string)) (string, error) {
	var es errs
	n, changed := 0, 0
	firstChange := ""
	for _, p := range ps {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		err := b.Site.FixProblem(ctx, eventOf(p))
		switch {
		case err == nil:
			n++
			fixed(p.Key())
		case errors.Is(err, site.ErrProblemChanged):
			changed++
			if firstChange == "" {
				firstChange = err.Error()
			}
		default:
			es.add(err)
		}
	}
	text := fmt.Sprintf("fixed %d of %d %s", n, len(ps), plural(len(ps), "problem", "problems"))
	if changed > 0 {
		text += fmt.Sprintf("; %d changed since the audit, left alone (%s)", changed, firstChange)
	}
	return text, es.err()
}

// Daemons implements Backend: the control socket's status, and the stop
// files of the admin directory (read also when no daemon answers).
func (b *SiteBackend) Daemons(ctx context.Context) (model.DaemonStatus, error) {
	adm := b.Site.Config().AdminDir()
	st := model.DaemonStatus{Stopped: map[string]bool{}, AdminDir: adm, LogPath: b.DaemonLog}
	if b.DaemonLog != "" {
		// Read even when the daemon is down: its last words say why.
		lines, err := tailFile(b.DaemonLog, logTailLines)
		st.LogLines = lines
		if err != nil {
			st.LogErr = err.Error()
		}
	}
	for _, sf := range model.StopFiles {
		if _, err := os.Stat(filepath.Join(adm, sf.File)); err == nil {
			st.Stopped[sf.File] = true
		}
	}
	sctx, cancel := withDaemonTimeout(ctx)
	defer cancel()
	rep, err := b.daemon().Status(sctx)
	if err != nil {
		st.Err = err.Error()
		return st, nil
	}
	st.Up, st.PID, st.Started, st.Components = true, rep.PID, rep.Started, rep.Components
	for _, s := range rep.Stopped {
		st.Stopped[s] = true
	}
	if t := rep.Transfer; t != nil {
		st.SlotsIn, st.SlotsOut, st.InUseIn, st.InUseOut = t.SlotsIn, t.SlotsOut, t.InUse[0], t.InUse[1]
		st.Active, st.Draining = len(t.Active), t.Draining
		for _, c := range t.Classes {
			st.Classes = append(st.Classes, model.ClassSlots{Name: c.Name, Slots: c.Slots, Running: c.Running})
		}
		for _, p := range t.Paused {
			if st.MSSDown == nil {
				st.MSSDown = map[string]model.MSSPause{}
			}
			st.MSSDown[p.Direction] = model.MSSPause{Since: p.Since, Cause: p.Cause}
		}
	}
	if p := rep.Purge; p != nil {
		st.PurgeAt, st.PurgeSkipped, st.PurgeFiles, st.PurgeBytes, st.PurgeErrors = p.At, p.Skipped, p.Files, p.Bytes, p.Errors
	}
	return st, nil
}

// SetStop implements Backend: create or remove a stop file in the admin
// directory; after a removal the daemon is woken (if it runs) so that the
// work resumes at once.
func (b *SiteBackend) SetStop(ctx context.Context, file string, on bool) (string, error) {
	known := false
	for _, sf := range model.StopFiles {
		known = known || sf.File == file
	}
	if !known {
		return "", fmt.Errorf("%s is not a stop file", file)
	}
	p := filepath.Join(b.Site.Config().AdminDir(), file)
	if on {
		if err := b.Site.Config().MkdirAdmin(false); err != nil { // 0700, as the daemon makes it
			return "", err
		}
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return "", err
		}
		f.Close()
		return "created " + p, nil
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	b.wake(ctx) // no daemon: the work resumes when it starts
	return "removed " + p, nil
}

// Complete implements Backend with the shell's completion.
func (b *SiteBackend) Complete(line string) (string, []string) {
	return (&shell.Shell{Site: b.Site}).CompleteLine(line)
}

// Exec implements Backend: one `frm admin` command line through package
// shell, text output, every question answered no.
func (b *SiteBackend) Exec(ctx context.Context, line string) (string, int, error) {
	words, err := shell.Split(line)
	if err != nil {
		return "", shell.ExitUsage, err
	}
	var out, errb bytes.Buffer
	sh := &shell.Shell{Name: "frm admin", Out: &out, Err: &errb, Site: b.Site, Prompter: site.Always(site.No)}
	st := sh.Exec(ctx, words)
	return out.String() + errb.String(), st, nil
}

// logTailLines is how many lines of the daemon's log the Daemons view
// keeps (it shows what fits).
const logTailLines = 100

// tailFile returns the last n lines of the file at path, reading at most
// its last 256 KiB (a log file may be big; a line longer than that is cut).
func tailFile(path string, n int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("daemon log: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("daemon log: %w", err)
	}
	const most = 256 << 10
	off := max(fi.Size()-most, 0)
	buf := make([]byte, fi.Size()-off)
	k, err := f.ReadAt(buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("daemon log %s: %w", path, err)
	}
	buf = bytes.TrimRight(buf[:k], "\n")
	if len(buf) == 0 {
		return nil, nil
	}
	lines := strings.Split(string(buf), "\n")
	if off > 0 && len(lines) > 1 {
		lines = lines[1:] // the first line is cut
	}
	return lines[max(len(lines)-n, 0):], nil
}
