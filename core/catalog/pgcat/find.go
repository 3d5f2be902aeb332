package pgcat

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/jackc/pgx/v5"

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
	if err := ctx.Err(); err != nil {
		return err
	}
	var typ int16
	err := c.opt.Retry.Do(ctx, func(ctx context.Context) error {
		return c.pool.QueryRow(ctx, "SELECT type FROM files WHERE site = $1 AND lfn = $2", c.opt.Site, lfn).Scan(&typ)
	})
	switch {
	case errors.Is(err, pgx.ErrNoRows) && lfn == "/":
		typ = int16(catalog.Dir) // the root always exists, also in an empty catalog
	case errors.Is(err, pgx.ErrNoRows):
		return c.notExist(lfn)
	case err != nil:
		return fmt.Errorf("catalog find %s: %w", lfn, err)
	}
	if catalog.Type(typ) != catalog.Dir {
		return &os.PathError{Op: "open directory", Path: c.opt.Names.PFNClean(lfn), Err: syscall.ENOTDIR}
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
