// Package space owns disk spaces and their partitions: the XA layout in
// which xrootd keeps data files (<partition>/<space>/<XX>/<stem><sfx>% with
// an absolute symlink in the namespace), partition usage from statfs without
// counting a shared device twice, and placement of new data files.
package space

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Public is the space files belong to when they are not XA links.
const Public = "public"

// Partition is one directory of a space.
type Partition struct {
	Space string
	Path  string // as configured, without trailing slash
	Cap   int64  // bytes frm may use here; 0 = the whole filesystem
}

// DataDir is where the space's data files live on this partition.
func (p Partition) DataDir() string { return p.Path + "/" + p.Space }

// Space is a named, ordered set of partitions.
type Space struct {
	Name       string
	Partitions []Partition
}

// Set is the site's spaces in configuration order.
type Set struct {
	spaces []Space
	byName map[string]int
}

// NewSet builds a Set. Spaces are kept in the order given.
func NewSet(spaces []Space) *Set {
	s := &Set{spaces: spaces, byName: make(map[string]int, len(spaces))}
	for i, sp := range spaces {
		s.byName[sp.Name] = i
	}
	return s
}

// All returns the spaces in configuration order. The caller must not
// modify the result.
func (s *Set) All() []Space { return s.spaces }

// Get returns the named space.
func (s *Set) Get(name string) (Space, bool) {
	i, ok := s.byName[name]
	if !ok {
		return Space{}, false
	}
	return s.spaces[i], true
}

// Partition returns the partition of space name whose path is dir (with or
// without a trailing slash).
func (s *Set) Partition(name, dir string) (Partition, bool) {
	sp, ok := s.Get(name)
	if !ok {
		return Partition{}, false
	}
	dir = strings.TrimRight(dir, "/")
	for _, p := range sp.Partitions {
		if p.Path == dir {
			return p, true
		}
	}
	return Partition{}, false
}

// Contains reports whether path is inside the data directory of some
// configured partition. frm only removes data files for which this holds,
// so a namespace symlink pointing elsewhere can never make it delete a file
// outside its spaces.
func (s *Set) Contains(path string) (Partition, bool) {
	for _, sp := range s.spaces {
		for _, p := range sp.Partitions {
			d := p.DataDir() + "/"
			if strings.HasPrefix(path, d) && !strings.Contains(path[len(d):], "/../") {
				return p, true
			}
		}
	}
	return Partition{}, false
}

// Init creates the data directory of every partition (as xrootd does at
// start-up).
func (s *Set) Init() error {
	for _, sp := range s.spaces {
		for _, p := range sp.Partitions {
			if err := os.MkdirAll(p.DataDir(), 0o755); err != nil {
				return fmt.Errorf("space %s: %w", sp.Name, err)
			}
		}
	}
	return nil
}

// Suffix returns the 4-character XA suffix for a data file of space name
// in partition directory path: 2 hex digits of the offset of the space name
// in the data path (mod 256), 1 hex digit of its length (a lower-case f if
// longer than 15), and '%'; the hex digits upper case: byte for byte what
// xrootd 5.5.3 writes (SpaceOf reads either case).
func Suffix(partPath, name string) string {
	off := (len(strings.TrimRight(partPath, "/")) + 1) % 256
	if len(name) > 15 {
		return fmt.Sprintf("%02Xf%%", off) // xrootd's literal, lower case
	}
	return fmt.Sprintf("%02X%X%%", off, len(name))
}

// SpaceOf decodes the space name from the target of an XA symlink. ok is
// false when target is not an XA data path.
func SpaceOf(target string) (name string, ok bool) {
	n := len(target)
	if n < 5 || target[n-1] != '%' {
		return "", false
	}
	off, err1 := strconv.ParseUint(target[n-4:n-2], 16, 16)
	ln, err2 := strconv.ParseUint(target[n-2:n-1], 16, 8)
	if err1 != nil || err2 != nil || ln == 0 {
		return "", false
	}
	// The offset was taken mod 256: try each candidate position.
	for o := int(off); o < n-4; o += 256 {
		if o == 0 || target[o-1] != '/' {
			continue
		}
		rest := target[o:]
		end := strings.IndexByte(rest, '/')
		if end <= 0 {
			continue
		}
		if ln < 15 && end != int(ln) || ln == 15 && end < 15 {
			continue
		}
		return rest[:end], true
	}
	return "", false
}

var dataSeq atomic.Uint32

// pid is this process's id, in every data file name it makes (read once:
// os.Getpid is a system call each time).
var pid = uint32(os.Getpid())

