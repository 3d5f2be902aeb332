// Package pgcat implements catalog.Catalog on PostgreSQL (pgx/v5), the
// catalog one site shares across many hosts. The schema is in frm/sql.
//
// The files table holds the whole namespace (files, directories, side
// files), so Lookup and Walk never touch the filesystem. Apply changes the
// row in a transaction and, for files of this host, writes the same change
// through to the extended attributes (the embedded catalog) before the
// transaction commits: a data file still tells its own state, and an
// xrootd server beside frm keeps working. A write-through failure rolls
// the row back; a commit that fails after the write-through leaves the
// file ahead of the row, which the next Apply or an audit repairs.
//
// Every database operation is retried on serialization failures and
// dropped connections (see Retry). Errors never carry the DSN's password.
package pgcat

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"frm/core/catalog"
	"frm/core/config"
	"frm/core/meta"
	"frm/core/names"
	"frm/core/space"
)

// Options configures a Catalog.
type Options struct {
	// Names maps lfns to this host's pfns (Entry.PFN, directories given to
	// OnOldStyle, the write-through).
	Names names.Mapper
	// Site keys the rows: one database can hold several sites' catalogs.
	Site string
	// Host is this host's name. Attribute changes are written through to
	// the filesystem only for files of this host (or of no recorded host).
	Host string
	// WriteThrough, when not nil, receives every applied change for files
	// of this host: normally the embedded catalog of the same namespace.
	WriteThrough catalog.Catalog
	// Retry is the retry policy (zero: the defaults).
	Retry Retry
	// Spaces, when not nil, names the partition of data files written by
	// Put (as ImportOptions.Spaces).
	Spaces *space.Set
}

// Catalog is the PostgreSQL catalog.
type Catalog struct {
	pool *pgxpool.Pool
	opt  Options
}

var _ catalog.Catalog = (*Catalog)(nil)

// New returns a catalog over pool, whose schema must be migrated.
func New(pool *pgxpool.Pool, opt Options) *Catalog {
	return &Catalog{pool: pool, opt: opt}
}

// Pool returns the connection pool.
func (c *Catalog) Pool() *pgxpool.Pool { return c.pool }

// PoolOptions tunes Open.
type PoolOptions struct {
	MaxConns         int32         // 0: pgxpool's default (max(4, CPUs))
	StatementTimeout time.Duration // 0: none
	AppName          string        // application_name; "" means "frm"
}

// Open creates a connection pool for dsn and checks that the server
// answers. Errors name the DSN with its password redacted.
func Open(ctx context.Context, dsn string, opt PoolOptions) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, dsnError(dsn, "", err)
	}
	pw := cfg.ConnConfig.Password
	if opt.MaxConns > 0 {
		cfg.MaxConns = opt.MaxConns
	}
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		name := opt.AppName
		if name == "" {
			name = "frm"
		}
		cfg.ConnConfig.RuntimeParams["application_name"] = name
	}
	if opt.StatementTimeout > 0 {
		cfg.ConnConfig.RuntimeParams["statement_timeout"] = fmt.Sprint(opt.StatementTimeout.Milliseconds())
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, dsnError(dsn, pw, err)
	}
	if err := (Retry{Attempts: 3}).Do(ctx, pool.Ping); err != nil {
		pool.Close()
		return nil, dsnError(dsn, pw, err)
	}
	return pool, nil
}

// dsnError names the database by its redacted DSN and scrubs the
// password from the cause's text, whatever the driver put there.
func dsnError(dsn, pw string, err error) error {
	return &redactedError{msg: "catalog database " + describeDSN(dsn), err: err, pw: pw}
}

func describeDSN(dsn string) string {
	if dsn == "" {
		return "(from the PG* environment)"
	}
	return config.RedactDSN(dsn)
}

type redactedError struct {
	msg string
	err error
	pw  string
}

func (e *redactedError) Error() string {
	s := e.msg + ": " + e.err.Error()
	if e.pw != "" {
		s = strings.ReplaceAll(s, e.pw, "REDACTED")
	}
	return s
}

func (e *redactedError) Unwrap() error { return e.err }

// columns read for an entry, in scan order.
const entryColumns = `lfn, type, space, link, dangling, size, mtime, atime, ctime, mode,
	copy_time, pin_flags, pin_time, mem_flags, pfn_ref, failed, checksums`

