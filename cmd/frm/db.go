package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

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

func dbMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, dbUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	sub := args[0]
	switch sub {
	case "init", "migrate", "status":
	default:
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
	envDSN := os.Getenv(wire.DSNEnv)
	_, cfg, err := loadConfig(*fs.cfgPath, *fs.inst, nil)
	if err != nil && (envDSN == "" || sub == "init" || *fs.cfgPath != "") {
		// Without a configuration only $FRM_CATALOG_DSN names the
		// database, and init needs the partitions.
		fmt.Fprintf(stderr, "frm db: %v\n", err)
		return 4
	}
	var dsn string
	if cfg != nil {
		var postgres bool
		if dsn, postgres, err = wire.CatalogDSN(cfg); !postgres {
			fmt.Fprintf(stderr, "frm db: the catalog of %s is %q; set [catalog] kind = \"postgres\" and dsn, or $FRM_CATALOG_DSN\n", cfg.Source, cfg.Catalog.Kind)
			return 4
		}
	} else {
		dsn = envDSN
	}
	ctx, cancel := interruptible(ctx)
	defer cancel()
	openCtx, openCancel := context.WithTimeout(ctx, 30*time.Second)
	pool, err := pgcat.Open(openCtx, dsn, pgcat.PoolOptions{MaxConns: 2, AppName: "frm db"})
	openCancel()
	if err != nil {
		fmt.Fprintf(stderr, "frm db: %v\n", err)
		return 1
	}
	defer pool.Close()
	instance := ""
	if cfg != nil {
		instance = cfg.Instance
	}
	host := catalog.HostName(instance)
	fail := func(err error) int {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(stderr, "frm db: interrupted")
			return 130
		}
		fmt.Fprintf(stderr, "frm db %s: %v\n", sub, err)
		return 1
	}

	if sub == "status" {
		st, err := schema.GetStatus(ctx, pool)
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "database  %s\n", dbDescribeDSN(dsn))
		fmt.Fprintf(stdout, "schema    version %d of %d\n", st.Version(), schema.Latest())
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
				fmt.Fprintf(stdout, "  %03d %-20s pending\n", m.Version, m.Name)
			case modified[m.Version]:
				fmt.Fprintf(stdout, "  %03d %-20s applied %s by %s, but the file differs from what was applied\n", m.Version, m.Name, a.AppliedAt.Local().Format(time.DateTime), dbOrDash(a.AppliedBy))
			default:
				fmt.Fprintf(stdout, "  %03d %-20s applied %s by %s\n", m.Version, m.Name, a.AppliedAt.Local().Format(time.DateTime), dbOrDash(a.AppliedBy))
			}
		}
		for _, v := range st.Unknown {
			fmt.Fprintf(stdout, "  %03d %-20s applied, unknown to this frm (the database is newer)\n", v, applied[v].Name)
		}
		if !st.Current() || len(st.Modified) > 0 {
			return 3
		}
		return 0
	}

	done, err := schema.Migrate(ctx, pool, host)
	for _, m := range done {
		fmt.Fprintf(stdout, "applied %s\n", m.File)
	}
	if err != nil {
		return fail(err)
	}
	if len(done) == 0 {
		fmt.Fprintf(stdout, "schema is current (version %d)\n", schema.Latest())
	}
	if sub == "init" {
		var us []space.Usage
		for _, s := range cfg.Spaces {
			for _, p := range s.Partitions {
				u := space.StatCapped(space.Partition{Space: s.Name, Path: strings.TrimRight(p.Path, "/"), Cap: int64(p.Cap)})
				if u.Err != nil {
					fmt.Fprintf(stderr, "frm db init: %v (registered without sizes)\n", u.Err)
				}
				us = append(us, u)
			}
		}
		if err := pgcat.RegisterHost(ctx, pool, host, version, us, pgcat.Retry{}); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "registered host %s with %d partition(s)\n", host, len(us))
	}
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
