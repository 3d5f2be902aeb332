package serve

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"frm/core/catalog"
	"frm/core/meta"
)

// checksumCache keeps, for the files manifests list, what a listing takes
// from their extended attributes (the stored checksum it lists and the
// bad-checksum mark; a download asks the same of the file it opens), keyed by the state of the data file: device, inode,
// size, and mtime and ctime to the nanosecond. A listing then stats every
// file (as it must: the manifest says what is on disk now) and reads the
// attributes only of the files whose key is not in the cache.
//
// Why a hit is as good as reading the attributes: on Linux every change
// of a file's data (write, truncate) or of its attributes (setxattr,
// removexattr: a checksum stored, a bad-checksum mark set or cleared)
// sets its ctime to the current time, and no call sets a chosen ctime
// (utimensat, which sets atime and mtime, moves ctime to now too). A
// file replaced by another (rename, an XA link led elsewhere) has another
// inode or device. So a key seen again means the attributes have not
// changed since they were read, with one exception: ctime comes from the
// kernel's coarse clock (a tick, a few milliseconds), so two changes
// within one tick can leave the same ctime. A file is therefore cached
// only when its ctime is more than ctimeSettle older than the start of
// the listing that read it: any later change gets a later ctime. (A wall
// clock set back by more than that could repeat a ctime; a changed
// checksum record then also carries a stale mtime, which the listing
// checks.) The attributes are read after the stat that gave the key, so
// a change between the two can only make the cached entry never match
// again, not make an old value match a new key.
//
// Memory is bounded: two generations of at most checksumCacheMax/2
// entries each; an entry found in the older is moved to the newer, and
// when the newer is full the older is dropped. A site that lists up to
// checksumCacheMax/2 files keeps all of them. An entry is a 40-byte key
// and a 19-byte value in a Go map, 143 bytes with the map's own overhead
// when full (measured: TestChecksumCacheMemory), so the default million
// entries costs 150 MB at most, 15 MB per 100,000 files listed.
type checksumCache struct {
	max int // entries in both generations together
	// settle is ctimeSettle (tests shorten it).
	settle time.Duration

	mu       sync.Mutex
	cur, old map[ckKey]ckVal
	// algs is the configuration the cached choices were made under
	// (checksum.default): another empties the cache.
	algs string
	// hits and misses count the files found and not found (for tests
	// and the figures of docs/serve.md).
	hits, misses int64
}

// checksumCacheMax bounds the cache: a million files' worth.
const checksumCacheMax = 1 << 20

// ctimeSettle is how much older than a listing's start a file's ctime
// must be for the file to be cached: far more than a clock tick.
const ctimeSettle = time.Second

type ckKey struct {
	dev, ino        uint64
	size            int64
	mtimeNs, ctimNs int64
}

// ckVal is the listing's checksum of the file (alg 0: none) and its
// bad-checksum mark.
type ckVal struct {
	alg, n uint8 // ckAlgs[alg-1], sum[:n]
	bad    bool
	sum    [16]byte
}

// ckAlgs are the algorithms a cached checksum may have (those frm
// computes; a record of another is read from the file each time).
var ckAlgs = [...]string{"adler32", "crc32", "crc32c", "md5"}

func newChecksumCache(max int) *checksumCache {
	return &checksumCache{max: max, settle: ctimeSettle, cur: map[ckKey]ckVal{}, old: map[ckKey]ckVal{}}
}

func keyOf(e *catalog.Entry) (ckKey, bool) {
	// The shared catalog has no inode: nothing to key on.
	return ckKey{e.Dev, e.Ino, e.Size, e.MtimeNs, e.CtimeNs}, e.Ino != 0
}

func keyOfStat(st *unix.Stat_t) ckKey {
	return ckKey{uint64(st.Dev), st.Ino, st.Size, st.Mtim.Nano(), st.Ctim.Nano()}
}

// begin starts a listing under the checksum configuration algs.
func (c *checksumCache) begin(algs string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if algs != c.algs {
		c.cur, c.old, c.algs = map[ckKey]ckVal{}, map[ckKey]ckVal{}, algs
	}
}

// fill sets e's checksums and bad-checksum mark from the cache and
// reports whether it could: the caller reads the attributes otherwise.
func (c *checksumCache) fill(e *catalog.Entry) bool {
	k, ok := keyOf(e)
	if !ok {
		return false
	}
	v, ok := c.get(k, "")
	if !ok {
		return false
	}
	e.Checksums = nil
	if cks := v.checksum(e.Mtime); cks.Alg != "" {
		e.Checksums = []meta.Checksum{cks}
	}
	e.HasBadChecksum = v.bad
	return true
}

// lookup is fill for a file being opened (GET /v1/files, a bulk
// answer): what is cached for its data file in state st, if the cache
// holds the choices of the checksum configuration algs.
func (c *checksumCache) lookup(st *unix.Stat_t, algs string) (ckVal, bool) {
	return c.get(keyOfStat(st), algs)
}

// get returns the entry of k (algs, when set, must be the configuration
// the cache holds).
func (c *checksumCache) get(k ckKey, algs string) (ckVal, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if algs != "" && algs != c.algs {
		return ckVal{}, false
	}
	v, ok := c.cur[k]
	if !ok {
		if v, ok = c.old[k]; ok {
			delete(c.old, k)
			c.addLocked(k, v)
		}
	}
	if ok {
		c.hits++
	} else {
		c.misses++
	}
	return v, ok
}

// checksum is the cached choice as the record of a file of mtime (the
// key's: the record chosen was of the file's current mtime).
func (v ckVal) checksum(mtime int64) meta.Checksum {
	if v.alg == 0 {
		return meta.Checksum{}
	}
	return meta.Checksum{Alg: ckAlgs[v.alg-1], Value: append([]byte(nil), v.sum[:v.n]...), MTime: mtime}
}

// add caches what a listing read of e's attributes (cks: the checksum it
// chose) if e's ctime is settled, counting from start (the listing's).
func (c *checksumCache) add(e *catalog.Entry, cks meta.Checksum, start time.Time) {
	if k, ok := keyOf(e); ok {
		c.put(k, "", cks, e.HasBadChecksum, start)
	}
}

// addStat is add for a file opened in state st (stat'ed at start or
// later) whose attributes were read under the configuration algs.
func (c *checksumCache) addStat(st *unix.Stat_t, algs string, cks meta.Checksum, bad bool, start time.Time) {
	c.put(keyOfStat(st), algs, cks, bad, start)
}

func (c *checksumCache) put(k ckKey, algs string, cks meta.Checksum, bad bool, start time.Time) {
	if k.ctimNs >= start.Add(-c.settle).UnixNano() {
		return
	}
	v := ckVal{bad: bad}
	if cks.Alg != "" {
		for i, a := range ckAlgs {
			if a == cks.Alg {
				v.alg = uint8(i + 1)
			}
		}
		if v.alg == 0 || len(cks.Value) > len(v.sum) {
			return
		}
		v.n = uint8(copy(v.sum[:], cks.Value))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if algs != "" && algs != c.algs {
		return // chosen under another configuration than the cache's
	}
	if _, ok := c.cur[k]; !ok {
		c.addLocked(k, v)
	}
}

func (c *checksumCache) addLocked(k ckKey, v ckVal) {
	if len(c.cur) >= c.max/2 {
		c.old, c.cur = c.cur, make(map[ckKey]ckVal, c.max/4)
	}
	c.cur[k] = v
}

// stats are the entries cached and the hits and misses so far.
func (c *checksumCache) stats() (entries int, hits, misses int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cur) + len(c.old), c.hits, c.misses
}
