// Package schema holds frm's PostgreSQL schema as numbered migrations
// (NNN_name.sql, embedded in the binary) and applies them.
//
// Rules for migrations:
//   - files are numbered from 001 without gaps and never edited once
//     released (status reports an edited one by its checksum); a change is
//     a new file;
//   - every statement is idempotent (IF NOT EXISTS ...), so a file may
//     run again after a failure;
//   - each file runs in one transaction together with its row in
//     schema_migrations, under a transaction-level advisory lock: two
//     hosts migrating at once serialise, and the second finds the work
//     done.
package schema

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed *.sql
var files embed.FS

// LockKey is the advisory lock taken by migrations ("frm_mig").
const LockKey int64 = 0x66726d5f6d6967

// Migration is one numbered schema change.
type Migration struct {
	Version int
	Name    string // from the file name: 001_catalog.sql is "catalog"
	File    string
	SQL     string
	Sum     string // sha256 of SQL, hex
}

var fileRE = regexp.MustCompile(`^([0-9]{3})_([a-z0-9_]+)\.sql$`)

// Migrations returns the embedded migrations in order. It fails when a
// file is misnamed or the numbers have gaps or duplicates.
func Migrations() ([]Migration, error) {
	ents, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, e := range ents {
		m := fileRE.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %s: name must be NNN_name.sql", e.Name())
		}
		b, err := files.ReadFile(e.Name())
		if err != nil {
			return nil, err
		}
		v, _ := strconv.Atoi(m[1])
		sum := sha256.Sum256(b)
		ms = append(ms, Migration{Version: v, Name: m[2], File: e.Name(), SQL: string(b), Sum: hex.EncodeToString(sum[:])})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %s: expected number %03d (numbers start at 001, without gaps or duplicates)", m.File, i+1)
		}
	}
	return ms, nil
}

// Latest is the highest embedded migration version.
func Latest() int {
	ms, err := Migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].Version
}

const createVersionTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    applied_by text        NOT NULL DEFAULT ''
)`

// Migrate applies the pending migrations in order, each in its own
// transaction under the advisory lock, and returns those it applied (none
// when the schema is current). by names the applier (host) in
// schema_migrations. Concurrent callers are safe: each migration runs
// once.
func Migrate(ctx context.Context, pool *pgxpool.Pool, by string) ([]Migration, error) {
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	var done []Migration
	for _, m := range ms {
		applied := false
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", LockKey); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, createVersionTable); err != nil {
				return err
			}
			var one int
			err := tx.QueryRow(ctx, "SELECT 1 FROM schema_migrations WHERE version = $1", m.Version).Scan(&one)
			if err == nil {
				return nil // applied (by us earlier or by another host meanwhile)
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			// No arguments: the simple protocol, which runs several
			// statements in one call.
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name, checksum, applied_by) VALUES ($1, $2, $3, $4)",
				m.Version, m.Name, m.Sum, by); err != nil {
				return err
			}
			applied = true
			return nil
		})
		if err != nil {
			return done, fmt.Errorf("migration %s: %w", m.File, err)
		}
		if applied {
			done = append(done, m)
		}
	}
	return done, nil
}

// Applied is a row of schema_migrations.
type Applied struct {
	Version   int
	Name      string
	Sum       string
	AppliedAt time.Time
	AppliedBy string
}

// Status compares the database with the embedded migrations.
type Status struct {
	Known    []Migration // embedded, in order
	Applied  []Applied   // recorded in the database, in order
	Pending  []Migration // embedded, not applied
	Modified []int       // applied with a checksum other than the embedded file's
	Unknown  []int       // applied, not embedded: the database is newer than this frm
}

// Current reports whether nothing is pending and the database is not
// newer than this binary.
func (s Status) Current() bool { return len(s.Pending) == 0 && len(s.Unknown) == 0 }

// Version is the highest applied version (0: none).
func (s Status) Version() int {
	if len(s.Applied) == 0 {
		return 0
	}
	return s.Applied[len(s.Applied)-1].Version
}

// GetStatus reads schema_migrations (absent: nothing applied) and compares
// it with the embedded migrations.
func GetStatus(ctx context.Context, pool *pgxpool.Pool) (Status, error) {
	ms, err := Migrations()
	if err != nil {
		return Status{}, err
	}
	st := Status{Known: ms}
	var exists bool
	if err := pool.QueryRow(ctx, "SELECT to_regclass('schema_migrations') IS NOT NULL").Scan(&exists); err != nil {
		return st, err
	}
	if exists {
		rows, err := pool.Query(ctx, "SELECT version, name, checksum, applied_at, applied_by FROM schema_migrations ORDER BY version")
		if err != nil {
			return st, err
		}
		for rows.Next() {
			var a Applied
			if err := rows.Scan(&a.Version, &a.Name, &a.Sum, &a.AppliedAt, &a.AppliedBy); err != nil {
				rows.Close()
				return st, err
			}
			st.Applied = append(st.Applied, a)
		}
		if err := rows.Err(); err != nil {
			return st, err
		}
	}
	byVersion := make(map[int]Applied, len(st.Applied))
	for _, a := range st.Applied {
		byVersion[a.Version] = a
	}
	known := make(map[int]bool, len(ms))
	for _, m := range ms {
		known[m.Version] = true
		a, ok := byVersion[m.Version]
		switch {
		case !ok:
			st.Pending = append(st.Pending, m)
		case a.Sum != m.Sum:
			st.Modified = append(st.Modified, m.Version)
		}
	}
	for _, a := range st.Applied {
		if !known[a.Version] {
			st.Unknown = append(st.Unknown, a.Version)
		}
	}
	return st, nil
}
