package tui

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sync/atomic"
	"time"

	"frm/core/catalog"
	"frm/core/control"
	"frm/core/purge"
	"frm/core/site"
	"frm/core/space"
	"frm/tui/model"
)

// Backend is everything the console reads and does. SiteBackend is the
// real one, over core/site (the functions `frm admin` uses) and the
// daemon's control socket; tests use fakes. Every method may be slow and is
// only ever called from a tea.Cmd, never from Update or View.
type Backend interface {
	// Name names the site (header line).
	Name() string
	// Spaces returns a row per space followed by rows for its partitions.
	Spaces(ctx context.Context) ([]model.SpaceRow, error)
	// SpaceUse walks the whole namespace once and returns, per space and
	// per partition (keyed as SpaceRow.Key), the bytes needing migration
	// and the bytes pinned.
	SpaceUse(ctx context.Context) (map[string]model.SpaceUse, error)
	// List emits the entries of directory dir in chunks. emit's error
	// stops the listing and is returned.
	List(ctx context.Context, dir string, emit func([]model.FileRow) error) error
	// Queue returns the transfer queues.
	Queue(ctx context.Context) (QueueSnapshot, error)
	// Events streams daemon events until ctx ends or the daemon goes.
	Events(ctx context.Context, emit func(model.QueueEvent)) error
	// Actions; each returns a one-line result for the status line.
	Cancel(ctx context.Context, rid string) (string, error)
	Wake(ctx context.Context) (string, error)
	Pin(ctx context.Context, lfns []string, keep string) (string, error)
	Mark(ctx context.Context, lfns []string, purgeable bool) (string, error)
	Reloc(ctx context.Context, lfn, target string) (string, error)
	Remove(ctx context.Context, lfns []string) (string, error)
	// Stage queues prestage requests for files (as frm_xfragent "+"),
	// MigrateNow migrate requests ("&"); both wake the daemon.
	Stage(ctx context.Context, lfns []string) (string, error)
	MigrateNow(ctx context.Context, lfns []string) (string, error)
	// SetPriority moves the queued records of request rid to priority
	// prty (0..2) and wakes the daemon.
	SetPriority(ctx context.Context, rid string, prty int) (string, error)

	// Audit runs an audit without fixing anything: emit gets each
	// problem as found, scanned counts the entries examined.
	Audit(ctx context.Context, req AuditRequest, emit func(model.AuditProblem), scanned *atomic.Int64) (string, error)
	// FixProblems fixes the given problems (found by an Audit) and
	// nothing else, each only if it still holds as found; fixed gets the
	// key of each problem fixed.
	FixProblems(ctx context.Context, ps []model.AuditProblem, fixed func(key string)) (string, error)
	// Daemons returns the daemon's status and the stop files present.
	Daemons(ctx context.Context) (model.DaemonStatus, error)
	// SetStop creates (on) or removes a stop file of the admin directory.
	SetStop(ctx context.Context, file string, on bool) (string, error)
	// Exec runs one `frm admin` command line and returns its output and
	// exit status.
	Exec(ctx context.Context, line string) (string, int, error)
	// Complete completes the last word of a command line as the shell
	// does: the completed line, and the candidates when several remain.
	Complete(line string) (string, []string)
}

// QueueSnapshot is the content of the Queues view.
type QueueSnapshot struct {
	Rows      []model.QueueRow
	DaemonUp  bool
	DaemonErr string
	// Classes are the daemon's request classes, in its order (nil: none
	// configured, or no daemon here to say).
	Classes []string
}

// SiteBackend is the Backend of a real site.
type SiteBackend struct {
	Site *site.Site
	// ChunkSize is the number of entries of the first chunk of a
	// listing (default 2000); each next chunk is twice as big, up to
	// 256k, so that the first rows show at once and a million entries
	// arrive in a dozen chunks (each chunk costs a merge of every row).
	ChunkSize int
	// DaemonLog is the daemon's log file (frm daemon -l FILE), tailed by
	// the Daemons view; "" for none.
	DaemonLog string
}

