package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"frm/core/fedapi"
	"frm/core/names"
)

// locateWorkers look at the names of one locate at once (each waits on
// the disk, or on the MSS within MSSStatsAtOnce).
const locateWorkers = 8

// locate answers POST /v1/locate: where this site has each name, in one
// round trip.
func (s *Server) locate(w http.ResponseWriter, r *http.Request, p *principal) {
	rc := http.NewResponseController(w)
	r.Body = http.MaxBytesReader(w, r.Body, fedapi.MaxLocateBody)
	req, err := decodeLocate(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", fedapi.MaxLocateBody))
			return
		}
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	// The body is read: the answer may take longer than ReadTimeout (the
	// MSS); LocateBudget bounds it.
	rc.SetReadDeadline(time.Time{})
	ctx, cancel := context.WithTimeout(r.Context(), LocateBudget)
	defer cancel()
	writeJSON(w, r, fedapi.LocateReply{Files: s.locateAll(ctx, req.LFNs, p)})
}

// decodeLocate reads a locate body strictly: one JSON object with the
// lfns field only, at most MaxLocate names.
func decodeLocate(body io.Reader) (fedapi.LocateRequest, error) {
	var req fedapi.LocateRequest
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return req, err
		}
		return req, fmt.Errorf("locate body: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return req, err
		}
		return req, errors.New("locate body: data after the JSON object")
	}
	if len(req.LFNs) > fedapi.MaxLocate {
		return req, fmt.Errorf("locate body: %d names; at most %d at once", len(req.LFNs), fedapi.MaxLocate)
	}
	return req, nil
}

// locateAll answers each name, in order.
func (s *Server) locateAll(ctx context.Context, lfns []string, p *principal) []fedapi.Located {
	out := make([]fedapi.Located, len(lfns))
	rs := s.resolver()
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(locateWorkers, len(lfns)) {
		wg.Go(func() {
			for i := range next {
				out[i] = s.locateOne(ctx, rs, lfns[i], p)
			}
		})
	}
	for i := range lfns {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

// locateOne answers one name.
func (s *Server) locateOne(ctx context.Context, rs *resolver, name string, p *principal) fedapi.Located {
	l := fedapi.Located{LFN: name}
	lfn, err := names.Clean(name)
	if err != nil {
		l.State, l.Error = fedapi.Denied, err.Error()
		return l
	}
	if !p.may(lfn) {
		l.State, l.Error = fedapi.Denied, "outside this token's prefixes"
		return l
	}
	exp, ok := exportOf(s.site.Config(), lfn)
	if !ok {
		l.State, l.Error = fedapi.Denied, "not exported"
		return l
	}
	df, err := rs.open(lfn, exp, false)
	switch {
	case err == nil:
		l.State, l.Size, l.MTime, l.Checksum = fedapi.Resident, df.size, df.mtime.Unix(), df.cks.String()
		return l
	case errors.Is(err, errOutside):
		l.State, l.Error = fedapi.Denied, err.Error()
		return l
	case errors.Is(err, errNotFile), errors.Is(err, errBad), errors.Is(err, errNoResolve):
		l.State, l.Error = fedapi.Absent, err.Error()
		return l
	case !errors.Is(err, errNotOnDisk):
		s.log.Warn("locate: cannot look at a file", "lfn", lfn, "err", err)
		l.State, l.Error = fedapi.Absent, "cannot be read here"
		return l
	}
	a := s.inMSS(ctx, lfn, exp)
	l.State, l.Size, l.MTime, l.Error = a.state, a.size, a.mtime, a.note
	return l
}
