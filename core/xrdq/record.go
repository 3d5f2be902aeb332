package xrdq

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// RecordSize is the size of a queue record and of the header slot.
const RecordSize = 4096

// Field offsets and sizes of a record (XrdFrcRequest).
const (
	offLFN      = 0
	szLFN       = 3072
	offUser     = 3072
	szUser      = 256
	offID       = 3328
	szID        = 40
	offNotify   = 3368
	szNotify    = 512
	offIName    = 3968 // 3880..3967 reserved
	szIName     = 32
	offCks      = 4000
	szCks       = 64
	offAdded    = 4064
	offThis     = 4072
	offNext     = 4076
	offOptions  = 4080
	offLFO      = 4084
	offOpaque   = 4086
	offCksType  = 4089 // 4088 reserved
	offOp       = 4090
	offPrty     = 4091 // 4092..4095 padding
	hdrSize     = 12   // the header as xrootd writes it: First, Last, Free
	hdrFirstOff = 0
	hdrLastOff  = 4
	hdrFreeOff  = 8
)

// Maximum string lengths (a NUL terminator must fit in the field).
const (
	MaxLFN      = szLFN - 1
	MaxUser     = szUser - 1
	MaxID       = szID - 1
	MaxNotify   = szNotify - 1
	MaxInstance = szIName - 1
	MaxCksValue = szCks // may be binary; no terminator required
)

// MaxPriority is the highest queue priority (XrdFrcRequest::maxPrty).
const MaxPriority = 2

var ne = binary.NativeEndian

// Kind is a queue kind; its String is the queue file name prefix.
type Kind int

// Queue kinds, numbered as xrootd's stgQ, migQ, getQ, putQ.
const (
	Stage   Kind = iota // pstg: '+'
	Migrate             // migr: '&' '^'
	Get                 // getf: '<'
	Put                 // putf: '>' '='
)

// ListOrder is the order in which xrootd (frm_admin query xfrq) lists the
// queues: getf, migr, pstg, putf.
var ListOrder = []Kind{Get, Migrate, Stage, Put}

