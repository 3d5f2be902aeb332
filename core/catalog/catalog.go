// Package catalog defines the seam through which frm reads and changes
// residency state (copy time, pins, memory hints, checksums, back
// references) and walks the namespace. The embedded implementation
// (package catalog/embedded) keeps that state where xrootd keeps it: in
// extended attributes on the files themselves. A PostgreSQL implementation
// keeps a shared copy for many hosts.
package catalog

import (
	"context"
	"errors"
	"sync/atomic"

	"frm/core/meta"
)

// Want selects which fields a lookup or walk loads. Loading only what a
// command needs keeps a million-file scan at one or two system calls per
// file.
type Want uint16

const (
	WantStat      Want = 1 << iota // Size, Mtime, Atime, Ctime, Mode (through symlinks)
	WantLink                       // Link target, Space, Dangling
	WantCopy                       // CopyTime
	WantPin                        // Pin
	WantMem                        // Mem
	WantPfnRef                     // PfnRef (the data file's back reference)
	WantFail                       // Failed (a .fail side file exists)
	WantChecksums                  // Checksums
	// WantStatIfCopied loads the stat fields only for files that have a
	// copy time (read first). `find unmigrated` needs mtime only to
	// compare it with the copy time: files without one are listed
	// anyway, so their stat is saved.
	WantStatIfCopied
	// WantBadChecksum loads the bad-checksum mark (user.frm.BadCks). The
	// mark is about this host's copy of the data, so only the embedded
	// catalog (the files themselves) has it; the shared catalog leaves it
	// unset, and callers that need it walk the files.
	WantBadChecksum
	// WantOrigin loads where a file fetched from a peer site came from
	// (user.frm.Origin on its data). Like the bad-checksum mark it is
	// this host's copy's: only the embedded catalog has it.
	WantOrigin

	WantAll = WantStat | WantLink | WantCopy | WantPin | WantMem | WantPfnRef | WantFail | WantChecksums
)

// Type is the kind of a namespace entry.
type Type uint8

const (
	File Type = iota + 1
	Dir
	Side  // a side file (.fail, .anew, legacy .lock/.pin ...), never data
	Other // devices, sockets, fifos
)

// Entry is what the catalog knows of one namespace entry. Fields not asked
// for with Want are zero.
type Entry struct {
	LFN  string
	PFN  string
	Type Type

	// Link is the symlink target when the pfn is a symlink (an XA file).
	Link     string
	Dangling bool   // Link does not resolve
	Space    string // space of the data file: from the XA suffix, else "public"

	Size  int64
	Mtime int64 // seconds since the epoch
	Atime int64
	Ctime int64
	Mode  uint32
	// Dev, Ino, MtimeNs and CtimeNs (nanoseconds since the epoch) come
	// with the stat fields from the embedded catalog (zero from the
	// shared one): they tell one state of a data file from another, as
	// any change of its data or attributes moves its ctime.
	Dev, Ino         uint64
	MtimeNs, CtimeNs int64

	HasCopy  bool
	CopyTime int64

	HasPin bool
	Pin    meta.Pin

	HasMem bool
	Mem    meta.MemFlags

	HasPfnRef bool
	PfnRef    string

	Failed bool

	Checksums []meta.Checksum

	// HasBadChecksum: the data failed its stored checksum (a mark that
	// does not decode counts, with BadChecksum zero).
	HasBadChecksum bool
	BadChecksum    meta.BadChecksum

	// HasOrigin: the file was fetched from a peer site (Origin says
	// which, and when).
	HasOrigin bool
	Origin    meta.Origin
}

// Migrated reports whether the file's copy in the MSS is current.
func (e *Entry) Migrated() bool { return e.HasCopy && e.CopyTime >= e.Mtime }

// NeedsMigration reports whether the file was modified after its last copy.
func (e *Entry) NeedsMigration() bool { return e.HasCopy && e.CopyTime < e.Mtime }

// WalkOptions controls Walk.
type WalkOptions struct {
	Want      Want
	Recursive bool
	// Dirs emits directories (after descending into them is decided).
	Dirs bool
	// SideFiles emits side files (Type Side) instead of skipping them.
	SideFiles bool
	// Workers is the number of directories processed at once (0: a
	// default suited to the machine).
	Workers int
	// OnError receives errors reading a directory or an entry; the walk
	// goes on. Nil ignores them.
	OnError func(pfn string, err error)
	// More, when not nil, is called for each file (but a dangling link,
	// when Want has WantLink) once the fields of Want are loaded (from the walk's workers, several at once) and
	// returns further fields to load for that file before fn sees it
	// (0: none). A caller that keeps some attributes of its own (frm
	// serve's checksum cache, keyed by the stat fields) so reads them
	// only for the files whose stat changed. Stat and link fields belong
	// in Want: More adds attributes only.
	More func(e *Entry) Want
	// Scanned, when not nil, counts the entries examined, for progress
	// reports.
	Scanned *atomic.Int64
	// OnOldStyle is called once per directory holding 2009-style meta
	// files (.lock .pin .mmap .mkeep .mlock).
	OnOldStyle func(dirPFN string)
}

// ErrNotExist is returned (wrapped) for lfns that do not exist.
var ErrNotExist = errors.New("no such file or directory")

// ChangeKind names a residency change.
type ChangeKind uint8

const (
	SetCopyTime ChangeKind = iota + 1
	SetPin
	ClearPin
	SetMem
	ClearMem
	SetChecksum
	ClearChecksum
	SetPfnRef
)

// Change is one residency change applied by Catalog.Apply.
type Change struct {
	Kind     ChangeKind
	Time     int64         // SetCopyTime
	Pin      meta.Pin      // SetPin
	Mem      meta.MemFlags // SetMem
	Checksum meta.Checksum // SetChecksum; ClearChecksum uses Checksum.Alg
	PfnRef   string        // SetPfnRef
}

// Catalog reads and changes residency state. Implementations must be safe
// for concurrent use. Every method honours ctx cancellation.
type Catalog interface {
	// Lookup returns the entry for lfn (already cleaned). An absent lfn
	// gives an error wrapping ErrNotExist.
	Lookup(ctx context.Context, lfn string, want Want) (Entry, error)
	// Walk calls fn for the entries below the directory lfn (one level, or
	// all with Recursive), never following directory symlinks. fn is
	// called from one goroutine at a time; an error from fn stops the
	// walk and is returned.
	Walk(ctx context.Context, lfn string, opt WalkOptions, fn func(*Entry) error) error
	// Apply applies changes to one file, in order, and reports how many
	// of them changed something (clearing an absent pin does not).
	Apply(ctx context.Context, lfn string, changes ...Change) (changed int, err error)
	// Record brings what the catalog says of lfn in line with this
	// host's files, after frm changed the namespace there: an entry
	// created (a stage, a placement, a relocation), removed (rm, a
	// purge), changed in a way Apply does not carry (new data, a fail
	// file made or removed), or, with recursive, a directory whose
	// subtree changed. It records what the files say at the moment it
	// is called. An entry that no longer exists leaves the catalog with
	// everything below it (other hosts' entries aside).
	Record(ctx context.Context, lfn string, recursive bool) error
	// Rename records that oldLFN, with everything below it, was renamed
	// to newLFN on this host's files (the caller renamed them first).
	Rename(ctx context.Context, oldLFN, newLFN string) error
}
