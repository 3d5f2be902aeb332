// Package site is frm's engine: it ties a site's configuration, name
// mapping, spaces and catalog together and implements every administrative
// operation (find, audit, mark, pin, mmap, mv, rm, reloc, query, chksum, ls,
// df). It knows nothing of terminals: operations report results through
// callbacks with structured values, ask questions through a Prompter, and
// return errors that name the file. The shell, the TUI and the daemons are
// faces over it.
//
// It does not choose its implementations: New gives a site whose catalog
// is the files (package embedded); package wire, the one place that reads
// which catalog the configuration names, hands it another (UseCatalog).
// What a shared catalog adds (the host registry, the shared queue,
// notifications, reconciling) is found by type assertion on the catalog,
// through small interfaces defined where they are used (Shared, hostRows,
// remoteChanges, dirStamper).
package site

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"frm/core/catalog"
	"frm/core/catalog/embedded"
	"frm/core/config"
	"frm/core/guard"
	"frm/core/mss"
	"frm/core/names"
	"frm/core/pgqueue"
	"frm/core/space"
)

// Site is one configured frm site.
type Site struct {
	// cfg is the configuration snapshot in force (Config); SetConfig
	// swaps it whole, so a reader sees one consistent configuration.
	cfg     atomic.Pointer[config.Config]
	Names   names.Mapper
	Spaces  *space.Set
	Catalog catalog.Catalog
	fs      *embedded.Catalog

	// Now and Loc are the clock and time zone used for pins and
	// reports; tests replace them.
	Now func() time.Time
	Loc *time.Location

	closers []func()
	catErr  error // the catalog kept apart could not be reached (CatalogErr)
	// apart: the catalog is kept apart from the files (a shared
	// database, reached or not), so every change is recorded in it.
	apart bool

	mssMu  sync.Mutex // guards the fields below
	mssSet bool       // mss and mssErr are decided
	mss    mss.Backend
	mssErr error
}

// MSS returns the site's MSS backend, for the namespace operations that
// must keep MSS copies in step (mv renames them). On first use it is
// opened from the configuration (mss.Open; retries are the caller's, with
// package retry),
// unless SetMSS gave one; the error says why there is none (no MSS
// configured, a bad setting). Opening contacts nothing.
func (s *Site) MSS() (mss.Backend, error) {
	s.mssMu.Lock()
	defer s.mssMu.Unlock()
	if !s.mssSet {
		s.mssSet = true
		b, err := mss.Open(s.Config())
		if err != nil {
			s.mssErr = fmt.Errorf("no MSS: %w", err)
		} else {
			s.mss = b
		}
	}
	return s.mss, s.mssErr
}

// SetMSS gives the site the MSS backend MSS returns (a daemon's own, a
// test's); nil means none is reachable.
func (s *Site) SetMSS(b mss.Backend) {
	s.mssMu.Lock()
	defer s.mssMu.Unlock()
	s.mssSet, s.mss, s.mssErr = true, b, nil
	if b == nil {
		s.mssErr = errors.New("no MSS")
	}
}

// Config is the configuration in force. It is immutable: a reload swaps
// in a new one (SetConfig), so read it once per decision or cycle and use
// that snapshot throughout.
func (s *Site) Config() *config.Config { return s.cfg.Load() }

// SetConfig swaps in a new configuration snapshot (a daemon's SIGHUP,
// with what config.Reload applies). Paths, spaces, names and the catalog
// were built from the first one and do not change.
func (s *Site) SetConfig(c *config.Config) { s.cfg.Store(c) }

// ErrCatalogUnavailable is wrapped by every error of a site whose shared
// catalog database could not be reached when it was opened.
var ErrCatalogUnavailable = errors.New("the catalog database is unavailable")

// CatalogErr says why the site's shared catalog is unavailable (nil when
// it is there, or the catalog is the files).
func (s *Site) CatalogErr() error { return s.catErr }

// unavailableCatalog stands for a shared catalog that could not be
// reached: every call fails with the reason.
type unavailableCatalog struct{ err error }

