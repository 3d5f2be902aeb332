package mss

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"frm/core/fedapi"
	"frm/core/retry"
)

// MirrorOpener opens a file of a distribution at offset, refusing another
// version than ifMatch (an ETag) when set: an frm site (fedapi.Client,
// through MirrorPeer) or a static distribution (fedapi.Static).
type MirrorOpener interface {
	Open(ctx context.Context, lfn string, offset int64, ifMatch string) (*fedapi.File, error)
}

// MirrorPeer adapts a peer's client to MirrorOpener (files resident
// there only: a mirror never asks its source to stage).
type MirrorPeer struct{ C *fedapi.Client }

// Open implements MirrorOpener.
func (p MirrorPeer) Open(ctx context.Context, lfn string, offset int64, ifMatch string) (*fedapi.File, error) {
	return p.C.Open(ctx, lfn, offset, ifMatch, false)
}

// MirrorFile is one file to bring from a distribution: its name there and
// what the distribution's manifest says of it.
type MirrorFile struct {
	Src      string
	Size     int64
	MTime    int64
	Checksum fedapi.Checksum
}

// version identifies the file's content as the manifest describes it.
func (f MirrorFile) version() string {
	return strconv.FormatInt(f.Size, 10) + ":" + strconv.FormatInt(f.MTime, 10) + ":" + f.Checksum.String()
}

// Mirror is the read-only backend frm mirror stages through (the
// transfer engine's verified path: placeholder, fsync, checksum
// attribute, rename): the files of one distribution, known beforehand
// from its manifest (Add), each fetched from the distribution and
// checked against the manifest's checksum. A download broken during the
// run resumes with Range and If-Match; one a killed run left (Job.Resume
// keeps it) resumes from where it stopped when it is of the same version
// (an xattr on the partial file says which), and starts again otherwise.
// The file gets the distribution's mtime, so that the next run finds it
// unchanged.
type Mirror struct {
	// Origin names the distribution in the files' origin attribute.
	Origin  string
	Src     MirrorOpener
	Retries int
	// OnBytes, when set, is told of the bytes as they arrive (progress)
	// and of those a resumed download did not need (skipped).
	OnBytes func(n int64, skipped bool)
	Log     *slog.Logger

	mu    sync.Mutex
	files map[string]MirrorFile // by rfn and by lfn
	// supplied: the bytes of files already fetched (in bulk), by lfn,
	// taken by the file's Fetch instead of a download of its own.
	supplied map[string][]byte
}

// Supply gives the content of the file that lands at lfn, fetched
// beforehand (frm mirror's bulk requests of small files): its Fetch
// takes these bytes instead of opening the file at the source, and puts
// them through the same checks (size, the manifest's checksum). Bytes
// that fail a check are not asked again from the bulk: a retry of the
// stage downloads the file on its own.
func (m *Mirror) Supply(lfn string, data []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.supplied == nil {
		m.supplied = map[string][]byte{}
	}
	m.supplied[lfn] = data
}

// Drop forgets what Supply gave for lfn and its stage did not take (a
// stage that ended before fetching).
func (m *Mirror) Drop(lfn string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.supplied, lfn)
}

// take returns and forgets the bytes supplied for lfn.
func (m *Mirror) take(lfn string) ([]byte, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sp, ok := m.supplied[lfn]
	delete(m.supplied, lfn)
	return sp, ok
}

// Add registers the file that lands at lfn (whose rfn is rfn).
func (m *Mirror) Add(lfn, rfn string, f MirrorFile) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.files == nil {
		m.files = map[string]MirrorFile{}
	}
	m.files[lfn] = f
	m.files[rfn] = f
}

func (m *Mirror) file(name string) (MirrorFile, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.files[name]
	return f, ok
}

// Name implements Backend.
func (m *Mirror) Name() string { return "mirror" }

// Stat implements Backend: what the manifest says.
func (m *Mirror) Stat(_ context.Context, rfn string) (Info, error) {
	f, ok := m.file(rfn)
	if !ok {
		return Info{}, NotExist(fmt.Errorf("mirror: %s is not in the source's manifest", rfn))
	}
	i := Info{Size: f.Size, ModTime: time.Unix(f.MTime, 0)}
	if f.Checksum.Alg != "" {
		i.Checksum = &Checksum{Alg: f.Checksum.Alg, Hex: f.Checksum.Hex}
	}
	return i, nil
}

// Store implements Backend: a mirror is read-only.
func (m *Mirror) Store(context.Context, Request, string, string) (Result, error) {
	return Result{}, Permanent(errors.New("mirror: read-only"))
}

// Remove implements Backend: a mirror is read-only.
func (m *Mirror) Remove(context.Context, string) error {
	return Permanent(errors.New("mirror: read-only"))
}