// row is one files row as scanned.
type row struct {
	lfn       string
	typ       int16
	space     string
	link      string
	dangling  bool
	size      int64
	mtime     int64
	atime     int64
	ctime     int64
	mode      int64
	copyTime  *int64
	pinFlags  *int16
	pinTime   *int64
	memFlags  *int16
	pfnRef    *string
	failed    bool
	checksums []byte
}

func (r *row) dest() []any {
	return []any{&r.lfn, &r.typ, &r.space, &r.link, &r.dangling, &r.size, &r.mtime, &r.atime, &r.ctime, &r.mode,
		&r.copyTime, &r.pinFlags, &r.pinTime, &r.memFlags, &r.pfnRef, &r.failed, &r.checksums}
}

// checksumJSON is one element of files.checksums.
type checksumJSON struct {
	Alg   string `json:"alg"`
	Value string `json:"value"` // hex
	MTime int64  `json:"mtime"`
	Delta int32  `json:"delta,omitempty"`
}

func encodeChecksums(cs []meta.Checksum) []byte {
	out := make([]checksumJSON, len(cs))
	for i, c := range cs {
		out[i] = checksumJSON{Alg: c.Alg, Value: hex.EncodeToString(c.Value), MTime: c.MTime, Delta: c.Delta}
	}
	b, _ := json.Marshal(out)
	return b
}

func decodeChecksums(b []byte) ([]meta.Checksum, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var in []checksumJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, err
	}
	var out []meta.Checksum
	for _, c := range in {
		v, err := hex.DecodeString(c.Value)
		if err != nil {
			return nil, fmt.Errorf("checksum %s: %w", c.Alg, err)
		}
		out = append(out, meta.Checksum{Alg: c.Alg, Value: v, MTime: c.MTime, Delta: c.Delta})
	}
	return out, nil
}

// entry fills e from r, loading what want asks for, as the embedded
// catalog does (fields not wanted stay zero).
func (c *Catalog) entry(e *catalog.Entry, r *row, want catalog.Want) {
	*e = catalog.Entry{LFN: r.lfn, PFN: c.opt.Names.PFNClean(r.lfn), Type: catalog.Type(r.typ)}
	setStat := func() {
		e.Size, e.Mtime, e.Atime, e.Ctime, e.Mode = r.size, r.mtime, r.atime, r.ctime, uint32(r.mode)
	}
	switch e.Type {
	case catalog.Dir:
		if want&catalog.WantStat != 0 {
			setStat()
		}
		return
	case catalog.File:
	default:
		return
	}
	e.Space = r.space
	isLink := r.link != ""
	if want&catalog.WantLink != 0 {
		e.Link, e.Dangling = r.link, r.dangling
	}
	if want&catalog.WantCopy != 0 && r.copyTime != nil && !r.dangling {
		e.HasCopy, e.CopyTime = true, *r.copyTime
	}
	if !r.dangling && (want&catalog.WantStat != 0 || isLink && want&catalog.WantLink != 0 ||
		want&catalog.WantStatIfCopied != 0 && e.HasCopy) {
		setStat()
	}
	if r.dangling {
		return
	}
	if want&catalog.WantPin != 0 && r.pinFlags != nil {
		e.HasPin = true
		e.Pin.Flags = meta.PinFlags(*r.pinFlags)
		if r.pinTime != nil {
			e.Pin.Time = *r.pinTime
		}
	}
	if want&catalog.WantMem != 0 && r.memFlags != nil {
		e.HasMem, e.Mem = true, meta.MemFlags(*r.memFlags)
	}
	if want&catalog.WantPfnRef != 0 && r.pfnRef != nil {
		e.HasPfnRef, e.PfnRef = true, *r.pfnRef
	}
	if want&catalog.WantChecksums != 0 {
		e.Checksums, _ = decodeChecksums(r.checksums)
	}
	if want&catalog.WantFail != 0 {
		e.Failed = r.failed
	}
}

func (c *Catalog) notExist(lfn string) error {
	return fmt.Errorf("%s: %w", c.opt.Names.PFNClean(lfn), catalog.ErrNotExist)
}