func (k Kind) String() string {
	switch k {
	case Stage:
		return "pstg"
	case Migrate:
		return "migr"
	case Get:
		return "getf"
	case Put:
		return "putf"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

func (k Kind) valid() bool { return k >= Stage && k <= Put }

// listRank is the position of k in ListOrder.
func (k Kind) listRank() int {
	switch k {
	case Get:
		return 0
	case Migrate:
		return 1
	case Stage:
		return 2
	}
	return 3
}

// KindForOp maps a request character to its queue kind:
// '+' Stage, '<' Get, '>' and '=' Put, '&' and '^' Migrate.
func KindForOp(op byte) (Kind, bool) {
	switch op {
	case '+':
		return Stage, true
	case '<':
		return Get, true
	case '>', '=':
		return Put, true
	case '&', '^':
		return Migrate, true
	}
	return 0, false
}

// Options are a request's processing options (XrdFrcRequest::Options).
type Options uint32

// Option bits.
const (
	NotifyFail Options = 0x1  // msgFail: notify on failure
	NotifySucc Options = 0x2  // msgSucc: notify on success
	ReadWrite  Options = 0x4  // makeRW: file made read/write
	OptMigrate Options = 0x10 // Migrate (internal)
	Purge      Options = 0x20 // purge after copy ('=' and '^')
	Register   Options = 0x40 // registration record (chained first)
)

// Request is one queue record.
type Request struct {
	LFN      string // LFN field (see the package doc); for URLs the whole URL
	User     string // trace id
	ID       string // request id
	Notify   string // notification target(s), "-" for none
	Instance string // iName, "anon" when none
	CksValue string // checksum value (may be binary)
	CksType  uint8
	Added    int64 // addTOD, epoch seconds
	Options  Options
	LFO      int16 // offset of the path inside a URL LFN, 0 if plain
	Opaque   int16 // offset just past '?' (or its NUL), 0 if none
	Op       byte  // request character + < > = & ^
	Priority int8  // 0..2
	Offset   int32 // record offset in its file (This); set by reads
}

// cstr returns s up to its first NUL.
func cstr(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// objEnd is the end of the object (URL or path, no CGI) inside r.LFN.
func (r Request) objEnd() int {
	end := len(cstr(r.LFN))
	if r.Opaque > 0 && int(r.Opaque)-1 < end {
		end = int(r.Opaque) - 1 // frm_xfragent 5.5.3 form: "path?cgi"
	}
	return end
}

// Path returns the path part of the request: LFN[LFO:] without any ?cgi.
func (r Request) Path() string {
	end := r.objEnd()
	start := int(r.LFO)
	if start < 0 || start > end {
		return ""
	}
	return r.LFN[start:end]
}

// Object returns the whole object name (the URL for URL requests, else the
// path) without any ?cgi.
func (r Request) Object() string { return r.LFN[:r.objEnd()] }

// CGI returns the text after '?', "" if none.
func (r Request) CGI() string {
	o := int(r.Opaque)
	if o <= 0 || o > len(r.LFN) {
		return ""
	}
	return cstr(r.LFN[o:])
}

// Tombstone reports whether the record was cancelled (or is a zeroed free
// slot): its LFN starts with NUL.
func (r Request) Tombstone() bool { return r.LFN == "" || r.LFN[0] == 0 }

// Live reports whether xrootd would consider the record a queued request:
// LFN set, addTOD set and a sane Opaque offset. Registration records are
// live too (List hides them, as xrootd does).
func (r Request) Live() bool {
	return !r.Tombstone() && r.Added != 0 && r.Opaque < szLFN
}

// putStr copies s into dst (already zeroed) after checking its length.
func putStr(dst []byte, s, name string, max int, nulOK bool) error {
	if len(s) > max {
		return fmt.Errorf("xrdq: %s too long (%d bytes, max %d)", name, len(s), max)
	}
	if !nulOK && strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("xrdq: %s contains a NUL byte", name)
	}
	copy(dst, s)
	return nil
}

// EncodeRecord lays r out as a 4096-byte xrootd queue record with the given
// This and Next offsets, in native byte order:
//
//	   0 3072 LFN            3968   32 iName (Instance)   4080 4 Options
//	3072  256 User (tid)     4000   64 checksum value     4084 2 LFO
//	3328   40 ID             4064    8 int64 addTOD       4086 2 Opaque
//	3368  512 Notify         4072    4 This               4089 1 checksum type
//	3880   88 reserved       4076    4 Next               4090 1 Op, 4091 1 Prty
//
// Reserved bytes (3880, 4088, 4092..4095) are zero. It fails when a field does
// not fit (LFN max 3071 bytes, User 255, ID 39, Notify 511, Instance 31,
// CksValue 64) or an offset is out of the LFN field.
func EncodeRecord(r Request, this, next int32) ([RecordSize]byte, error) {
	var b [RecordSize]byte
	if err := putStr(b[offLFN:offLFN+szLFN], r.LFN, "LFN", MaxLFN, true); err != nil {
		return b, err
	}
	if err := putStr(b[offUser:offUser+szUser], r.User, "user (trace id)", MaxUser, false); err != nil {
		return b, err
	}
	if err := putStr(b[offID:offID+szID], r.ID, "request id", MaxID, false); err != nil {
		return b, err
	}
	if err := putStr(b[offNotify:offNotify+szNotify], r.Notify, "notify", MaxNotify, false); err != nil {
		return b, err
	}
	if err := putStr(b[offIName:offIName+szIName], r.Instance, "instance name", MaxInstance, false); err != nil {
		return b, err
	}
	if err := putStr(b[offCks:offCks+szCks], r.CksValue, "checksum value", MaxCksValue, true); err != nil {
		return b, err
	}
	if r.LFO < 0 || int(r.LFO) > MaxLFN {
		return b, fmt.Errorf("xrdq: LFO %d outside the LFN field", r.LFO)
	}
	if r.Opaque < 0 || int(r.Opaque) > MaxLFN {
		return b, fmt.Errorf("xrdq: Opaque %d outside the LFN field", r.Opaque)
	}
	ne.PutUint64(b[offAdded:], uint64(r.Added))
	ne.PutUint32(b[offThis:], uint32(this))
	ne.PutUint32(b[offNext:], uint32(next))
	ne.PutUint32(b[offOptions:], uint32(r.Options))
	ne.PutUint16(b[offLFO:], uint16(r.LFO))
	ne.PutUint16(b[offOpaque:], uint16(r.Opaque))
	b[offCksType] = r.CksType
	b[offOp] = r.Op
	b[offPrty] = byte(r.Priority)
	return b, nil
}

// ErrRecordSize is returned by DecodeRecord for a buffer that is not
// exactly RecordSize bytes.
var ErrRecordSize = errors.New("xrdq: queue record must be 4096 bytes")

// DecodeRecord decodes a 4096-byte record. It is lenient about content (as
// xrootd is): strings end at their first NUL (the LFN and checksum value at
// their last non-NUL byte); Offset is set from the This field.
func DecodeRecord(b []byte) (r Request, next int32, err error) {
	if len(b) != RecordSize {
		return Request{}, 0, ErrRecordSize
	}
	str := func(off, n int) string { return string(cstrBytes(b[off : off+n])) }
	r = Request{
		LFN:      string(trimNULs(b[offLFN : offLFN+szLFN])),
		User:     str(offUser, szUser),
		ID:       str(offID, szID),
		Notify:   str(offNotify, szNotify),
		Instance: str(offIName, szIName),
		CksValue: string(trimNULs(b[offCks : offCks+szCks])),
		CksType:  b[offCksType],
		Added:    int64(ne.Uint64(b[offAdded:])),
		Options:  Options(ne.Uint32(b[offOptions:])),
		LFO:      int16(ne.Uint16(b[offLFO:])),
		Opaque:   int16(ne.Uint16(b[offOpaque:])),
		Op:       b[offOp],
		Priority: int8(b[offPrty]),
		Offset:   int32(ne.Uint32(b[offThis:])),
	}
	return r, int32(ne.Uint32(b[offNext:])), nil
}

// trimNULs cuts the NUL bytes at the end of b, eight at a time: a record's
// LFN field is 3 KiB of mostly NULs, and a queue of a hundred thousand
// records is decoded at every listing.
func trimNULs(b []byte) []byte {
	n := len(b)
	for n >= 8 && binary.NativeEndian.Uint64(b[n-8:n]) == 0 {
		n -= 8
	}
	for n > 0 && b[n-1] == 0 {
		n--
	}
	return b[:n]
}

func cstrBytes(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

// chkURL is XrdFrcUtils::chkURL: for "scheme://host//path" it returns the
// offset of the path's leading '/' (extra leading slashes skipped but one),
// else 0.
func chkURL(u string) int {
	i := strings.IndexByte(u, ':')
	if i < 0 || len(u) < i+3 || u[i+1] != '/' || u[i+2] != '/' {
		return 0
	}
	j := strings.IndexByte(u[i+3:], '/')
	if j < 0 {
		return 0
	}
	e := i + 3 + j
	if e+1 >= len(u) || u[e+1] != '/' {
		return 0
	}
	e++
	for e+1 < len(u) && u[e+1] == '/' {
		e++
	}
	return e
}

// SplitObject checks an object name as frm accepts it ("/path" or
// "scheme://host//path", optionally followed by "?cgi") and returns the LFN
// field contents in xrootd's intended layout ("obj\x00cgi" when there is a
// '?'), the LFO and the Opaque offsets. The CGI never takes part in the
// URL check.
func SplitObject(obj string) (lfn string, lfo, opaque int16, err error) {
	base, cgi, hasQ := strings.Cut(obj, "?")
	if len(obj) > MaxLFN {
		return "", 0, 0, fmt.Errorf("Path too long - %s", obj)
	}
	if !strings.HasPrefix(base, "/") {
		l := chkURL(base)
		if l == 0 {
			return "", 0, 0, fmt.Errorf("Invalid url - %s", obj)
		}
		lfo = int16(l)
	}
	lfn = base
	if hasQ {
		opaque = int16(len(base) + 1)
		if cgi != "" {
			lfn = base + "\x00" + cgi
		}
	}
	return lfn, lfo, opaque, nil
}
