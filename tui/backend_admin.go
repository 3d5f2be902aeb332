package tui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sync/atomic"

	"frm/core/site"
	"frm/daemons"
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
	p := model.AuditProblem{Code: int(ev.Problem), Name: ev.PFN, PFN: ev.PFN, Data: ev.Data, Other: ev.Other, Size: ev.Size}
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
		p.Kind, p.Name, p.Fix, p.Destructive = "pfn not a link", ev.Data, "DELETE data file "+ev.Data+" ("+ev.PFN+" is not a symlink)", true
	case site.DataXrefOther:
		p.Name = ev.Data
		if ev.OtherExists {
			p.Kind, p.Fix, p.Destructive = "unreferenced data", "DELETE data file "+ev.Data+" ("+ev.PFN+" uses "+ev.Other+")", true
		} else {
			p.Kind, p.Fix = "pfn points elsewhere", "repoint symlink "+ev.PFN+" to "+ev.Data+" (now to missing "+ev.Other+")"
		}
	default:
		p.Kind = fmt.Sprintf("problem %d", ev.Problem)
	}
	return p
}

func usageProblem(u site.UsageAudit) (model.AuditProblem, bool) {
	if !u.Tracked || u.Claimed == u.Actual {
		return model.AuditProblem{}, false
	}
	return model.AuditProblem{Kind: "usage mismatch", Name: u.Space,
		Other: fmt.Sprintf("log %s, disk %s (%d files)", model.Bytes(u.Claimed), model.Bytes(u.Actual), u.Files),
		Fix:   fmt.Sprintf("adjust the usage log of %s to %d bytes on disk (it says %d)", u.Space, u.Actual, u.Claimed)}, true
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
		return fmt.Sprintf("audit space %s: %d problems in %d files (%s), %s unreachable", req.Target, r.Problems, r.Files, model.Bytes(r.Bytes), model.Bytes(r.Unreachable)), es.err()
	case "usage":
		n, spaces := 0, 0
		err := b.Site.AuditUsage(ctx, req.Target, o, func(u site.UsageAudit) {
			spaces++
			scanned.Add(u.Files)
			if p, ok := usageProblem(u); ok {
				n++
				emit(p)
			}
		})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("audit usage: %d of %d spaces differ from the usage log", n, spaces), es.err()
	}
	return "", fmt.Errorf("unknown audit %q", req.Mode)
}

// chooser is the Prompter of a fix run: it answers yes only to the
// question about a problem confirmed by the administrator. The core
// reports each problem (OnProblem) just before asking about it.
type chooser struct {
	want map[string]bool
	cur  string
}

func (c *chooser) Ask(string, site.Answer) site.Answer {
	if c.want[c.cur] {
		return site.Yes
	}
	return site.No
}

// AuditFix implements Backend. core/site has no per-problem fix, so the
// audit is run again with Fix on and a Prompter that says yes only to the
// confirmed problems: audit names once per directory of those files (not
// recursive), audit space over the same target, audit usage per space.
// fixed receives the key of each problem fixed.
func (b *SiteBackend) AuditFix(ctx context.Context, req AuditRequest, ps []model.AuditProblem, fixed func(key string)) (string, error) {
	var es errs
	ch := &chooser{want: map[string]bool{}}
	for _, p := range ps {
		ch.want[p.Key()] = true
	}
	n := 0
	o := site.AuditOptions{Fix: true, Prompter: ch, OnError: es.add,
		OnProblem: func(ev site.AuditEvent) { p := problemOf(ev); ch.cur = p.Key() },
		OnFixed: func(ev site.AuditEvent) {
			p := problemOf(ev)
			if ch.want[p.Key()] {
				n++
				fixed(p.Key())
			}
		}}
	switch req.Mode {
	case "names":
		dirs := map[string]bool{}
		var order []string
		for _, p := range ps {
			lfn, ok := b.Site.Names.LFN(p.PFN)
			if !ok {
				es.add(fmt.Errorf("%s is outside the namespace", p.PFN))
				continue
			}
			if d := path.Dir(lfn); !dirs[d] {
				dirs[d] = true
				order = append(order, d)
			}
		}
		for _, d := range order {
			if _, err := b.Site.AuditNames(ctx, d, o); err != nil {
				es.add(err)
			}
		}
	case "space":
		if _, err := b.Site.AuditSpace(ctx, req.Target, o); err != nil {
			return "", err
		}
	case "usage":
		for _, p := range ps {
			uo := o
			uo.Prompter = site.Always(site.Yes) // the run is limited to this space
			err := b.Site.AuditUsage(ctx, p.Name, uo, func(u site.UsageAudit) {
				if u.Fixed {
					n++
					fixed(p.Key())
				}
			})
			if err != nil {
				es.add(err)
			}
		}
	default:
		return "", fmt.Errorf("unknown audit %q", req.Mode)
	}
	return fmt.Sprintf("fixed %d of %d %s", n, len(ps), plural(len(ps), "problem", "problems")), es.err()
}

// Daemons implements Backend: the control socket's status, and the stop
// files of the admin directory (read also when no daemon answers).
func (b *SiteBackend) Daemons(ctx context.Context) (model.DaemonStatus, error) {
	adm := b.Site.Config.AdminDir()
	st := model.DaemonStatus{Stopped: map[string]bool{}, AdminDir: adm}
	for _, sf := range model.StopFiles {
		if _, err := os.Stat(filepath.Join(adm, sf.File)); err == nil {
			st.Stopped[sf.File] = true
		}
	}
	var rep daemons.StatusReply
	if err := b.control(ctx, daemons.ControlRequest{Cmd: "status"}, &rep); err != nil {
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
	p := filepath.Join(b.Site.Config.AdminDir(), file)
	if on {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
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
	b.control(ctx, daemons.ControlRequest{Cmd: "wake"}, nil)
	return "removed " + p, nil
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
