// Package xfer is frm's transfer engine. It brings files back from the
// MSS (stage, copy-in), sends them out (migrate, copy-out) and keeps the
// on-disk residency state right while doing so:
//
//   - data lands under a temporary name (xrootd's <pfn>.anew placeholder,
//     pointing at a fresh XA data file) and becomes visible under its real
//     name only after it is complete, fsync'd and checksummed; a crash or
//     kill at any moment leaves no half-written file under a real name and
//     a failed stage never leaves a file marked good;
//   - a checksum (adler32 by default, as xrootd and dCache) is computed on
//     the way, compared with the one the MSS recorded, and stored in
//     user.XrdCks.<alg>;
//   - transient errors are retried with backoff; permanent ones create the
//     <pfn>.fail file whose age decides when the file may be tried again
//     (oss.xfr deny);
//   - a migration takes the file's lock, checks it did not change during
//     the copy, and only then sets the copy time.
package xfer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"frm/core/catalog"
	"frm/core/meta"
	"frm/core/mss"
	"frm/core/purge"
	"frm/core/retry"
	"frm/core/site"
	"frm/core/space"
)

// Kind is the direction and flavour of a transfer.
type Kind int

const (
	Stage   Kind = iota + 1 // '+': bring back from the MSS (pstg queue)
	Get                     // '<': copy in (getf queue)
	Migrate                 // '&' or a migration scan: copy out, set the copy time
	Put                     // '>': copy out (putf queue)
)

func (k Kind) String() string {
	switch k {
	case Stage:
		return "stage"
	case Get:
		return "get"
	case Migrate:
		return "migrate"
	case Put:
		return "put"
	}
	return "unknown"
}

// Inbound reports whether k copies from the MSS to disk.
func (k Kind) Inbound() bool { return k == Stage || k == Get }

// Job is one transfer to do.
type Job struct {
	Kind     Kind
	LFN      string
	CGI      string // without '?'
	RID, TID string
	Priority int
	Mode     byte // 'r' or 'w'
	// Purge removes the disk copy after a good copy out ('^', '=').
	Purge bool
	// Lock takes the file's lock and re-checks and sets the copy time, as
	// for migrations found by the scan (xrootd's internal migrate flag).
	Lock bool
	// OnCopy, when set, is called as the copy starts with the local file
	// being written (inbound) or read (outbound) and the expected size,
	// so a caller can report progress.
	OnCopy func(local string, size int64)
	// OnCopied, when set, is called when a stage's data is fetched and
	// verified, before it is made durable and given its name: the MSS is
	// no longer needed, so the daemon lets another transfer start while
	// this one waits for the group flush (see groupSync).
	OnCopied func()
	// OnSource, when set, is told where an inbound copy's data comes
	// from when that is not this site's MSS ("peer b").
	OnSource func(source string)
	// Timeout, when set, ends an attempt that runs longer (its copy
	// command's process group is killed): a passing fault, retried as
	// transfer.retries says. Class names the request class whose timeout
	// it is, for the message.
	Timeout time.Duration
	Class   string
	// Replace stages the file even when a copy is resident, and puts
	// the new one in place of the old in one rename (the old data file
	// goes after): frm mirror updating a file that changed at its source.
	Replace bool
	// Resume keeps the placeholder (<pfn>.anew) and the data file a
	// killed stage of the same file left, so that the backend can resume
	// writing it (frm mirror's backend checks the partial file is of the
	// same version, and starts again when it is not).
	Resume bool
	// Retry: a .fail file an earlier failure left does not hold the
	// file back (frm mirror tries each file on every run); a success
	// removes it, a failure renews it.
	Retry bool
	// Fresh: the data is new to this site, not a copy of what its MSS
	// holds (frm mirror): no copy time is set, so that in a mig export
	// the migrator copies the file out, and the purger never takes it
	// for migrated.
	Fresh bool
}

