package model

import (
	"fmt"
	"strings"
	"time"

	"frm/core/meta"
	"frm/core/units"
)

// PinCheck validates a pin keep spec as it is typed (meta.ParseKeep, the
// parser `frm admin pin -k` uses) and describes what it will do.
func PinCheck(spec string, now time.Time, loc *time.Location) (desc string, ok bool) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return "type a keep spec: forever, +3d (idle), 2h, 12/31/2026; 0 unpins", false
	}
	p, unpin, err := meta.ParseKeep(spec, now, loc)
	if err != nil {
		return err.Error(), false
	}
	if loc == nil {
		loc = time.Local
	}
	switch {
	case unpin:
		return "unpin", true
	case p.Flags&meta.PinForever != 0:
		return "pin forever", true
	case p.Flags&meta.PinIdle != 0:
		return "pin while accessed within " + Duration(time.Duration(p.Time)*time.Second), true
	case p.Flags&meta.PinKeep != 0:
		return "pin until " + time.Unix(p.Time, 0).In(loc).Format("2006-01-02 15:04 MST"), true
	}
	return "?", false
}

// ConfirmText is the question of a removal: it names the files (up to
// five, then how many more).
func ConfirmText(verb string, lfns []string) string {
	const show = 5
	var b strings.Builder
	fmt.Fprintf(&b, "%s %d %s?", verb, len(lfns), plural(len(lfns), "file", "files"))
	for i, l := range lfns {
		if i == show {
			fmt.Fprintf(&b, "\n  ... and %d more", len(lfns)-show)
			break
		}
		b.WriteString("\n  " + l)
	}
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Picker is a small list to choose from (a space to relocate to).
type Picker struct {
	Title  string
	Items  []PickItem
	Cursor int
}

// PickItem is one choice.
type PickItem struct {
	Value    string // what is passed on (a space name, "space:partition")
	Label    string
	Disabled bool // shown but not selectable (the file's own space)
}

// Move moves the cursor by delta, skipping disabled items.
func (p *Picker) Move(delta int) {
	if len(p.Items) == 0 {
		return
	}
	i := p.Cursor
	for range p.Items {
		i = (i + delta + len(p.Items)) % len(p.Items)
		if !p.Items[i].Disabled {
			p.Cursor = i
			return
		}
	}
}

// Selected returns the chosen item.
func (p *Picker) Selected() (PickItem, bool) {
	if p.Cursor < 0 || p.Cursor >= len(p.Items) || p.Items[p.Cursor].Disabled {
		return PickItem{}, false
	}
	return p.Items[p.Cursor], true
}

// RelocChoices lists the spaces and partitions a file of space from can be
// relocated to, with their free space; its own space is disabled, and so
// is a space without partitions (public standing for the namespace
// filesystem when it is not configured).
func RelocChoices(rows []SpaceRow, from string) Picker {
	p := Picker{Title: "Relocate to"}
	parts := map[string]bool{} // spaces with a partition to put a file in
	for _, r := range rows {
		if r.Partition != "" && !r.Namespace {
			parts[r.Space] = true
		}
	}
	for _, r := range rows {
		if r.Namespace {
			continue // plain files are not relocated into the namespace
		}
		label := fmt.Sprintf("%-10s %8s free", r.Space, units.Bytes(r.Free))
		v := r.Space
		if r.Partition != "" {
			label = fmt.Sprintf("  %-30s %8s free", r.Partition, units.Bytes(r.Free))
			v = r.Space + ":" + r.Partition
		}
		p.Items = append(p.Items, PickItem{Value: v, Label: label, Disabled: r.Space == from && r.Partition == "" || r.Err != "" || !parts[r.Space]})
	}
	p.Cursor = -1
	p.Move(1)
	if p.Cursor < 0 {
		p.Cursor = 0
	}
	return p
}
