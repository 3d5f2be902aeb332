package embedded

import (
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fstatat is unix.Fstatat without the allocation of the name and without
// the scheduler hand-off of Syscall: the walk stats every entry of cached
// directories, where both cost more than the stat (see meta's getxattrAt
// for the trade-off). Long or odd names take unix.Fstatat.
func fstatat(dirfd int, name string, st *unix.Stat_t, flags int) error {
	if len(name) >= 1024 || strings.IndexByte(name, 0) >= 0 {
		return unix.Fstatat(dirfd, name, st, flags)
	}
	var b [1024]byte
	copy(b[:], name)
	for {
		_, _, e := unix.RawSyscall6(unix.SYS_NEWFSTATAT, uintptr(dirfd), uintptr(unsafe.Pointer(&b[0])),
			uintptr(unsafe.Pointer(st)), uintptr(flags), 0, 0)
		switch e {
		case 0:
			return nil
		case unix.EINTR:
			continue
		}
		return e
	}
}
