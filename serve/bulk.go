package serve

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"frm/core/config"
	"frm/core/fedapi"
	"frm/core/names"
)

// bulk answers POST /v1/bulk: many resident files in one stream (the
// format of fedapi.ReadBulk), so that a mirror of small files costs one
// request per batch instead of one per file. Every name goes through
// what GET /v1/files does (names.Clean, the token's prefixes, the export,
// resolver.open: symlinks out of the export refused, the XA-link rule,
// files marked bad refused) and a file sent is an access, as a GET; a
// name that cannot be served is an error record in the stream, with the
// status the GET would have answered, not a failed response. Files only
// in the MSS are not staged (absent here).
func (s *Server) bulk(w http.ResponseWriter, r *http.Request, p *principal) {
	rc := http.NewResponseController(w)
	r.Body = http.MaxBytesReader(w, r.Body, fedapi.MaxBulkBody)
	lfns, code, err := decodeBulk(r.Body)
	if err != nil {
		writeError(w, code, err.Error())
		return
	}
	// The body is read: the answer takes what it takes (WriteStall ends
	// it when the client stops reading).
	rc.SetReadDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", fedapi.BulkContentType)
	h.Set("Cache-Control", "no-store")
	sw := newStreamWriter(w)
	bw := bufio.NewWriterSize(sw, 64<<10)
	rs := s.resolver()
	cfg := s.site.Config()
	ctx := r.Context()
	for _, name := range lfns {
		if ctx.Err() != nil {
			panic(http.ErrAbortHandler) // the client is gone
		}
		df, rec := s.bulkOpen(rs, cfg, name, p)
		if err := fedapi.WriteBulkHeader(bw, rec); err != nil {
			if df != nil {
				df.f.Close()
			}
			panic(http.ErrAbortHandler)
		}
		if df == nil {
			s.log.Debug("bulk", "lfn", name, "status", rec.Status, "bytes", 0, "token", p.name)
			continue
		}
		n, err := io.CopyN(bw, df.f, df.size)
		if err == nil {
			s.accessed(df)
		}
		df.f.Close()
		if err != nil {
			// The file shrank under us, or the client went: the
			// promised bytes cannot come, so the stream is reset and
			// the client sees it cut short (never a short record).
			s.log.Warn("bulk: stream reset", "lfn", name, "sent", n, "of", df.size, "err", err)
			panic(http.ErrAbortHandler)
		}
		// One line per file, as a GET's request line: what a peer read.
		s.log.Debug("bulk", "lfn", name, "status", http.StatusOK, "bytes", n, "token", p.name)
	}
	if err := fedapi.WriteBulkHeader(bw, fedapi.BulkHeader{End: true, Files: len(lfns)}); err != nil {
		panic(http.ErrAbortHandler)
	}
	if err := bw.Flush(); err != nil {
		panic(http.ErrAbortHandler)
	}
}

// bulkOpen opens one name of a bulk request as GET /v1/files would: an
// open file and its record, or no file and the error record.
func (s *Server) bulkOpen(rs *resolver, cfg *config.Config, name string, p *principal) (*diskFile, fedapi.BulkHeader) {
	rec := fedapi.BulkHeader{LFN: name}
	fail := func(code int, msg string) (*diskFile, fedapi.BulkHeader) {
		rec.Status, rec.Error = code, msg
		return nil, rec
	}
	lfn, err := names.Clean(name)
	if err != nil {
		return fail(http.StatusBadRequest, err.Error())
	}
	if !p.may(lfn) {
		return fail(http.StatusForbidden, "outside this token's prefixes")
	}
	exp, ok := exportOf(cfg, lfn)
	if !ok {
		return fail(http.StatusNotFound, "not exported")
	}
	df, err := rs.open(lfn, exp, true)
	if err != nil {
		code, msg := s.openStatus(lfn, err)
		if code == 0 { // not on disk: a bulk answer does not stage
			code, msg = http.StatusNotFound, "absent: not on disk"
		}
		return fail(code, msg)
	}
	rec.Size, rec.MTime, rec.Checksum, rec.ETag = df.size, df.mtime.Unix(), df.cks.String(), etag(df)
	return df, rec
}

// decodeBulk reads a bulk body strictly: one JSON object with the lfns
// field only, at most fedapi.MaxBulk names. The status says how it is
// refused: 413 past the body's or the count's bound, else 400.
func decodeBulk(body io.Reader) ([]string, int, error) {
	var req fedapi.BulkRequest
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(&req)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("data after the JSON object")
			if terr != nil {
				err = terr
			}
		}
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("the body is larger than %d bytes", fedapi.MaxBulkBody)
	case err != nil:
		return nil, http.StatusBadRequest, fmt.Errorf("bulk body: %w", err)
	case len(req.LFNs) > fedapi.MaxBulk:
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("bulk body: %d names; at most %d at once", len(req.LFNs), fedapi.MaxBulk)
	}
	return req.LFNs, 0, nil
}