// xattrPartial records, on a file being downloaded (of resumeMin bytes
// or more), the version it holds and the ETag the source gave it:
// "<size>:<mtime>:<checksum>|<etag>". It stays on the file once done.
const xattrPartial = "user.frm.mirror.partial"

// resumeMin is the smallest file whose partial download a later run
// resumes (it records its version): a smaller one is fetched again whole,
// which costs less than the two attribute writes.
const resumeMin = 1 << 20

// Fetch implements Backend: req.LFN from the distribution into dst.
func (m *Mirror) Fetch(ctx context.Context, req Request, dst, alg string) (res Result, err error) {
	f, ok := m.file(req.LFN)
	if !ok {
		return Result{}, NotExist(fmt.Errorf("mirror: %s is not in the source's manifest", req.LFN))
	}
	log := m.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if pre, ok := m.take(req.LFN); ok {
		if int64(len(pre)) == f.Size {
			return m.landSupplied(dst, f, pre, alg, log)
		}
		// Bytes of another version than the manifest's: downloaded on
		// its own below, which sees the source's current size.
		log.Info("mirror: a file fetched in bulk has another size than the manifest's; downloading it on its own", "lfn", f.Src, "bytes", len(pre), "manifest", f.Size)
	}
	out, err := os.OpenFile(dst, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return Result{}, classifyErrno(err, false)
	}
	defer out.Close()
	hs, err := newHashSet(alg, "adler32")
	if err != nil {
		return Result{}, err
	}
	var offset int64
	etag := ""
	if rec, ok := getPartial(dst); ok {
		v, t, _ := strings.Cut(rec, "|")
		if fi, err := out.Stat(); err == nil && v == f.version() && fi.Size() <= f.Size && fi.Size() > 0 {
			// Resume: the bytes already there go through the hashes.
			n, err := copyCtx(ctx, hs, io.LimitReader(out, fi.Size()))
			if err == nil && n == fi.Size() {
				offset, etag = n, t
				log.Info("mirror: resuming a partial download", "lfn", req.LFN, "at", offset)
				if m.OnBytes != nil {
					m.OnBytes(offset, true)
				}
			} else {
				hs, _ = newHashSet(alg, "adler32")
			}
		}
	}
	if offset == 0 {
		// A small fresh file is not truncated: ext4 starts writing back
		// a file truncated to 0 when it is closed (auto_da_alloc), a
		// cost per file that the group syncfs makes needless. A large
		// one is: that early writeback spreads its flush.
		if fi, err := out.Stat(); err != nil || fi.Size() > 0 || f.Size >= resumeMin {
			if err := out.Truncate(0); err != nil {
				return Result{}, classifyErrno(err, false)
			}
		}
	}
	if _, err := out.Seek(offset, io.SeekStart); err != nil {
		return Result{}, classifyErrno(err, false)
	}
	recorded := offset > 0 // the partial file says which version it holds
	var w io.Writer = io.MultiWriter(out, hs)
	if m.OnBytes != nil {
		w = progressWriter{w, m.OnBytes}
	}
	for breaks := 0; offset < f.Size || offset == 0 && breaks == 0; {
		fl, oerr := m.Src.Open(ctx, f.Src, offset, etag)
		if oerr == nil && fl.Size != f.Size {
			fl.Body.Close()
			oerr = Transient(fmt.Errorf("%s: the source has %d bytes, its manifest said %d (changed since; the next run picks it up)", f.Src, fl.Size, f.Size))
		}
		if oerr != nil && fedapi.StatusOf(oerr) == 412 && offset > 0 {
			// Not the version the partial file holds: start again.
			offset, etag, recorded = 0, "", false
			hs, _ = newHashSet(alg, "adler32")
			w = io.MultiWriter(out, hs)
			if m.OnBytes != nil {
				w = progressWriter{w, m.OnBytes}
			}
			if err := out.Truncate(0); err != nil {
				return Result{}, classifyErrno(err, false)
			}
			if _, err := out.Seek(0, io.SeekStart); err != nil {
				return Result{}, classifyErrno(err, false)
			}
			continue
		}
		if oerr != nil {
			if ctx.Err() != nil {
				return Result{}, ctx.Err()
			}
			if s := fedapi.StatusOf(oerr); s == 404 || s == 403 || s == 410 {
				return Result{}, NotExist(fmt.Errorf("mirror: %s: %w", m.Origin, oerr))
			}
			breaks++
			if breaks > m.Retries {
				return Result{}, Transient(fmt.Errorf("mirror: %s: %w", m.Origin, oerr))
			}
			if err := retry.Sleep(ctx, time.Duration(breaks)*200*time.Millisecond); err != nil {
				return Result{}, err
			}
			continue
		}
		if etag == "" {
			etag = fl.ETag
		}
		if !recorded && f.Size >= resumeMin {
			recorded = true
			if err := setPartial(dst, f.version()+"|"+etag); err != nil {
				fl.Body.Close()
				return Result{}, classifyErrno(err, false)
			}
		}
		n, cerr := copyCtx(ctx, w, fl.Body)
		fl.Body.Close()
		offset += n
		if cerr == nil && offset == f.Size {
			break
		}
		if cerr == nil {
			cerr = fmt.Errorf("connection ended at %d of %d bytes", offset, f.Size)
		}
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		breaks++
		log.Info("mirror: download broke; resuming", "lfn", req.LFN, "at", offset, "err", cerr)
		if breaks > m.Retries {
			return Result{}, Transient(fmt.Errorf("mirror: download of %s from %s broke %d times, last at %d bytes: %w", f.Src, m.Origin, breaks, offset, cerr))
		}
	}
	if err := m.verify(f, hs, log); err != nil {
		return Result{}, err
	}
	// The version record stays: a run killed while the engine makes the
	// file durable and names it finds it whole next time, and takes it
	// without a byte downloaded.
	mt := time.Unix(f.MTime, 0)
	if err := os.Chtimes(dst, mt, mt); err != nil {
		return Result{}, classifyErrno(err, false)
	}
	return Result{Bytes: f.Size, Checksum: hs.sum(alg), Origin: m.Origin}, nil
}

