package meta

import (
	"strings"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// getxattrat (Linux 6.13) reads an attribute relative to an open
// directory, which spares the kernel the lookup of every path component
// on each call: a directory scan reads the attributes of each entry with
// the directory already open. The syscall number is the same on every
// architecture (new syscalls share one table).
const sysGetxattrat = 464

// noXattrat is set once the kernel says it has no getxattrat; the *At
// functions then use the full path.
var noXattrat atomic.Bool

type xattrArgs struct {
	value uint64
	size  uint32
	flags uint32
}

// getxattrAt reads attribute nameZ of name relative to dirfd (following
// symlinks) into dest. path is the same file's full name, used when the
// kernel lacks getxattrat.
func getxattrAt(dirfd int, name, path, attr string, nameZ, dest []byte) (int, error) {
	if noXattrat.Load() || len(name) >= pathBufLen || strings.IndexByte(name, 0) >= 0 {
		return getxattr(path, attr, nameZ, dest)
	}
	var pb [pathBufLen]byte
	copy(pb[:], name)
	pb[len(name)] = 0
	args := xattrArgs{size: uint32(len(dest))}
	if len(dest) > 0 {
		args.value = uint64(uintptr(unsafe.Pointer(&dest[0])))
	}
	// RawSyscall: a metadata read of a cached inode takes microseconds,
	// and telling the scheduler about each one (Syscall) costs ~12% of a
	// million-file scan in scheduler hand-offs. The price: a read that
	// waits on a slow device holds its P until it returns; the walk has
	// more workers than Ps, so a scan slows there but does not stall.
	for {
		r, _, e := unix.RawSyscall6(sysGetxattrat, uintptr(dirfd), uintptr(unsafe.Pointer(&pb[0])), 0,
			uintptr(unsafe.Pointer(&nameZ[0])), uintptr(unsafe.Pointer(&args)), unsafe.Sizeof(args))
		switch e {
		case 0:
			return int(r), nil
		case unix.EINTR:
			continue
		case unix.ENOSYS:
			noXattrat.Store(true)
			return getxattr(path, attr, nameZ, dest)
		default:
			return 0, e
		}
	}
}

// GetCopyTimeAt is GetCopyTime for the entry name of the open directory
// dirfd (path is its full name, for messages and old kernels).
func GetCopyTimeAt(dirfd int, name, path string) (int64, bool, error) {
	var buf [smallAttrBuf]byte
	n, err := getxattrAt(dirfd, name, path, AttrCopy, attrCopyZ, buf[:])
	if err != nil {
		if err == ErrNoAttr {
			return 0, false, nil
		}
		return 0, false, attrErr("getxattr", AttrCopy, path, err)
	}
	t, err := DecodeCopyTime(buf[:n])
	if err != nil {
		return 0, false, attrErr("decode", AttrCopy, path, err)
	}
	return t, true, nil
}

// GetPinAt is GetPin relative to an open directory (see GetCopyTimeAt).
func GetPinAt(dirfd int, name, path string) (Pin, bool, error) {
	var buf [smallAttrBuf]byte
	n, err := getxattrAt(dirfd, name, path, AttrPin, attrPinZ, buf[:])
	if err != nil {
		if err == ErrNoAttr {
			return Pin{}, false, nil
		}
		return Pin{}, false, attrErr("getxattr", AttrPin, path, err)
	}
	p, err := DecodePin(buf[:n])
	if err != nil {
		return Pin{}, false, attrErr("decode", AttrPin, path, err)
	}
	return p, true, nil
}

// GetMemAt is GetMem relative to an open directory (see GetCopyTimeAt).
func GetMemAt(dirfd int, name, path string) (MemFlags, bool, error) {
	var buf [smallAttrBuf]byte
	n, err := getxattrAt(dirfd, name, path, AttrMem, attrMemZ, buf[:])
	if err != nil {
		if err == ErrNoAttr {
			return 0, false, nil
		}
		return 0, false, attrErr("getxattr", AttrMem, path, err)
	}
	m, err := DecodeMem(buf[:n])
	if err != nil {
		return 0, false, attrErr("decode", AttrMem, path, err)
	}
	return m, true, nil
}