// Name implements Backend.
func (b *SiteBackend) Name() string {
	if b.Site.Config().Site != "" {
		return b.Site.Config().Site
	}
	return b.Site.Config().Instance
}

// Spaces implements Backend: site.Df with file counts, and the purge
// policy's watermarks (purge.ParseWatermark, as the purge computes them).
func (b *SiteBackend) Spaces(ctx context.Context) ([]model.SpaceRow, error) {
	us, err := b.Site.Df(ctx, nil, true)
	if err != nil {
		return nil, err
	}
	var out []model.SpaceRow
	for _, su := range us {
		pol := b.Site.Config().PolicyFor(su.Name)
		minW, errMin := purge.ParseWatermark(pol.Min)
		maxW, errMax := purge.ParseWatermark(pol.Max)
		noPurge := pol.NoPurge || errMin != nil || errMax != nil
		wm := func(total int64, pctOnly bool) (int64, int64) {
			if noPurge || pctOnly && (!minW.IsPercent || !maxW.IsPercent) {
				return 0, 0
			}
			return minW.Of(total), maxW.Of(total)
		}
		r := model.SpaceRow{Space: su.Name, Total: su.Total, Free: su.Free, Files: su.Files, Bytes: su.Bytes, NoPurge: noPurge}
		r.MinFree, r.MaxFree = wm(su.Total, false)
		out = append(out, r)
		parts := su.Partitions
		if su.Namespace != nil { // public's plain files: the last row
			parts = append(parts[:len(parts):len(parts)], *su.Namespace)
		}
		for i, p := range parts {
			pr := model.SpaceRow{Space: su.Name, Partition: p.Path, Total: p.Total, Free: p.Free, Files: p.Files, Bytes: p.Bytes, NoPurge: noPurge,
				Namespace: i == len(su.Partitions)}
			if p.Err != nil {
				pr.Err = p.Err.Error()
			}
			pr.MinFree, pr.MaxFree = wm(p.Total, true)
			pr.NoPurge = noPurge || pr.MinFree == 0
			out = append(out, pr)
		}
	}
	return out, nil
}