// Outcome is the result of a job.
type Outcome struct {
	Bytes    int64
	Checksum *mss.Checksum
	// Skipped says why nothing needed doing ("file already resident",
	// "already migrated"); the job counts as a success.
	Skipped string
	Err     error
	// NotFound: the MSS has no such file (notification ENOENT).
	NotFound bool
	// Outage: the MSS as a whole failed (see mss.Outage); nothing is
	// wrong with the file, the request should wait.
	Outage bool
	// NoRoom: no partition had room for the file (or the disk filled up
	// during the copy); the request should wait until a purge frees
	// space.
	NoRoom bool
	Tries  int
	// failTouched: a .fail file was made or removed (the catalog is told).
	failTouched bool
}

// OK reports success.
func (o Outcome) OK() bool { return o.Err == nil }

// Errors a job may end with, wrapped with the file's name.
var (
	ErrPreviouslyFailed = errors.New("request previously failed")
	ErrNotResident      = errors.New("file not resident")
	ErrInUse            = errors.New("file in use")
	ErrModified         = errors.New("file modified during copy")
	ErrChecksum         = errors.New("checksum mismatch")
	// ErrBadRequest: the request's own parameters are wrong (a cgi
	// naming a space that does not exist): that request fails, with a
	// message to its requester; the file is not marked failed.
	ErrBadRequest = errors.New("bad request")
	// ErrRemoved: the file's directory went away during a stage (an
	// administrator's rm -r): not a failed transfer.
	ErrRemoved = errors.New("removed during the transfer")
	// ErrNoRoom: no room on disk for the file; a condition to wait out
	// (the purger frees space), not a failure of the file.
	ErrNoRoom = errors.New("no room on disk")
)

// Engine runs transfers for one site.
type Engine struct {
	Site *site.Site
	MSS  mss.Backend
	// The checksum algorithm (checksum.default), the fail-file hold
	// (transfer.deny) and the retries (transfer.retries) are read from
	// the site's configuration in force at each transfer. Backoff is the
	// first wait between retries (2 s), doubling to a minute.
	Backoff time.Duration
	Log     *slog.Logger
	Now     func() time.Time
	// Inflight, when set, records the stages in progress so that a crash
	// leaves nothing behind (see Inflight); the daemon sets it.
	Inflight *Inflight
}

// New returns an engine with the site's settings.
func New(s *site.Site, b mss.Backend, log *slog.Logger) *Engine {
	e := &Engine{Site: s, MSS: b, Backoff: 2 * time.Second, Log: log, Now: time.Now}
	if e.Log == nil {
		e.Log = slog.New(slog.DiscardHandler)
	}
	return e
}

// alg is the checksum algorithm computed and verified (checksum.default,
// adler32 when unset; "none" disables), read from the configuration in
// force (a reload changes it for the next transfers).
func (e *Engine) alg() string {
	switch a := e.Site.Config().Checksum.Default; a {
	case "none":
		return ""
	case "":
		return "adler32"
	default:
		return a
	}
}

