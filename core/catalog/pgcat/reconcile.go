package pgcat

import (
	"context"
	"errors"
	"fmt"

	"frm/core/catalog"
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
