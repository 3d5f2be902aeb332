package meta

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// AttrBadChecksum marks a file whose data no longer matches its stored
// checksum record (bit rot, a bad controller): frm's own attribute, which
// xrootd neither writes nor reads. verify -f and the scrubber set it when
// the data read from disk differs from a current user.XrdCks record;
// purges never remove a marked file; only an administrator's decision
// clears it (`chksum -f calc` accepting the data as it is, or removing the
// file, e.g. to stage it again from the MSS). It sits on the data file,
// like the data it is about, so reloc carries it along.
const AttrBadChecksum = "user.frm.BadCks"

var attrBadChecksumZ = []byte(AttrBadChecksum + "\x00")

// BadChecksumSize is the size of the user.frm.BadCks value (version 1).
const BadChecksumSize = 164

// Layout of the user.frm.BadCks value, version 1. Integers are big-endian,
// as in xrootd's records.
const (
	bcOffVersion  = 0  // 1
	bcOffName     = 2  // algorithm name, NUL padded (16 bytes; byte 1 reserved)
	bcOffFound    = 18 // int64: when the mismatch was found (epoch seconds)
	bcOffMTime    = 26 // int64: the file's mtime then (that of the current record)
	bcOffStoredN  = 34 // length of Stored (1..64)
	bcOffCompN    = 35 // length of Computed (1..64)
	bcOffStored   = 36 // Stored, zero padded (64 bytes)
	bcOffComputed = 100
	bcVersion     = 1
)

// BadChecksum is a decoded user.frm.BadCks value: the evidence of one
// mismatch between a file's data and its stored checksum record.
type BadChecksum struct {
	Alg      string // the algorithm whose record the data failed
	Found    int64  // when the mismatch was found (epoch seconds)
	MTime    int64  // the file's mtime then, which the stored record carried
	Stored   []byte // the stored record's value
	Computed []byte // the value computed from the data
}

// FoundAt returns Found as a time.
func (b BadChecksum) FoundAt() time.Time { return time.Unix(b.Found, 0) }

// String renders the mark for messages: "adler32 stored 1e720467, data
// 1e720468".
func (b BadChecksum) String() string {
	return fmt.Sprintf("%s stored %s, data %s", b.Alg, hex.EncodeToString(b.Stored), hex.EncodeToString(b.Computed))
}

// EncodeBadChecksum returns the 164-byte value: version byte 1, a
// reserved zero byte, the algorithm name NUL padded to 16 bytes, int64
// Found, int64 MTime, the lengths of Stored and Computed (one byte each),
// then Stored and Computed, each zero padded to 64 bytes.
func EncodeBadChecksum(m BadChecksum) ([]byte, error) {
	if err := checkAlgName(m.Alg); err != nil {
		return nil, err
	}
	for _, v := range [][]byte{m.Stored, m.Computed} {
		if len(v) < 1 || len(v) > ChecksumValueMax {
			return nil, fmt.Errorf("%w: checksum value of %d bytes (1..%d allowed)", ErrBadValue, len(v), ChecksumValueMax)
		}
	}
	b := make([]byte, BadChecksumSize)
	b[bcOffVersion] = bcVersion
	copy(b[bcOffName:bcOffName+ChecksumNameSize], m.Alg)
	binary.BigEndian.PutUint64(b[bcOffFound:], uint64(m.Found))
	binary.BigEndian.PutUint64(b[bcOffMTime:], uint64(m.MTime))
	b[bcOffStoredN] = byte(len(m.Stored))
	b[bcOffCompN] = byte(len(m.Computed))
	copy(b[bcOffStored:], m.Stored)
	copy(b[bcOffComputed:], m.Computed)
	return b, nil
}