// Lookup implements catalog.Catalog.
func (c *Catalog) Lookup(ctx context.Context, lfn string, want catalog.Want) (catalog.Entry, error) {
	var r row
	err := c.opt.Retry.Do(ctx, func(ctx context.Context) error {
		return c.pool.QueryRow(ctx, "SELECT "+entryColumns+" FROM files WHERE site = $1 AND lfn = $2", c.opt.Site, lfn).Scan(r.dest()...)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return catalog.Entry{LFN: lfn, PFN: c.opt.Names.PFNClean(lfn)}, c.notExist(lfn)
	}
	if err != nil {
		return catalog.Entry{LFN: lfn, PFN: c.opt.Names.PFNClean(lfn)}, fmt.Errorf("catalog lookup %s: %w", lfn, err)
	}
	var e catalog.Entry
	c.entry(&e, &r, want)
	return e, nil
}

// Parent returns the directory lfn holding lfn ("" for "/").
func Parent(lfn string) string {
	if lfn == "/" {
		return ""
	}
	return path.Dir(lfn)
}

// prefixRange returns the byte range [lo, hi) of the lfns strictly below
// directory dir: "/a" gives ["/a/", "/a0") ('0' follows '/').
func prefixRange(dir string) (lo, hi string) {
	if dir == "/" {
		return "/", "0"
	}
	return dir + "/", dir + "0"
}

// walkBatch is how many rows one query of a walk returns before the next
// resumes after the last lfn (keyset pagination): a walk holds no long
// transaction, survives a dropped connection by resuming where it was,
// and its memory is bounded by one batch in flight.
const walkBatch = 2000

// mustBeDir checks that lfn is a directory of the catalog before a scan
// below it (op names the scan in errors). The root always exists, also in
// an empty catalog.
func (c *Catalog) mustBeDir(ctx context.Context, lfn, op string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var typ int16
	err := c.opt.Retry.Do(ctx, func(ctx context.Context) error {
		return c.pool.QueryRow(ctx, "SELECT type FROM files WHERE site = $1 AND lfn = $2", c.opt.Site, lfn).Scan(&typ)
	})
	switch {
	case errors.Is(err, pgx.ErrNoRows) && lfn == "/":
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return c.notExist(lfn)
	case err != nil:
		return fmt.Errorf("catalog %s %s: %w", op, lfn, err)
	}
	if catalog.Type(typ) != catalog.Dir {
		return &os.PathError{Op: "open directory", Path: c.opt.Names.PFNClean(lfn), Err: syscall.ENOTDIR}
	}
	return nil
}

// Walk implements catalog.Catalog. Entries come in lfn order. A recursive
// walk is one range over the primary key; a flat one reads the parent
// index. opt.Workers is ignored (the server does the work).
func (c *Catalog) Walk(ctx context.Context, lfn string, opt catalog.WalkOptions, fn func(*catalog.Entry) error) error {
	if err := c.mustBeDir(ctx, lfn, "walk"); err != nil {
		return err
	}
	types := []int16{int16(catalog.File), int16(catalog.Other)}
	if opt.Dirs || opt.Scanned != nil {
		types = append(types, int16(catalog.Dir))
	}
	if opt.SideFiles || opt.OnOldStyle != nil {
		types = append(types, int16(catalog.Side))
	}
	var q string
	var args []any
	lo, hi := prefixRange(lfn)
	if opt.Recursive {
		q = "SELECT " + entryColumns + ` FROM files
			WHERE site = $1 AND lfn > $2 AND lfn < $3 AND type = ANY($4)
			ORDER BY lfn LIMIT $5`
		args = []any{c.opt.Site, lo, hi, types, walkBatch}
	} else {
		q = "SELECT " + entryColumns + ` FROM files
			WHERE site = $1 AND parent = $3 AND lfn > $2 AND type = ANY($4)
			ORDER BY lfn LIMIT $5`
		args = []any{c.opt.Site, lo, lfn, types, walkBatch}
	}
	oldStyle := map[string]bool{}
	batch := make([]row, 0, walkBatch)
	var e catalog.Entry
	for {
		var err error
		if batch, err = c.fetch(ctx, q, args, batch); err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			return fmt.Errorf("catalog walk %s: %w", lfn, err)
		}
		if opt.Scanned != nil {
			opt.Scanned.Add(int64(len(batch)))
		}
		for i := range batch {
			r := &batch[i]
			switch catalog.Type(r.typ) {
			case catalog.Dir:
				if !opt.Dirs {
					continue
				}
			case catalog.Side:
				if opt.OnOldStyle != nil && meta.IsOldStyle(path.Base(r.lfn)) {
					if dir := Parent(r.lfn); !oldStyle[dir] {
						oldStyle[dir] = true
						opt.OnOldStyle(c.opt.Names.PFNClean(dir))
					}
				}
				if !opt.SideFiles {
					continue
				}
				fnErr := fn(&catalog.Entry{LFN: r.lfn, PFN: c.opt.Names.PFNClean(r.lfn), Type: catalog.Side})
				if fnErr != nil {
					return fnErr
				}
				continue
			}
			c.entry(&e, r, opt.Want)
			if opt.More != nil && e.Type == catalog.File && !e.Dangling {
				// The row holds every field: loading more is filling
				// them in.
				if more := opt.More(&e); more != 0 {
					c.entry(&e, r, opt.Want|more)
				}
			}
			if err := fn(&e); err != nil {
				return err
			}
		}
		if len(batch) < walkBatch {
			return ctx.Err()
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		args[1] = batch[len(batch)-1].lfn
	}
}

// fetch runs a page query (retried as a whole) into batch[:0].
func (c *Catalog) fetch(ctx context.Context, q string, args []any, batch []row) ([]row, error) {
	err := c.opt.Retry.Do(ctx, func(ctx context.Context) error {
		batch = batch[:0]
		rows, err := c.pool.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		var r row
		for rows.Next() {
			if err := rows.Scan(r.dest()...); err != nil {
				return err
			}
			batch = append(batch, r)
		}
		return rows.Err()
	})
	return batch, err
}

// state is the residency state of one file inside Apply.
type state struct {
	typ       int16
	host      string
	copyTime  *int64
	pinFlags  *int16
	pinTime   *int64
	memFlags  *int16
	pfnRef    *string
	checksums []meta.Checksum
}

// Apply implements catalog.Catalog: the row is locked, the changes are
// applied in order and counted as the embedded catalog counts them
// (clearing what is absent changes nothing), the row and an event are
// written, the changes are written through to the file when it is on
// this host, and the transaction commits.
func (c *Catalog) Apply(ctx context.Context, lfn string, changes ...catalog.Change) (int, error) {
	for _, ch := range changes {
		if ch.Kind < catalog.SetCopyTime || ch.Kind > catalog.SetPfnRef {
			return 0, fmt.Errorf("%s: unknown change kind %d", c.opt.Names.PFNClean(lfn), ch.Kind)
		}
	}
	var n int
	err := c.opt.Retry.Do(ctx, func(ctx context.Context) error {
		n = 0
		return pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
			var s state
			var cks []byte
			err := tx.QueryRow(ctx, `SELECT type, host, copy_time, pin_flags, pin_time, mem_flags, pfn_ref, checksums
				FROM files WHERE site = $1 AND lfn = $2 FOR UPDATE`, c.opt.Site, lfn).
				Scan(&s.typ, &s.host, &s.copyTime, &s.pinFlags, &s.pinTime, &s.memFlags, &s.pfnRef, &cks)
			if errors.Is(err, pgx.ErrNoRows) {
				return c.notExist(lfn)
			}
			if err != nil {
				return err
			}
			if s.checksums, err = decodeChecksums(cks); err != nil {
				return fmt.Errorf("%s: stored checksums: %w", lfn, err)
			}
			for _, ch := range changes {
				if s.apply(ch) {
					n++
				}
			}
			if _, err := tx.Exec(ctx, `UPDATE files SET copy_time = $3, pin_flags = $4, pin_time = $5,
				mem_flags = $6, pfn_ref = $7, checksums = $8, updated_at = now()
				WHERE site = $1 AND lfn = $2`, c.opt.Site, lfn,
				s.copyTime, s.pinFlags, s.pinTime, s.memFlags, s.pfnRef, string(encodeChecksums(s.checksums))); err != nil {
				return err
			}
			if n > 0 {
				if _, err := tx.Exec(ctx, `INSERT INTO events (site, host, kind, lfn, detail) VALUES ($1, $2, 'apply', $3, $4)`,
					c.opt.Site, c.opt.Host, lfn, string(describeChanges(changes))); err != nil {
					return err
				}
				if s.host != "" && s.host != c.opt.Host {
					// Another host's file: that host writes the xattrs.
					if _, err := tx.Exec(ctx, `INSERT INTO events (site, host, kind, lfn, detail) VALUES ($1, $2, 'remote_apply', $3, $4)`,
						c.opt.Site, s.host, lfn, remoteDetail(c.opt.Host, changes)); err != nil {
						return err
					}
					if _, err := tx.Exec(ctx, `SELECT pg_notify('`+RemoteApplyChannel+`', $1)`, s.host); err != nil {
						return err
					}
				}
			}
			if c.opt.WriteThrough != nil && (s.host == "" || s.host == c.opt.Host) {
				if _, err := c.opt.WriteThrough.Apply(ctx, lfn, changes...); err != nil {
					return &permanentError{fmt.Errorf("write-through: %w", err)}
				}
			}
			return nil
		})
	})
	if err != nil {
		if errors.Is(err, catalog.ErrNotExist) || ctx.Err() != nil {
			return 0, err
		}
		return 0, fmt.Errorf("catalog apply %s: %w", lfn, err)
	}
	return n, nil
}

