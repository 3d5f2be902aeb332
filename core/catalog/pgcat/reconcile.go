package pgcat

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"frm/core/catalog"
	"frm/core/meta"
)

// What an audit of the catalog against this host's filesystem needs: the
// rows of this host, and writing or deleting one row without touching
// the file (the filesystem is the other side of the comparison).

// HostWalk calls fn for every entry under ldir (recursively, ldir
// included; directories and side files too) recorded for this host or
// for no host, in lfn order, with everything the catalog keeps.
func (c *Catalog) HostWalk(ctx context.Context, ldir string, fn func(*catalog.Entry) error) error {
	lo, hi := prefixRange(ldir)
	q := "SELECT " + entryColumns + ` FROM files
		WHERE site = $1 AND lfn > $2 AND lfn < $3 AND host IN ('', $4)
		ORDER BY lfn LIMIT $5`
	args := []any{c.opt.Site, lo, hi, c.opt.Host, walkBatch}
	// The directory itself is outside its range.
	e, err := c.Lookup(ctx, ldir, catalog.WantAll)
	switch {
	case err == nil:
		if err := fn(&e); err != nil {
			return err
		}
	case !errors.Is(err, catalog.ErrNotExist):
		return err
	}
	batch := make([]row, 0, walkBatch)
	for {
		var err error
		if batch, err = c.fetch(ctx, q, args, batch); err != nil {
			return fmt.Errorf("catalog walk %s: %w", ldir, err)
		}
		for i := range batch {
			r := &batch[i]
			if catalog.Type(r.typ) == catalog.Side {
				e = catalog.Entry{LFN: r.lfn, PFN: c.opt.Names.PFNClean(r.lfn), Type: catalog.Side}
			} else {
				c.entry(&e, r, catalog.WantAll)
			}
			if err := fn(&e); err != nil {
				return err
			}
		}
		if len(batch) < walkBatch {
			return ctx.Err()
		}
		args[1] = batch[len(batch)-1].lfn
	}
}

// Put records e, as found on this host's filesystem, in the catalog
// (insert or replace), without writing through to the file.
func (c *Catalog) Put(ctx context.Context, e *catalog.Entry) error {
	rows := [][]any{importRow(e, ImportOptions{Site: c.opt.Site, Host: c.opt.Host, Spaces: c.opt.Spaces})}
	return c.opt.Retry.Do(ctx, func(ctx context.Context) error { return upsert(ctx, c.pool, rows) })
}

// Forget deletes the row of lfn if it belongs to this host (or to no
// host), without touching the filesystem.
func (c *Catalog) Forget(ctx context.Context, lfn string) error {
	return c.opt.Retry.Do(ctx, func(ctx context.Context) error {
		_, err := c.pool.Exec(ctx, `DELETE FROM files WHERE site = $1 AND lfn = $2 AND host IN ('', $3)`, c.opt.Site, lfn, c.opt.Host)
		return err
	})
}

// RemoteApplyChannel is the NOTIFY channel telling a host (the payload)
// that another host changed one of its files' rows.
const RemoteApplyChannel = "frm_remote_apply"

// remoteChange is a catalog.Change as a remote_apply event carries it:
// the change itself, so the host of the file applies exactly it (a later
// record of the file from its xattrs cannot lose it).
type remoteChange struct {
	Kind     catalog.ChangeKind `json:"kind"`
	Time     int64              `json:"time,omitempty"`
	PinFlags uint8              `json:"pin_flags,omitempty"`
	PinTime  int64              `json:"pin_time,omitempty"`
	Mem      uint8              `json:"mem,omitempty"`
	Alg      string             `json:"alg,omitempty"`
	Value    string             `json:"value,omitempty"` // hex
	MTime    int64              `json:"mtime,omitempty"`
	Delta    int32              `json:"delta,omitempty"`
	PfnRef   string             `json:"pfn_ref,omitempty"`
}

func remoteDetail(by string, changes []catalog.Change) string {
	rcs := make([]remoteChange, len(changes))
	for i, ch := range changes {
		rcs[i] = remoteChange{Kind: ch.Kind, Time: ch.Time, PinFlags: uint8(ch.Pin.Flags), PinTime: ch.Pin.Time,
			Mem: uint8(ch.Mem), Alg: ch.Checksum.Alg, Value: hex.EncodeToString(ch.Checksum.Value),
			MTime: ch.Checksum.MTime, Delta: ch.Checksum.Delta, PfnRef: ch.PfnRef}
	}
	b, _ := json.Marshal(struct {
		By      string         `json:"by"`
		Changes []remoteChange `json:"changes"`
	}{by, rcs})
	return string(b)
}

// decodeRemote returns the changes a remote_apply event carries (nil for
// events written before they carried them).
func decodeRemote(detail []byte) []catalog.Change {
	var d struct {
		Changes []remoteChange `json:"changes"`
	}
	if json.Unmarshal(detail, &d) != nil {
		return nil
	}
	out := make([]catalog.Change, 0, len(d.Changes))
	for _, rc := range d.Changes {
		v, _ := hex.DecodeString(rc.Value)
		out = append(out, catalog.Change{Kind: rc.Kind, Time: rc.Time, Pin: meta.Pin{Flags: meta.PinFlags(rc.PinFlags), Time: rc.PinTime},
			Mem: meta.MemFlags(rc.Mem), Checksum: meta.Checksum{Alg: rc.Alg, Value: v, MTime: rc.MTime, Delta: rc.Delta}, PfnRef: rc.PfnRef})
	}
	return out
}

// PendingRemote returns up to limit changes other hosts made to this
// host's files after the last one this host applied, oldest first.
func (c *Catalog) PendingRemote(ctx context.Context, limit int) ([]catalog.RemoteChange, error) {
	var out []catalog.RemoteChange
	err := c.opt.Retry.Do(ctx, func(ctx context.Context) error {
		out = out[:0]
		rows, err := c.pool.Query(ctx, `SELECT e.id, e.lfn, e.detail FROM events e
			WHERE e.kind = 'remote_apply' AND e.site = $1 AND e.host = $2
				AND e.id > COALESCE((SELECT applied_event FROM hosts WHERE name = $2), 0)
			ORDER BY e.id LIMIT $3`, c.opt.Site, c.opt.Host, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var rc catalog.RemoteChange
			var detail []byte
			if err := rows.Scan(&rc.ID, &rc.LFN, &detail); err != nil {
				return err
			}
			rc.Changes = decodeRemote(detail)
			out = append(out, rc)
		}
		return rows.Err()
	})
	return out, err
}

// MarkApplied records that this host applied the remote changes up to
// event id.
func (c *Catalog) MarkApplied(ctx context.Context, id int64) error {
	return c.opt.Retry.Do(ctx, func(ctx context.Context) error {
		// An upsert: the host may apply changes before it has registered
		// (both start together), and the mark must not be lost.
		_, err := c.pool.Exec(ctx, `INSERT INTO hosts (name, applied_event) VALUES ($1, $2)
			ON CONFLICT (name) DO UPDATE SET applied_event = GREATEST(hosts.applied_event, EXCLUDED.applied_event)`, c.opt.Host, id)
		return err
	})
}
