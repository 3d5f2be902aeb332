package pgcat

import (
	"context"
	"fmt"

	"frm/core/catalog"
)

// FindUnmigrated calls fn, in lfn order, for the files below directory lfn
// (recursively) that have no copy time or were modified after it: what
// `find unmigrated` lists. It reads the partial index files_unmigrated_idx,
// so it costs what it returns, not what the namespace holds. Entries carry
// WantCopy and WantStatIfCopied fields.
func (c *Catalog) FindUnmigrated(ctx context.Context, lfn string, fn func(*catalog.Entry) error) error {
	return c.findWhere(ctx, lfn, "type = 1 AND (copy_time IS NULL OR copy_time < mtime)",
		catalog.WantCopy|catalog.WantStatIfCopied, fn)
}

func (c *Catalog) findWhere(ctx context.Context, lfn, where string, want catalog.Want, fn func(*catalog.Entry) error) error {
	if err := c.mustBeDir(ctx, lfn, "find"); err != nil {
		return err
	}
	lo, hi := prefixRange(lfn)
	q := "SELECT " + entryColumns + " FROM files WHERE site = $1 AND lfn > $2 AND lfn < $3 AND " + where + " ORDER BY lfn LIMIT $4"
	args := []any{c.opt.Site, lo, hi, walkBatch}
	batch := make([]row, 0, walkBatch)
	var e catalog.Entry
	for {
		var err error
		if batch, err = c.fetch(ctx, q, args, batch); err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			return fmt.Errorf("catalog find %s: %w", lfn, err)
		}
		for i := range batch {
			c.entry(&e, &batch[i], want)
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
