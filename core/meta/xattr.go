package meta

import (
	"errors"
	"io/fs"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Attribute names, as xrootd 5.5.3 spells them (the "user." namespace
// included).
const (
	AttrCopy = "user.XrdFrm.Cpy"
	AttrPin  = "user.XrdFrm.Pin"
	AttrMem  = "user.XrdFrm.Mem"
	AttrPfn  = "user.XrdFrm.Pfn"

	// AttrChecksumPrefix is followed by the algorithm name, e.g.
	// "user.XrdCks.adler32".
	AttrChecksumPrefix = "user.XrdCks."
)

var (
	// ErrNoAttr is the errno for an absent attribute (ENODATA, which Linux
	// also calls ENOATTR; its text is "no data available"). The Get
	// functions report absence as ok == false instead of returning it, but
	// errors.Is(err, ErrNoAttr) works on any error wrapping the errno.
	ErrNoAttr error = unix.ENODATA

	// ErrNotSupported is the errno returned when the file system does not
	// support user extended attributes (EOPNOTSUPP, alias ENOTSUP).
	ErrNotSupported error = unix.EOPNOTSUPP

	// ErrBadValue is wrapped by every error about an attribute value that
	// cannot be decoded (too short, bad length field, ...).
	ErrBadValue = errors.New("malformed attribute value")
)

// NUL-terminated attribute names for the allocation-free read path.
var (
	attrCopyZ = []byte(AttrCopy + "\x00")
	attrPinZ  = []byte(AttrPin + "\x00")
	attrMemZ  = []byte(AttrMem + "\x00")
	attrPfnZ  = []byte(AttrPfn + "\x00")
)

// pathBufLen is the size of the stack buffer a path is copied into for the
// raw getxattr call; longer paths take the (allocating) unix.Getxattr path.
const pathBufLen = 1024

// smallAttrBuf is the stack buffer used to read the fixed-size attributes.
// It is larger than any of them (24 bytes) so a slightly longer value
// written by some other tool still decodes instead of failing with ERANGE.
const smallAttrBuf = 64

// getxattr reads attribute name (nameZ is the same name NUL terminated) of
// path, following symlinks, into dest and returns the value length. It does
// not allocate for paths shorter than pathBufLen when nameZ is given (nil
// nameZ: use unix.Getxattr). Errors are bare errnos.
func getxattr(path, name string, nameZ []byte, dest []byte) (int, error) {
	if len(path) >= pathBufLen || nameZ == nil {
		for {
			n, err := unix.Getxattr(path, name, dest)
			if err != unix.EINTR {
				return n, err
			}
		}
	}
	if strings.IndexByte(path, 0) >= 0 {
		return 0, unix.EINVAL
	}
	var pb [pathBufLen]byte
	copy(pb[:], path)
	pb[len(path)] = 0
	var dp unsafe.Pointer
	if len(dest) > 0 {
		dp = unsafe.Pointer(&dest[0])
	}
	for {
		r, _, e := unix.Syscall6(unix.SYS_GETXATTR,
			uintptr(unsafe.Pointer(&pb[0])), uintptr(unsafe.Pointer(&nameZ[0])),
			uintptr(dp), uintptr(len(dest)), 0, 0)
		switch e {
		case 0:
			return int(r), nil
		case unix.EINTR:
			continue
		default:
			return 0, e
		}
	}
}

// getxattrAlloc reads a variable-length attribute, starting with a stack
// 512-byte stack buffer and growing to the size the kernel reports.
func getxattrAlloc(path, name string, nameZ []byte) ([]byte, error) {
	var small [512]byte
	n, err := getxattr(path, name, nameZ, small[:])
	if err == nil {
		return append([]byte(nil), small[:n]...), nil
	}
	if err != unix.ERANGE {
		return nil, err
	}
	for range 8 { // the value may change between the size query and the read
		size, err := getxattr(path, name, nameZ, nil)
		if err != nil {
			return nil, err
		}
		buf := make([]byte, size+64)
		n, err = getxattr(path, name, nameZ, buf)
		if err == nil {
			return buf[:n], nil
		}
		if err != unix.ERANGE {
			return nil, err
		}
	}
	return nil, unix.ERANGE
}

func setxattr(path, name string, value []byte) error {
	for {
		err := unix.Setxattr(path, name, value, 0)
		if err != unix.EINTR {
			return err
		}
	}
}

// removexattr removes the attribute; absent is reported as (false, nil).
func removexattr(path, name string) (bool, error) {
	for {
		err := unix.Removexattr(path, name)
		switch err {
		case nil:
			return true, nil
		case unix.EINTR:
			continue
		case unix.ENODATA:
			return false, nil
		default:
			return false, attrErr("removexattr", name, path, err)
		}
	}
}

// listxattr returns the attribute names of path (following symlinks).
func listxattr(path string) ([]string, error) {
	var buf []byte
	for range 8 {
		size, err := unix.Listxattr(path, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if size == 0 {
			return nil, nil
		}
		buf = make([]byte, size+256)
		n, err := unix.Listxattr(path, buf)
		if err == unix.ERANGE || err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		var names []string
		for _, s := range strings.Split(string(buf[:n]), "\x00") {
			if s != "" {
				names = append(names, s)
			}
		}
		return names, nil
	}
	return nil, unix.ERANGE
}

// attrErr wraps an errno (or decode error) with the operation, attribute
// and path, e.g. "getxattr user.XrdFrm.Pin /a/b: no such file or directory".
func attrErr(op, name, path string, err error) error {
	return &fs.PathError{Op: op + " " + name, Path: path, Err: err}
}