// Run performs the job, retrying passing faults as transfer.retries says
// (frm's one retry policy, package retry), and records a permanent
// failure of the file in its .fail file. An outage of the MSS (confirmed
// by a probe where the backend can probe) ends the job at once with
// Outcome.Outage and no .fail: the daemon pauses and the request stays
// queued.
func (e *Engine) Run(ctx context.Context, j Job) Outcome {
	lfn, err := e.Site.Clean(j.LFN)
	if err != nil {
		return Outcome{Err: err}
	}
	j.LFN = lfn
	// What the transfer changes on disk (a staged file, a fail file made
	// or removed) reaches the site's catalog at the end, or at the next
	// start after a crash.
	ch := e.Site.BeginChange(false, lfn, lfn+meta.SuffixFail)
	var out Outcome
	defer func() {
		if !j.Kind.Inbound() {
			ch.Drop(lfn) // a copy out changes the file's row through Apply only
		}
		if !out.failTouched {
			ch.Drop(lfn + meta.SuffixFail)
		}
		if err := ch.Done(ctx); err != nil {
			e.Log.Warn("catalog not updated", "lfn", lfn, "err", err)
		}
	}()
	policy := retry.Policy{Retries: e.Site.Config().Transfer.Retries, Base: e.Backoff, Max: maxBackoff}
	tries, _ := policy.Do(ctx, func(ctx context.Context) error {
		out = e.attempt(ctx, j)
		return out.Err
	}, retriable, func(try int, wait time.Duration, err error) {
		e.Log.Info("transfer retry", "kind", j.Kind, "lfn", j.LFN, "try", try, "in", wait, "err", err)
	})
	out.Tries = tries
	if out.Err != nil && ctx.Err() != nil && !errors.Is(out.Err, ctx.Err()) {
		out.Err = fmt.Errorf("%w (interrupted: %w)", out.Err, ctx.Err())
	}
	if out.Err != nil && mss.IsOutage(out.Err) {
		// Is it the MSS, or this file? A probe that succeeds makes the
		// error the file's own (an object whose access is denied).
		if probed, perr := mss.ProbeOf(ctx, e.MSS); probed && perr == nil {
			out.Err = fmt.Errorf("%w (the MSS itself answers: this file's own failure)", out.Err)
			out.Err = mss.Permanent(out.Err)
		} else {
			out.Outage = true
		}
	}
	touched := out.failTouched
	if out.Err != nil && ctx.Err() == nil && marksFailure(out) {
		e.markFailed(j, out.NotFound)
		touched = true
	}
	if out.Err == nil && e.clearFailed(e.Site.PFN(j.LFN)) {
		touched = true
	}
	out.failTouched = touched
	return out
}

// attempt runs one try of the job, ended by the job's timeout.
func (e *Engine) attempt(ctx context.Context, j Job) Outcome {
	actx, cancel := ctx, context.CancelFunc(func() {})
	if j.Timeout > 0 {
		actx, cancel = context.WithTimeout(ctx, j.Timeout)
	}
	defer cancel()
	var out Outcome
	if j.Kind.Inbound() {
		out = e.stage(actx, j)
	} else {
		out = e.copyOut(actx, j)
	}
	if out.Err != nil && ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		// The class timeout, not a shutdown: a passing fault of this
		// attempt (the copy was killed and left nothing behind).
		out = Outcome{Bytes: out.Bytes, Err: mss.Transient(fmt.Errorf("%s %s: attempt timed out after %v (class %s; its copy was killed): %w",
			j.Kind, j.LFN, j.Timeout, j.Class, out.Err))}
	}
	return out
}

// maxBackoff caps one wait between retries.
const maxBackoff = time.Minute

// retriable: a passing fault — transient or unclassified errors — but
// never a missing file, a permanent failure, an outage of the MSS (the
// daemon pauses rather than spend the retries), a fail-file refusal or a
// checksum mismatch.
func retriable(err error) bool {
	switch {
	case !mss.Retriable(err),
		errors.Is(err, ErrPreviouslyFailed), errors.Is(err, ErrNotResident), errors.Is(err, ErrChecksum),
		errors.Is(err, ErrBadRequest), errors.Is(err, ErrRemoved), errors.Is(err, ErrNoRoom):
		return false
	case errors.Is(err, ErrInUse), errors.Is(err, ErrModified):
		return false // the next scan picks the file up again
	}
	return true
}

// marksFailure says whether a failed outcome is a failure of the file
// that refuses it for transfer.deny: not an outage, not a condition of
// the moment (in use, modified, removed by an administrator), not one
// request's bad parameters, not the refusal itself.
func marksFailure(out Outcome) bool {
	err := out.Err
	return !out.Outage && !out.NoRoom && !errors.Is(err, ErrPreviouslyFailed) && !errors.Is(err, ErrInUse) &&
		!errors.Is(err, ErrModified) && !errors.Is(err, ErrBadRequest) && !errors.Is(err, ErrRemoved)
}

