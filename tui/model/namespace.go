package model

import (
	"path"
	"strings"
	"time"

	"frm/core/meta"
)

// Residency is a file's copy state in the MSS.
type Residency uint8

const (
	ResNone     Residency = iota + 1 // no copy time: never migrated (or not tracked)
	ResMigrated                      // copy is current
	ResNeedsMig                      // modified since its last copy
	ResDangling                      // namespace link whose data file is missing
	ResDir
)

// String is the column text.
func (r Residency) String() string {
	switch r {
	case ResNone:
		return "nocopy"
	case ResMigrated:
		return "migrated"
	case ResNeedsMig:
		return "needs-mig"
	case ResDangling:
		return "dangling"
	case ResDir:
		return "dir"
	}
	return "?"
}

// FileRow is one entry of a directory, as the Namespace view shows it:
// the residency fields of a catalog.Entry, compacted so that a million of
// them fit in memory.
type FileRow struct {
	Name      string
	Dir       bool
	Size      int64
	Mtime     int64
	Atime     int64
	Space     string
	Partition string // partition path of the data file ("" for plain files)
	Res       Residency
	CopyTime  int64
	Pinned    bool
	Pin       meta.Pin
	Failed    bool
	Checksum  string // "alg:hex" of the first checksum, "" when none
	// Origin is the peer site the file was fetched from ("" when
	// staged from this site's MSS or written here), OriginAt when.
	Origin   string
	OriginAt int64
}

// PinText renders the pin column: "" when not pinned, "forever", "until
// 2025-06-01", "idle 3d".
func (r *FileRow) PinText(now time.Time, loc *time.Location) string {
	if !r.Pinned || r.Pin.Flags == 0 {
		return ""
	}
	switch {
	case r.Pin.Flags&meta.PinForever != 0:
		return "forever"
	case r.Pin.Flags&meta.PinKeep != 0:
		if r.Pin.Time <= now.Unix() {
			return "expired"
		}
		if loc == nil {
			loc = time.Local
		}
		return time.Unix(r.Pin.Time, 0).In(loc).Format("2006-01-02")
	case r.Pin.Flags&meta.PinIdle != 0:
		return "idle " + Duration(time.Duration(r.Pin.Time)*time.Second)
	}
	return "?"
}

// SortKey is a Namespace sort order.
type SortKey int

const (
	SortName SortKey = iota + 1
	SortSize
	SortAge   // modification time, newest first
	SortAtime // access time, most recent first
)

var sortNames = map[SortKey]string{SortName: "name", SortSize: "size", SortAge: "age", SortAtime: "atime"}

// String names the sort.
func (k SortKey) String() string { return sortNames[k] }

// Next cycles name → size → age → atime → name.
func (k SortKey) Next() SortKey {
	if k >= SortAtime {
		return SortName
	}
	return k + 1
}

// Namespace is the directory browser.
type Namespace struct {
	Dir     string // lfn of the directory shown
	Table   *Table[FileRow]
	Refresh Refresh
	Sort    SortKey
	Reverse bool
	// SpaceOnly, when set, shows only files of that space (directories
	// stay visible so that the tree can be walked).
	SpaceOnly string
	// Loading is true while chunks of Dir are arriving.
	Loading bool
	filter  string
}

// NewNamespace returns a browser at dir, sorted by name.
func NewNamespace(dir string) *Namespace {
	n := &Namespace{Dir: cleanDir(dir), Sort: SortName}
	n.Table = NewTable(func(r *FileRow) string { return r.Name }, n.match)
	n.applySort()
	return n
}

func cleanDir(d string) string {
	if d == "" {
		return "/"
	}
	return path.Clean("/" + d)
}

func (n *Namespace) match(r *FileRow, f string) bool {
	if n.SpaceOnly != "" && !r.Dir && r.Space != n.SpaceOnly {
		return false
	}
	return n.filter == "" || strings.Contains(strings.ToLower(r.Name), strings.ToLower(n.filter))
}

// SetFilter shows only entries whose name contains text (case-insensitive).
func (n *Namespace) SetFilter(text string) {
	n.filter = text
	n.Table.SetFilter(n.filterKey())
}