// apply applies one change and reports whether it changed anything
// (every Set counts, as a setxattr does).
func (s *state) apply(ch catalog.Change) bool {
	switch ch.Kind {
	case catalog.SetCopyTime:
		t := ch.Time
		s.copyTime = &t
	case catalog.SetPin:
		f, t := int16(ch.Pin.Flags), ch.Pin.Time
		s.pinFlags, s.pinTime = &f, &t
	case catalog.ClearPin:
		had := s.pinFlags != nil
		s.pinFlags, s.pinTime = nil, nil
		return had
	case catalog.SetMem:
		f := int16(ch.Mem)
		s.memFlags = &f
	case catalog.ClearMem:
		had := s.memFlags != nil
		s.memFlags = nil
		return had
	case catalog.SetChecksum:
		for i := range s.checksums {
			if s.checksums[i].Alg == ch.Checksum.Alg {
				s.checksums[i] = ch.Checksum
				return true
			}
		}
		s.checksums = append(s.checksums, ch.Checksum)
	case catalog.ClearChecksum:
		for i := range s.checksums {
			if s.checksums[i].Alg == ch.Checksum.Alg {
				s.checksums = append(s.checksums[:i], s.checksums[i+1:]...)
				return true
			}
		}
		return false
	case catalog.SetPfnRef:
		p := ch.PfnRef
		s.pfnRef = &p
	}
	return true
}

