package pgcat

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"frm/core/catalog"
)

// Changes frm makes to the namespace reach the rows through Record and
// Rename, called by the engine right after it changed the files: the rows
// follow the files, never the other way round, so the catalog never says
// a file is there (resident, migrated) before it is. What the files say
// is read from the files (the embedded catalog, Options.WriteThrough) at
// that moment, so a Record is always true when it is made; a crash
// between the change and its Record is repaired at the next start from
// the engine's record of pending changes (site).

// files returns the embedded catalog the rows are kept in line with.
func (c *Catalog) files() (catalog.Catalog, error) {
	if c.opt.WriteThrough == nil {
		return nil, errors.New("catalog: recording a change needs this host's files (pgcat Options.WriteThrough)")
	}
	return c.opt.WriteThrough, nil
}

// Record implements catalog.Catalog.
func (c *Catalog) Record(ctx context.Context, lfn string, recursive bool) error {
	fs, err := c.files()
	if err != nil {
		return err
	}
	e, err := fs.Lookup(ctx, lfn, catalog.WantAll)
	switch {
	case errors.Is(err, catalog.ErrNotExist):
		return c.forgetTree(ctx, lfn)
	case err != nil:
		return fmt.Errorf("catalog record %s: %w", lfn, err)
	}
	if e.Type == catalog.Dir && recursive {
		var batch pgx.Batch
		c.queueParents(ctx, &batch, fs, lfn)
		if batch.Len() > 0 {
			if err := c.opt.Retry.Do(ctx, func(ctx context.Context) error { return c.pool.SendBatch(ctx, &batch).Close() }); err != nil {
				return err
			}
		}
		return c.syncTree(ctx, fs, lfn)
	}
	// One round trip: the statements of a batch run as one implicit
	// transaction.
	row := importRow(&e, ImportOptions{Site: c.opt.Site, Host: c.opt.Host, Spaces: c.opt.Spaces})
	return c.opt.Retry.Do(ctx, func(ctx context.Context) error {
		var batch pgx.Batch
		c.queueParents(ctx, &batch, fs, lfn)
		batch.Queue(upsertOneSQL, row...)
		if e.Type != catalog.Dir {
			// A file where a directory was: its old subtree goes.
			queueDeleteBelow(&batch, c.opt.Site, c.opt.Host, lfn)
		}
		return c.pool.SendBatch(ctx, &batch).Close()
	})
}

// Rename implements catalog.Catalog: this host's rows of oldLFN's subtree
// go, and newLFN's subtree is recorded from the files.
func (c *Catalog) Rename(ctx context.Context, oldLFN, newLFN string) error {
	if err := c.forgetTree(ctx, oldLFN); err != nil {
		return err
	}
	return c.Record(ctx, newLFN, true)
}

const upsertOneSQL = `INSERT INTO files (site, lfn, parent, type, host, space, partition, link, dangling,
	size, mtime, atime, ctime, mode, copy_time, pin_flags, pin_time, mem_flags, pfn_ref, failed, checksums)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
` + upsertConflict

// upsertOne writes e's row (one statement: a single change must not pay
// for the bulk path's temporary table).
func (c *Catalog) upsertOne(ctx context.Context, tx pgx.Tx, e *catalog.Entry) error {
	_, err := tx.Exec(ctx, upsertOneSQL, importRow(e, ImportOptions{Site: c.opt.Site, Host: c.opt.Host, Spaces: c.opt.Spaces})...)
	return err
}

// queueParents queues, for each directory above lfn, an insert of its
// row unless it has one (a stage into a new directory), so that walks
// reach lfn. Nothing is read from the database: the batch does it all in
// the round trip of the change itself.
func (c *Catalog) queueParents(ctx context.Context, batch *pgx.Batch, fs catalog.Catalog, lfn string) {
	if lfn == "/" {
		return
	}
	opt := ImportOptions{Site: c.opt.Site, Host: c.opt.Host}
	for p := Parent(lfn); ; p = Parent(p) {
		if e, err := fs.Lookup(ctx, p, catalog.WantStat); err == nil && e.Type == catalog.Dir {
			batch.Queue(insertDirSQL, importRow(&e, opt)...)
		}
		if p == "/" {
			return
		}
	}
}

const insertDirSQL = `INSERT INTO files (site, lfn, parent, type, host, space, partition, link, dangling,
	size, mtime, atime, ctime, mode, copy_time, pin_flags, pin_time, mem_flags, pfn_ref, failed, checksums)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
ON CONFLICT (site, lfn) DO NOTHING`

// syncTree records the subtree of the directory lfn as the files have it:
// every entry written (in batches), then this host's rows below lfn that
// were not written since the sync began removed.
func (c *Catalog) syncTree(ctx context.Context, fs catalog.Catalog, lfn string) error {
	var start time.Time
	if err := c.opt.Retry.Do(ctx, func(ctx context.Context) error {
		return c.pool.QueryRow(ctx, `SELECT now()`).Scan(&start)
	}); err != nil {
		return err
	}
	// The directory itself, then what is below it.
	top, err := fs.Lookup(ctx, lfn, catalog.WantAll)
	if err != nil {
		return err
	}
	const batchSize = 2000
	opt := ImportOptions{Site: c.opt.Site, Host: c.opt.Host, Spaces: c.opt.Spaces}
	batch := [][]any{importRow(&top, opt)}
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := c.opt.Retry.Do(ctx, func(ctx context.Context) error { return upsert(ctx, c.pool, batch) })
		batch = batch[:0]
		return err
	}
	err = fs.Walk(ctx, lfn, catalog.WalkOptions{Want: catalog.WantAll, Recursive: true, Dirs: true, SideFiles: true}, func(e *catalog.Entry) error {
		batch = append(batch, importRow(e, opt))
		if len(batch) >= batchSize {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return fmt.Errorf("catalog record %s: %w", lfn, err)
	}
	lo, hi := prefixRange(lfn)
	return c.opt.Retry.Do(ctx, func(ctx context.Context) error {
		return pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `DELETE FROM files WHERE site = $1 AND lfn > $2 AND lfn < $3
				AND host IN ('', $4) AND type <> 2 AND updated_at < $5`, c.opt.Site, lo, hi, c.opt.Host, start); err != nil {
				return err
			}
			return c.deleteEmptyDirs(ctx, tx, lo, hi, start)
		})
	})
}