// Filter is the filter text.
func (n *Namespace) Filter() string { return n.filter }

// SetSpaceOnly restricts the files shown to one space ("" for all).
func (n *Namespace) SetSpaceOnly(sp string) {
	n.SpaceOnly = sp
	n.Table.SetFilter(n.filterKey())
}

// filterKey is what the table compares to decide whether to refilter.
func (n *Namespace) filterKey() string {
	if n.filter == "" && n.SpaceOnly == "" {
		return ""
	}
	return n.SpaceOnly + "\x00" + n.filter
}

// SetSort orders the rows by k; asking for the current order again
// reverses it.
func (n *Namespace) SetSort(k SortKey) {
	if k == n.Sort {
		n.Reverse = !n.Reverse
	} else {
		n.Sort, n.Reverse = k, false
	}
	n.applySort()
}

func (n *Namespace) applySort() {
	var less func(a, b *FileRow) bool
	switch n.Sort {
	case SortSize:
		less = func(a, b *FileRow) bool { return a.Size > b.Size }
	case SortAge:
		less = func(a, b *FileRow) bool { return a.Mtime > b.Mtime }
	case SortAtime:
		less = func(a, b *FileRow) bool { return a.Atime > b.Atime }
	default:
		less = func(a, b *FileRow) bool { return a.Name < b.Name }
	}
	inner := less
	if n.Reverse {
		inner = func(a, b *FileRow) bool { return less(b, a) }
	}
	// Directories first, as in every file browser.
	n.Table.SetSort(func(a, b *FileRow) bool {
		if a.Dir != b.Dir {
			return a.Dir
		}
		return inner(a, b)
	})
}

// Enter changes to directory dir and clears the rows; the caller loads it.
// It returns the new generation to load with.
func (n *Namespace) Enter(dir string) uint64 {
	n.Dir = cleanDir(dir)
	n.Table.Reset()
	n.Loading = true
	return n.Refresh.Restart()
}

// Open enters the selected directory; ok is false when the selection is
// not a directory.
func (n *Namespace) Open() (gen uint64, ok bool) {
	r, sel := n.Table.Selected()
	if !sel || !r.Dir {
		return 0, false
	}
	return n.Enter(path.Join(n.Dir, r.Name)), true
}

// Up goes to the parent directory and selects the directory it came from.
func (n *Namespace) Up() (gen uint64, ok bool) {
	if n.Dir == "/" {
		return 0, false
	}
	from := path.Base(n.Dir)
	gen = n.Enter(path.Dir(n.Dir))
	n.Table.Select(from)
	return gen, true
}

// Reload starts a reload of the same directory, keeping the rows until the
// new ones arrive (see Chunk with first).
func (n *Namespace) Reload() (uint64, bool) {
	gen, ok := n.Refresh.Begin()
	if ok {
		n.Loading = true
	}
	return gen, ok
}

// Chunk adds rows of load gen. first marks the first chunk of a reload:
// it replaces the old rows (which were kept visible until then). It
// reports false for a stale chunk, which is dropped.
func (n *Namespace) Chunk(gen uint64, rows []FileRow, first bool) bool {
	if !n.Refresh.Current(gen) {
		return false
	}
	if first {
		n.Table.Clear()
	}
	n.Table.Append(rows)
	return true
}

// Done ends load gen; on error the rows loaded so far stay visible.
func (n *Namespace) Done(gen uint64, err error, now time.Time) bool {
	if !n.Refresh.End(gen, err, now) {
		return false
	}
	n.Loading = false
	if err == nil {
		n.Table.Settle()
	}
	return true
}

// Breadcrumbs splits Dir into its components, "/" first.
func (n *Namespace) Breadcrumbs() []string {
	out := []string{"/"}
	for _, p := range strings.Split(strings.Trim(n.Dir, "/"), "/") {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// SelectedLFN is the lfn of the selected entry.
func (n *Namespace) SelectedLFN() (string, *FileRow, bool) {
	r, ok := n.Table.Selected()
	if !ok {
		return "", nil, false
	}
	return path.Join(n.Dir, r.Name), r, true
}
