package mss

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"frm/core/meta"
)

// tmpMarker separates a destination name from the random suffix of its
// temporary name: "<dst>.frmtmp-<random>". Left-overs of a crash carry it
// and may be removed by a cleaner.
const tmpMarker = ".frmtmp-"

// copyBufSize is the buffer of one copy; ctx is checked once per buffer.
const copyBufSize = 1 << 20

var copyBufPool = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// hashSet computes checksums of several algorithms in one pass.
type hashSet struct {
	algs []string
	hs   []hash.Hash
}

// newHashSet returns a hashSet for the distinct non-empty algs. An unknown
// algorithm is a Permanent error.
func newHashSet(algs ...string) (*hashSet, error) {
	s := &hashSet{}
	for _, alg := range algs {
		if alg == "" || s.index(alg) >= 0 {
			continue
		}
		h, err := meta.NewHash(alg)
		if err != nil {
			return nil, Permanent(err)
		}
		s.algs = append(s.algs, alg)
		s.hs = append(s.hs, h)
	}
	return s, nil
}

func (s *hashSet) index(alg string) int {
	for i, a := range s.algs {
		if a == alg {
			return i
		}
	}
	return -1
}

func (s *hashSet) Write(p []byte) (int, error) {
	for _, h := range s.hs {
		h.Write(p)
	}
	return len(p), nil
}

// sum returns the alg checksum, nil when alg is "" or not in the set.
func (s *hashSet) sum(alg string) *Checksum {
	i := s.index(alg)
	if i < 0 {
		return nil
	}
	return &Checksum{Alg: alg, Hex: hex.EncodeToString(s.hs[i].Sum(nil))}
}

// verify checks the data hashed against a recorded checksum (nil: nothing
// to verify). A mismatch is a Permanent ErrChecksumMismatch.
func (s *hashSet) verify(rec *Checksum, what string) error {
	if rec == nil {
		return nil
	}
	got := s.sum(rec.Alg)
	if got == nil || got.Hex == rec.Hex {
		return nil
	}
	return Permanent(fmt.Errorf("%w: %s: recorded %s %s, data has %s", ErrChecksumMismatch, what, rec.Alg, rec.Hex, got.Hex))
}

// ctxReader fails reads once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

// writerOnly hides io.ReaderFrom so io.CopyBuffer uses the buffer (and
// ctxReader's checks) instead of copy_file_range or sendfile.
type writerOnly struct{ io.Writer }

// copyCtx copies r to w in copyBufSize chunks, stopping with ctx.Err()
// when ctx is done.
func copyCtx(ctx context.Context, w io.Writer, r io.Reader) (int64, error) {
	bp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bp)
	return io.CopyBuffer(writerOnly{w}, ctxReader{ctx, r}, *bp)
}

// hashFile computes the alg checksum of the file at path, honouring ctx.
// It also returns the file's stat from before the read.
func hashFile(ctx context.Context, path, alg string) (*Checksum, fs.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, classifyErrno(err, true)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, classifyErrno(err, false)
	}
	if alg == "" {
		return nil, st, nil
	}
	hs, err := newHashSet(alg)
	if err != nil {
		return nil, st, err
	}
	if _, err := copyCtx(ctx, hs, f); err != nil {
		return nil, st, classifyErrno(fmt.Errorf("checksum %s: %w", path, err), false)
	}
	return hs.sum(alg), st, nil
}

// changed reports whether a file's size or mtime differ between two stats.
func changed(before, after fs.FileInfo) bool {
	return before.Size() != after.Size() || !before.ModTime().Equal(after.ModTime())
}

// atomicFile is a file written under a temporary name next to its final
// name and renamed into place by commit.
type atomicFile struct {
	f        *os.File
	dst, tmp string
}

// tmpPattern returns the os.CreateTemp pattern for dst, shortening the
// base name so the temporary name fits NAME_MAX (255 bytes).
func tmpPattern(dst string) string {
	base := filepath.Base(dst)
	const room = 255 - len(tmpMarker) - 12 // CreateTemp adds up to 10 digits
	if len(base) > room {
		base = base[:room]
	}
	return base + tmpMarker + "*"
}

// createAtomic creates the temporary file for dst, making dst's parent
// directories (0755) first.
func createAtomic(dst string) (*atomicFile, error) {
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, classifyErrno(err, false)
	}
	f, err := os.CreateTemp(dir, tmpPattern(dst))
	if err != nil {
		return nil, classifyErrno(err, false)
	}
	return &atomicFile{f: f, dst: dst, tmp: f.Name()}, nil
}

// abort closes and removes the temporary file.
func (a *atomicFile) abort() {
	a.f.Close()
	os.Remove(a.tmp)
}

// commit gives the temporary file mode perm and mtime (zero: keep), runs
// before (if not nil) on the temporary name, syncs it (when durable),
// renames it to dst and syncs the directory (when durable). On error the
// temporary file is removed. A fetched file need not be durable (the
// transfer engine syncs many at once); an MSS copy must.
func (a *atomicFile) commit(perm fs.FileMode, mtime time.Time, durable bool, before func(tmp string) error) error {
	err := a.f.Chmod(perm)
	if err == nil && !mtime.IsZero() {
		err = os.Chtimes(a.tmp, time.Time{}, mtime)
	}
	if err == nil && before != nil {
		err = before(a.tmp)
	}
	if err == nil && durable {
		err = a.f.Sync()
	}
	if cerr := a.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(a.tmp, a.dst)
	}
	if err != nil {
		os.Remove(a.tmp)
		return classifyErrno(err, false)
	}
	if !durable {
		return nil
	}
	return syncDir(filepath.Dir(a.dst))
}

// syncDir fsyncs a directory so a rename in it is durable. File systems
// that cannot sync directories (EINVAL) are tolerated.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return classifyErrno(err, false)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return classifyErrno(err, false)
	}
	return nil
}

// renameNoReplace renames from to to, failing with EEXIST when to exists.
// renameat2(RENAME_NOREPLACE) does it atomically; where the file system
// lacks it (EINVAL: NFS, some FUSE mounts) a hard link then the removal of
// from does, since link never replaces either. Only where hard links are
// refused too (EPERM) is a plain rename done after a check, which leaves
// a window in which a concurrent writer of to would be replaced.
func renameNoReplace(from, to string) error {
	err := unix.Renameat2(unix.AT_FDCWD, from, unix.AT_FDCWD, to, unix.RENAME_NOREPLACE)
	if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS) {
		return err
	}
	err = os.Link(from, to)
	switch {
	case err == nil:
		return os.Remove(from)
	case !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.EOPNOTSUPP):
		return err
	}
	if _, err := os.Lstat(to); err == nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: syscall.EEXIST}
	}
	return os.Rename(from, to)
}

// removeOnError removes dst when *err is set: a failed Fetch leaves no
// dst, not even a stale one from before.
func removeOnError(dst string, err *error) {
	if *err != nil {
		os.Remove(dst)
	}
}

// openSource opens the local file a Store copies, which must be a regular
// file; errors are classified (a missing source is NotExist).
func openSource(backend, src string) (*os.File, os.FileInfo, error) {
	f, err := os.Open(src)
	if err != nil {
		return nil, nil, classifyErrno(err, true)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, classifyErrno(err, false)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, nil, Permanent(fmt.Errorf("mss %s: source %s is not a regular file", backend, src))
	}
	return f, st, nil
}
