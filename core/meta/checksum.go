package meta

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Checksum record layout (xrootd XrdCksData, 96 bytes).
const (
	ChecksumSize     = 96
	ChecksumNameSize = 16 // name field, NUL padded; names are at most 15 bytes
	ChecksumValueMax = 64 // value field

	ckOffMTime  = 16
	ckOffDelta  = 24
	ckOffLength = 31
	ckOffValue  = 32
)

// Checksum is a decoded user.XrdCks.<alg> record.
type Checksum struct {
	Alg   string // algorithm name, e.g. "adler32" (1..15 bytes)
	Value []byte // binary checksum value (1..64 bytes)
	MTime int64  // file mtime when the checksum was computed
	Delta int32  // seconds between that mtime and the computation
}

// Hex returns the value in lower-case hex, as frm_admin chksum prints it.
func (c Checksum) Hex() string { return hex.EncodeToString(c.Value) }

// ComputedAt returns the time the checksum was computed (MTime + Delta).
func (c Checksum) ComputedAt() time.Time { return time.Unix(c.MTime+int64(c.Delta), 0) }

// ChecksumAttr returns the attribute name for algorithm alg.
func ChecksumAttr(alg string) string { return AttrChecksumPrefix + alg }

func checkAlgName(alg string) error {
	if alg == "" || len(alg) >= ChecksumNameSize || strings.IndexByte(alg, 0) >= 0 {
		return fmt.Errorf("%w: invalid checksum name %q", ErrBadValue, alg)
	}
	return nil
}

// EncodeChecksum returns the 96-byte record: name[16] NUL padded, int64 BE
// MTime, int32 BE Delta, 3 reserved zero bytes, the value length byte and
// value[64] zero padded.
func EncodeChecksum(c Checksum) ([]byte, error) {
	if err := checkAlgName(c.Alg); err != nil {
		return nil, err
	}
	if len(c.Value) < 1 || len(c.Value) > ChecksumValueMax {
		return nil, fmt.Errorf("%w: checksum value of %d bytes (1..%d allowed)", ErrBadValue, len(c.Value), ChecksumValueMax)
	}
	b := make([]byte, ChecksumSize)
	copy(b, c.Alg)
	binary.BigEndian.PutUint64(b[ckOffMTime:], uint64(c.MTime))
	binary.BigEndian.PutUint32(b[ckOffDelta:], uint32(c.Delta))
	b[ckOffLength] = byte(len(c.Value))
	copy(b[ckOffValue:], c.Value)
	return b, nil
}

// DecodeChecksum decodes a checksum record (at least 96 bytes; reserved
// bytes and value bytes past the length are ignored).
func DecodeChecksum(b []byte) (Checksum, error) {
	if len(b) < ChecksumSize {
		return Checksum{}, fmt.Errorf("%w: checksum record is %d bytes, need %d", ErrBadValue, len(b), ChecksumSize)
	}
	i := bytes.IndexByte(b[:ChecksumNameSize], 0)
	if i <= 0 {
		return Checksum{}, fmt.Errorf("%w: checksum record has no valid name", ErrBadValue)
	}
	n := int(b[ckOffLength])
	if n < 1 || n > ChecksumValueMax {
		return Checksum{}, fmt.Errorf("%w: checksum length %d", ErrBadValue, n)
	}
	return Checksum{
		Alg:   string(b[:i]),
		Value: append([]byte(nil), b[ckOffValue:ckOffValue+n]...),
		MTime: int64(binary.BigEndian.Uint64(b[ckOffMTime:])),
		Delta: int32(binary.BigEndian.Uint32(b[ckOffDelta:])),
	}, nil
}

// GetChecksum reads the alg checksum record of path (through symlinks). An
// absent attribute gives (Checksum{}, false, nil).
func GetChecksum(path, alg string) (Checksum, bool, error) {
	name := ChecksumAttr(alg)
	if err := checkAlgName(alg); err != nil {
		return Checksum{}, false, attrErr("getxattr", name, path, err)
	}
	var buf [ChecksumSize + 32]byte
	n, err := getxattr(path, name, nil, buf[:])
	if err != nil {
		if err == ErrNoAttr {
			return Checksum{}, false, nil
		}
		return Checksum{}, false, attrErr("getxattr", name, path, err)
	}
	c, err := DecodeChecksum(buf[:n])
	if err != nil {
		return Checksum{}, false, attrErr("decode", name, path, err)
	}
	return c, true, nil
}