// markFailed creates the .fail file; its mtime is 2 (1970) when the MSS
// has no such file, as xrootd marks "not found".
func (e *Engine) markFailed(j Job, notFound bool) {
	fail := e.Site.FailPath(e.Site.PFN(j.LFN))
	if err := os.MkdirAll(filepath.Dir(fail), 0o755); err != nil {
		e.Log.Warn("cannot create fail file", "file", fail, "err", err)
		return
	}
	f, err := os.OpenFile(fail, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		e.Log.Warn("cannot create fail file", "file", fail, "err", err)
		return
	}
	f.Close()
	if notFound {
		t := time.Unix(2, 0)
		os.Chtimes(fail, t, t)
	}
}

// clearFailed removes the .fail file of pfn after a success: the file no
// longer has a failed transfer to report.
func (e *Engine) clearFailed(pfn string) bool {
	err := unix.Unlink(e.Site.FailPath(pfn)) // not os.Remove: one system call, as there is seldom one
	if err != nil && !errors.Is(err, unix.ENOENT) {
		e.Log.Warn("cannot remove fail file", "file", e.Site.FailPath(pfn), "err", err)
	}
	return err == nil
}

// checkFailed refuses a file whose .fail file is younger than
// transfer.deny and
// removes an older one.
func (e *Engine) checkFailed(pfn string) (removed bool, err error) {
	fail := e.Site.FailPath(pfn)
	var st unix.Stat_t
	if err := unix.Stat(fail, &st); err != nil {
		return false, nil
	}
	if e.Now().Sub(time.Unix(st.Ctim.Sec, st.Ctim.Nsec)) < time.Duration(e.Site.Config().Transfer.Deny) {
		return false, ErrPreviouslyFailed
	}
	return unix.Unlink(fail) == nil, nil
}

func (e *Engine) request(j Job, pfn, rfn string) mss.Request {
	mode := j.Mode
	if mode == 0 {
		mode = 'r'
	}
	return mss.Request{LFN: j.LFN, PFN: pfn, RFN: rfn, RID: j.RID, TID: j.TID, Priority: j.Priority, Mode: mode, CGI: j.CGI}
}

// stageSpace picks where a staged file goes: the space named by the CGI
// oss.cgroup=name[:path], else "public" when spaces are configured, else
// a plain file in the namespace ("").
func (e *Engine) stageSpace(cgi string) (string, string, error) {
	if v, err := url.ParseQuery(cgi); err == nil && v.Get("oss.cgroup") != "" {
		name, dir, _ := strings.Cut(v.Get("oss.cgroup"), ":")
		if _, ok := e.Site.Spaces.Get(name); !ok {
			return "", "", fmt.Errorf("%w: oss.cgroup names space %q, which is not configured", ErrBadRequest, name)
		}
		return name, dir, nil
	}
	if _, ok := e.Site.Spaces.Get(space.Public); ok {
		return space.Public, "", nil
	}
	return "", "", nil
}