func (u unavailableCatalog) Lookup(context.Context, string, catalog.Want) (catalog.Entry, error) {
	return catalog.Entry{}, u.err
}
func (u unavailableCatalog) Walk(context.Context, string, catalog.WalkOptions, func(*catalog.Entry) error) error {
	return u.err
}
func (u unavailableCatalog) Apply(context.Context, string, ...catalog.Change) (int, error) {
	return 0, u.err
}
func (u unavailableCatalog) Record(context.Context, string, bool) error   { return u.err }
func (u unavailableCatalog) Rename(context.Context, string, string) error { return u.err }

// New builds a site from a loaded configuration, with the files as its
// catalog (the embedded catalog: extended attributes, fail files, as
// xrootd keeps them). Package wire opens a site with the catalog its
// configuration names (UseCatalog, CatalogUnavailable).
func New(cfg *config.Config) *Site {
	m := names.NewMapper(cfg.LocalRoot, cfg.RemoteRoot)
	var sps []space.Space
	for _, s := range cfg.Spaces {
		sp := space.Space{Name: s.Name}
		for _, p := range s.Partitions {
			sp.Partitions = append(sp.Partitions, space.Partition{Space: s.Name, Path: strings.TrimRight(p.Path, "/"), Cap: int64(p.Cap)})
		}
		sps = append(sps, sp)
	}
	set := space.NewSet(sps)
	fs := embedded.New(m, cfg.Transfer.FailDir, dataDirs(set)...)
	s := &Site{
		Names:   m,
		Spaces:  set,
		Catalog: fs,
		fs:      fs,
		Now:     time.Now,
		Loc:     time.Local,
	}
	s.cfg.Store(cfg)
	return s
}

// UseCatalog makes c, a catalog kept apart from the files (a database
// shared by hosts), the site's catalog: every change to the files is
// recorded in it (BeginChange, Done), and the changes a process that died
// left pending are recorded now. Close calls closer. c may offer the
// capabilities of a shared catalog (Shared).
func (s *Site) UseCatalog(ctx context.Context, c catalog.Catalog, closer func()) {
	s.Catalog, s.apart = c, true
	if closer != nil {
		s.closers = append(s.closers, closer)
	}
	// Changes a process that died made to the files but could not tell
	// the catalog: told now (what fails stays pending).
	s.ReplayChanges(ctx)
}

// CatalogUnavailable records that the site's catalog is kept apart from
// the files but could not be reached: the site still opens, so that what
// needs only the files or the daemon (status, wake, queue files, ls of the
// files) works, and every call that needs the catalog fails with err.
func (s *Site) CatalogUnavailable(err error) {
	// The cause as text: its errno (a missing socket is ENOENT) must not
	// make every lookup read "no such file".
	s.catErr = fmt.Errorf("%w: %s", ErrCatalogUnavailable, err)
	s.Catalog, s.apart = unavailableCatalog{s.catErr}, true
}

// Shared is what a catalog that many hosts share offers besides recording
// (an optional capability of the site's catalog, found by type assertion
// as io/fs finds ReadDirFS): the host registry, the request queue every
// host serves, and notifications. Package wire provides it over
// PostgreSQL; a site whose catalog is the files has none.
type Shared interface {
	catalog.Catalog
	catalog.HostRegistry
	// SharedQueue is the request queue every host serves.
	SharedQueue() *pgqueue.Queue
	// WatchQueue calls fn, at most once per interval, whenever the
	// shared queue changes, until ctx ends.
	WatchQueue(ctx context.Context, interval time.Duration, fn func()) error
	// WatchRemoteChanges calls fn with the host named by each
	// notification that other hosts changed rows of that host's files,
	// until ctx ends.
	WatchRemoteChanges(ctx context.Context, fn func(host string)) error
}

// Shared returns the site's catalog as a shared catalog, when it is one
// and was reached.
func (s *Site) Shared() (Shared, bool) {
	sh, ok := s.Catalog.(Shared)
	return sh, ok
}

// HostName is the name this host registers under in a shared catalog.
func (s *Site) HostName() string {
	if r, ok := s.Catalog.(catalog.HostRegistry); ok {
		return r.HostName()
	}
	return catalog.HostName(s.Config().Instance)
}

