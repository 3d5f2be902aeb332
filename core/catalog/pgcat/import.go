package pgcat

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"frm/core/catalog"
	"frm/core/space"
)

// ImportOptions configures Import.
type ImportOptions struct {
	Site string
	Host string // recorded as the host of every imported file
	// Spaces, when not nil, names the partition of each XA data file;
	// without it the partition is taken from the data path
	// (<partition>/<space>/XX/<file>).
	Spaces *space.Set
	// BatchSize is the rows written per transaction (0: 5000).
	BatchSize int
	Retry     Retry
	// Progress, when not nil, is called after each batch with the rows
	// written so far.
	Progress func(rows int64)
}

// ImportStats counts what Import wrote.
type ImportStats struct {
	Rows    int64 // every entry (files, directories, side files, others)
	Files   int64
	Dirs    int64
	Batches int
	Elapsed time.Duration
}

var importColumns = []string{"site", "lfn", "parent", "type", "host", "space", "partition", "link", "dangling",
	"size", "mtime", "atime", "ctime", "mode", "copy_time", "pin_flags", "pin_time", "mem_flags", "pfn_ref",
	"failed", "checksums"}

// Import builds (or refreshes) the catalog rows of the namespace below
// root from src, normally the embedded catalog of an existing site: it
// walks src recursively with every field and upserts the entries in
// batches (COPY into a temporary table, then INSERT ... ON CONFLICT
// UPDATE), each batch one transaction, retried on transient errors.
// Importing twice is harmless. Rows of entries that no longer exist are
// not removed (audit does that).
func Import(ctx context.Context, pool *pgxpool.Pool, src catalog.Catalog, root string, opt ImportOptions) (ImportStats, error) {
	start := time.Now()
	var st ImportStats
	if opt.BatchSize <= 0 {
		opt.BatchSize = 5000
	}
	batch := make([][]any, 0, opt.BatchSize)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := opt.Retry.Do(ctx, func(ctx context.Context) error { return upsert(ctx, pool, batch) }); err != nil {
			return err
		}
		st.Rows += int64(len(batch))
		st.Batches++
		batch = batch[:0]
		if opt.Progress != nil {
			opt.Progress(st.Rows)
		}
		return nil
	}
	add := func(e *catalog.Entry) error {
		switch e.Type {
		case catalog.File:
			st.Files++
		case catalog.Dir:
			st.Dirs++
		}
		batch = append(batch, importRow(e, opt))
		if len(batch) >= opt.BatchSize {
			return flush()
		}
		return nil
	}
	// The root and its ancestors, so that walks and lookups find them.
	for dir := root; dir != ""; dir = Parent(dir) {
		e, err := src.Lookup(ctx, dir, catalog.WantStat)
		if err != nil {
			return st, err
		}
		if e.Type != catalog.Dir {
			return st, fmt.Errorf("import %s: not a directory", e.PFN)
		}
		if err := add(&e); err != nil {
			return st, err
		}
	}
	err := src.Walk(ctx, root, catalog.WalkOptions{Want: catalog.WantAll, Recursive: true, Dirs: true, SideFiles: true}, add)
	if err == nil {
		err = flush()
	}
	st.Elapsed = time.Since(start)
	return st, err
}

func importRow(e *catalog.Entry, opt ImportOptions) []any {
	var (
		copyTime, pinTime   any
		pinFlags, memFlags  any
		pfnRef              any
		spaceName, partPath string
	)
	if e.Type == catalog.File {
		spaceName = e.Space
		if e.HasCopy {
			copyTime = e.CopyTime
		}
		if e.HasPin {
			pinFlags, pinTime = int16(e.Pin.Flags), e.Pin.Time
		}
		if e.HasMem {
			memFlags = int16(e.Mem)
		}
		if e.HasPfnRef {
			pfnRef = e.PfnRef
		}
		if e.Link != "" {
			partPath = partitionOf(e.Link, opt.Spaces)
		}
	}
	return []any{opt.Site, e.LFN, Parent(e.LFN), int16(e.Type), opt.Host, spaceName, partPath, e.Link, e.Dangling,
		e.Size, e.Mtime, e.Atime, e.Ctime, int64(e.Mode), copyTime, pinFlags, pinTime, memFlags, pfnRef,
		e.Failed, string(encodeChecksums(e.Checksums))}
}

// partitionOf returns the partition directory holding XA data file target.
func partitionOf(target string, spaces *space.Set) string {
	if spaces != nil {
		if p, ok := spaces.Contains(target); ok {
			return p.Path
		}
	}
	sp, ok := space.SpaceOf(target)
	if !ok {
		return ""
	}
	// <partition>/<space>/XX/<file>
	dir := filepath.Dir(filepath.Dir(target))
	if filepath.Base(dir) != sp {
		return ""
	}
	return strings.TrimSuffix(filepath.Dir(dir), "/")
}

const upsertSQL = `INSERT INTO files (site, lfn, parent, type, host, space, partition, link, dangling,
	size, mtime, atime, ctime, mode, copy_time, pin_flags, pin_time, mem_flags, pfn_ref, failed, checksums)
SELECT site, lfn, parent, type, host, space, partition, link, dangling,
	size, mtime, atime, ctime, mode, copy_time, pin_flags, pin_time, mem_flags, pfn_ref, failed, checksums
FROM frm_import
` + upsertConflict

// upsertConflict replaces a row with what the files say (every upsert of
// an entry: imports, records).
const upsertConflict = `ON CONFLICT (site, lfn) DO UPDATE SET
	parent = EXCLUDED.parent, type = EXCLUDED.type, host = EXCLUDED.host, space = EXCLUDED.space,
	partition = EXCLUDED.partition, link = EXCLUDED.link, dangling = EXCLUDED.dangling,
	size = EXCLUDED.size, mtime = EXCLUDED.mtime, atime = EXCLUDED.atime, ctime = EXCLUDED.ctime,
	mode = EXCLUDED.mode, copy_time = EXCLUDED.copy_time, pin_flags = EXCLUDED.pin_flags,
	pin_time = EXCLUDED.pin_time, mem_flags = EXCLUDED.mem_flags, pfn_ref = EXCLUDED.pfn_ref,
	failed = EXCLUDED.failed, checksums = EXCLUDED.checksums, updated_at = now()`

func upsert(ctx context.Context, pool *pgxpool.Pool, rows [][]any) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE frm_import (LIKE files INCLUDING DEFAULTS) ON COMMIT DROP`); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"frm_import"}, importColumns, pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, upsertSQL)
		return err
	})
}