func (e *Engine) stage(ctx context.Context, j Job) (out Outcome) {
	s := e.Site
	pfn := s.PFN(j.LFN)
	rfn, err := s.Names.RFN(j.LFN)
	if err != nil {
		return Outcome{Err: err}
	}
	if !j.Retry {
		expired, err := e.checkFailed(pfn)
		if err != nil {
			return Outcome{Err: fmt.Errorf("stage %s: %w", j.LFN, err)}
		}
		if expired {
			defer func() { out.failTouched = true }()
		}
	}
	// "Already resident" is a claim about the file: the files say, not a
	// shared catalog that may lag.
	if ent, err := s.Files().Lookup(ctx, j.LFN, catalog.WantLink); err == nil && !ent.Dangling && ent.Type == catalog.File && !j.Replace {
		return Outcome{Skipped: "file already resident"}
	}
	var info mss.Info
	if i, err := e.MSS.Stat(ctx, rfn); err == nil {
		info = i
	} else if mss.IsNotExist(err) {
		return Outcome{Err: fmt.Errorf("stage %s: %w", j.LFN, err), NotFound: true}
	}
	spaceName, partDir, err := e.stageSpace(j.CGI)
	if err != nil {
		return Outcome{Err: fmt.Errorf("stage %s: %w", j.LFN, err)}
	}
	if err := os.MkdirAll(filepath.Dir(pfn), 0o755); err != nil {
		return Outcome{Err: fmt.Errorf("stage %s: %w", j.LFN, err)}
	}
	anew := pfn + ".anew"
	dst := anew
	var data string
	resumed := false
	var ast unix.Stat_t
	leftover := unix.Lstat(anew, &ast) == nil // seldom: a stage that died
	if leftover && j.Resume {
		data, resumed = e.resumable(anew, &ast, spaceName)
		if data != "" {
			dst = data
		}
	}
	// A placeholder left by a stage that died goes with the data file it
	// was filling.
	if leftover && !resumed {
		if err := removePlaceholder(s, pfn, anew, ""); err != nil {
			return Outcome{Err: fmt.Errorf("stage %s: %w", j.LFN, err)}
		}
	}
	if spaceName != "" && !resumed {
		data, err = e.allocate(spaceName, partDir, info.Size)
		if err != nil {
			return Outcome{Err: fmt.Errorf("stage %s: %w", j.LFN, err), NoRoom: errors.Is(err, ErrNoRoom)}
		}
		// The placeholder link shows xrootd and frm that a stage is in
		// progress and which data file it fills.
		if err := os.Symlink(data, anew); err != nil {
			return Outcome{Err: fmt.Errorf("stage %s: %w", j.LFN, err)}
		}
		dst = data
	}
	recorded, err := e.Inflight.add(pfn, anew, data)
	if err != nil {
		os.Remove(anew)
		if data != "" {
			os.Remove(data)
		}
		return Outcome{Err: fmt.Errorf("stage %s: %w", j.LFN, err)}
	}
	defer recorded()
	cleanup := func() {
		os.Remove(anew)
		if data != "" {
			os.Remove(data)
		}
	}
	if j.OnCopy != nil {
		j.OnCopy(dst, info.Size)
	}
	fctx := ctx
	if j.OnSource != nil {
		fctx = mss.WithSource(ctx, j.OnSource)
	}
	res, err := e.MSS.Fetch(fctx, e.request(j, pfn, rfn), dst, e.alg())
	if err != nil {
		cleanup()
		if errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) {
			// The disk filled up under us: wait for room, fail nothing.
			err = fmt.Errorf("%w: %w", ErrNoRoom, err)
			return Outcome{Err: fmt.Errorf("stage %s: %w", j.LFN, err), NoRoom: true}
		}
		return Outcome{Err: fmt.Errorf("stage %s: %w", j.LFN, err), NotFound: mss.IsNotExist(err)}
	}
	if info.Checksum != nil && res.Checksum != nil && info.Checksum.Alg == res.Checksum.Alg && !strings.EqualFold(info.Checksum.Hex, res.Checksum.Hex) {
		cleanup()
		return Outcome{Err: fmt.Errorf("stage %s: %w: MSS recorded %s, fetched data has %s", j.LFN, ErrChecksum, info.Checksum, res.Checksum)}
	}
	if info.Size > 0 && res.Bytes != info.Size {
		cleanup()
		return Outcome{Err: fmt.Errorf("stage %s: fetched %d bytes, the MSS copy has %d", j.LFN, res.Bytes, info.Size)}
	}
	if j.OnCopied != nil {
		j.OnCopied()
	}
	if err := e.finishStage(ctx, j, pfn, anew, dst, data, res); err != nil {
		cleanup()
		return Outcome{Err: fmt.Errorf("stage %s: %w", j.LFN, err)}
	}
	if data != "" {
		// An XA data file: its space's account grows (a plain file in
		// the namespace is in none, as in xrootd).
		e.Site.AccountUsage(spaceName, res.Bytes, 0)
	}
	return Outcome{Bytes: res.Bytes, Checksum: res.Checksum}
}