// DecodeBadChecksum decodes a user.frm.BadCks value. It needs version 1
// and at least 164 bytes (bytes past them, reserved and padding bytes are
// ignored, so a later version may append fields).
func DecodeBadChecksum(b []byte) (BadChecksum, error) {
	if len(b) < BadChecksumSize {
		return BadChecksum{}, fmt.Errorf("%w: bad-checksum mark is %d bytes, need %d", ErrBadValue, len(b), BadChecksumSize)
	}
	if b[bcOffVersion] != bcVersion {
		return BadChecksum{}, fmt.Errorf("%w: bad-checksum mark version %d (frm knows %d)", ErrBadValue, b[bcOffVersion], bcVersion)
	}
	name := b[bcOffName : bcOffName+ChecksumNameSize]
	i := bytes.IndexByte(name, 0)
	if i <= 0 {
		return BadChecksum{}, fmt.Errorf("%w: bad-checksum mark has no valid algorithm name", ErrBadValue)
	}
	ns, nc := int(b[bcOffStoredN]), int(b[bcOffCompN])
	if ns < 1 || ns > ChecksumValueMax || nc < 1 || nc > ChecksumValueMax {
		return BadChecksum{}, fmt.Errorf("%w: bad-checksum mark value lengths %d, %d", ErrBadValue, ns, nc)
	}
	return BadChecksum{
		Alg:      string(name[:i]),
		Found:    int64(binary.BigEndian.Uint64(b[bcOffFound:])),
		MTime:    int64(binary.BigEndian.Uint64(b[bcOffMTime:])),
		Stored:   append([]byte(nil), b[bcOffStored:bcOffStored+ns]...),
		Computed: append([]byte(nil), b[bcOffComputed:bcOffComputed+nc]...),
	}, nil
}

// GetBadChecksum reads the bad-checksum mark of path (through symlinks).
// An absent mark gives (BadChecksum{}, false, nil). A mark that is present
// but does not decode gives ok == true with an error wrapping ErrBadValue:
// its presence is what keeps the file from being purged, so a caller
// deciding whether a file may go must treat ok (or any error other than
// the file being gone) as "marked".
func GetBadChecksum(path string) (BadChecksum, bool, error) {
	var buf [BadChecksumSize + 64]byte
	n, err := getxattr(path, AttrBadChecksum, attrBadChecksumZ, buf[:])
	return badChecksumResult(path, buf[:], n, err)
}

// GetBadChecksumAt is GetBadChecksum relative to an open directory (see
// GetCopyTimeAt).
func GetBadChecksumAt(dirfd int, name, path string) (BadChecksum, bool, error) {
	var buf [BadChecksumSize + 64]byte
	n, err := getxattrAt(dirfd, name, path, AttrBadChecksum, attrBadChecksumZ, buf[:])
	return badChecksumResult(path, buf[:], n, err)
}

func badChecksumResult(path string, buf []byte, n int, err error) (BadChecksum, bool, error) {
	switch {
	case err == ErrNoAttr:
		return BadChecksum{}, false, nil
	case err == unix.ERANGE:
		// Longer than any version frm writes: present, but not ours to read.
		return BadChecksum{}, true, attrErr("decode", AttrBadChecksum, path, fmt.Errorf("%w: bad-checksum mark longer than %d bytes", ErrBadValue, len(buf)))
	case err != nil:
		return BadChecksum{}, false, attrErr("getxattr", AttrBadChecksum, path, err)
	}
	m, err := DecodeBadChecksum(buf[:n])
	if err != nil {
		return BadChecksum{}, true, attrErr("decode", AttrBadChecksum, path, err)
	}
	return m, true, nil
}

// SetBadChecksum writes the mark m on path (through symlinks). Callers
// write it on the descriptor of the file whose data they read, under the
// residency lock (guard.File.Path), so it never lands on a file removed or
// replaced meanwhile.
func SetBadChecksum(path string, m BadChecksum) error {
	b, err := EncodeBadChecksum(m)
	if err != nil {
		return attrErr("setxattr", AttrBadChecksum, path, err)
	}
	if err := setxattr(path, AttrBadChecksum, b); err != nil {
		return attrErr("setxattr", AttrBadChecksum, path, err)
	}
	return nil
}

// RemoveBadChecksum removes the mark of path; removed is false (with a
// nil error) when there was none.
func RemoveBadChecksum(path string) (removed bool, err error) {
	return removexattr(path, AttrBadChecksum)
}
