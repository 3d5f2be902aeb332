package xrdq

import (
	"errors"
	"fmt"
)

// SetPriority moves every queued record of request id in the given kinds
// to priority prty (0..2) and returns how many it moved. A record's
// priority is the queue file it is in (<kind>Q.<prty>): daemons pick the
// file, not the record's Prty byte, so a record is moved, not rewritten.
// xrootd has no such operation; frm_admin users cancel and re-queue.
//
// Locking: each step is one Add or Take, each under the exclusive fcntl
// lock of one queue file only (never two at once, so no lock ordering
// with xrootd's processes is needed). The copy is added to the target file
// before the original is taken from its file, so a crash in between
// leaves the request queued twice (served once: daemons merge requests for
// the same file), never lost. If the original is gone when it is taken (a
// daemon finished it meanwhile), the copy is taken back out.
//
// A record a daemon is serving right now may be moved too: frm's daemon
// merges the moved copy into the running transfer and removes it when the
// transfer ends.
func (d *Dir) SetPriority(kinds []Kind, id string, prty int) (moved int, err error) {
	if id == "" {
		return 0, errors.New("xrdq: request id missing in priority change")
	}
	if len(id) > MaxID {
		id = id[:MaxID]
	}
	if prty < 0 || prty > MaxPriority {
		return 0, fmt.Errorf("xrdq: priority %d out of range 0..%d", prty, MaxPriority)
	}
	for _, k := range sortKinds(kinds) {
		for p := 0; p <= MaxPriority; p++ {
			if p == prty {
				continue
			}
			n, err := d.movePriority(k, p, prty, id)
			moved += n
			if err != nil {
				return moved, err
			}
		}
	}
	return moved, nil
}

// movePriority moves the live records of id from <k>Q.<from> to
// <k>Q.<to>, one at a time.
func (d *Dir) movePriority(k Kind, from, to int, id string) (int, error) {
	src, dst := d.Queue(k, from), d.Queue(k, to)
	// The records to move, in chain order; each is then moved by its slot
	// (Offset) so that a record added meanwhile under the same id is
	// left for the next call rather than moved twice.
	var recs []Request
	err := src.Walk(func(r Request) error {
		if r.ID == id && r.Options&Register == 0 {
			recs = append(recs, r)
		}
		return nil
	})
	if err != nil { // a missing file is no error: Walk sees no records
		return 0, err
	}
	return moveRecords(src, dst, recs)
}

// moveRecords moves recs (read from src by Walk) to dst: add the copy,
// take the original, or take the copy back when the original is gone.
func moveRecords(src, dst *Queue, recs []Request) (int, error) {
	moved := 0
	for _, r := range recs {
		if err := dst.Add(r); err != nil {
			return moved, fmt.Errorf("move %s to %s: %w", r.Path(), dst.Path(), err)
		}
		same := func(q Request) bool {
			return q.ID == r.ID && q.LFN == r.LFN && q.Op == r.Op && q.Added == r.Added
		}
		_, ok, err := src.Take(func(q Request) bool { return q.Offset == r.Offset && same(q) })
		if err != nil {
			return moved, fmt.Errorf("remove %s from %s after copying it to %s: %w", r.Path(), src.Path(), dst.Path(), err)
		}
		if !ok {
			// Served and removed by a daemon since the walk: undo the copy.
			if _, _, err := dst.Take(same); err != nil {
				return moved, fmt.Errorf("take back the copy of %s finished meanwhile from %s: %w", r.Path(), dst.Path(), err)
			}
			continue
		}
		moved++
	}
	return moved, nil
}