// SetChecksum writes c as user.XrdCks.<c.Alg> on path (through symlinks).
func SetChecksum(path string, c Checksum) error {
	name := ChecksumAttr(c.Alg)
	b, err := EncodeChecksum(c)
	if err != nil {
		return attrErr("setxattr", name, path, err)
	}
	if err := setxattr(path, name, b); err != nil {
		return attrErr("setxattr", name, path, err)
	}
	return nil
}

// RemoveChecksum removes the alg checksum of path; removed is false (with
// a nil error) when there was none.
func RemoveChecksum(path, alg string) (removed bool, err error) {
	return removexattr(path, ChecksumAttr(alg))
}

// ListChecksums returns every user.XrdCks.* record of path (through
// symlinks), in the order the file system lists them. Records that vanish
// while listing or do not decode are skipped.
func ListChecksums(path string) ([]Checksum, error) {
	names, err := listxattr(path)
	if err != nil {
		return nil, attrErr("listxattr", AttrChecksumPrefix+"*", path, err)
	}
	var out []Checksum
	for _, name := range names {
		alg, ok := strings.CutPrefix(name, AttrChecksumPrefix)
		if !ok || checkAlgName(alg) != nil {
			continue
		}
		c, ok, err := GetChecksum(path, alg)
		if err != nil {
			if errors.Is(err, ErrBadValue) {
				continue
			}
			return out, err
		}
		if ok {
			out = append(out, c)
		}
	}
	return out, nil
}

// NewHash returns a hash for a checksum algorithm xrootd 5.5.3 knows:
// adler32, crc32, crc32c and md5. Sum appends the value in the byte order
// stored in the record (big-endian for the 32-bit sums).
//
// crc32 is xrootd 5.5.3's crc32: the POSIX 1003.2 cksum(1) CRC (polynomial
// 0x04C11DB7 unreflected, length appended, complemented), not the IEEE/zlib
// CRC-32. crc32c is the standard Castagnoli CRC.
func NewHash(alg string) (hash.Hash, error) {
	switch alg {
	case "adler32":
		return NewAdler32(), nil // hash/adler32's values, faster (adler32.go)
	case "crc32":
		return NewCksum(), nil
	case "crc32c":
		return crc32.New(crc32.MakeTable(crc32.Castagnoli)), nil
	case "md5":
		return md5.New(), nil
	}
	return nil, fmt.Errorf("%s checksums are not supported", alg)
}

// ParseChecksumValue decodes a hex checksum value for alg (either case).
// Errors: "<alg> checksums are not supported", or "Invalid <alg> checksum
// value - <hex>" for bad hex or a length that does not fit alg.
func ParseChecksumValue(alg, hexval string) ([]byte, error) {
	h, err := NewHash(alg)
	if err != nil {
		return nil, err
	}
	v, err := hex.DecodeString(hexval)
	if err != nil || len(v) != h.Size() {
		return nil, fmt.Errorf("Invalid %s checksum value - %s", alg, hexval)
	}
	return v, nil
}

var readBufPool = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// ChecksumFile computes the alg checksum of the file at path (through
// symlinks). MTime is the file's mtime from fstat before reading; Delta is
// the seconds from that mtime to the end of the computation (clamped to
// int32). The record is not stored; see SetChecksum.
func ChecksumFile(path, alg string) (Checksum, error) {
	h, err := NewHash(alg)
	if err != nil {
		return Checksum{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return Checksum{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Checksum{}, err
	}
	if st.IsDir() {
		return Checksum{}, &os.PathError{Op: "read", Path: path, Err: syscall.EISDIR}
	}
	mtime := st.ModTime().Unix()
	bp := readBufPool.Get().(*[]byte)
	defer readBufPool.Put(bp)
	buf := *bp
	for {
		n, err := f.Read(buf)
		h.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return Checksum{}, err
		}
	}
	delta := time.Now().Unix() - mtime
	delta = max(min(delta, math.MaxInt32), math.MinInt32)
	return Checksum{Alg: alg, Value: h.Sum(nil), MTime: mtime, Delta: int32(delta)}, nil
}
