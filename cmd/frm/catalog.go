package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"frm/core/catalog"
	"frm/core/catalog/embedded"
	"frm/core/catalog/pgcat"
	"frm/core/names"
	"frm/core/pgqueue"
	"frm/core/space"
	"frm/core/wire"
	"frm/core/xrdq"
	"frm/sql/schema"
)

const catalogUsage = `Usage: frm catalog import [-c FILE] [-n NAME]

Build the PostgreSQL catalog (catalog.kind = "postgres", or
$FRM_CATALOG_DSN) from this host's embedded site:

  - every entry below the namespace root (local_root), with the residency
    state its xattrs, links and .fail files hold, recorded as files of
    this host (host name, "/instance" for a named instance);
  - every request in the xrootd queue files (<admin>/Queues: pstg, migr,
    getf, putf) into the shared request queue.

Importing again is harmless: entries are refreshed, and a queue request
already live in the database (same kind and file) is merged, not
duplicated. Requests that the database queue has already finished are
queued again if their queue file still holds them: stop the embedded
daemons before importing. The schema must be current (frm db init).

Exit status: 0 done, 1 database or filesystem error, 2 usage, 3 schema not
current, 4 configuration error.
`

func catalogMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, catalogUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] != "import" {
		fmt.Fprintf(stderr, "frm catalog: unknown subcommand %q\n\n%s", args[0], catalogUsage)
		return 2
	}
	fs := siteFlags("frm catalog import")
	if code, done := fs.parse(args[1:], catalogUsage, stdout, stderr); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "frm catalog import: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	_, cfg, err := loadConfig(*fs.cfgPath, *fs.inst, nil, warnTo(stderr, "frm catalog"))
	if err != nil {
		fmt.Fprintf(stderr, "frm catalog: %v\n", err)
		return 4
	}
	dsn, postgres, _ := wire.CatalogDSN(cfg)
	if !postgres {
		fmt.Fprintf(stderr, "frm catalog: the catalog of %s is %q; set [catalog] kind = \"postgres\" and dsn, or $FRM_CATALOG_DSN\n", cfg.Source, cfg.Catalog.Kind)
		return 4
	}

	ctx, cancel := interruptible(ctx)
	defer cancel()
	fail := func(err error) int {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(stderr, "frm catalog import: interrupted (importing again resumes)")
			return 130
		}
		fmt.Fprintf(stderr, "frm catalog import: %v\n", err)
		return 1
	}
	openCtx, openCancel := context.WithTimeout(ctx, 30*time.Second)
	pool, err := pgcat.Open(openCtx, dsn, pgcat.PoolOptions{MaxConns: 4, AppName: "frm catalog import"})
	openCancel()
	if err != nil {
		return fail(err)
	}
	defer pool.Close()
	st, err := schema.GetStatus(ctx, pool)
	if err != nil {
		return fail(err)
	}
	if !st.Current() {
		fmt.Fprintf(stderr, "frm catalog import: schema version %d of %d is not current; run 'frm db init' first\n", st.Version(), schema.Latest())
		return 3
	}

	host := catalog.HostName(cfg.Instance)
	m := names.NewMapper(cfg.LocalRoot, cfg.RemoteRoot)
	var sps []space.Space
	for _, s := range cfg.Spaces {
		sp := space.Space{Name: s.Name}
		for _, p := range s.Partitions {
			sp.Partitions = append(sp.Partitions, space.Partition{Space: s.Name, Path: strings.TrimRight(p.Path, "/"), Cap: int64(p.Cap)})
		}
		sps = append(sps, sp)
	}
	src := embedded.New(m, cfg.Transfer.FailDir)

	// The catalog first: queue requests then find their file's host.
	cs, err := pgcat.Import(ctx, pool, src, "/", pgcat.ImportOptions{Site: cfg.Site, Host: host, Spaces: space.NewSet(sps)})
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(stdout, "catalog  %d entries (%d files, %d directories) from %s as host %s in %s\n",
		cs.Rows, cs.Files, cs.Dirs, cfg.LocalRoot, host, cs.Elapsed.Round(time.Millisecond))

	qs, err := importQueue(ctx, pgqueue.New(pool, pgqueue.Options{Site: cfg.Site, Host: host}), xrdq.Open(cfg.QueueDir()))
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(stdout, "queue    %d requests from %s: %d added, %d already queued (merged)",
		qs.added+qs.merged, cfg.QueueDir(), qs.added, qs.merged)
	for _, k := range []string{"stage", "migrate", "get", "put"} {
		if n := qs.perKind[k]; n > 0 {
			fmt.Fprintf(stdout, ", %s %d", k, n)
		}
	}
	fmt.Fprintln(stdout)
	return 0
}

type queueImport struct {
	added, merged int
	perKind       map[string]int
}

// importQueue copies every live request of the xrootd queue files into
// the database queue (pgqueue.FromXrdq says what is kept where).
func importQueue(ctx context.Context, q *pgqueue.Queue, d *xrdq.Dir) (queueImport, error) {
	st := queueImport{perKind: map[string]int{}}
	err := d.List(pgqueue.XrdqKinds, -1, func(r xrdq.Request) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		nr, ok := pgqueue.FromXrdq(r)
		if !ok {
			return nil
		}
		a, err := q.Add(ctx, nr)
		if err != nil {
			return fmt.Errorf("%s request %s for %s: %w", nr.Kind, r.ID, nr.LFN, err)
		}
		if a.Merged {
			st.merged++
		} else {
			st.added++
		}
		st.perKind[nr.Kind]++
		return nil
	})
	return st, err
}
