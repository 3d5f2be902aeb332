package meta

import "fmt"

// MemFlags is the flags byte of user.XrdFrm.Mem, the memory mapping hint.
type MemFlags uint8

// Memory mapping flags: frm_admin "mmap" sets MemMap, "-keep" adds MemKeep,
// "-lock" adds MemLock; "mmap -off" removes the attribute.
const (
	MemMap  MemFlags = 1
	MemKeep MemFlags = 2
	MemLock MemFlags = 4
)

// MemSize is the size of the user.XrdFrm.Mem value.
const MemSize = 8

// EncodeMem returns the 8-byte user.XrdFrm.Mem value: the flags byte and
// 7 zero bytes.
func EncodeMem(f MemFlags) []byte {
	b := make([]byte, MemSize)
	b[0] = byte(f)
	return b
}

// DecodeMem decodes a user.XrdFrm.Mem value (at least 1 byte; the reserved
// bytes are ignored).
func DecodeMem(b []byte) (MemFlags, error) {
	if len(b) < 1 {
		return 0, fmt.Errorf("%w: mmap attribute is empty", ErrBadValue)
	}
	return MemFlags(b[0]), nil
}

// GetMem reads the memory mapping flags of path (through symlinks). An
// absent attribute gives (0, false, nil). It does not allocate.
func GetMem(path string) (MemFlags, bool, error) {
	var buf [smallAttrBuf]byte
	n, err := getxattr(path, AttrMem, attrMemZ, buf[:])
	if err != nil {
		if err == ErrNoAttr {
			return 0, false, nil
		}
		return 0, false, attrErr("getxattr", AttrMem, path, err)
	}
	f, err := DecodeMem(buf[:n])
	if err != nil {
		return 0, false, attrErr("decode", AttrMem, path, err)
	}
	return f, true, nil
}

// SetMem writes the memory mapping flags on path (through symlinks).
func SetMem(path string, f MemFlags) error {
	if err := setxattr(path, AttrMem, EncodeMem(f)); err != nil {
		return attrErr("setxattr", AttrMem, path, err)
	}
	return nil
}

// RemoveMem removes the memory mapping hint; removed is false (with a nil
// error) when there was none.
func RemoveMem(path string) (removed bool, err error) {
	return removexattr(path, AttrMem)
}
