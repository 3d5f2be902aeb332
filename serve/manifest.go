package serve

import (
	"bufio"
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"frm/core/catalog"
	"frm/core/config"
	"frm/core/fedapi"
	"frm/core/names"
)

// manifest answers GET /v1/manifest?prefix=P: every resident file under
// P that the token may see, one JSON line each (order unspecified), then
// the end line with the count and the generation. A walk that fails
// (a directory that cannot be read, the client gone) ends the stream
// without an end line, so that a manifest is complete or visibly cut.
func (s *Server) manifest(w http.ResponseWriter, r *http.Request, p *principal) {
	prefix := r.URL.Query().Get("prefix")
	if prefix == "" {
		prefix = "/"
	}
	P, err := names.Clean(prefix)
	if err != nil {
		writeError(w, http.StatusBadRequest, "prefix: "+err.Error())
		return
	}
	cfg := s.site.Config()
	roots, exported := manifestRoots(cfg, P, p)
	switch {
	case !exported:
		writeError(w, http.StatusNotFound, "nothing is exported under "+P)
		return
	case len(roots) == 0:
		writeError(w, http.StatusForbidden, "outside this token's prefixes")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/x-ndjson")
	h.Set("Cache-Control", "no-store")
	h.Set("Trailer", fedapi.HeaderGeneration)
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	sw := newStreamWriter(w)
	if r.ContentLength == 0 && len(r.TransferEncoding) == 0 {
		sw.rc.SetReadDeadline(time.Time{})
	}
	bw := bufio.NewWriterSize(sw, 64<<10)
	enc := json.NewEncoder(bw)
	rs := s.resolver()
	var gen fedapi.Generation
	flushed := time.Now()
	var walkErr error
	ctx := r.Context()
	for _, root := range roots {
		rexp, _ := exportOf(cfg, root)
		real, err := filepath.EvalSymlinks(s.site.PFN(root))
		if notExist(err) {
			continue
		}
		expDir, err2 := rs.exportDir(rexp)
		if err != nil || err2 != nil || !within(real, expDir) {
			s.log.Warn("manifest: a directory leads outside its export; not listed", "lfn", root)
			continue
		}
		wo := catalog.WalkOptions{
			Want:      catalog.WantStat | catalog.WantLink | catalog.WantChecksums | catalog.WantBadChecksum,
			Recursive: true,
			Workers:   2,
			OnError: func(pfn string, err error) {
				if walkErr == nil && !notExist(err) {
					walkErr = err
				}
			},
		}
		err = s.site.Files().Walk(ctx, root, wo, func(e *catalog.Entry) error {
			if e.Type != catalog.File || e.Dangling || deepest(roots, e.LFN) != root || !p.may(e.LFN) {
				return nil
			}
			exp, ok := exportOf(cfg, e.LFN)
			if !ok || s.inPartition(e.PFN) || e.HasBadChecksum || e.Link != "" && !s.linkInside(rs, e, exp) {
				return nil
			}
			m := fedapi.ManifestEntry{LFN: e.LFN, Size: e.Size, MTime: e.Mtime, Checksum: s.entryChecksum(e).String(), State: fedapi.Resident}
			if err := enc.Encode(m); err != nil {
				return err
			}
			gen.Add(m)
			if time.Since(flushed) > time.Second {
				flushed = time.Now()
				if err := bw.Flush(); err != nil {
					return err
				}
				sw.Flush()
			}
			return nil
		})
		if err == nil {
			err = walkErr
		}
		if err != nil && !notExist(err) {
			if ctx.Err() == nil {
				s.log.Warn("manifest cut short", "prefix", P, "err", err)
			}
			bw.Flush()
			panic(http.ErrAbortHandler) // no end line: the client knows
		}
	}
	enc.Encode(fedapi.ManifestEnd{End: true, Files: gen.N(), Generation: gen.String()})
	bw.Flush()
	h.Set(fedapi.HeaderGeneration, gen.String())
}

// manifestRoots are the directories a manifest of P walks for p: each
// export's part of P, within each of the token's prefixes. exported says
// whether any export lies under P or holds it.
func manifestRoots(cfg *config.Config, P string, p *principal) (roots []string, exported bool) {
	prefixes := p.prefixes
	if len(prefixes) == 0 {
		prefixes = []string{"/"}
	}
	for _, e := range cfg.Exports {
		ep, err := names.Clean(e.Path)
		if err != nil {
			continue
		}
		r, ok := intersect(ep, P)
		if !ok {
			continue
		}
		exported = true
		for _, t := range prefixes {
			if x, ok := intersect(r, t); ok && !slices.Contains(roots, x) {
				roots = append(roots, x)
			}
		}
	}
	return roots, exported
}

// intersect returns the deeper of two clean directories when one holds
// the other.
func intersect(a, b string) (string, bool) {
	switch {
	case under(a, b):
		return a, true
	case under(b, a):
		return b, true
	}
	return "", false
}

// deepest is the root that lists lfn: the deepest holding it (a nested
// export or prefix is walked on its own, even when it is a symlink the
// walk of its parent does not follow).
func deepest(roots []string, lfn string) string {
	best := ""
	for _, r := range roots {
		if under(lfn, r) && len(r) > len(best) {
			best = r
		}
	}
	return best
}

// inPartition reports whether pfn lies in a partition directory (a
// partition placed inside an export holds data files, not names).
func (s *Server) inPartition(pfn string) bool {
	for _, pp := range s.partitions {
		if within(pfn, pp) {
			return true
		}
	}
	return false
}

// linkInside applies the open rule to a symlink met by a walk: it leads
// into its export's directory, or straight into a partition's.
func (s *Server) linkInside(rs *resolver, e *catalog.Entry, exp config.Export) bool {
	real, err := filepath.EvalSymlinks(e.PFN)
	if err != nil {
		return false
	}
	if expDir, err := rs.exportDir(exp); err == nil && within(real, expDir) {
		return true
	}
	t := e.Link
	if !filepath.IsAbs(t) {
		t = filepath.Join(filepath.Dir(e.PFN), t)
	}
	return s.xaData(real, real, filepath.Clean(t), e.PFN)
}

// entryChecksum is the current stored checksum of a walked file (as
// storedChecksum chooses it).
func (s *Server) entryChecksum(e *catalog.Entry) fedapi.Checksum {
	algs := []string{"adler32"}
	if d := strings.ToLower(s.site.Config().Checksum.Default); d != "" && d != "adler32" {
		algs = append(algs, d)
	}
	for _, alg := range algs {
		for _, c := range e.Checksums {
			if c.Alg == alg && c.MTime == e.Mtime {
				return fedapi.Checksum{Alg: c.Alg, Hex: c.Hex()}
			}
		}
	}
	return fedapi.Checksum{}
}
