package meta

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// PinFlags is the flags byte of user.XrdFrm.Pin.
type PinFlags uint8

// Pin flags. xrootd tests them as bits, in this order of precedence:
// forever, keep, idle.
const (
	PinForever PinFlags = 1 // pinned until unpinned; Time is 0
	PinIdle    PinFlags = 2 // pinned while accessed within the last Time seconds
	PinKeep    PinFlags = 4 // pinned until the absolute epoch Time
)

// PinSize is the size of the user.XrdFrm.Pin value written.
const PinSize = 24

// Pin is a decoded user.XrdFrm.Pin value. Time is the seconds of idleness
// for an idle pin, the absolute epoch (seconds) for a keep pin, and 0 for a
// forever pin. Flags == 0 means "not pinned" (xrootd ignores such a value).
type Pin struct {
	Flags PinFlags
	Time  int64
}

// EncodePin returns the 24-byte pin value: int64 big-endian Time, the flags
// byte, and 15 zero bytes. (xrootd 5.5.3 writes 8 bytes of stack garbage at
// offset 16; we write zeros there.)
func EncodePin(p Pin) []byte {
	b := make([]byte, PinSize)
	binary.BigEndian.PutUint64(b, uint64(p.Time))
	b[8] = byte(p.Flags)
	return b
}

// DecodePin decodes a pin value. It needs at least 9 bytes and ignores
// bytes 9..23 (where xrootd leaves garbage).
func DecodePin(b []byte) (Pin, error) {
	if len(b) < 9 {
		return Pin{}, fmt.Errorf("%w: pin is %d bytes, need at least 9", ErrBadValue, len(b))
	}
	return Pin{Flags: PinFlags(b[8]), Time: int64(binary.BigEndian.Uint64(b))}, nil
}

