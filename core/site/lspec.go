package site

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"

	"frm/core/catalog"
)

// Mode is how a command treats files with respect to the MSS.
type Mode int

const (
	ModeNone       Mode = iota // no copy-time check (plain exports)
	ModeMigratable             // -m: the file must be migrated before purging
	ModePurgeable              // -p: the file may be purged
)

// ExportMode is the default mode for lfn from its export: mig → migratable,
// else stage → purgeable, else none.
func (s *Site) ExportMode(lfn string) Mode {
	e := s.Export(lfn)
	switch {
	case e.Mig:
		return ModeMigratable
	case e.Stage:
		return ModePurgeable
	}
	return ModeNone
}

// checkExport asks whether to go on when mode conflicts with lfn's export
// (-m on a path that is not migratable, -p / pin / mmap on one that is not
// stageable). It returns false to skip the lspec, ErrAborted to stop.
func (s *Site) checkExport(lfn string, mode Mode, force bool, p Prompter) (bool, error) {
	if force {
		return true, nil
	}
	e := s.Export(lfn)
	var q string
	switch {
	case mode == ModeMigratable && !e.Mig:
		q = lfn + " is not migratable; continue?"
	case mode == ModePurgeable && !e.Stage:
		q = lfn + " is not stageable; continue?"
	default:
		return true, nil
	}
	switch p.Ask(q, No) {
	case Yes:
		return true, nil
	case Abort:
		return false, ErrAborted
	}
	return false, nil
}

// splitLspec separates "ldir/*" into its directory and the star.
func splitLspec(ls string) (name string, star bool) {
	name, star = strings.CutSuffix(ls, "/*")
	if star && name == "" {
		name = "/" // "/*": the root's files
	}
	return name, star
}

// lspecTarget is one lspec resolved: a single file, or a directory to
// apply to (its files, recursively or not).
type lspecTarget struct {
	lfn       string
	dir       bool
	recursive bool
}

// acts names a command in its questions and errors, as frm_admin does.
type acts struct {
	ask     string // directory question prefix: "Mark  " + "ALL files in directory <lfn>"
	file    string // error action for one file: "ckAttr mark"
	dir     string // error action for ldir/*: "ckAttr mark files in"
	needDir bool   // the command asks before applying to a bare directory
}

// resolveLspec interprets "lfn" or "ldir/*".
func (s *Site) resolveLspec(ctx context.Context, lspec string, recursive bool, a acts, p Prompter) (lspecTarget, bool, error) {
	name, star := splitLspec(lspec)
	lfn, err := s.Clean(name)
	if err != nil {
		return lspecTarget{}, false, err
	}
	e, err := s.Catalog.Lookup(ctx, lfn, 0)
	if star {
		if err != nil {
			// frm_admin: "Unable to ckAttr mark /x; no such file ...",
			// but "... mark files in /f; not a directory".
			return lspecTarget{}, false, opErr(a.file, name, err)
		}
		if e.Type != catalog.Dir {
			return lspecTarget{}, false, opErr(a.dir, name, syscall.ENOTDIR)
		}
		return lspecTarget{lfn: lfn, dir: true, recursive: recursive}, true, nil
	}
	if err != nil {
		return lspecTarget{}, false, opErr(a.file, name, err)
	}
	if e.Type != catalog.Dir {
		return lspecTarget{lfn: lfn}, true, nil
	}
	if !recursive && a.needDir {
		switch p.Ask(a.ask+"ALL files in directory "+name, No) {
		case Abort:
			return lspecTarget{}, false, ErrAborted
		case No:
			return lspecTarget{}, false, nil
		}
	}
	return lspecTarget{lfn: lfn, dir: true, recursive: recursive}, true, nil
}

// eachFile calls fn for every data file of t.
func (s *Site) eachFile(ctx context.Context, t lspecTarget, want catalog.Want, onErr func(pfn string, err error), fn func(*catalog.Entry) error) error {
	if !t.dir {
		e, err := s.Catalog.Lookup(ctx, t.lfn, want)
		if err != nil {
			return err
		}
		if e.Dangling {
			// Named alone, a dangling link is a missing file.
			return fmt.Errorf("%s: %w", e.PFN, catalog.ErrNotExist)
		}
		return fn(&e)
	}
	return s.Catalog.Walk(ctx, t.lfn, catalog.WalkOptions{Want: want, Recursive: t.recursive, OnError: onErr}, func(e *catalog.Entry) error {
		if e.Type != catalog.File {
			return nil
		}
		return fn(e)
	})
}

// BatchResult summarises a command applied to lspecs.
type BatchResult struct {
	Count   int   // files changed
	Errors  int   // items that failed (reported through OnError)
	Aborted bool  // the administrator answered "a"
	Err     error // a fatal error that stopped the command
}

// ApplyOptions are common to mark, pin, mmap and makelf.
type ApplyOptions struct {
	Recursive bool
	Force     bool
	Prompter  Prompter
	// OnError receives per-item errors; the command goes on.
	OnError func(err error)
}

func (o *ApplyOptions) prompter() Prompter {
	if o.Prompter == nil {
		return Defaults{}
	}
	return o.Prompter
}

func (o *ApplyOptions) fail(r *BatchResult, err error) {
	r.Errors++
	if o.OnError != nil {
		o.OnError(err)
	}
}

// applyLspecs runs fn on every file of every lspec, with the export check
// and directory question of frm_admin.
func (s *Site) applyLspecs(ctx context.Context, lspecs []string, mode Mode, a acts, want catalog.Want, o ApplyOptions, fn func(*catalog.Entry) (bool, error)) BatchResult {
	var r BatchResult
	p := o.prompter()
	for _, ls := range lspecs {
		if err := ctx.Err(); err != nil {
			r.Err = err
			return r
		}
		name, _ := splitLspec(ls)
		clean, err := s.Clean(name)
		if err != nil {
			o.fail(&r, err)
			continue
		}
		ok, err := s.checkExport(clean, mode, o.Force, p)
		if errors.Is(err, ErrAborted) {
			r.Aborted = true
			return r
		}
		if !ok {
			continue
		}
		t, ok, err := s.resolveLspec(ctx, ls, o.Recursive, a, p)
		if errors.Is(err, ErrAborted) {
			r.Aborted = true
			return r
		}
		if err != nil {
			o.fail(&r, err)
			continue
		}
		if !ok {
			continue
		}
		err = s.eachFile(ctx, t, want, func(pfn string, err error) { o.fail(&r, dirErr(pfn, err)) }, func(e *catalog.Entry) error {
			changed, err := fn(e)
			if err != nil {
				o.fail(&r, err)
				return nil
			}
			if changed {
				r.Count++
			}
			return nil
		})
		if err != nil {
			if ctx.Err() != nil {
				r.Err = ctx.Err()
				return r
			}
			o.fail(&r, opErr(a.file, name, err))
		}
	}
	return r
}