// forgetTree removes this host's rows of lfn and everything below it: the
// entry no longer exists on this host. Directories that still hold other
// hosts' entries stay.
func (c *Catalog) forgetTree(ctx context.Context, lfn string) error {
	return c.opt.Retry.Do(ctx, func(ctx context.Context) error {
		var batch pgx.Batch
		batch.Queue(`DELETE FROM files WHERE site = $1 AND lfn = $2 AND host IN ('', $3) AND type <> 2`, c.opt.Site, lfn, c.opt.Host)
		queueDeleteBelow(&batch, c.opt.Site, c.opt.Host, lfn)
		// The directory itself, when nothing of others is below it.
		lo, hi := prefixRange(lfn)
		batch.Queue(`DELETE FROM files d WHERE d.site = $1 AND d.lfn = $2 AND d.type = 2 AND d.host IN ('', $3)
			AND NOT EXISTS (SELECT 1 FROM files f WHERE f.site = $1 AND f.lfn > $4 AND f.lfn < $5 AND f.type <> 2)`,
			c.opt.Site, lfn, c.opt.Host, lo, hi)
		return c.pool.SendBatch(ctx, &batch).Close()
	})
}

// queueDeleteBelow queues the removal of the host's rows strictly below
// lfn (directories only when no other host's entry remains below them).
func queueDeleteBelow(batch *pgx.Batch, site, host, lfn string) {
	lo, hi := prefixRange(lfn)
	batch.Queue(`DELETE FROM files WHERE site = $1 AND lfn > $2 AND lfn < $3 AND host IN ('', $4) AND type <> 2`, site, lo, hi, host)
	batch.Queue(`DELETE FROM files d WHERE d.site = $1 AND d.lfn > $2 AND d.lfn < $3 AND d.type = 2 AND d.host IN ('', $4)
		AND NOT EXISTS (SELECT 1 FROM files f WHERE f.site = $1 AND f.lfn > d.lfn || '/' AND f.lfn < d.lfn || '0' AND f.type <> 2)`,
		site, lo, hi, host)
}

// deleteEmptyDirs removes this host's directory rows in (lo, hi) that no
// entry other than directories remains below, and that were not written
// since before (zero: any).
func (c *Catalog) deleteEmptyDirs(ctx context.Context, tx pgx.Tx, lo, hi string, before time.Time) error {
	q := `DELETE FROM files d WHERE d.site = $1 AND d.lfn > $2 AND d.lfn < $3 AND d.type = 2 AND d.host IN ('', $4)
		AND NOT EXISTS (SELECT 1 FROM files f WHERE f.site = $1 AND f.lfn > d.lfn || '/' AND f.lfn < d.lfn || '0' AND f.type <> 2)`
	args := []any{c.opt.Site, lo, hi, c.opt.Host}
	if !before.IsZero() {
		q += ` AND d.updated_at < $5`
		args = append(args, before)
	}
	_, err := tx.Exec(ctx, q, args...)
	return err
}

// DirStamps returns this host's directory stamps: for every directory of
// its namespace, the mtime in nanoseconds it had when its entries were
// last compared with the catalog (sql/schema/006_dir_stamps.sql).
func (c *Catalog) DirStamps(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	err := c.opt.Retry.Do(ctx, func(ctx context.Context) error {
		clear(out)
		rows, err := c.pool.Query(ctx, `SELECT lfn, mtime_ns FROM dir_stamps WHERE site = $1 AND host = $2`, c.opt.Site, c.opt.Host)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var l string
			var ns int64
			if err := rows.Scan(&l, &ns); err != nil {
				return err
			}
			out[l] = ns
		}
		return rows.Err()
	})
	return out, err
}

// SetDirStamps writes the stamps in set and removes those of the
// directories in gone with everything below them.
func (c *Catalog) SetDirStamps(ctx context.Context, set map[string]int64, gone []string) error {
	if len(set) == 0 && len(gone) == 0 {
		return nil
	}
	lfns := make([]string, 0, len(set))
	stamps := make([]int64, 0, len(set))
	for l, ns := range set {
		lfns = append(lfns, l)
		stamps = append(stamps, ns)
	}
	return c.opt.Retry.Do(ctx, func(ctx context.Context) error {
		return pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
			for _, g := range gone {
				lo, hi := prefixRange(g)
				if _, err := tx.Exec(ctx, `DELETE FROM dir_stamps WHERE site = $1 AND host = $2 AND (lfn = $3 OR (lfn > $4 AND lfn < $5))`,
					c.opt.Site, c.opt.Host, g, lo, hi); err != nil {
					return err
				}
			}
			if len(lfns) == 0 {
				return nil
			}
			_, err := tx.Exec(ctx, `INSERT INTO dir_stamps (site, host, lfn, mtime_ns)
				SELECT $1, $2, l, n FROM unnest($3::text[], $4::bigint[]) AS t(l, n)
				ON CONFLICT (site, host, lfn) DO UPDATE SET mtime_ns = EXCLUDED.mtime_ns`,
				c.opt.Site, c.opt.Host, lfns, stamps)
			return err
		})
	})
}
