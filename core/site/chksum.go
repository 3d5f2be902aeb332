package site

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"frm/core/catalog"
	"frm/core/guard"
	"frm/core/meta"
)

// ChecksumTarget resolves the file a chksum command works on: an lfn, or
// with isPFN a physical name that must lie inside the namespace.
func (s *Site) ChecksumTarget(name string, isPFN bool) (lfn string, err error) {
	if isPFN {
		l, ok := s.Names.LFN(name)
		if !ok {
			return "", fmt.Errorf("%s is not inside the namespace root %s", name, s.Names.LocalRoot())
		}
		name = l
	}
	return s.Clean(name)
}

// CalcResult is what ChecksumCalc did.
type CalcResult struct {
	meta.Checksum
	// Cleared is the bad-checksum mark that calc with force removed: an
	// administrator recomputing from the data accepts the data as it is.
	Cleared *meta.BadChecksum
	// Bad is a mark left in place: it is about another algorithm, which
	// only `chksum -f -t <that algorithm> calc` can accept.
	Bad *meta.BadChecksum
}

// ChecksumCalc computes the alg checksum of lfn and stores it. A stored
// checksum still current (same mtime) is returned as is unless force.
// With force the data is read, the record replaced, and a bad-checksum
// mark for alg removed (see CalcResult.Cleared).
func (s *Site) ChecksumCalc(ctx context.Context, lfn, alg string, force bool) (CalcResult, error) {
	action := "calc " + alg + " checksum"
	e, err := s.Catalog.Lookup(ctx, lfn, catalog.WantStat|catalog.WantLink|catalog.WantChecksums)
	if err != nil {
		return CalcResult{}, opErr(action, "", err)
	}
	if !force {
		for _, c := range e.Checksums {
			if c.Alg == alg && c.MTime == e.Mtime {
				return CalcResult{Checksum: c}, nil
			}
		}
	}
	dc, err := checkData(ctx, e.PFN, s.Roots(), checkOptions{Algs: []string{alg}, Device: true})
	if err != nil {
		return CalcResult{}, opErr(action, "", err)
	}
	r := CalcResult{Checksum: dc.Computed[0]}
	if _, err := s.Catalog.Apply(ctx, lfn, catalog.Change{Kind: catalog.SetChecksum, Checksum: r.Checksum}); err != nil {
		return r, fmt.Errorf("store %s checksum of %s: %w", alg, e.PFN, err)
	}
	if !force || dc.Bad == nil {
		return r, nil
	}
	if dc.Bad.Alg != alg && dc.Bad.Alg != "" {
		r.Bad = dc.Bad
		return r, nil
	}
	m, err := s.clearBadChecksum(ctx, e.PFN)
	if err != nil {
		return r, fmt.Errorf("remove the bad checksum mark of %s: %w", e.PFN, err)
	}
	r.Cleared = m
	return r, nil
}

// clearBadChecksum removes the bad-checksum mark of the file behind ns,
// under the residency lock, and returns the mark removed (nil: none).
func (s *Site) clearBadChecksum(ctx context.Context, ns string) (*meta.BadChecksum, error) {
	f, err := guard.OpenLocked(ctx, ns, s.Roots())
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, ok, _ := meta.GetBadChecksum(f.Path())
	if !ok {
		return nil, nil
	}
	if _, err := meta.RemoveBadChecksum(f.Path()); err != nil {
		return nil, err
	}
	return &m, nil
}

// ErrNoChecksums is returned when a file has no stored checksum.
var ErrNoChecksums = errors.New("no checksums exist")

// ChecksumList returns the stored checksums of lfn (only alg's when alg is
// not empty) and whether each is still current.
func (s *Site) ChecksumList(ctx context.Context, lfn, alg string) ([]meta.Checksum, []bool, error) {
	e, err := s.Catalog.Lookup(ctx, lfn, catalog.WantStat|catalog.WantLink|catalog.WantChecksums)
	if err != nil {
		return nil, nil, err
	}
	var out []meta.Checksum
	var cur []bool
	for _, c := range e.Checksums {
		if alg == "" || c.Alg == alg {
			out = append(out, c)
			cur = append(cur, c.MTime == e.Mtime)
		}
	}
	if len(out) == 0 {
		return nil, nil, ErrNoChecksums
	}
	return out, cur, nil
}

