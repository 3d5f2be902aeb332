package serve

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"frm/core/config"
	"frm/core/fedapi"
	"frm/core/guard"
	"frm/core/meta"
	"frm/core/mss"
	"frm/core/names"
)

// Where a name leads. Every lfn goes through names.Clean (the shell's
// canonical form: NUL, relative names and .. above the root refused),
// must lie under an export (and the token's prefixes), and its bytes come
// only from a file that, once every symlink is resolved, lies in the
// export's own directory or is the data file of an XA link (a link
// straight into a partition's data directory). The last check is made
// on the open descriptor, so a name swapped meanwhile cannot lead
// elsewhere.

var (
	errNotOnDisk = errors.New("not on disk")
	errOutside   = errors.New("leads outside the exports")
	errNotFile   = errors.New("not a regular file")
	errBad       = errors.New("its data failed its stored checksum (marked bad); not served")
	errNoResolve = errors.New("a symlink that does not resolve")
)

// lfnOfPath returns the clean lfn of a decoded /v1/files URL path.
func lfnOfPath(p string) (string, error) {
	rest, ok := strings.CutPrefix(p, fedapi.FilesPath)
	if !ok || rest == "" || rest[0] != '/' {
		return "", fmt.Errorf("want %s/<lfn>", fedapi.FilesPath)
	}
	return names.Clean(rest)
}

// exportOf returns the export of a clean lfn.
func exportOf(cfg *config.Config, lfn string) (config.Export, bool) {
	return cfg.ExportFor(lfn)
}

// resolver resolves directories once per request (a locate asks about
// many files of few directories). Safe for concurrent use.
type resolver struct {
	s    *Server
	mu   sync.Mutex
	real map[string]realDir
}

type realDir struct {
	path string
	err  error
}

func (s *Server) resolver() *resolver { return &resolver{s: s, real: map[string]realDir{}} }

// dir returns the resolved path of the directory pfn.
func (r *resolver) dir(pfn string) (string, error) {
	r.mu.Lock()
	v, ok := r.real[pfn]
	r.mu.Unlock()
	if ok {
		return v.path, v.err
	}
	p, err := filepath.EvalSymlinks(pfn)
	r.mu.Lock()
	r.real[pfn] = realDir{p, err}
	r.mu.Unlock()
	return p, err
}

// exportDir is the resolved directory of an export.
func (r *resolver) exportDir(e config.Export) (string, error) {
	lfn, err := names.Clean(e.Path)
	if err != nil {
		return "", err
	}
	return r.dir(r.s.site.PFN(lfn))
}

// within reports whether the resolved path p is dir or lies below it.
func within(p, dir string) bool {
	return dir == "/" || p == dir || strings.HasPrefix(p, dir+"/")
}

// diskFile is a resident file, open.
type diskFile struct {
	f     *os.File // nil when the caller did not keep it
	size  int64
	mtime time.Time
	cks   fedapi.Checksum
}

// notExist reports errors that mean there is nothing under the name.
func notExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.ENAMETOOLONG)
}

// open opens the resident file lfn (clean, under export e) when keep,
// else only looks at it. Errors: errNotOnDisk, errOutside, errNotFile,
// errBad, or another (an I/O error).
func (r *resolver) open(lfn string, e config.Export, keep bool) (*diskFile, error) {
	base := path.Base(lfn)
	if lfn == "/" || base == meta.DirLockName || meta.IsSideFile(base) {
		return nil, errNotOnDisk // a side file (.fail, .anew...) is never data
	}
	expDir, err := r.exportDir(e)
	if err != nil {
		if notExist(err) {
			return nil, errNotOnDisk
		}
		return nil, err
	}
	pfn := r.s.site.PFN(lfn)
	parent, err := r.dir(filepath.Dir(pfn))
	if err != nil {
		if notExist(err) {
			return nil, errNotOnDisk
		}
		return nil, err
	}
	if !within(parent, expDir) {
		return nil, errOutside
	}
	gf, err := guard.Open(pfn, r.s.site.Roots())
	if err != nil {
		// What the error means depends on whether the name is a link:
		// looked at only on this path (guard.Open lstat-ed it already).
		var lst unix.Stat_t
		isLink := unix.Lstat(pfn, &lst) == nil && lst.Mode&unix.S_IFMT == unix.S_IFLNK
		switch {
		case errors.Is(err, guard.ErrOutside):
			return nil, errOutside
		case errors.Is(err, guard.ErrNotRegular):
			return nil, errNotFile
		case isLink && errors.Is(err, syscall.ELOOP):
			return nil, errNoResolve // a loop, a chain too long
		case notExist(err):
			return nil, errNotOnDisk // missing, or an XA link whose data was purged
		case isLink:
			return nil, errNoResolve // a loop, a chain too long
		default:
			return nil, err
		}
	}
	defer gf.Close()
	// An XA link must lead straight into a partition: a link to another
	// namespace entry (another export's) is not followed there.
	var linkText string
	if gf.IsLink() {
		t, err := os.Readlink(pfn)
		if err != nil {
			return nil, err
		}
		if !filepath.IsAbs(t) {
			t = filepath.Join(filepath.Dir(pfn), t)
		}
		linkText = filepath.Clean(t)
	}
	where := gf.Data // where the open descriptor is
	if !within(where, expDir) && !r.s.xaData(gf.Path(), where, linkText, pfn) {
		return nil, errOutside
	}
	start := time.Now() // before the stat: see checksumCache
	st, err := gf.Stat()
	if err != nil {
		return nil, err
	}
	algs := checksumAlgs(r.s.site.Config())
	algsKey := strings.Join(algs, ",")
	v, cached := r.s.cks.lookup(&st, algsKey)
	var cks meta.Checksum
	bad := v.bad
	if cached {
		cks = v.checksum(st.Mtim.Sec)
	} else {
		_, bad, _ = meta.GetBadChecksum(gf.Path())
		cks = storedChecksum(gf.Path(), st.Mtim.Sec, algs)
		r.s.cks.addStat(&st, algsKey, cks, bad, start)
	}
	if bad {
		return nil, errBad
	}
	df := &diskFile{size: st.Size, mtime: time.Unix(st.Mtim.Unix())}
	if cks.Alg != "" {
		df.cks = fedapi.Checksum{Alg: cks.Alg, Hex: cks.Hex()}
	}
	if keep {
		fd, err := unix.FcntlInt(uintptr(gf.Fd()), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("dup: %w", err)
		}
		df.f = os.NewFile(uintptr(fd), pfn)
	}
	return df, nil
}

