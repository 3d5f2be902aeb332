package meta

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// AttrOrigin records where a file staged from outside this site came from:
// the peer site a fetch downloaded it from, and when (frm's own attribute;
// xrootd neither writes nor reads it). It sits on the data file, like the
// data it is about. A file staged from the site's own MSS has none.
const AttrOrigin = "user.frm.Origin"

var attrOriginZ = []byte(AttrOrigin + "\x00")

// Origin is a decoded user.frm.Origin value.
type Origin struct {
	Peer string    // the peer site's name (config [[peer]] name)
	At   time.Time // when the fetch completed (seconds)
}

// String renders it for listings: "peer b 2026-12-06 15:04:05".
func (o Origin) String() string {
	return "peer " + o.Peer + " " + o.At.Local().Format(time.DateTime)
}

// maxOriginPeer bounds the peer name kept (config names are 1 to 63
// characters).
const maxOriginPeer = 63

// EncodeOrigin renders o as the attribute value "v1 <unix seconds> <peer>".
func EncodeOrigin(o Origin) ([]byte, error) {
	if o.Peer == "" || len(o.Peer) > maxOriginPeer || strings.ContainsAny(o.Peer, " \x00\n") {
		return nil, fmt.Errorf("%w: origin peer name %q", ErrBadValue, o.Peer)
	}
	return []byte("v1 " + strconv.FormatInt(o.At.Unix(), 10) + " " + o.Peer), nil
}

// DecodeOrigin parses a user.frm.Origin value.
func DecodeOrigin(b []byte) (Origin, error) {
	f := strings.Fields(string(b))
	if len(f) != 3 || f[0] != "v1" {
		return Origin{}, fmt.Errorf("%w: origin %q", ErrBadValue, b)
	}
	secs, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil || secs < 0 || len(f[2]) > maxOriginPeer {
		return Origin{}, fmt.Errorf("%w: origin %q", ErrBadValue, b)
	}
	return Origin{Peer: f[2], At: time.Unix(secs, 0)}, nil
}

// SetOrigin records o on path (through symlinks).
func SetOrigin(path string, o Origin) error {
	b, err := EncodeOrigin(o)
	if err == nil {
		err = setxattr(path, AttrOrigin, b)
	}
	if err != nil {
		return attrErr("setxattr", AttrOrigin, path, err)
	}
	return nil
}

// GetOrigin reads path's origin; ok is false when it has none.
func GetOrigin(path string) (o Origin, ok bool, err error) {
	var buf [128]byte
	n, err := getxattr(path, AttrOrigin, attrOriginZ, buf[:])
	switch {
	case err == ErrNoAttr:
		return Origin{}, false, nil
	case err == unix.ERANGE:
		return Origin{}, true, attrErr("decode", AttrOrigin, path, fmt.Errorf("%w: origin longer than %d bytes", ErrBadValue, len(buf)))
	case err != nil:
		return Origin{}, false, attrErr("getxattr", AttrOrigin, path, err)
	}
	o, err = DecodeOrigin(buf[:n])
	if err != nil {
		return Origin{}, true, attrErr("decode", AttrOrigin, path, err)
	}
	return o, true, nil
}
