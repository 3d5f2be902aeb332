package mss

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"frm/core/meta"
)

// PosixOptions configures a Posix backend.
type PosixOptions struct {
	// Root is the mounted MSS tree (RemoteRoot). Every rfn must lie
	// strictly below it. "" accepts any absolute clean path.
	Root string
	// StatAlg is the checksum algorithm Stat prefers when several are
	// recorded (default adler32).
	StatAlg string
}

// Posix is the backend for an MSS mounted as a file system tree (a
// parallel file system, an HSM-managed mount, NFS). rfns are full paths
// under the root.
//
// Transfers are done in process: the data is copied through a hashing
// writer into "<target>.frmtmp-<random>" in the target's directory
// (parent directories are created 0755), the copy gets the source's mtime
// and permission bits, is fsynced, renamed into place, and the directory
// is fsynced. A crash can leave "*.frmtmp-*" files behind, never a
// partial file under the final name; rfns containing ".frmtmp-" are
// refused (ErrBadName) so no object can be mistaken for such a left-over.
//
// Store with alg != "" records the checksum as the user.XrdCks.<alg>
// extended attribute (xrootd's record, see meta.SetChecksum) on the MSS
// copy before the rename; a file system without user xattrs just does not
// record it. Stat reports a recorded checksum only while the record's
// mtime matches the file's (xrootd's validity rule), and Fetch verifies
// it.
//
// Errors are classified by errno: ENOENT → NotExist; ENOSPC, EDQUOT,
// EROFS, EACCES, EPERM, ENAMETOOLONG, EISDIR … → Permanent; EIO, EAGAIN,
// ETIMEDOUT, ESTALE … → Transient.
type Posix struct {
	root    string
	statAlg string
}

var _ Backend = (*Posix)(nil)

// NewPosix returns a Posix backend. The root need not exist yet, but
// transfers fail with an Outage error while it does not.
func NewPosix(o PosixOptions) (*Posix, error) {
	root := o.Root
	if root != "" {
		if !filepath.IsAbs(root) {
			return nil, Permanent(fmt.Errorf("mss posix: root %q is not an absolute path", root))
		}
		root = filepath.Clean(root)
	}
	alg := o.StatAlg
	if alg == "" {
		alg = "adler32"
	}
	return &Posix{root: root, statAlg: alg}, nil
}

// Name returns "posix".
func (p *Posix) Name() string { return "posix" }

// Properties: stores are atomic (rename), checksums are recorded where the
// file system keeps user xattrs, every name can be stat'ed and renamed.
func (p *Posix) Properties() Properties {
	return Properties{AtomicStore: true, RecordsChecksum: true, CanStat: true, Rename: true}
}

// Probe implements Prober: the remote root must be there (a directory).
func (p *Posix) Probe(ctx context.Context) error {
	if err := p.rootDown(); err != nil {
		return err
	}
	return ctx.Err()
}

// rootDown returns an Outage error when the remote root is not there: the
// MSS is not mounted, and every name below it would look missing (and a
// store would write into the empty mount point).
func (p *Posix) rootDown() error { return rootMissing("mss posix", p.root) }

// check validates rfn: absolute, clean, strictly below the root.
func (p *Posix) check(rfn string) error {
	if !filepath.IsAbs(rfn) || filepath.Clean(rfn) != rfn || strings.Contains(rfn, tmpMarker) {
		return Permanent(fmt.Errorf("%w: %q (want an absolute clean path)", ErrBadName, rfn))
	}
	if p.root != "" && !under(rfn, p.root) {
		return Permanent(fmt.Errorf("%w: %q is not below the MSS root %s", ErrBadName, rfn, p.root))
	}
	return nil
}

// under reports whether path lies strictly below dir (both clean).
func under(path, dir string) bool {
	if dir == "/" {
		return len(path) > 1 && path[0] == '/'
	}
	return len(path) > len(dir)+1 && strings.HasPrefix(path, dir) && path[len(dir)] == '/'
}