// SpaceUse implements Backend: one recursive catalog walk from / (stat,
// link, copy time and pin of every file; the same reads as `find -r
// unmigrated` and `find -r pinned`). A file needs migration when it is
// under a mig export and its copy is missing or older than the file
// (site.Find's "unmigrated"); it counts as pinned while its pin keeps it
// from being purged now. Dangling links hold no bytes.
func (b *SiteBackend) SpaceUse(ctx context.Context) (map[string]model.SpaceUse, error) {
	out := map[string]model.SpaceUse{}
	now := b.Site.Now()
	var es errs
	add := func(k string, e *catalog.Entry, mig, pin bool) {
		u := out[k]
		if mig {
			u.MigFiles++
			u.MigBytes += e.Size
		}
		if pin {
			u.PinFiles++
			u.PinBytes += e.Size
		}
		out[k] = u
	}
	want := catalog.WantStat | catalog.WantLink | catalog.WantCopy | catalog.WantPin
	err := b.Site.Catalog.Walk(ctx, "/", catalog.WalkOptions{Want: want, Recursive: true, OnError: func(pfn string, err error) {
		es.add(fmt.Errorf("%s: %w", pfn, err))
	}}, func(e *catalog.Entry) error {
		if e.Type != catalog.File || e.Dangling {
			return nil
		}
		mig := b.Site.Export(e.LFN).Mig && !e.Migrated()
		pin := e.HasPin && e.Pin.Protects(now, time.Unix(e.Atime, 0))
		if !mig && !pin {
			return nil
		}
		add(e.Space, e, mig, pin)
		if e.Link != "" {
			if p, ok := b.Site.Spaces.Contains(e.Link); ok {
				add(p.Space+":"+p.Path, e, mig, pin)
			}
		} else if e.Space == space.Public {
			add(space.Public+":"+b.Site.NamespaceRoot(), e, mig, pin) // a plain file: the namespace row
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("namespace walk: %w", err)
	}
	if err := es.err(); err != nil {
		return out, fmt.Errorf("namespace walk: %w", err)
	}
	return out, nil
}

// FileRowOf compacts a catalog entry into a row; part names the partition
// holding its data.
func FileRowOf(e *catalog.Entry, part string) model.FileRow {
	r := model.FileRow{
		Name: path.Base(e.LFN), Dir: e.Type == catalog.Dir, Size: e.Size, Mtime: e.Mtime, Atime: e.Atime,
		Space: e.Space, Partition: part, CopyTime: e.CopyTime, Pinned: e.HasPin, Pin: e.Pin, Failed: e.Failed,
	}
	switch {
	case r.Dir:
		r.Res, r.Space = model.ResDir, ""
	case e.Dangling:
		r.Res = model.ResDangling
	case e.Migrated():
		r.Res = model.ResMigrated
	case e.NeedsMigration():
		r.Res = model.ResNeedsMig
	default:
		r.Res = model.ResNone
	}
	if len(e.Checksums) > 0 {
		r.Checksum = e.Checksums[0].Alg + ":" + e.Checksums[0].Hex()
	}
	if e.HasOrigin {
		r.Origin, r.OriginAt = e.Origin.Peer, e.Origin.At.Unix()
	}
	return r
}

// List implements Backend with site.Ls (one level, directories included).
func (b *SiteBackend) List(ctx context.Context, dir string, emit func([]model.FileRow) error) error {
	n := b.ChunkSize
	if n <= 0 {
		n = 2000
	}
	chunk := make([]model.FileRow, 0, n)
	var firstErr error
	nErr := 0
	parts := map[string]string{} // partition paths, interned
	_, err := b.Site.Ls(ctx, []string{dir}, false, func(e *catalog.Entry) error {
		if e.LFN == dir && e.Type == catalog.Dir {
			return nil
		}
		part := ""
		if e.Link != "" {
			if p, ok := b.Site.Spaces.Contains(e.Link); ok {
				if s, ok := parts[p.Path]; ok {
					part = s
				} else {
					parts[p.Path], part = p.Path, p.Path
				}
			}
		}
		chunk = append(chunk, FileRowOf(e, part))
		if len(chunk) == n {
			if err := emit(chunk); err != nil {
				return err
			}
			n = min(2*n, 256<<10)
			chunk = make([]model.FileRow, 0, n)
		}
		return nil
	}, func(err error) {
		nErr++
		if firstErr == nil {
			firstErr = err
		}
	})
	if err != nil {
		return err
	}
	if len(chunk) > 0 {
		if err := emit(chunk); err != nil {
			return err
		}
	}
	if firstErr != nil {
		return fmt.Errorf("%d %s: %w", nErr, map[bool]string{true: "error", false: "errors"}[nErr == 1], firstErr)
	}
	return nil
}

// daemon is the client of the site's daemon.
func (b *SiteBackend) daemon() *control.Client { return control.New(b.Site.Config().AdminDir()) }

// daemonTimeout bounds a request to the daemon: the console stays live
// when the daemon hangs.
const daemonTimeout = 5 * time.Second

func withDaemonTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, daemonTimeout)
}

