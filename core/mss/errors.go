package mss

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// Sentinel errors, wrapped (and classified) by the backends; test with
// errors.Is.
var (
	// ErrNoStat: the backend cannot tell whether an object exists (a copy
	// command without a local view of the MSS). Callers treat the answer
	// as "unknown". Not classified: it is neither missing nor failing.
	ErrNoStat = errors.New("mss: backend cannot stat this name")
	// ErrNotSupported: the backend cannot do this operation (Remove on a
	// copy-command MSS, a URL transfer without a URL copy command).
	// Wrapped as Permanent.
	ErrNotSupported = errors.New("mss: operation not supported by this backend")
	// ErrChecksumMismatch: the data read does not match the checksum the
	// MSS recorded for it. Wrapped as Permanent.
	ErrChecksumMismatch = errors.New("mss: checksum mismatch")
	// ErrModified: the source changed while it was being copied (size or
	// mtime differ before and after). Wrapped as Transient.
	ErrModified = errors.New("file modified during copy")
	// ErrExist: a Rename's new name exists already (it is never
	// replaced). Wrapped as Permanent.
	ErrExist = errors.New("mss: the new name exists")
	// ErrBadName: the rfn is not acceptable to the backend (relative,
	// not clean, outside the remote root). Wrapped as Permanent.
	ErrBadName = errors.New("mss: invalid remote name")
)

type class uint8

const (
	classNotExist class = iota + 1
	classTransient
	classPermanent
	classOutage
)

func (c class) String() string {
	switch c {
	case classNotExist:
		return "not exist"
	case classTransient:
		return "transient"
	case classPermanent:
		return "permanent"
	case classOutage:
		return "outage"
	}
	return "unknown"
}

// classError attaches a class to an error without changing its message.
type classError struct {
	class class
	err   error
}

func (e *classError) Error() string { return e.err.Error() }
func (e *classError) Unwrap() error { return e.err }

func classify(c class, err error) error {
	if err == nil {
		return nil
	}
	return &classError{class: c, err: err}
}

// NotExist marks err as "the object does not exist". nil stays nil.
func NotExist(err error) error { return classify(classNotExist, err) }

// Transient marks err as worth retrying (network trouble, a busy or
// throttling server, a copy command killed by a signal or a timeout).
// nil stays nil.
func Transient(err error) error { return classify(classTransient, err) }

// Permanent marks err as not worth retrying (access denied, no space, a
// copy command that failed with a status other than 2, a checksum
// mismatch). nil stays nil.
func Permanent(err error) error { return classify(classPermanent, err) }

// Outage marks err as a failure of the MSS as a whole, not of one file:
// it cannot be reached (connection refused, no route, a name that does not
// resolve, a mount that is gone), refuses us (wrong or expired
// credentials, a missing bucket), or cannot be used at all (a copy command
// that is not there). Every transfer in that direction would fail the same
// way, so the transfer daemon pauses them instead of failing each file,
// and resumes by itself once a probe succeeds. nil stays nil.
func Outage(err error) error { return classify(classOutage, err) }

// IsOutage reports whether err's outermost class is Outage.
func IsOutage(err error) bool { return err != nil && classOf(err) == classOutage }

// Retriable reports whether err is a passing fault worth another try
// (package retry): transient or unclassified, and not ErrNoStat (an
// answer, not a failure). A missing object, a permanent failure and an
// outage are not: an outage is waited out as a whole, not retried per
// file.
func Retriable(err error) bool {
	return err != nil && !IsNotExist(err) && !IsPermanent(err) && !IsOutage(err) && !errors.Is(err, ErrNoStat)
}

// Class names err's class for logs and status: "not exist", "transient",
// "permanent", "outage", or "unknown" when unclassified.
func Class(err error) string { return classOf(err).String() }

// classOf returns the outermost class in err's chain, 0 if none.
func classOf(err error) class {
	var ce *classError
	if errors.As(err, &ce) {
		return ce.class
	}
	return 0
}

// IsNotExist reports whether err says the object does not exist: its
// outermost class is NotExist, or it is unclassified and wraps
// fs.ErrNotExist.
func IsNotExist(err error) bool {
	if err == nil {
		return false
	}
	if c := classOf(err); c != 0 {
		return c == classNotExist
	}
	return errors.Is(err, fs.ErrNotExist)
}

// IsTransient reports whether err's outermost class is Transient.
// Unclassified errors give false (as they do for IsPermanent).
func IsTransient(err error) bool { return err != nil && classOf(err) == classTransient }

// IsPermanent reports whether err's outermost class is Permanent.
func IsPermanent(err error) bool { return err != nil && classOf(err) == classPermanent }

// classifyErrno classifies an error from a local file system call by its
// errno: ENOENT (and ENOTDIR when looking an object up) → NotExist; no
// space, quota, read-only, access and name errors → Permanent; I/O and
// "try again" errors → Transient. Anything else (a context error, an
// unknown errno) or an error already classified is returned unchanged.
func classifyErrno(err error, lookup bool) error {
	var errno syscall.Errno
	if err == nil || classOf(err) != 0 || !errors.As(err, &errno) {
		return err
	}
	switch errno {
	case syscall.ENOENT:
		return NotExist(err)
	case syscall.ENOTDIR:
		if lookup {
			return NotExist(err)
		}
		return Permanent(err)
	case syscall.ENOSPC, syscall.EDQUOT, syscall.EROFS, syscall.EACCES, syscall.EPERM,
		syscall.ENAMETOOLONG, syscall.EISDIR, syscall.EFBIG, syscall.ELOOP, syscall.EXDEV:
		return Permanent(err)
	case syscall.EIO, syscall.EAGAIN, syscall.ETIMEDOUT, syscall.EINTR, syscall.ESTALE,
		syscall.EBUSY, syscall.ENOLCK, syscall.ECONNRESET, syscall.ECONNREFUSED, syscall.EHOSTUNREACH,
		syscall.ENETUNREACH, syscall.ENETDOWN, syscall.EPIPE:
		return Transient(err)
	}
	return err
}

// rootMissing returns an Outage error when root, the mount point of the
// MSS ("" for none), is not a directory: the MSS is not mounted, every
// name below it would look missing, and a store would write into the
// empty mount point on the local disk.
func rootMissing(backend, root string) error {
	if root == "" {
		return nil
	}
	fi, err := os.Stat(root)
	if err != nil {
		return Outage(fmt.Errorf("%s: remote root %s (not mounted?): %w", backend, root, err))
	}
	if !fi.IsDir() {
		return Outage(fmt.Errorf("%s: remote root %s is not a directory", backend, root))
	}
	return nil
}
