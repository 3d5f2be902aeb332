package site

import (
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

// ChecksumCalc computes the alg checksum of lfn and stores it. A stored
// checksum still current (same mtime) is returned as is unless force.
func (s *Site) ChecksumCalc(ctx context.Context, lfn, alg string, force bool) (meta.Checksum, error) {
	e, err := s.Catalog.Lookup(ctx, lfn, catalog.WantStat|catalog.WantLink|catalog.WantChecksums)
	if err != nil {
		return meta.Checksum{}, opErr("calc "+alg+" checksum", "", err)
	}
	if !force {
		for _, c := range e.Checksums {
			if c.Alg == alg && c.MTime == e.Mtime {
				return c, nil
			}
		}
	}
	// The data is read through the guard: a namespace entry leading
	// outside the site is refused before a byte of it is read.
	f, err := guard.Open(e.PFN, s.Roots())
	if err != nil {
		return meta.Checksum{}, opErr("calc "+alg+" checksum", "", err)
	}
	c, err := meta.ChecksumFile(f.Path(), alg)
	f.Close()
	if err != nil {
		return c, fmt.Errorf("calc %s checksum of %s: %w", alg, e.PFN, err)
	}
	if _, err := s.Catalog.Apply(ctx, lfn, catalog.Change{Kind: catalog.SetChecksum, Checksum: c}); err != nil {
		return c, fmt.Errorf("store %s checksum of %s: %w", alg, e.PFN, err)
	}
	return c, nil
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

// ChecksumVerify compares value with the file's alg checksum, computed
// afresh (and stored) when the stored one is missing or stale.
func (s *Site) ChecksumVerify(ctx context.Context, lfn, alg, value string) (bool, meta.Checksum, error) {
	v, err := meta.ParseChecksumValue(alg, value)
	if err != nil {
		return false, meta.Checksum{}, err
	}
	c, err := s.ChecksumCalc(ctx, lfn, alg, false)
	if err != nil {
		return false, c, err
	}
	return string(c.Value) == string(v), c, nil
}
