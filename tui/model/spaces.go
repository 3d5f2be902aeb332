package model

import (
	"strings"
	"time"
)

// SpaceRow is a space (Partition "") or one of its partitions.
type SpaceRow struct {
	Space     string
	Partition string // partition path; "" for the space's total row
	Total     int64
	Free      int64
	Files     int64 // data files held
	Bytes     int64 // bytes of those files
	// MinFree and MaxFree are the purge policy's watermarks in bytes of
	// free space (0 when the space is not purged: NoPurge).
	MinFree, MaxFree int64
	NoPurge          bool
	Err              string // statfs failed
	// Namespace marks the row of the public space's plain files: the
	// files stored in the namespace itself rather than as XA links, on
	// the namespace root's filesystem (Partition is its path). It is not
	// a partition: nothing is relocated to it.
	Namespace bool
}

// Key identifies the row: "space" or "space:partition".
func (r *SpaceRow) Key() string {
	if r.Partition == "" {
		return r.Space
	}
	return r.Space + ":" + r.Partition
}

// Used is Total - Free.
func (r *SpaceRow) Used() int64 { return r.Total - r.Free }

// Level is how worrying a space's free space is.
type Level int

const (
	LevelOK       Level = iota + 1
	LevelWarn           // below the purge maximum (a purge would run to here) or 85% used
	LevelCritical       // below the purge minimum, or 95% used
	LevelUnknown        // no figures
)

// Level grades the row: by the purge watermarks when the space has them,
// else by the fraction used.
func (r *SpaceRow) Level() Level {
	if r.Err != "" || r.Total <= 0 {
		return LevelUnknown
	}
	if !r.NoPurge && r.MinFree > 0 {
		switch {
		case r.Free < r.MinFree:
			return LevelCritical
		case r.Free < r.MaxFree:
			return LevelWarn
		}
		return LevelOK
	}
	used := float64(r.Used()) / float64(r.Total)
	switch {
	case used >= 0.95:
		return LevelCritical
	case used >= 0.85:
		return LevelWarn
	}
	return LevelOK
}

// Bar returns a usage bar of width cells: '#' used, '.' free, and the
// purge watermarks drawn where used space would reach them: '|' at the
// minimum (a purge starts beyond it) and ':' at the maximum (where a purge
// stops). The view maps these runes to block characters and colours.
func (r *SpaceRow) Bar(width int) string {
	if width <= 0 {
		return ""
	}
	b := []byte(strings.Repeat(".", width))
	if r.Total <= 0 {
		return strings.Repeat("?", width)
	}
	used := int((float64(r.Used())/float64(r.Total))*float64(width) + 0.5)
	used = min(max(used, 0), width)
	for i := 0; i < used; i++ {
		b[i] = '#'
	}
	mark := func(free int64, c byte) {
		if free <= 0 || free > r.Total {
			return
		}
		pos := int(float64(r.Total-free) / float64(r.Total) * float64(width))
		b[min(max(pos, 0), width-1)] = c
	}
	if !r.NoPurge {
		mark(r.MaxFree, ':')
		mark(r.MinFree, '|')
	}
	return string(b)
}

// SpaceUse is what a space (or partition) holds that df does not say:
// bytes waiting for migration (under a mig export, copy missing or older
// than the file) and bytes a pin keeps from being purged now.
type SpaceUse struct {
	MigFiles, MigBytes int64
	PinFiles, PinBytes int64
}

// Spaces is the Spaces view: one row per space followed by its partitions.
type Spaces struct {
	Table   *Table[SpaceRow]
	Refresh Refresh
	// Use is per row key (SpaceRow.Key); it needs a walk of the whole
	// namespace, so it is loaded on its own, less often than the rows
	// (UseRefresh), and kept between loads.
	Use        map[string]SpaceUse
	UseRefresh Refresh
}

// UseOf returns the use of row key k; ok is false while it has never been
// computed (the view shows "…").
func (s *Spaces) UseOf(k string) (SpaceUse, bool) {
	if s.Use == nil {
		return SpaceUse{}, false
	}
	return s.Use[k], true
}

// UseDue reports whether the use should be computed again at now: never
// computed, or older than every (and no computation running).
func (s *Spaces) UseDue(now time.Time, every time.Duration) bool {
	if s.UseRefresh.InFlight() {
		return false
	}
	return now.Sub(s.UseRefresh.Loaded) >= every // never loaded: a zero Loaded is long ago
}

// NewSpaces returns an empty Spaces model.
func NewSpaces() *Spaces {
	return &Spaces{Table: NewTable(func(r *SpaceRow) string { return r.Key() },
		func(r *SpaceRow, f string) bool { return strings.Contains(r.Key(), f) })}
}

// SelectedSpace is the space of the selected row.
func (s *Spaces) SelectedSpace() (string, bool) {
	r, ok := s.Table.Selected()
	if !ok {
		return "", false
	}
	return r.Space, true
}

// SpaceNames lists the spaces (total rows), in order, with their free bytes.
func (s *Spaces) SpaceNames() []SpaceRow {
	var out []SpaceRow
	for _, r := range s.Table.Rows() {
		if r.Partition == "" {
			out = append(out, r)
		}
	}
	return out
}