// allocate chooses a partition and returns a fresh data file name there.
func (e *Engine) allocate(spaceName, partDir string, size int64) (string, error) {
	sp, _ := e.Site.Spaces.Get(spaceName)
	var part space.Partition
	if partDir != "" {
		p, ok := e.Site.Spaces.Partition(spaceName, partDir)
		if !ok {
			return "", fmt.Errorf("%w: oss.cgroup names partition %s, which space %s does not have", ErrBadRequest, partDir, spaceName)
		}
		part = p
	} else {
		p, err := space.Choose(sp, size)
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrNoRoom, err)
		}
		part = p
	}
	data := space.NewDataPath(part, e.Now())
	if err := os.MkdirAll(filepath.Dir(data), 0o755); err != nil {
		return "", err
	}
	return data, nil
}

// finishStage makes the fetched file durable and visible: its data made
// durable (with the other stages finishing at the same time: one syncfs
// for them all), copy time (in mig/purge exports) and checksum
// attributes, back reference, the atomic rename of the placeholder to the
// real name, and that name made durable (again in a group) before the
// stage is reported done.
func (e *Engine) finishStage(ctx context.Context, j Job, pfn, anew, dst, data string, res mss.Result) error {
	var st unix.Stat_t
	if err := unix.Stat(dst, &st); err != nil {
		return err
	}
	if err := durability.SyncDev(st.Dev, dst); err != nil {
		return fmt.Errorf("flushing %s: %w", dst, err)
	}
	if exp := e.Site.Export(j.LFN); (exp.Mig || exp.Purge) && !j.Fresh {
		if err := meta.SetCopyTime(dst, st.Mtim.Sec); err != nil {
			return err
		}
	}
	if res.Checksum != nil {
		if err := setChecksum(dst, *res.Checksum, st.Mtim.Sec, e.Now()); err != nil {
			return err
		}
	}
	if data != "" {
		if err := meta.SetPfn(data, pfn); err != nil {
			return err
		}
	}
	if res.Origin != "" {
		// Fetched from a peer site: where from, and when.
		if err := meta.SetOrigin(dst, meta.Origin{Peer: res.Origin, At: e.Now()}); err != nil {
			return err
		}
	}
	if j.Replace {
		return e.replace(pfn, anew)
	}
	err := unix.Renameat2(unix.AT_FDCWD, anew, unix.AT_FDCWD, pfn, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EEXIST) && danglingLink(pfn) {
		// A link to a data file that is gone (what the stage restores):
		// it goes, and the rename is tried once more, so that a file
		// someone else creates meanwhile still wins.
		if rerr := os.Remove(pfn); rerr == nil || errors.Is(rerr, os.ErrNotExist) {
			err = unix.Renameat2(unix.AT_FDCWD, anew, unix.AT_FDCWD, pfn, unix.RENAME_NOREPLACE)
		}
	}
	if err != nil {
		if errors.Is(err, unix.EEXIST) {
			// Someone created the file meanwhile: theirs wins, ours goes.
			return fmt.Errorf("%s appeared during the stage: %w", pfn, os.ErrExist)
		}
		if errors.Is(err, unix.ENOENT) {
			var st unix.Stat_t
			if unix.Lstat(anew, &st) != nil {
				// The placeholder went with its directory: rm -r by an
				// administrator while the data came in.
				return fmt.Errorf("%w: %s (its directory was removed during the stage)", ErrRemoved, pfn)
			}
		}
		if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS) {
			return err
		}
		if err := os.Rename(anew, pfn); err != nil {
			return err
		}
	}
	if err := durability.Sync(filepath.Dir(pfn)); err != nil {
		return fmt.Errorf("flushing %s: %w", filepath.Dir(pfn), err)
	}
	return nil
}