// verify compares the bytes' adler32 with the manifest's.
func (m *Mirror) verify(f MirrorFile, hs *hashSet, log *slog.Logger) error {
	if want := f.Checksum; want.Alg == "adler32" {
		if got := hs.sum("adler32"); got.Hex != want.Hex {
			log.Warn("mirror: the source served wrong bytes", "lfn", f.Src, "source", m.Origin, "adler32", got.Hex, "manifest", want.Hex)
			return Permanent(fmt.Errorf("%w: %s served wrong bytes for %s (adler32 %s, its manifest says %s)", ErrChecksumMismatch, m.Origin, f.Src, got.Hex, want.Hex))
		}
	} else if want.Alg == "" {
		log.Warn("mirror: the source's manifest has no checksum for the file; its bytes cannot be verified", "lfn", f.Src, "source", m.Origin)
	}
	return nil
}

// landSupplied writes a file whose bytes came in bulk and are all in
// memory: checked first (size and checksum, as a download is), so that
// wrong bytes never reach the disk, then written with the fewest system
// calls (a mirror of many small files is bound by them on a virtual
// machine, where each costs several microseconds): create, write, set
// the mtime, close. A leftover file of an earlier run (dst resumed) is
// cut to the new length.
func (m *Mirror) landSupplied(dst string, f MirrorFile, data []byte, alg string, log *slog.Logger) (Result, error) {
	hs, err := newHashSet(alg, "adler32")
	if err != nil {
		return Result{}, err
	}
	hs.Write(data)
	if err := m.verify(f, hs, log); err != nil {
		return Result{}, err
	}
	// Never through a symlink: dst is a data file or the placeholder
	// itself, a regular file.
	fd, err := unix.Open(dst, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	fresh := err == nil
	if errors.Is(err, unix.EEXIST) {
		fd, err = unix.Open(dst, unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return Result{}, classifyErrno(&os.PathError{Op: "open", Path: dst, Err: err}, false)
	}
	werr := writeAll(fd, data)
	if werr == nil && !fresh {
		werr = unix.Ftruncate(fd, int64(len(data)))
	}
	if werr == nil {
		ts := []unix.Timespec{{Sec: f.MTime}, {Sec: f.MTime}}
		werr = unix.UtimesNanoAt(unix.AT_FDCWD, dst, ts, 0)
	}
	if cerr := unix.Close(fd); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return Result{}, classifyErrno(&os.PathError{Op: "write", Path: dst, Err: werr}, false)
	}
	if m.OnBytes != nil {
		m.OnBytes(int64(len(data)), false)
	}
	return Result{Bytes: f.Size, Checksum: hs.sum(alg), Origin: m.Origin}, nil
}

// writeAll writes b at the start of the file fd.
func writeAll(fd int, b []byte) error {
	for off := 0; off < len(b); {
		n, err := unix.Pwrite(fd, b[off:], int64(off))
		if err != nil {
			return err
		}
		off += n
	}
	return nil
}

type progressWriter struct {
	w  io.Writer
	fn func(int64, bool)
}

func (p progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.fn(int64(n), false)
	return n, err
}

func getPartial(p string) (string, bool) {
	buf := make([]byte, 512)
	n, err := unix.Getxattr(p, xattrPartial, buf)
	if err != nil {
		return "", false
	}
	return string(buf[:n]), true
}

func setPartial(p, v string) error { return unix.Setxattr(p, xattrPartial, []byte(v), 0) }