// Stat describes the file rfn. A missing file (or a missing directory on
// the way) gives a NotExist error; a directory or other non-regular file
// a Permanent one.
func (p *Posix) Stat(ctx context.Context, rfn string) (Info, error) {
	if err := p.check(rfn); err != nil {
		return Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	st, err := os.Stat(rfn)
	if err != nil {
		if down := p.rootDown(); down != nil {
			return Info{}, down
		}
		return Info{}, classifyErrno(err, true)
	}
	if !st.Mode().IsRegular() {
		return Info{}, Permanent(fmt.Errorf("mss posix: %s is not a regular file", rfn))
	}
	return Info{Size: st.Size(), ModTime: st.ModTime(), Checksum: xattrChecksum(rfn, st, p.statAlg)}, nil
}

// xattrChecksum returns the valid user.XrdCks record of path (prefer's if
// present, else the first listed), nil when there is none or it is stale
// (its mtime differs from the file's). Attribute errors mean "none".
func xattrChecksum(path string, st fs.FileInfo, prefer string) *Checksum {
	valid := func(c meta.Checksum) *Checksum {
		if c.MTime != st.ModTime().Unix() {
			return nil
		}
		if _, err := meta.NewHash(c.Alg); err != nil {
			return nil
		}
		return &Checksum{Alg: c.Alg, Hex: c.Hex()}
	}
	if prefer != "" {
		if c, ok, err := meta.GetChecksum(path, prefer); err == nil && ok {
			if v := valid(c); v != nil {
				return v
			}
		}
	}
	all, _ := meta.ListChecksums(path)
	for _, c := range all {
		if v := valid(c); v != nil {
			return v
		}
	}
	return nil
}

// Fetch copies rfn to dst atomically (see Posix), verifying a recorded
// checksum on the way. dst gets rfn's mtime and permission bits.
func (p *Posix) Fetch(ctx context.Context, req Request, dst, alg string) (res Result, err error) {
	defer removeOnError(dst, &err)
	if err := p.check(req.RFN); err != nil {
		return Result{}, err
	}
	in, err := os.Open(req.RFN)
	if err != nil {
		if down := p.rootDown(); down != nil {
			return Result{}, down
		}
		return Result{}, classifyErrno(err, true)
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return Result{}, classifyErrno(err, false)
	}
	if !st.Mode().IsRegular() {
		return Result{}, Permanent(fmt.Errorf("mss posix: %s is not a regular file", req.RFN))
	}
	rec := xattrChecksum(req.RFN, st, alg)
	var recAlg string
	if rec != nil {
		recAlg = rec.Alg
	}
	hs, err := newHashSet(alg, recAlg)
	if err != nil {
		return Result{}, err
	}
	return p.copy(ctx, in, st, dst, hs, func(n int64, _ string) error {
		if after, err := in.Stat(); err == nil && (changed(st, after) || n != st.Size()) {
			return Transient(fmt.Errorf("%w: %s", ErrModified, req.RFN))
		}
		return hs.verify(rec, req.RFN)
	}, alg, false)
}

// Store copies src to rfn atomically (see Posix) and records the alg
// checksum as an xattr on the MSS copy.
func (p *Posix) Store(ctx context.Context, req Request, src, alg string) (Result, error) {
	if err := p.check(req.RFN); err != nil {
		return Result{}, err
	}
	if err := p.rootDown(); err != nil {
		return Result{}, err
	}
	in, st, err := openSource("posix", src)
	if err != nil {
		return Result{}, err
	}
	defer in.Close()
	hs, err := newHashSet(alg)
	if err != nil {
		return Result{}, err
	}
	return p.copy(ctx, in, st, req.RFN, hs, func(n int64, tmp string) error {
		if after, err := in.Stat(); err != nil || changed(st, after) || n != st.Size() {
			return Transient(fmt.Errorf("%w: %s", ErrModified, src))
		}
		c := hs.sum(alg)
		if c == nil {
			return nil
		}
		v, _ := hex.DecodeString(c.Hex)
		mt := st.ModTime().Unix()
		delta := max(min(time.Now().Unix()-mt, math.MaxInt32), math.MinInt32)
		err := meta.SetChecksum(tmp, meta.Checksum{Alg: alg, Value: v, MTime: mt, Delta: int32(delta)})
		if errors.Is(err, meta.ErrNotSupported) {
			return nil // the MSS file system cannot keep it
		}
		return err
	}, alg, true)
}

// copy copies in (described by st) to dst through hs, runs check(bytes,
// tmp) before the rename and commits with st's mode and mtime.
func (p *Posix) copy(ctx context.Context, in *os.File, st fs.FileInfo, dst string, hs *hashSet,
	check func(n int64, tmp string) error, alg string, durable bool) (Result, error) {
	af, err := createAtomic(dst)
	if err != nil {
		return Result{}, err
	}
	n, err := copyCtx(ctx, multiWriter{af.f, hs}, in)
	if err != nil {
		af.abort()
		if ctx.Err() != nil {
			return Result{}, fmt.Errorf("mss posix: copy to %s: %w", dst, ctx.Err())
		}
		return Result{}, classifyErrno(fmt.Errorf("mss posix: copy to %s: %w", dst, err), false)
	}
	if err := af.commit(st.Mode().Perm(), st.ModTime(), durable, func(tmp string) error { return check(n, tmp) }); err != nil {
		return Result{}, err
	}
	return Result{Bytes: n, Checksum: hs.sum(alg)}, nil
}

// multiWriter writes to a file and a hashSet (which never fails).
type multiWriter struct {
	f  *os.File
	hs *hashSet
}

func (m multiWriter) Write(p []byte) (int, error) {
	n, err := m.f.Write(p)
	m.hs.Write(p[:n])
	return n, err
}

// Remove deletes rfn; a missing file is not an error. Empty parent
// directories are left in place.
func (p *Posix) Remove(ctx context.Context, rfn string) error {
	if err := p.check(rfn); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	err := os.Remove(rfn)
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return classifyErrno(err, false)
}

// Rename renames the file from to to (a rename(2) in the MSS tree: the
// inode, its mtime and its user.XrdCks record go along), creating to's
// parent directories (0755) and never replacing an existing to (see
// renameNoReplace). Both directories are synced so the rename is durable.
func (p *Posix) Rename(ctx context.Context, from, to string) error {
	if err := p.check(from); err != nil {
		return err
	}
	if err := p.check(to); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	st, err := os.Lstat(from)
	if err != nil {
		return classifyErrno(fmt.Errorf("mss posix: rename %s: %w", from, err), true)
	}
	if !st.Mode().IsRegular() {
		return Permanent(fmt.Errorf("mss posix: rename %s: not a regular file", from))
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return classifyErrno(fmt.Errorf("mss posix: rename %s: %w", from, err), false)
	}
	if err := renameNoReplace(from, to); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return Permanent(fmt.Errorf("mss posix: rename %s to %s: %w", from, to, ErrExist))
		}
		return classifyErrno(fmt.Errorf("mss posix: rename %s to %s: %w", from, to, err), true)
	}
	if err := syncDir(filepath.Dir(to)); err != nil {
		return err
	}
	return syncDir(filepath.Dir(from))
}