// Queue implements Backend: the site's queue as site.ListQueue finds it
// (shared queue, daemon, queue files), with the daemon's active transfers
// and their progress.
func (b *SiteBackend) Queue(ctx context.Context) (QueueSnapshot, error) {
	ctx, cancel := withDaemonTimeout(ctx)
	defer cancel()
	q, err := b.Site.ListQueue(ctx, b.daemon())
	if q.Source == site.FromQueueFiles {
		snap := QueueSnapshot{DaemonErr: q.Note}
		var none *site.NoQueuesError
		if errors.As(err, &none) {
			return snap, nil
		}
		for _, e := range q.Entries {
			snap.Rows = append(snap.Rows, model.QueueRow{Kind: e.Kind, Priority: e.Priority, LFN: e.LFN, RID: e.RID, TID: e.TID, Added: e.Added, Done: -1, Class: e.Class})
		}
		return snap, err
	}
	if err != nil {
		return QueueSnapshot{DaemonErr: err.Error()}, err
	}
	snap := QueueSnapshot{DaemonUp: true}
	active := map[string]control.Active{}
	if st, err := b.daemon().Status(ctx); err == nil && st.Transfer != nil {
		for _, a := range st.Transfer.Active {
			active[a.RID+"\x00"+a.LFN] = a
		}
		for _, c := range st.Transfer.Classes {
			snap.Classes = append(snap.Classes, c.Name)
		}
	}
	for _, e := range q.Entries {
		r := model.QueueRow{Kind: e.Kind, Priority: e.Priority, LFN: e.LFN, RID: e.RID, TID: e.TID, Added: e.Added, Running: e.Running, Done: -1, Class: e.Class}
		if a, ok := active[e.RID+"\x00"+e.LFN]; ok {
			r.Running, r.Size, r.Done, r.Rate, r.Source = true, a.Size, a.Done, a.Rate, a.Source
			if a.Class != "" {
				r.Class = a.Class
			}
			delete(active, e.RID+"\x00"+e.LFN)
		}
		snap.Rows = append(snap.Rows, r)
	}
	// Transfers found by the migration scan run without a queue record.
	for _, a := range active {
		snap.Rows = append(snap.Rows, model.QueueRow{Kind: a.Kind, Priority: a.Priority, LFN: a.LFN, RID: a.RID, TID: a.TID,
			Added: a.Started.Unix(), Running: true, Size: a.Size, Done: a.Done, Rate: a.Rate, Class: a.Class, Source: a.Source})
	}
	return snap, nil
}

// Events implements Backend: the daemon's event stream. With a PostgreSQL
// catalog the queue's changes on every host come from the database
// (LISTEN/NOTIFY) as "changed" events, which make the Queues view reload;
// this host's daemon, if any, adds its transfer events.
func (b *SiteBackend) Events(ctx context.Context, emit func(model.QueueEvent)) error {
	if sh, ok := b.Site.Shared(); ok {
		go b.daemonEvents(ctx, emit)
		return sh.WatchQueue(ctx, 250*time.Millisecond, func() {
			emit(model.QueueEvent{Time: time.Now(), Type: model.QueueChanged})
		})
	}
	return b.daemonEvents(ctx, emit)
}