// NewDataPath returns a fresh XA data file name in partition p, in the form
// xrootd uses: <p>/<space>/<XX>/<stem><sfx>. The stem encodes time, pid, a
// loopback address and a per-process sequence number (little-endian hex);
// only the suffix is ever parsed back. Callers create it with O_EXCL.
func NewDataPath(p Partition, now time.Time) string {
	seq := dataSeq.Add(1) - 1
	le := func(v uint32) string {
		return fmt.Sprintf("%02X%02X%02X%02X", byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
	}
	// As xrootd 5.5.3 writes them: upper-case hex but for the address
	// part ("7f000001"), then the upper-case suffix (xrootd's "…1A4%").
	stem := le(uint32(now.Unix())) + le(pid) + "00007f000001" + le(seq)
	return fmt.Sprintf("%s/%02X/%s%s", p.DataDir(), byte(seq), stem, Suffix(p.Path, p.Space))
}

// Usage is the state of one partition.
type Usage struct {
	Partition
	Dev   uint64 // device id of the filesystem holding it
	Total int64  // bytes frm may use (filesystem size, or Cap)
	Free  int64  // bytes available to frm
	Files int64  // data files in DataDir (only when counted)
	Bytes int64  // bytes held by those files
	Err   error  // statfs failure; the other fields are zero
}

// Used returns Total - Free.
func (u Usage) Used() int64 { return u.Total - u.Free }

// Stat fills the filesystem figures of p. With cap set, Total is the cap and
// Free what is left of it (never more than the filesystem's free space).
func Stat(p Partition) Usage {
	u := Usage{Partition: p}
	var fs unix.Statfs_t
	if err := unix.Statfs(p.Path, &fs); err != nil {
		u.Err = fmt.Errorf("statfs %s: %w", p.Path, err)
		return u
	}
	var st unix.Stat_t
	if err := unix.Stat(p.Path, &st); err == nil {
		u.Dev = st.Dev
	}
	u.Total = int64(fs.Blocks) * fs.Bsize
	u.Free = int64(fs.Bavail) * fs.Bsize
	return u
}

// StatCapped is Stat with the cap applied: a capped partition's files
// are counted (CountFiles) so that Total and Free reflect its cap.
func StatCapped(p Partition) Usage {
	u := Stat(p)
	if u.Err == nil && u.Cap > 0 {
		CountFiles(&u)
		ApplyCaps(&u)
	}
	return u
}

// CountFiles walks the partition's data directory and fills Files and
// Bytes with the data files (not side files) found there.
func CountFiles(u *Usage) error {
	return filepath.WalkDir(u.DataDir(), func(path string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) && path == u.DataDir() {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() || !strings.HasSuffix(path, "%") {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil // removed while we looked
		}
		u.Files++
		u.Bytes += info.Size()
		return nil
	})
}

// ApplyCaps limits Total and Free by the partition caps, given the bytes
// the partition already holds (Bytes, from CountFiles).
func ApplyCaps(u *Usage) {
	if u.Cap <= 0 || u.Err != nil {
		return
	}
	left := u.Cap - u.Bytes
	if left < 0 {
		left = 0
	}
	u.Total = u.Cap
	if left < u.Free {
		u.Free = left
	}
}

// Totals sums usages without counting a filesystem twice: when several
// partitions share a device (xrootd#425), the device's total and free are
// counted once. Capped partitions are counted on their own.
func Totals(us []Usage) (total, free int64) {
	seen := map[uint64]bool{}
	for _, u := range us {
		if u.Err != nil {
			continue
		}
		if u.Cap <= 0 {
			if seen[u.Dev] {
				continue
			}
			seen[u.Dev] = true
		}
		total += u.Total
		free += u.Free
	}
	return total, free
}

// ErrNoRoom means no partition of the space can hold the file.
var ErrNoRoom = errors.New("no partition has room")

// Choose picks the partition of sp with the most free space able to hold
// size bytes. Partitions that fail statfs are skipped.
func Choose(sp Space, size int64) (Partition, error) {
	us := make([]Usage, 0, len(sp.Partitions))
	for _, p := range sp.Partitions {
		u := Stat(p)
		if u.Err != nil {
			continue
		}
		if p.Cap > 0 {
			if err := CountFiles(&u); err != nil {
				continue
			}
			ApplyCaps(&u)
		}
		us = append(us, u)
	}
	sort.SliceStable(us, func(i, j int) bool { return us[i].Free > us[j].Free })
	if len(us) == 0 || us[0].Free < size {
		return Partition{}, fmt.Errorf("space %s: %w for %d bytes", sp.Name, ErrNoRoom, size)
	}
	// Partitions on the same filesystem as the emptiest one, or within
	// 1% of its free space, are equally good: rotate among them so files
	// spread instead of piling onto the first partition listed.
	best := us[:1]
	for _, u := range us[1:] {
		if u.Free >= size && (u.Dev == us[0].Dev && u.Cap <= 0 && us[0].Cap <= 0 || us[0].Free-u.Free <= us[0].Free/100) {
			best = append(best, u)
		}
	}
	return best[int(rotor.Add(1)-1)%len(best)].Partition, nil
}

// rotor spreads placements over equally good partitions.
var rotor atomic.Uint32