// replace renames anew over pfn in one step (a reader sees the old file
// or the new, never neither), then removes the old copy's data file when
// it was an XA link into a partition with no other name, and makes the
// name durable.
func (e *Engine) replace(pfn, anew string) error {
	s := e.Site
	var oldData string
	if t, err := os.Readlink(pfn); err == nil {
		if !filepath.IsAbs(t) {
			t = filepath.Join(filepath.Dir(pfn), t)
		}
		oldData = filepath.Clean(t)
	}
	if err := os.Rename(anew, pfn); err != nil {
		return err
	}
	if err := durability.Sync(filepath.Dir(pfn)); err != nil {
		return fmt.Errorf("flushing %s: %w", filepath.Dir(pfn), err)
	}
	if oldData == "" {
		return nil
	}
	p, ok := s.Spaces.Contains(oldData)
	if !ok {
		return nil // frm never removes what is not in its partitions
	}
	if ref, ok, _ := meta.GetPfn(oldData); ok && ref != pfn {
		return nil // another name's data
	}
	fi, err := os.Stat(oldData)
	if err != nil {
		return nil
	}
	if err := os.Remove(oldData); err != nil && !errors.Is(err, os.ErrNotExist) {
		e.Log.Warn("replaced file's old data file not removed", "data", oldData, "err", err)
		return nil
	}
	s.AccountUsage(p.Space, 0, fi.Size())
	return nil
}

// resumable returns the data file a killed stage left behind its
// placeholder anew, when it can be written on: a link into a partition of
// the space the stage goes to (data is then that file), or, for a stage
// into the namespace itself (no space), the placeholder itself, a plain
// file (data is "").
func (e *Engine) resumable(anew string, ast *unix.Stat_t, spaceName string) (data string, ok bool) {
	if ast.Mode&unix.S_IFMT == unix.S_IFREG {
		return "", spaceName == ""
	}
	t, err := os.Readlink(anew)
	if err != nil || spaceName == "" {
		return "", false
	}
	var st unix.Stat_t
	p, in := e.Site.Spaces.Contains(filepath.Clean(t))
	if !in || p.Space != spaceName || unix.Stat(t, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return "", false
	}
	return t, true
}