func (b *SiteBackend) daemonEvents(ctx context.Context, emit func(model.QueueEvent)) error {
	err := b.daemon().Events(ctx, func(ev control.Event) {
		emit(model.QueueEvent{Time: ev.Time, Type: ev.Type, Kind: ev.Kind, LFN: ev.LFN, RID: ev.RID, Bytes: ev.Bytes, Secs: ev.Secs, Err: ev.Err, Class: ev.Class})
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// Cancel implements Backend: through the daemon, else in the queue files
// (as `frm admin cancel`).
func (b *SiteBackend) Cancel(ctx context.Context, rid string) (string, error) {
	cctx, cancel := withDaemonTimeout(ctx)
	defer cancel()
	n, err := b.Site.CancelRequest(cctx, b.daemon(), rid)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("cancel %s: %d %s removed", rid, n, plural(n, "entry", "entries")), nil
}

// Wake implements Backend.
func (b *SiteBackend) Wake(ctx context.Context) (string, error) {
	if err := b.wake(ctx); err != nil {
		return "", err
	}
	return "daemon woken", nil
}

// wake wakes the daemon, if one runs.
func (b *SiteBackend) wake(ctx context.Context) error {
	ctx, cancel := withDaemonTimeout(ctx)
	defer cancel()
	return b.daemon().Wake(ctx)
}

// errs collects per-file errors of a batch into one.
type errs struct {
	n     int
	first error
}

func (e *errs) add(err error) {
	e.n++
	if e.first == nil {
		e.first = err
	}
}

func (e *errs) err() error {
	switch e.n {
	case 0:
		return nil
	case 1:
		return e.first
	}
	return fmt.Errorf("%s (and %d more errors)", e.first, e.n-1)
}

// Pin implements Backend with site.Pin (keep "0" unpins).
func (b *SiteBackend) Pin(ctx context.Context, lfns []string, keep string) (string, error) {
	var es errs
	r, err := b.Site.Pin(ctx, lfns, keep, site.ApplyOptions{Force: true, Prompter: site.Defaults{}, OnError: es.add})
	if err != nil {
		return "", err
	}
	if r.Err != nil {
		return "", r.Err
	}
	verb := "pinned"
	if r.Unpin {
		verb = "unpinned"
	} else {
		verb += " (" + keep + ")"
	}
	return fmt.Sprintf("%d of %d %s %s", r.Count, len(lfns), plural(len(lfns), "file", "files"), verb), es.err()
}

// Mark implements Backend with site.Mark (-m, or -p when purgeable).
func (b *SiteBackend) Mark(ctx context.Context, lfns []string, purgeable bool) (string, error) {
	var es errs
	mode, what := site.ModeMigratable, "migratable"
	if purgeable {
		mode, what = site.ModePurgeable, "purgeable"
	}
	r := b.Site.Mark(ctx, lfns, mode, site.ApplyOptions{Force: true, Prompter: site.Defaults{}, OnError: es.add})
	if r.Err != nil {
		return "", r.Err
	}
	return fmt.Sprintf("%d of %d %s marked %s", r.Count, len(lfns), plural(len(lfns), "file", "files"), what), es.err()
}

// Reloc implements Backend with site.Reloc.
func (b *SiteBackend) Reloc(ctx context.Context, lfn, target string) (string, error) {
	if err := b.Site.Reloc(ctx, lfn, target); err != nil {
		return "", err
	}
	return lfn + " relocated to " + target, nil
}

// Remove implements Backend with site.Rm (files only: no questions).
func (b *SiteBackend) Remove(ctx context.Context, lfns []string) (string, error) {
	var es errs
	r := b.Site.Rm(ctx, lfns, site.RmOptions{Prompter: site.Defaults{}, OnError: es.add})
	return fmt.Sprintf("%d of %d %s removed", r.Files, len(lfns), plural(len(lfns), "file", "files")), es.err()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Stage implements Backend with site.Stage, then wakes the daemon.
func (b *SiteBackend) Stage(ctx context.Context, lfns []string) (string, error) {
	var es errs
	r, err := b.Site.Stage(ctx, lfns, site.RequestOptions{OnError: es.add})
	return b.requested(ctx, "stage", lfns, r, err, &es)
}

// MigrateNow implements Backend with site.MigrateNow, then wakes the
// daemon.
func (b *SiteBackend) MigrateNow(ctx context.Context, lfns []string) (string, error) {
	var es errs
	r, err := b.Site.MigrateNow(ctx, lfns, site.RequestOptions{OnError: es.add})
	return b.requested(ctx, "migrate", lfns, r, err, &es)
}

// requested words the result of a Stage or MigrateNow and wakes the
// daemon when something was queued (without a daemon the request waits
// in the queue for the next start, as with frm_xfragent).
func (b *SiteBackend) requested(ctx context.Context, what string, lfns []string, r site.RequestResult, err error, es *errs) (string, error) {
	if err != nil {
		return "", err
	}
	text := fmt.Sprintf("%s: %d of %d %s queued as %s", what, r.Queued, len(lfns), plural(len(lfns), "file", "files"), r.RID)
	for _, sk := range r.Skipped {
		text += "; " + path.Base(sk.LFN) + " " + sk.Why
	}
	if r.Queued > 0 {
		if b.wake(ctx) != nil {
			text += " (no daemon: queued for its next start)"
		}
	}
	return text, es.err()
}

// SetPriority implements Backend: the control socket has no priority
// operation, so the records are moved in the queue files (xrdq.SetPriority,
// with the daemon's locking) and the daemon is woken.
func (b *SiteBackend) SetPriority(ctx context.Context, rid string, prty int) (string, error) {
	n, err := b.Site.SetPriority(ctx, rid, prty)
	if err != nil {
		return "", err
	}
	if n > 0 {
		b.wake(ctx) // no daemon: nothing to wake
	}
	return fmt.Sprintf("%s: %d %s moved to priority %d", rid, n, plural(n, "entry", "entries"), prty), nil
}