// GetPin reads the pin of path (through symlinks). An absent attribute
// gives (Pin{}, false, nil). It does not allocate.
func GetPin(path string) (Pin, bool, error) {
	var buf [smallAttrBuf]byte
	n, err := getxattr(path, AttrPin, attrPinZ, buf[:])
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

// SetPin writes pin p on path (through symlinks).
func SetPin(path string, p Pin) error {
	if err := setxattr(path, AttrPin, EncodePin(p)); err != nil {
		return attrErr("setxattr", AttrPin, path, err)
	}
	return nil
}

// RemovePin removes the pin of path; removed is false (with a nil error)
// when there was none. frm_admin counts only actual removals as unpins.
func RemovePin(path string) (removed bool, err error) {
	return removexattr(path, AttrPin)
}

// Expired reports whether p is a keep pin whose time has passed (Time <=
// now, as find pinned tests it; such pins are deleted by find pinned). A
// forever pin never expires.
func (p Pin) Expired(now time.Time) bool {
	return p.Flags&PinForever == 0 && p.Flags&PinKeep != 0 && p.Time <= now.Unix()
}

// Protects reports whether p keeps the file from being purged at time now,
// given the file's access time (frm_purged's eligibility test): a forever
// pin; a keep pin whose Time is still in the future; an idle pin whose Time
// exceeds the seconds since the last access.
func (p Pin) Protects(now, atime time.Time) bool {
	if p.Flags&PinForever != 0 {
		return true
	}
	n := now.Unix()
	if p.Flags&PinKeep != 0 && p.Time > n {
		return true
	}
	return p.Flags&PinIdle != 0 && p.Time > n-atime.Unix()
}

// FindSpec renders p the way "find pinned" prints it after "pin -k ":
//
//	forever              forever pin
//	+<v><u>              idle pin, v units of idleness
//	<v><u>               keep pin with at most 7 days left: the time left
//	MM/DD/YYYY           longer keep pin: its local date in loc
//
// The unit is s if the seconds are <= 180, else m if the (truncated)
// minutes are <= 90, else h if the (truncated) hours are <= 45, else d
// (truncated days): +3m -> +180s, +100m -> +1h, +1d -> +24h, +46h -> +1d.
//
// It returns "" for what find pinned does not print: a value without pin
// flags and an expired keep pin (see Expired). A nil loc means time.Local.
func (p Pin) FindSpec(now time.Time, loc *time.Location) string {
	const week = 7 * 24 * 60 * 60
	switch {
	case p.Flags&PinForever != 0:
		return "forever"
	case p.Flags&PinKeep != 0:
		n := now.Unix()
		if p.Time <= n {
			return ""
		}
		left := p.Time - n
		if left > 0 && left <= week {
			return scaledSpec("", left)
		}
		if loc == nil {
			loc = time.Local
		}
		y, m, d := time.Unix(p.Time, 0).In(loc).Date()
		return fmt.Sprintf("%02d/%02d/%04d", int(m), d, y)
	case p.Flags&PinIdle != 0:
		return scaledSpec("+", p.Time)
	}
	return ""
}

// scaledSpec formats seconds v with find pinned's unit choice.
func scaledSpec(prefix string, v int64) string {
	unit := byte('s')
	switch {
	case v <= 180:
	case v/60 <= 90:
		v, unit = v/60, 'm'
	case v/3600 <= 45:
		v, unit = v/3600, 'h'
	default:
		v, unit = v/86400, 'd'
	}
	b := make([]byte, 0, 24)
	b = append(b, prefix...)
	b = strconv.AppendInt(b, v, 10)
	b = append(b, unit)
	return string(b)
}

// ParseKeep parses the value of "pin -k":
//
//	forever       pin forever
//	+N[smhd]      idle pin: N units of idleness (N > 0)
//	N[smhd]       keep pin until now + N units
//	mm/dd/yy      keep pin until local (loc) midnight of that date; 2-digit
//	mm/dd/yyyy    years as C strptime %y: 69-99 -> 19xx, 00-68 -> 20xx
//	0, +0         unpin (unpin == true, p is zero)
//
// Units are s, m, h or d in either case; none means seconds. Errors use
// xrootd's wording: "keep time value not specified" (empty, "+"),
// "keep time <v> is not a number" ("1.5h", "bad", overflow),
// "Invalid pin keep date - <v>". A nil loc means time.Local.
//
// Differences from xrootd 5.5.3, which rejects 4-digit years, leaves the
// date conversion partly uninitialised (reference §6.8), normalises
// impossible dates such as 02/31 and accepts negative times: we accept
// 4-digit years, store the local midnight deterministically, reject dates
// that do not exist ("Invalid pin keep date") and reject negative times
// ("keep time <v> may not be less than 0").
func ParseKeep(spec string, now time.Time, loc *time.Location) (p Pin, unpin bool, err error) {
	if spec == "forever" {
		return Pin{Flags: PinForever}, false, nil
	}
	if strings.IndexByte(spec, '/') >= 0 {
		t, err := parseKeepDate(spec, loc)
		if err != nil {
			return Pin{}, false, err
		}
		return Pin{Flags: PinKeep, Time: t}, false, nil
	}
	v, idle := strings.CutPrefix(spec, "+")
	secs, err := parseKeepSeconds(v)
	if err != nil {
		return Pin{}, false, err
	}
	switch {
	case secs == 0:
		return Pin{}, true, nil
	case idle:
		return Pin{Flags: PinIdle, Time: secs}, false, nil
	}
	n := now.Unix()
	if secs > math.MaxInt64-n {
		return Pin{}, false, fmt.Errorf("keep time %s is not a number", v)
	}
	return Pin{Flags: PinKeep, Time: n + secs}, false, nil
}

// parseKeepSeconds parses N[smhd] into seconds (>= 0).
func parseKeepSeconds(v string) (int64, error) {
	if v == "" {
		return 0, errors.New("keep time value not specified")
	}
	digits, mult := v, int64(1)
	switch v[len(v)-1] {
	case 's', 'S':
		digits = v[:len(v)-1]
	case 'm', 'M':
		digits, mult = v[:len(v)-1], 60
	case 'h', 'H':
		digits, mult = v[:len(v)-1], 3600
	case 'd', 'D':
		digits, mult = v[:len(v)-1], 86400
	}
	neg := false
	if len(digits) > 1 && digits[0] == '-' {
		neg, digits = true, digits[1:]
	}
	if !allDigits(digits) {
		return 0, fmt.Errorf("keep time %s is not a number", v)
	}
	if neg {
		return 0, fmt.Errorf("keep time %s may not be less than 0", v)
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("keep time %s is not a number", v)
	}
	return n * mult, nil
}

// parseKeepDate parses mm/dd/yy or mm/dd/yyyy into the epoch of local
// midnight of that date.
func parseKeepDate(spec string, loc *time.Location) (int64, error) {
	bad := fmt.Errorf("Invalid pin keep date - %s", spec)
	ms, rest, ok1 := strings.Cut(spec, "/")
	ds, ys, ok2 := strings.Cut(rest, "/")
	if !ok1 || !ok2 {
		return 0, bad
	}
	if len(ms) < 1 || len(ms) > 2 || len(ds) < 1 || len(ds) > 2 ||
		!allDigits(ms) || !allDigits(ds) || !allDigits(ys) {
		return 0, bad
	}
	m, _ := strconv.Atoi(ms)
	d, _ := strconv.Atoi(ds)
	y, _ := strconv.Atoi(ys)
	switch len(ys) {
	case 1, 2: // strptime %y
		if y < 69 {
			y += 2000
		} else {
			y += 1900
		}
	case 4:
	default:
		return 0, bad
	}
	if m < 1 || m > 12 || d < 1 || d > daysIn(time.Month(m), y) {
		return 0, bad
	}
	if loc == nil {
		loc = time.Local
	}
	return time.Date(y, time.Month(m), d, 0, 0, 0, 0, loc).Unix(), nil
}

func daysIn(m time.Month, y int) int {
	// Day 0 of the next month is the last day of this one.
	return time.Date(y, m+1, 0, 12, 0, 0, 0, time.UTC).Day()
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