// dataDirs lists the partitions' data directories: the places besides the
// namespace root that a namespace entry may lead to.
func dataDirs(set *space.Set) []string {
	var dirs []string
	for _, sp := range set.All() {
		for _, p := range sp.Partitions {
			dirs = append(dirs, p.DataDir())
		}
	}
	return dirs
}

// Files is the catalog of the files themselves (the embedded catalog),
// whatever the site's Catalog is: decisions that remove or claim data
// (purge, "already resident") are checked here at the moment they are
// taken.
func (s *Site) Files() *embedded.Catalog { return s.fs }

// Roots are the directories frm may change files in: the namespace root
// and the partitions' data directories (see package guard).
func (s *Site) Roots() *guard.Roots { return s.fs.Roots() }

// Close releases what Open took (database connections).
func (s *Site) Close() {
	for _, c := range s.closers {
		c()
	}
	s.closers = nil
}

// FailPath is the .fail side file of pfn.
func (s *Site) FailPath(pfn string) string { return s.fs.FailPath(pfn) }

// Answer is a reply to a Prompter question.
type Answer int

const (
	No Answer = iota + 1
	Yes
	Abort
)

// Prompter asks the administrator a yes/no/abort question. def is the
// answer taken on an empty reply (and by non-interactive prompters).
type Prompter interface {
	Ask(question string, def Answer) Answer
}

// Defaults is a Prompter that always takes the default answer, as xrootd
// does with standard input at end of file.
type Defaults struct{}

// Ask implements Prompter.
func (Defaults) Ask(_ string, def Answer) Answer { return def }

// Always is a Prompter that gives the same answer to every question.
type Always Answer

// Ask implements Prompter.
func (a Always) Ask(string, Answer) Answer { return Answer(a) }

// ErrAborted is returned when the administrator answered "a".
var ErrAborted = errors.New("aborted")

// OpError is a failed operation on one name. Its text follows frm_admin:
// "Unable to <action> <name>; <reason>".
type OpError struct {
	Action string
	Name   string
	Err    error
}

func (e *OpError) Error() string {
	if e.Name == "" {
		return fmt.Sprintf("Unable to %s; %s", e.Action, Reason(e.Err))
	}
	return fmt.Sprintf("Unable to %s %s; %s", e.Action, e.Name, Reason(e.Err))
}

func (e *OpError) Unwrap() error { return e.Err }

func opErr(action, name string, err error) error {
	return &OpError{Action: action, Name: name, Err: err}
}

// dirErr is a directory that cannot be read; frm_admin names it with a
// trailing slash.
func dirErr(pfn string, err error) error {
	return opErr("open directory", strings.TrimSuffix(pfn, "/")+"/", err)
}

// Reason renders err as xrootd does: the lower-case strerror text for
// system errors, the error text otherwise.
func Reason(err error) string {
	var errno syscall.Errno
	switch {
	case errors.Is(err, catalog.ErrNotExist), errors.Is(err, os.ErrNotExist):
		return "no such file or directory"
	case errors.As(err, &errno):
		return strings.ToLower(errno.Error())
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return Reason(pe.Err)
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return Reason(le.Err)
	}
	return err.Error()
}

// Clean validates lfn and checks that its directory does not lead outside
// the namespace through a symlink.
func (s *Site) Clean(lfn string) (string, error) {
	c, err := names.Clean(lfn)
	if err != nil {
		return "", err
	}
	if err := embedded.ResolveParent(s.Names.LocalRoot(), s.Names.PFNClean(c)); err != nil {
		return "", err
	}
	return c, nil
}

// PFN maps a cleaned lfn.
func (s *Site) PFN(lfn string) string { return s.Names.PFNClean(lfn) }

// Export returns the export options for lfn (zero when not exported).
func (s *Site) Export(lfn string) config.Export {
	e, _ := s.Config().ExportFor(lfn)
	return e
}

// ctxErr turns a context error into nil when there is none; a helper for
// loops that must stop on Ctrl-C.
func ctxErr(ctx context.Context) error { return ctx.Err() }