// ChecksumSet stores value (hex) as the alg checksum of lfn, valid for its
// current mtime.
func (s *Site) ChecksumSet(ctx context.Context, lfn, alg, value string) error {
	v, err := meta.ParseChecksumValue(alg, value)
	if err != nil {
		return err
	}
	e, err := s.Catalog.Lookup(ctx, lfn, catalog.WantStat|catalog.WantLink)
	if err == nil && e.Dangling {
		err = catalog.ErrNotExist
	}
	if err != nil {
		return opErr("set "+alg+" checksum", "", err)
	}
	c := meta.Checksum{Alg: alg, Value: v, MTime: e.Mtime, Delta: int32(s.Now().Unix() - e.Mtime)}
	_, err = s.Catalog.Apply(ctx, lfn, catalog.Change{Kind: catalog.SetChecksum, Checksum: c})
	return err
}

// ChecksumUnset removes the alg checksum of lfn.
func (s *Site) ChecksumUnset(ctx context.Context, lfn, alg string) (bool, error) {
	n, err := s.Catalog.Apply(ctx, lfn, catalog.Change{Kind: catalog.ClearChecksum, Checksum: meta.Checksum{Alg: alg}})
	if err != nil {
		return false, opErr("unset "+alg+" checksum", "", err)
	}
	return n > 0, nil
}

// VerifyResult is what ChecksumVerify found.
type VerifyResult struct {
	// Match: the value given equals Value.
	Match bool
	// Value is what the given value was compared with: the stored record
	// (Source "stored") or the checksum of the data (Source "data").
	Value  meta.Checksum
	Source string
	// Stored is the record that was current (same mtime as the file), nil
	// when there was none; Computed the checksum of the data, nil when the
	// data was not read.
	Stored   *meta.Checksum
	Computed *meta.Checksum
	// Rot: the data differs from its current stored record (bit rot, a bad
	// controller, a write that kept the mtime).
	Rot bool
	// Bad is the bad-checksum mark on the file after the call (nil: none);
	// Marked says this call set it.
	Bad    *meta.BadChecksum
	Marked bool
}

// OK reports whether the file passed: the value matches, and the data (if
// read) matches its stored record.
func (r VerifyResult) OK() bool { return r.Match && !r.Rot }

// ChecksumVerify compares value with the file's alg checksum.
//
// Without force it compares with the stored record when that is current,
// as xrootd does, without reading the data; it reads the data when the
// record is missing or stale (and stores the result, as xrootd's Ver
// does), and also when the file is marked bad, since then the record and
// the data are known to disagree. With force it always reads the data and
// compares value with what the data gives.
//
// Whenever the data is read and a current record exists, the two are
// compared as well: a difference is bit rot, reported (Rot), and the file
// is marked bad (meta.AttrBadChecksum) so that no purge removes it until
// an administrator decides. The record is then kept, not replaced: it is
// the evidence of what the data was.
func (s *Site) ChecksumVerify(ctx context.Context, lfn, alg, value string, force bool) (VerifyResult, error) {
	action := "verify " + alg + " checksum"
	v, err := meta.ParseChecksumValue(alg, value)
	if err != nil {
		return VerifyResult{}, err
	}
	e, err := s.Catalog.Lookup(ctx, lfn, catalog.WantStat|catalog.WantLink|catalog.WantChecksums)
	if err == nil && e.Dangling {
		err = catalog.ErrNotExist
	}
	if err != nil {
		return VerifyResult{}, opErr(action, "", err)
	}
	var r VerifyResult
	if m, ok, _ := meta.GetBadChecksum(e.PFN); ok {
		r.Bad = &m
	}
	if !force && r.Bad == nil {
		for _, c := range e.Checksums {
			if c.Alg == alg && c.MTime == e.Mtime {
				r.Value, r.Source, r.Stored = c, "stored", &c
				r.Match = bytes.Equal(c.Value, v)
				return r, nil
			}
		}
	}
	dc, err := checkData(ctx, e.PFN, s.Roots(), checkOptions{Algs: []string{alg}, Mark: true, Now: s.Now, Device: true})
	if err != nil {
		return r, opErr(action, "", err)
	}
	c := dc.Computed[0]
	r.Value, r.Source, r.Computed, r.Stored = c, "data", &c, dc.Stored[0]
	r.Match = bytes.Equal(c.Value, v)
	r.Rot = dc.Mismatch == 0
	r.Bad, r.Marked = dc.Bad, dc.Marked
	if r.Stored == nil {
		// No current record: the data's checksum becomes it, as xrootd's
		// verify stores what it computes.
		if _, err := s.Catalog.Apply(ctx, lfn, catalog.Change{Kind: catalog.SetChecksum, Checksum: c}); err != nil {
			return r, fmt.Errorf("store %s checksum of %s: %w", alg, e.PFN, err)
		}
	}
	return r, nil
}