func describeChanges(changes []catalog.Change) []byte {
	type jc struct {
		Kind   string `json:"kind"`
		Time   int64  `json:"time,omitempty"`
		Flags  uint8  `json:"flags,omitempty"`
		Alg    string `json:"alg,omitempty"`
		PfnRef string `json:"pfn_ref,omitempty"`
	}
	kinds := map[catalog.ChangeKind]string{
		catalog.SetCopyTime: "set_copy_time", catalog.SetPin: "set_pin", catalog.ClearPin: "clear_pin",
		catalog.SetMem: "set_mem", catalog.ClearMem: "clear_mem", catalog.SetChecksum: "set_checksum",
		catalog.ClearChecksum: "clear_checksum", catalog.SetPfnRef: "set_pfn_ref",
	}
	out := make([]jc, 0, len(changes))
	for _, ch := range changes {
		j := jc{Kind: kinds[ch.Kind]}
		switch ch.Kind {
		case catalog.SetCopyTime:
			j.Time = ch.Time
		case catalog.SetPin:
			j.Time, j.Flags = ch.Pin.Time, uint8(ch.Pin.Flags)
		case catalog.SetMem:
			j.Flags = uint8(ch.Mem)
		case catalog.SetChecksum, catalog.ClearChecksum:
			j.Alg = ch.Checksum.Alg
		case catalog.SetPfnRef:
			j.PfnRef = ch.PfnRef
		}
		out = append(out, j)
	}
	b, _ := json.Marshal(map[string]any{"changes": out})
	return b
}