// xaData reports whether the data file real (open as fdPath), reached
// through the link whose target is linkText, is the data file of the XA
// entry pfn: the link leads straight into a partition's data directory,
// and the data file's back reference (user.XrdFrm.Pfn), when it has one,
// names pfn (a link made to another file's data is not followed).
func (s *Server) xaData(fdPath, real, linkText, pfn string) bool {
	if linkText == "" || !s.dataDirs.Inside(real) || !s.dataDirs.Inside(linkText) {
		return false
	}
	ref, ok, _ := meta.GetPfn(fdPath)
	return !ok || ref == pfn
}

// storedChecksum is the file's current stored checksum (its record's
// mtime is the file's): the first of algs recorded (adler32 when there is
// one, else the site's default algorithm's), as a manifest lists it;
// zero when none is current. Nothing is computed.
func storedChecksum(p string, mtime int64, algs []string) meta.Checksum {
	for _, alg := range algs {
		c, ok, err := meta.GetChecksum(p, alg)
		if err == nil && ok && c.MTime == mtime {
			return c
		}
	}
	return meta.Checksum{}
}

// mssAnswer is what the MSS says of a file not on disk.
type mssAnswer struct {
	state fedapi.State // Stageable or Absent
	size  int64
	mtime int64
	// note says why (absent: the export does not stage, no MSS, the MSS
	// did not answer; stageable: the MSS cannot tell).
	note string
	// unavailable: the MSS could not be asked (a stage may succeed
	// later).
	unavailable bool
}

// inMSS asks whether the site's MSS holds lfn (not on disk, under export
// e), bounded by MSSStatTimeout and MSSStatsAtOnce.
func (s *Server) inMSS(ctx context.Context, lfn string, e config.Export) mssAnswer {
	if !e.Stage {
		return mssAnswer{state: fedapi.Absent, note: "its export does not stage"}
	}
	b, err := s.site.MSS()
	if err != nil || b == nil {
		return mssAnswer{state: fedapi.Absent, note: "this site has no MSS"}
	}
	rfn, err := s.site.Names.RFN(lfn)
	if err != nil {
		return mssAnswer{state: fedapi.Absent, note: err.Error()}
	}
	select {
	case s.mssSlots <- struct{}{}:
		defer func() { <-s.mssSlots }()
	case <-ctx.Done():
		return mssAnswer{state: fedapi.Absent, note: "the MSS was not asked in time", unavailable: true}
	}
	sctx, cancel := context.WithTimeout(ctx, MSSStatTimeout)
	defer cancel()
	info, err := b.Stat(sctx, rfn)
	switch {
	case err == nil:
		a := mssAnswer{state: fedapi.Stageable, size: info.Size}
		if !info.ModTime.IsZero() {
			a.mtime = info.ModTime.Unix()
		}
		return a
	case mss.IsNotExist(err):
		return mssAnswer{state: fedapi.Absent}
	case errors.Is(err, mss.ErrNoStat):
		return mssAnswer{state: fedapi.Stageable, note: "the MSS cannot tell whether it holds the file; a stage may fail"}
	}
	s.log.Warn("MSS stat failed", "lfn", lfn, "class", mss.Class(err), "err", err)
	return mssAnswer{state: fedapi.Absent, note: "the MSS did not answer (" + mss.Class(err) + " error)", unavailable: true}
}
