package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"frm/core/catalog"
	"frm/core/catalog/pgcat"
	"frm/core/config"
	"frm/core/space"
	"frm/core/wire"
	"frm/sql/schema"
)

const dbUsage = `Usage: frm db init    [-c FILE] [-n NAME]
       frm db migrate [-c FILE] [-n NAME]
       frm db status  [-c FILE] [-n NAME]

Manage the PostgreSQL catalog selected by [catalog] kind = "postgres" and
dsn = "..." in the configuration, or by $FRM_CATALOG_DSN (which wins). An
empty DSN uses the libpq environment (PGHOST, PGDATABASE, PGUSER, ...,
~/.pgpass). There is no -dsn option: a password on the command line would
show in ps.

init     apply pending migrations, then register this host (host name and
         instance), its spaces and its partitions with their sizes
migrate  apply pending migrations (safe to run from several hosts at once)
status   show applied and pending migrations

Exit status: 0 done (status: schema current), 1 database error, 2 usage,
3 status: migrations pending or the schema differs from this frm, 4
configuration error.
`

// dbSub is one subcommand of frm db, run with the database open.
type dbSub func(ctx context.Context, e *dbEnv) int

var dbSubs = map[string]dbSub{"init": dbInit, "migrate": dbMigrate, "status": dbStatus}

// dbEnv is what a frm db subcommand works with.
type dbEnv struct {
	sub            string
	cfg            *config.Config // nil: $FRM_CATALOG_DSN without a configuration
	dsn, host      string
	pool           *pgxpool.Pool
	stdout, stderr io.Writer
}

// fail reports err and returns the exit status: 130 when interrupted,
// else 1.
func (e *dbEnv) fail(err error) int {
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(e.stderr, "frm db: interrupted")
		return 130
	}
	fmt.Fprintf(e.stderr, "frm db %s: %v\n", e.sub, err)
	return 1
}

func dbMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, dbUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	sub := args[0]
	run, ok := dbSubs[sub]
	if !ok {
		fmt.Fprintf(stderr, "frm db: unknown subcommand %q\n\n%s", sub, dbUsage)
		return 2
	}
	fs := siteFlags("frm db " + sub)
	if code, done := fs.parse(args[1:], dbUsage, stdout, stderr); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "frm db %s: unexpected argument %q\n", sub, fs.Arg(0))
		return 2
	}
	e := &dbEnv{sub: sub, stdout: stdout, stderr: stderr}
	if code := e.resolve(*fs.cfgPath, *fs.inst); code != 0 {
		return code
	}
	ctx, cancel := interruptible(ctx)
	defer cancel()
	openCtx, openCancel := context.WithTimeout(ctx, 30*time.Second)
	pool, err := pgcat.Open(openCtx, e.dsn, pgcat.PoolOptions{MaxConns: 2, AppName: "frm db"})
	openCancel()
	if err != nil {
		fmt.Fprintf(stderr, "frm db: %v\n", err)
		return 1
	}
	defer pool.Close()
	e.pool = pool
	return run(ctx, e)
}

// resolve loads the configuration and picks the database: e.cfg, e.dsn
// and e.host. It returns 0, or the exit status of a configuration error.
func (e *dbEnv) resolve(cfgPath, instance string) int {
	envDSN := os.Getenv(wire.DSNEnv)
	_, cfg, err := loadConfig(cfgPath, instance, nil, warnTo(e.stderr, "frm db"))
	if err != nil && (envDSN == "" || e.sub == "init" || cfgPath != "") {
		// Without a configuration only $FRM_CATALOG_DSN names the
		// database, and init needs the partitions.
		fmt.Fprintf(e.stderr, "frm db: %v\n", err)
		return 4
	}
	e.dsn, e.host = envDSN, catalog.HostName("")
	if cfg == nil {
		return 0
	}
	dsn, postgres, _ := wire.CatalogDSN(cfg)
	if !postgres {
		fmt.Fprintf(e.stderr, "frm db: the catalog of %s is %q; set [catalog] kind = \"postgres\" and dsn, or $FRM_CATALOG_DSN\n", cfg.Source, cfg.Catalog.Kind)
		return 4
	}
	e.cfg, e.dsn, e.host = cfg, dsn, catalog.HostName(cfg.Instance)
	return 0
}

// dbStatus lists the applied and pending migrations; 3 when the schema is
// not current or differs from this frm's.
func dbStatus(ctx context.Context, e *dbEnv) int {
	st, err := schema.GetStatus(ctx, e.pool)
	if err != nil {
		return e.fail(err)
	}
	fmt.Fprintf(e.stdout, "database  %s\n", dbDescribeDSN(e.dsn))
	fmt.Fprintf(e.stdout, "schema    version %d of %d\n", st.Version(), schema.Latest())
	applied := map[int]schema.Applied{}
	for _, a := range st.Applied {
		applied[a.Version] = a
	}
	modified := map[int]bool{}
	for _, v := range st.Modified {
		modified[v] = true
	}
	for _, m := range st.Known {
		a, ok := applied[m.Version]
		switch {
		case !ok:
			fmt.Fprintf(e.stdout, "  %03d %-20s pending\n", m.Version, m.Name)
		case modified[m.Version]:
			fmt.Fprintf(e.stdout, "  %03d %-20s applied %s by %s, but the file differs from what was applied\n", m.Version, m.Name, a.AppliedAt.Local().Format(time.DateTime), dbOrDash(a.AppliedBy))
		default:
			fmt.Fprintf(e.stdout, "  %03d %-20s applied %s by %s\n", m.Version, m.Name, a.AppliedAt.Local().Format(time.DateTime), dbOrDash(a.AppliedBy))
		}
	}
	for _, v := range st.Unknown {
		fmt.Fprintf(e.stdout, "  %03d %-20s applied, unknown to this frm (the database is newer)\n", v, applied[v].Name)
	}
	if !st.Current() || len(st.Modified) > 0 {
		return 3
	}
	return 0
}

// dbMigrate applies the pending migrations.
func dbMigrate(ctx context.Context, e *dbEnv) int {
	done, err := schema.Migrate(ctx, e.pool, e.host)
	for _, m := range done {
		fmt.Fprintf(e.stdout, "applied %s\n", m.File)
	}
	if err != nil {
		return e.fail(err)
	}
	if len(done) == 0 {
		fmt.Fprintf(e.stdout, "schema is current (version %d)\n", schema.Latest())
	}
	return 0
}

// dbInit applies the pending migrations, then registers this host and its
// partitions with their sizes.
func dbInit(ctx context.Context, e *dbEnv) int {
	if code := dbMigrate(ctx, e); code != 0 {
		return code
	}
	var us []space.Usage
	for _, s := range e.cfg.Spaces {
		for _, p := range s.Partitions {
			u := space.StatCapped(space.Partition{Space: s.Name, Path: strings.TrimRight(p.Path, "/"), Cap: int64(p.Cap)})
			if u.Err != nil {
				fmt.Fprintf(e.stderr, "frm db init: %v (registered without sizes)\n", u.Err)
			}
			us = append(us, u)
		}
	}
	if err := pgcat.RegisterHost(ctx, e.pool, e.host, versionString(), us, pgcat.Retry{}); err != nil {
		return e.fail(err)
	}
	fmt.Fprintf(e.stdout, "registered host %s with %d partition(s)\n", e.host, len(us))
	return 0
}

func dbDescribeDSN(dsn string) string {
	if dsn == "" {
		return "(from the PG* environment)"
	}
	return config.RedactDSN(dsn)
}

func dbOrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
