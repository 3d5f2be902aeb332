package meta

import (
	"encoding/binary"
	"fmt"
)

// CopyTimeSize is the size of the user.XrdFrm.Cpy value xrootd writes.
const CopyTimeSize = 24

// EncodeCopyTime returns the 24-byte user.XrdFrm.Cpy value for copy time t
// (seconds since the epoch): int64 big-endian followed by 16 zero bytes.
//
// Semantics (reference §3.1): no attribute = never copied; 0 = migration
// deferred; t < mtime = migratable; t >= mtime = migrated/purgeable.
func EncodeCopyTime(t int64) []byte {
	b := make([]byte, CopyTimeSize)
	binary.BigEndian.PutUint64(b, uint64(t))
	return b
}

// DecodeCopyTime decodes a user.XrdFrm.Cpy value. It needs at least 8
// bytes; the reserved bytes after them are ignored.
func DecodeCopyTime(b []byte) (int64, error) {
	if len(b) < 8 {
		return 0, fmt.Errorf("%w: copy time is %d bytes, need at least 8", ErrBadValue, len(b))
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// GetCopyTime reads the copy time of path (through symlinks). An absent
// attribute gives (0, false, nil). It does not allocate (paths shorter than
// 1024 bytes), so it can run on every file of a large scan.
func GetCopyTime(path string) (t int64, ok bool, err error) {
	var buf [smallAttrBuf]byte
	n, err := getxattr(path, AttrCopy, attrCopyZ, buf[:])
	if err != nil {
		if err == ErrNoAttr {
			return 0, false, nil
		}
		return 0, false, attrErr("getxattr", AttrCopy, path, err)
	}
	t, err = DecodeCopyTime(buf[:n])
	if err != nil {
		return 0, false, attrErr("decode", AttrCopy, path, err)
	}
	return t, true, nil
}

// SetCopyTime writes copy time t on path (through symlinks).
func SetCopyTime(path string, t int64) error {
	if err := setxattr(path, AttrCopy, EncodeCopyTime(t)); err != nil {
		return attrErr("setxattr", AttrCopy, path, err)
	}
	return nil
}

// RemoveCopyTime removes the copy time of path; removed is false (with a
// nil error) when there was none.
func RemoveCopyTime(path string) (removed bool, err error) {
	return removexattr(path, AttrCopy)
}
