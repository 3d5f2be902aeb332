package meta

import (
	"bytes"
	"fmt"
	"strings"
)

// EncodePfn returns the user.XrdFrm.Pfn value: the pfn followed by a NUL
// (xrootd writes strlen+1 bytes).
func EncodePfn(pfn string) []byte {
	b := make([]byte, len(pfn)+1)
	copy(b, pfn)
	return b
}

// DecodePfn decodes a user.XrdFrm.Pfn value: the bytes before the first
// NUL (all of them when there is none). An empty value gives "".
func DecodePfn(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// GetPfn reads the pfn back reference of a data file (through symlinks).
// An absent attribute gives ("", false, nil); an empty one ("" or a lone
// NUL) gives ("", true, nil), which audit reports as a missing xref.
func GetPfn(path string) (string, bool, error) {
	b, err := getxattrAlloc(path, AttrPfn, attrPfnZ)
	if err != nil {
		if err == ErrNoAttr {
			return "", false, nil
		}
		return "", false, attrErr("getxattr", AttrPfn, path, err)
	}
	return DecodePfn(b), true, nil
}

// SetPfn writes the pfn back reference on path (through symlinks). A pfn
// containing a NUL byte is refused, as it could not be read back.
func SetPfn(path, pfn string) error {
	if strings.IndexByte(pfn, 0) >= 0 {
		return attrErr("setxattr", AttrPfn, path, fmt.Errorf("%w: pfn contains a NUL byte", ErrBadValue))
	}
	if err := setxattr(path, AttrPfn, EncodePfn(pfn)); err != nil {
		return attrErr("setxattr", AttrPfn, path, err)
	}
	return nil
}

// RemovePfn removes the pfn back reference; removed is false (with a nil
// error) when there was none.
func RemovePfn(path string) (removed bool, err error) {
	return removexattr(path, AttrPfn)
}
