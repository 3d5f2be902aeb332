package site_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"frm/core/catalog"
	"frm/core/catalog/pgcat"
	"frm/core/config"
	"frm/core/meta"
	"frm/core/mss"
	"frm/core/pgtest"
	"frm/core/purge"
	"frm/core/site"
	"frm/core/sitegen"
	"frm/core/wire"
	"frm/core/xfer"
	"frm/sql/schema"
)

// The model-based test of the catalog: a random sequence of the changes a
// site sees — made through frm (rm, mv of files and directories, reloc,
// pin, mark, purge, stage, migrate, a pin set from the other host) and
// outside it (files written, removed, renamed by others, found by the
// discovery pass), and crashes between a change and its record followed by
// a restart — on two hosts sharing one PostgreSQL catalog. After every
// step, what the catalog says of every entry (what ls -l reports) must be
// what the files say; at the end audit catalog finds nothing. The same
// sequence runs on the embedded catalog (the files), where it exercises
// the operations alone.

type modelHost struct {
	name string
	cfg  *config.Config
	s    *site.Site
	e    *xfer.Engine
	root string // the host's part of the namespace: /store/<name>
}

func (h *modelHost) reopen(t *testing.T) {
	t.Helper()
	s, err := wire.Open(h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	old := h.s
	h.s = s
	b, err := mss.Open(h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.e = xfer.New(s, b, nil)
	h.e.Backoff = time.Millisecond
	if old != nil {
		old.Close()
	}
}

func newModelHosts(t *testing.T, shared bool) []*modelHost {
	t.Helper()
	base := t.TempDir()
	mssDir := filepath.Join(base, "mss")
	os.MkdirAll(mssDir, 0o755)
	var dsn string
	if shared {
		dsn = pgtest.Shared(t).CreateDB(t)
		pool, err := pgcat.Open(context.Background(), dsn, pgcat.PoolOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := schema.Migrate(context.Background(), pool, "test"); err != nil {
			t.Fatal(err)
		}
		pool.Close()
		t.Setenv("FRM_CATALOG_DSN", "")
	}
	var hosts []*modelHost
	for _, name := range []string{"a", "b"} {
		l := sitegen.NewLayout(filepath.Join(base, name))
		if err := l.WriteConfigs(); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(l.Config, "")
		if err != nil {
			t.Fatal(err)
		}
		cfg.Instance = name
		cfg.RemoteRoot = mssDir
		if shared {
			cfg.Catalog.Kind, cfg.Catalog.DSN = "postgres", dsn
		}
		h := &modelHost{name: name, cfg: cfg, root: "/store/" + name}
		h.reopen(t)
		t.Cleanup(func() { h.s.Close() })
		os.MkdirAll(h.s.PFN(h.root), 0o755)
		if err := h.s.BeginChange(true, h.root).Done(context.Background()); err != nil {
			t.Fatal(err)
		}
		hosts = append(hosts, h)
	}
	return hosts
}

// entries lists what either the files or the catalog have below the
// host's root.
func (h *modelHost) entries(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	seen := map[string]bool{}
	opt := catalog.WalkOptions{Recursive: true, Dirs: true}
	collect := func(e *catalog.Entry) error { seen[e.LFN] = true; return nil }
	if err := h.s.Files().Walk(ctx, h.root, opt, collect); err != nil {
		t.Fatalf("walk of the files: %v", err)
	}
	if err := h.s.Catalog.Walk(ctx, h.root, opt, collect); err != nil && !errors.Is(err, catalog.ErrNotExist) {
		t.Fatalf("walk of the catalog: %v", err)
	}
	out := make([]string, 0, len(seen))
	for l := range seen {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// files lists the host's regular files (data) as the files have them.
func (h *modelHost) files(t *testing.T, ok func(*catalog.Entry) bool) []catalog.Entry {
	t.Helper()
	var out []catalog.Entry
	h.s.Files().Walk(context.Background(), h.root, catalog.WalkOptions{Want: catalog.WantAll, Recursive: true}, func(e *catalog.Entry) error {
		if e.Type == catalog.File && !e.Dangling && (ok == nil || ok(e)) {
			out = append(out, *e)
		}
		return nil
	})
	return out
}

func (h *modelHost) dirs(t *testing.T) []string {
	var out []string
	h.s.Files().Walk(context.Background(), h.root, catalog.WalkOptions{Recursive: true, Dirs: true}, func(e *catalog.Entry) error {
		if e.Type == catalog.Dir {
			out = append(out, e.LFN)
		}
		return nil
	})
	return out
}

func TestCatalogModel(t *testing.T) {
	steps := 800 // FRM_MODEL_STEPS=3000 for the long run
	if testing.Short() {
		steps = 200
	}
	if v, err := strconv.Atoi(os.Getenv("FRM_MODEL_STEPS")); err == nil && v > 0 {
		steps = v
	}
	for _, shared := range []bool{true, false} {
		name := "embedded"
		if shared {
			name = "postgres"
		}
		seed := int64(11)
		if v, err := strconv.ParseInt(os.Getenv("FRM_MODEL_SEED"), 10, 64); err == nil {
			seed = v
		}
		t.Run(name, func(t *testing.T) { runModel(t, shared, steps, seed) })
	}
}

func runModel(t *testing.T, shared bool, steps int, seed int64) {
	ctx := context.Background()
	hosts := newModelHosts(t, shared)
	rng := rand.New(rand.NewSource(seed))
	seq := 0
	fresh := func(h *modelHost) string {
		seq++
		return fmt.Sprintf("%s/d%d/f%04d.fits", h.root, rng.Intn(6), seq)
	}
	pick := func(es []catalog.Entry) (catalog.Entry, bool) {
		if len(es) == 0 {
			return catalog.Entry{}, false
		}
		return es[rng.Intn(len(es))], true
	}
	// Some files, migrated, to start with.
	for _, h := range hosts {
		for i := 0; i < 12; i++ {
			lfn := fresh(h)
			pfn, err := h.s.Place(ctx, lfn, []string{"data", "fast", ""}[i%3], strings.NewReader("initial "+lfn), int64(len("initial "+lfn)))
			if err != nil {
				t.Fatal(err)
			}
			old := time.Now().Add(-time.Hour) // a migration waits out the second of a fresh mtime
			os.Chtimes(pfn, old, old)
			if out := h.e.Run(ctx, xfer.Job{Kind: xfer.Migrate, LFN: lfn}); !out.OK() {
				t.Fatalf("migrate %s: %+v", lfn, out)
			}
		}
	}
	ops := map[string]int{}
	check := func(step int, op string) {
		t.Helper()
		for _, h := range hosts {
			for _, lfn := range h.entries(t) {
				before := t.Failed()
				sameAsFiles(t, h.s, lfn)
				if !before && t.Failed() {
					t.Fatalf("step %d (%s on host %s): the catalog and the files disagree on %s", step, op, h.name, lfn)
				}
			}
		}
	}
	check(0, "start")
	for step := 1; step <= steps; step++ {
		h := hosts[rng.Intn(len(hosts))]
		other := hosts[0]
		if other == h {
			other = hosts[1]
		}
		op := []string{"outside create", "outside remove", "outside rename", "rm", "mv file", "mv dir", "reloc", "pin",
			"mark", "purge", "stage", "migrate", "crash", "remote pin", "write"}[rng.Intn(15)]
		ops[op]++
		switch op {
		case "outside create":
			lfn := fresh(h)
			os.MkdirAll(filepath.Dir(h.s.PFN(lfn)), 0o755)
			os.WriteFile(h.s.PFN(lfn), []byte("written by a server"), 0o644)
			if _, err := h.s.Discover(ctx); err != nil {
				t.Fatal(err)
			}
		case "outside remove":
			if e, ok := pick(h.files(t, nil)); ok {
				os.Remove(e.PFN)
				if _, err := h.s.Discover(ctx); err != nil {
					t.Fatal(err)
				}
			}
		case "outside rename":
			if e, ok := pick(h.files(t, nil)); ok {
				to := fresh(h)
				os.MkdirAll(filepath.Dir(h.s.PFN(to)), 0o755)
				os.Rename(e.PFN, h.s.PFN(to))
				if _, err := h.s.Discover(ctx); err != nil {
					t.Fatal(err)
				}
			}
		case "rm":
			if e, ok := pick(h.files(t, nil)); ok {
				h.s.Rm(ctx, []string{e.LFN}, site.RmOptions{Force: true})
			}
		case "mv file":
			if e, ok := pick(h.files(t, nil)); ok {
				h.s.Mv(ctx, e.LFN, fresh(h))
			}
		case "mv dir":
			if ds := h.dirs(t); len(ds) > 0 {
				d := ds[rng.Intn(len(ds))]
				seq++
				h.s.Mv(ctx, d, fmt.Sprintf("%s/m%d", h.root, seq))
			}
		case "reloc":
			if e, ok := pick(h.files(t, func(e *catalog.Entry) bool { return e.Link != "" })); ok {
				to := "fast"
				if e.Space == "fast" {
					to = "data"
				}
				h.s.Reloc(ctx, e.LFN, to)
			}
		case "pin":
			if e, ok := pick(h.files(t, nil)); ok {
				keep := []string{"forever", "0", "1d"}[rng.Intn(3)]
				h.s.Pin(ctx, []string{e.LFN}, keep, site.ApplyOptions{Force: true})
			}
		case "mark":
			if e, ok := pick(h.files(t, nil)); ok {
				h.s.Mark(ctx, []string{e.LFN}, []site.Mode{site.ModeMigratable, site.ModePurgeable}[rng.Intn(2)], site.ApplyOptions{Force: true})
			}
		case "write":
			// A server appends to a file; frm is not told.
			if e, ok := pick(h.files(t, nil)); ok {
				f, err := os.OpenFile(e.PFN, os.O_WRONLY|os.O_APPEND, 0)
				if err == nil {
					f.WriteString("more")
					f.Close()
				}
				h.s.BeginChange(false, e.LFN).Done(ctx) // what a migration or an audit does when it meets it
			}
		case "purge":
			w := purge.Watermark{Percent: 100, IsPercent: true}
			hold := time.Duration(0)
			p, err := purge.Build(ctx, h.s, purge.Options{Override: &w, HoldOverride: &hold, Paths: []string{h.root}, Now: time.Now().Add(time.Hour)})
			if err == nil {
				purge.Execute(ctx, h.s, p, purge.ExecOptions{NoDirs: rng.Intn(2) == 0, Now: func() time.Time { return time.Now().Add(time.Hour) }})
			}
		case "stage":
			// A file in the MSS whose name is free on this host.
			var cands []string
			filepath.WalkDir(filepath.Join(h.cfg.RemoteRoot, h.root), func(p string, d os.DirEntry, err error) error {
				if err == nil && d.Type().IsRegular() {
					lfn := strings.TrimPrefix(p, h.cfg.RemoteRoot)
					if _, err := os.Lstat(h.s.PFN(lfn)); err != nil {
						cands = append(cands, lfn)
					}
				}
				return nil
			})
			if len(cands) > 0 {
				h.e.Run(ctx, xfer.Job{Kind: xfer.Stage, LFN: cands[rng.Intn(len(cands))]})
			}
		case "migrate":
			if e, ok := pick(h.files(t, func(e *catalog.Entry) bool { return !e.Migrated() })); ok {
				h.e.Run(ctx, xfer.Job{Kind: xfer.Migrate, LFN: e.LFN, Lock: true})
			}
		case "crash":
			// The change is made, the catalog is never told: the process
			// dies (kill -9) and the host starts again.
			if e, ok := pick(h.files(t, nil)); ok {
				h.s.BeginChange(false, e.LFN)
				os.Remove(e.PFN)
				h.reopen(t)
			}
		case "remote pin":
			// Set from the other host (an admin workstation would do the
			// same); this host's daemon writes it onto the file.
			if e, ok := pick(h.files(t, nil)); ok {
				ch := []catalog.Change{{Kind: catalog.SetPin, Pin: meta.Pin{Flags: meta.PinForever}}, {Kind: catalog.ClearPin}}[rng.Intn(2)]
				if _, err := other.s.Catalog.Apply(ctx, e.LFN, ch); err == nil || shared {
					if shared {
						if _, err := h.s.ApplyRemoteChanges(ctx); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
		}
		check(step, op)
		if t.Failed() {
			return
		}
	}
	if shared {
		for _, h := range hosts {
			auditClean(t, h.s)
		}
	}
	t.Logf("%d steps: %v", steps, ops)
}
