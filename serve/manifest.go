package serve

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"frm/core/catalog"
	"frm/core/config"
	"frm/core/fedapi"
	"frm/core/meta"
	"frm/core/names"
)

// manifest answers GET /v1/manifest?prefix=P: every resident file under
// P that the token may see, one JSON line each (order unspecified), then
// the end line with the count and the generation. A walk that fails
// (a directory that cannot be read, the client gone) ends the stream
// without an end line, so that a manifest is complete or visibly cut.
// With If-None-Match naming the current generation ("<generation>") the
// answer is 304 without a body.
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
	rs := s.resolver()
	// A client that holds the manifest of some generation asks whether it
	// is still current (If-None-Match: "<generation>"): the files are
	// walked (their state now is the question) but only summed, and an
	// equal generation is answered 304 without a body, sparing the
	// transfer and the client's reading; another is walked again and
	// sent (with the checksum cache a second walk is a stat per file).
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		var gen fedapi.Generation
		err := s.listManifest(r.Context(), cfg, rs, roots, p, func(m fedapi.ManifestEntry) error {
			gen.Add(m)
			return nil
		})
		if err != nil {
			if r.Context().Err() == nil {
				s.log.Warn("manifest: walk failed", "prefix", P, "err", err)
			}
			h.Del("Trailer")
			writeError(w, http.StatusInternalServerError, "manifest: the walk of "+P+" failed")
			return
		}
		if etagMatches(inm, `"`+gen.String()+`"`) {
			h.Del("Trailer")
			h.Set("ETag", `"`+gen.String()+`"`)
			h.Set(fedapi.HeaderGeneration, gen.String())
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	sw := newStreamWriter(w)
	if r.ContentLength == 0 && len(r.TransferEncoding) == 0 {
		sw.rc.SetReadDeadline(time.Time{})
	}
	bw := bufio.NewWriterSize(sw, 64<<10)
	enc := json.NewEncoder(bw)
	var gen fedapi.Generation
	flushed := time.Now()
	ctx := r.Context()
	err = s.listManifest(ctx, cfg, rs, roots, p, func(m fedapi.ManifestEntry) error {
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
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("manifest cut short", "prefix", P, "err", err)
		}
		bw.Flush()
		panic(http.ErrAbortHandler) // no end line: the client knows
	}
	enc.Encode(fedapi.ManifestEnd{End: true, Files: gen.N(), Generation: gen.String()})
	bw.Flush()
	h.Set(fedapi.HeaderGeneration, gen.String())
}

// listManifest walks roots and calls emit with the manifest entry of
// each resident file p may see (from one goroutine). The walk stats every
// file; its stored checksum and bad-checksum mark come from the checksum
// cache when the file's state is the one cached, else from its
// attributes. An error (a directory that cannot be read, emit's) ends
// it.
func (s *Server) listManifest(ctx context.Context, cfg *config.Config, rs *resolver, roots []string, p *principal, emit func(fedapi.ManifestEntry) error) error {
	start := time.Now() // before any stat: see checksumCache
	algs := checksumAlgs(cfg)
	s.cks.begin(strings.Join(algs, ","))
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
		var walkErr error
		wo := catalog.WalkOptions{
			Want:      catalog.WantStat | catalog.WantLink,
			Recursive: true,
			Workers:   2,
			// The attributes only of the files the cache does not
			// know in this state.
			More: func(e *catalog.Entry) catalog.Want {
				if s.cks.fill(e) {
					return 0
				}
				return catalog.WantChecksums | catalog.WantBadChecksum
			},
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
			cks := chooseChecksum(e, algs)
			s.cks.add(e, cks, start)
			exp, ok := exportOf(cfg, e.LFN)
			if !ok || s.inPartition(e.PFN) || e.HasBadChecksum || e.Link != "" && !s.linkInside(rs, e, exp) {
				return nil
			}
			c := fedapi.Checksum{}
			if cks.Alg != "" {
				c = fedapi.Checksum{Alg: cks.Alg, Hex: cks.Hex()}
			}
			return emit(fedapi.ManifestEntry{LFN: e.LFN, Size: e.Size, MTime: e.Mtime, Checksum: c.String(), State: fedapi.Resident})
		})
		if err == nil {
			err = walkErr
		}
		if err != nil && !notExist(err) {
			return fmt.Errorf("walk of %s: %w", root, err)
		}
	}
	return nil
}

// etagMatches reports whether an If-None-Match header names etag (weakly
// compared, as RFC 9110 asks of If-None-Match; "*" matches any).
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
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

// checksumAlgs are the algorithms whose stored checksum a manifest
// lists, in order of preference (as storedChecksum chooses).
func checksumAlgs(cfg *config.Config) []string {
	algs := []string{"adler32"}
	if d := strings.ToLower(cfg.Checksum.Default); d != "" && d != "adler32" {
		algs = append(algs, d)
	}
	return algs
}

// chooseChecksum is the stored checksum a manifest lists for a walked
// file: the first of algs recorded for its current mtime (none: Alg "").
func chooseChecksum(e *catalog.Entry, algs []string) meta.Checksum {
	for _, alg := range algs {
		for _, c := range e.Checksums {
			if c.Alg == alg && c.MTime == e.Mtime {
				return c
			}
		}
	}
	return meta.Checksum{}
}