// danglingLink reports whether p is a symlink whose target does not exist.
func danglingLink(p string) bool {
	var st unix.Stat_t
	if unix.Lstat(p, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFLNK {
		return false
	}
	return errors.Is(unix.Stat(p, &st), unix.ENOENT)
}

func setChecksum(path string, c mss.Checksum, mtime int64, now time.Time) error {
	rec, err := checksumRecord(c, mtime, now)
	if err != nil {
		return err
	}
	return meta.SetChecksum(path, rec)
}

// checksumRecord is the user.XrdCks record of c for a file of mtime.
func checksumRecord(c mss.Checksum, mtime int64, now time.Time) (meta.Checksum, error) {
	v, err := meta.ParseChecksumValue(c.Alg, c.Hex)
	if err != nil {
		return meta.Checksum{}, err
	}
	return meta.Checksum{Alg: c.Alg, Value: v, MTime: mtime, Delta: int32(now.Unix() - mtime)}, nil
}

func (e *Engine) copyOut(ctx context.Context, j Job) Outcome {
	s := e.Site
	pfn := s.PFN(j.LFN)
	rfn, err := s.Names.RFN(j.LFN)
	if err != nil {
		return Outcome{Err: err}
	}
	ent, err := s.Catalog.Lookup(ctx, j.LFN, catalog.WantStat|catalog.WantLink|catalog.WantCopy)
	if err != nil || ent.Dangling || ent.Type != catalog.File {
		return Outcome{Err: fmt.Errorf("%s %s: %w", j.Kind, j.LFN, ErrNotResident)}
	}
	unlock := func() {}
	if j.Lock {
		release, err := lockFile(pfn)
		if err != nil {
			return Outcome{Err: fmt.Errorf("%s %s: %w", j.Kind, j.LFN, err)}
		}
		var once sync.Once
		unlock = func() { once.Do(release) }
		defer unlock()
		// Re-read the copy time under the lock: another migrator may have
		// done the work.
		ent, err = s.Catalog.Lookup(ctx, j.LFN, catalog.WantStat|catalog.WantLink|catalog.WantCopy)
		if err != nil {
			return Outcome{Err: fmt.Errorf("%s %s: %w", j.Kind, j.LFN, err)}
		}
		if ent.HasCopy && ent.CopyTime >= ent.Mtime && ent.CopyTime != 0 {
			return Outcome{Skipped: "already migrated"}
		}
	}
	// The file as the copy starts, to the nanosecond, from the file
	// itself (a shared catalog may lag).
	var before unix.Stat_t
	if err := unix.Stat(pfn, &before); err != nil {
		return Outcome{Err: fmt.Errorf("%s %s: %w", j.Kind, j.LFN, ErrNotResident)}
	}
	if j.OnCopy != nil {
		j.OnCopy("", before.Size)
	}
	res, err := e.MSS.Store(ctx, e.request(j, pfn, rfn), pfn, e.alg())
	if err != nil {
		return Outcome{Err: fmt.Errorf("%s %s: %w", j.Kind, j.LFN, err), NotFound: mss.IsNotExist(err)}
	}
	setCopy := j.Lock || j.Kind == Migrate || j.Purge
	if setCopy {
		// The copy time (whole seconds) will say "the MSS has the file
		// as of this mtime". A write later in the same second as the
		// mtime would leave the mtime's second unchanged and the claim
		// wrong, so the claim is checked only once that second is over:
		// every write after the check has a later mtime.
		if err := waitPastSecond(ctx, before.Mtim.Sec); err != nil {
			return Outcome{Err: fmt.Errorf("%s %s: %w", j.Kind, j.LFN, err)}
		}
	}
	var after unix.Stat_t
	if err := unix.Stat(pfn, &after); err != nil {
		return Outcome{Err: fmt.Errorf("%s %s: %w", j.Kind, j.LFN, err)}
	}
	if after.Size != before.Size || after.Mtim != before.Mtim || res.Bytes != before.Size {
		return Outcome{Err: fmt.Errorf("%s %s: %w", j.Kind, j.LFN, ErrModified)}
	}
	if res.Checksum != nil {
		if c, err := checksumRecord(*res.Checksum, before.Mtim.Sec, e.Now()); err != nil {
			e.Log.Warn("cannot record checksum", "lfn", j.LFN, "err", err)
		} else if _, err := s.Catalog.Apply(ctx, j.LFN, catalog.Change{Kind: catalog.SetChecksum, Checksum: c}); err != nil {
			e.Log.Warn("cannot record checksum", "lfn", j.LFN, "err", err)
		}
	}
	if setCopy {
		if _, err := s.Catalog.Apply(ctx, j.LFN, catalog.Change{Kind: catalog.SetCopyTime, Time: before.Mtim.Sec}); err != nil {
			return Outcome{Err: fmt.Errorf("%s %s: set copy time: %w", j.Kind, j.LFN, err)}
		}
	}
	if j.Purge {
		// The disk copy goes with the last check of a purge: never a
		// file pinned, written to or read (locked) since the copy. Our
		// own migration lock (a writable descriptor) goes first.
		unlock()
		r, err := purge.RemoveOne(ctx, s, j.LFN, before.Size, before.Mtim.Sec)
		if err != nil {
			return Outcome{Bytes: res.Bytes, Checksum: res.Checksum, Err: fmt.Errorf("%s %s: copied, but purge failed: %w", j.Kind, j.LFN, err)}
		}
		if r != 0 {
			e.Log.Info("copied; disk copy kept", "kind", j.Kind, "lfn", j.LFN, "reason", r.String())
		}
	}
	return Outcome{Bytes: res.Bytes, Checksum: res.Checksum}
}

// waitPastSecond returns once the wall clock is past the second sec (at
// most a second from now for a file written just now; at once for the
// usual file, idle for the migration wait time).
func waitPastSecond(ctx context.Context, sec int64) error {
	for {
		now := time.Now()
		if now.Unix() > sec {
			return nil
		}
		t := time.NewTimer(time.Unix(sec+1, 0).Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// lockFile takes xrootd's migration lock: a non-blocking fcntl write lock
// on the file opened read/write (so a writer holding it blocks the copy).
func lockFile(pfn string) (func(), error) {
	f, err := os.OpenFile(pfn, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0}
	if err := unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk); err != nil {
		f.Close()
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
			return nil, ErrInUse
		}
		return nil, err
	}
	return func() { f.Close() }, nil
}
