// Package names owns logical file names (lfns): their validation and
// canonical form, and the mapping from an lfn to its local physical name
// (pfn, under the namespace root) and its remote name (rfn, under the MSS
// root).
//
// xrootd 5.5.3 maps names by plain concatenation, so "/a/../../etc" escapes
// the namespace. frm canonicalises every lfn first and refuses any name that
// would climb above the root; see docs/compat.md.
package names

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// MaxLFN is the longest lfn accepted, in bytes. It is what fits in the LFN
// field of an xrootd queue record (3072 bytes with the terminating NUL), so
// every accepted name can also be queued.
const MaxLFN = 3071

// MaxComponent is the longest single path component (NAME_MAX on Linux).
const MaxComponent = 255

// Errors returned by Clean, wrapped in an *Error naming the lfn.
var (
	ErrEmpty     = errors.New("empty name")
	ErrRelative  = errors.New("not an absolute name (must start with /)")
	ErrNUL       = errors.New("contains a NUL byte")
	ErrTooLong   = errors.New("name too long")
	ErrEscapes   = errors.New("climbs above the namespace root with ..")
	ErrComponent = errors.New("path component too long")
)

// Error reports an invalid lfn.
type Error struct {
	LFN string
	Err error
}

func (e *Error) Error() string { return fmt.Sprintf("invalid lfn %q: %v", e.LFN, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// Clean returns the canonical form of lfn: absolute, single slashes, no
// "." or ".." components, no trailing slash (except for the root "/"). It
// refuses names that are empty, relative, contain NUL, are too long, or
// whose ".." components would climb above the root.
func Clean(lfn string) (string, error) {
	switch {
	case lfn == "":
		return "", &Error{lfn, ErrEmpty}
	case strings.IndexByte(lfn, 0) >= 0:
		return "", &Error{lfn, ErrNUL}
	case lfn[0] != '/':
		return "", &Error{lfn, ErrRelative}
	case len(lfn) > MaxLFN:
		return "", &Error{lfn[:40] + "...", ErrTooLong}
	}
	depth := 0
	for _, c := range strings.Split(lfn, "/") {
		switch c {
		case "", ".":
		case "..":
			if depth == 0 {
				return "", &Error{lfn, ErrEscapes}
			}
			depth--
		default:
			if len(c) > MaxComponent {
				return "", &Error{lfn, ErrComponent}
			}
			depth++
		}
	}
	return path.Clean(lfn), nil
}

// Mapper maps lfns to pfns and rfns for one site.
type Mapper struct {
	localRoot  string
	remoteRoot string
}

// NewMapper returns a Mapper for the given roots. Trailing slashes are
// dropped (a remote root that is a URL keeps its own form).
func NewMapper(localRoot, remoteRoot string) Mapper {
	return Mapper{localRoot: trimRoot(localRoot), remoteRoot: trimRemote(remoteRoot)}
}

func trimRoot(r string) string {
	for len(r) > 1 && strings.HasSuffix(r, "/") {
		r = r[:len(r)-1]
	}
	if r == "/" {
		return ""
	}
	return r
}

func trimRemote(r string) string {
	if strings.Contains(r, "://") {
		return r
	}
	return trimRoot(r)
}

// LocalRoot returns the namespace root ("" when lfns are pfns).
func (m Mapper) LocalRoot() string { return m.localRoot }

// RemoteRoot returns the MSS root ("" when lfns are rfns).
func (m Mapper) RemoteRoot() string { return m.remoteRoot }

// PFN returns the local physical name of lfn after cleaning it.
func (m Mapper) PFN(lfn string) (string, error) {
	c, err := Clean(lfn)
	if err != nil {
		return "", err
	}
	return m.PFNClean(c), nil
}

// PFNClean maps an lfn already returned by Clean.
func (m Mapper) PFNClean(clean string) string {
	if clean == "/" && m.localRoot != "" {
		return m.localRoot
	}
	return m.localRoot + clean
}

// RFN returns the remote (MSS) name of lfn after cleaning it.
func (m Mapper) RFN(lfn string) (string, error) {
	c, err := Clean(lfn)
	if err != nil {
		return "", err
	}
	if c == "/" && m.remoteRoot != "" {
		return m.remoteRoot, nil
	}
	return m.remoteRoot + c, nil
}

// LFN maps a pfn back to its lfn. ok is false when pfn lies outside the
// namespace root.
func (m Mapper) LFN(pfn string) (lfn string, ok bool) {
	if m.localRoot == "" {
		return pfn, strings.HasPrefix(pfn, "/")
	}
	if pfn == m.localRoot {
		return "/", true
	}
	if strings.HasPrefix(pfn, m.localRoot) && len(pfn) > len(m.localRoot) && pfn[len(m.localRoot)] == '/' {
		return pfn[len(m.localRoot):], true
	}
	return "", false
}
