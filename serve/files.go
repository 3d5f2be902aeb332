package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"frm/core/fedapi"
	"frm/core/pgqueue"
	"frm/core/site"
	"frm/core/xrdq"
)

// files answers GET and HEAD /v1/files/<lfn>: the bytes of a resident
// file, or why not; with ?stage=1 (GET, admin scope) a file only in the
// MSS is queued for staging (202).
// openStatus is the status and message answering resolver.open's error
// for lfn, as GET /v1/files and each name of a bulk request answer it; 0
// for a file that is not on disk, which each caller answers its own way.
func (s *Server) openStatus(lfn string, err error) (int, string) {
	switch {
	case errors.Is(err, errOutside), errors.Is(err, errNotFile), errors.Is(err, errNoResolve):
		return http.StatusNotFound, err.Error()
	case errors.Is(err, errBad):
		return http.StatusConflict, err.Error()
	case errors.Is(err, errNotOnDisk):
		return 0, ""
	}
	s.log.Error("cannot open a file to serve", "lfn", lfn, "err", err)
	return http.StatusInternalServerError, "cannot read the file"
}

func (s *Server) files(w http.ResponseWriter, r *http.Request, p *principal) {
	lfn, err := lfnOfPath(r.URL.Path)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	q := r.URL.Query().Get("stage")
	stage := r.Method == http.MethodGet && (q == "1" || q == "true")
	if !p.may(lfn) {
		writeError(w, http.StatusForbidden, "outside this token's prefixes")
		return
	}
	if stage && !p.admin {
		writeError(w, http.StatusForbidden, "staging (?stage=1) needs a token with admin scope")
		return
	}
	exp, ok := exportOf(s.site.Config(), lfn)
	if !ok {
		writeError(w, http.StatusNotFound, "not exported")
		return
	}
	df, err := s.resolver().open(lfn, exp, true)
	if err == nil {
		s.sendFile(w, r, df)
		return
	}
	if code, msg := s.openStatus(lfn, err); code != 0 {
		writeError(w, code, msg)
		return
	}
	ans := s.inMSS(r.Context(), lfn, exp)
	switch {
	case stage && ans.unavailable:
		w.Header().Set("Retry-After", "60")
		writeError(w, http.StatusServiceUnavailable, "not on disk, and "+ans.note)
	case ans.state == fedapi.Stageable && stage:
		s.stage(w, r, lfn, p)
	case ans.state == fedapi.Stageable:
		writeError(w, http.StatusNotFound, "not on disk; stageable: GET with ?stage=1")
	case ans.note != "":
		writeError(w, http.StatusNotFound, "absent: not on disk ("+ans.note+")")
	default:
		writeError(w, http.StatusNotFound, "absent: not on disk and not in this site's MSS")
	}
}

// etag names a version of a file: its size and modification time.
func etag(df *diskFile) string {
	return fmt.Sprintf(`"%x-%x"`, df.size, df.mtime.UnixNano())
}

// sendFile serves an open resident file with http.ServeContent (Range,
// If-Match, If-None-Match, If-Range, HEAD), its stored checksum in
// Repr-Digest and Digest, and records the access for the purger.
func (s *Server) sendFile(w http.ResponseWriter, r *http.Request, df *diskFile) {
	defer df.f.Close()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("ETag", etag(df))
	if d := fedapi.ReprDigest(df.cks); d != "" {
		h.Set(fedapi.HeaderReprDigest, d)
	}
	if d := fedapi.LegacyDigest(df.cks); d != "" {
		h.Set(fedapi.HeaderDigest, d)
	}
	sw := newStreamWriter(w)
	if r.ContentLength == 0 && len(r.TransferEncoding) == 0 {
		// Nothing more to read: a long download must not be cut by the
		// request's read deadline.
		sw.rc.SetReadDeadline(time.Time{})
	}
	http.ServeContent(sw, r, "", df.mtime, df.f)
	sw.finish()
	if r.Method == http.MethodGet && (sw.status == http.StatusOK || sw.status == http.StatusPartialContent) {
		s.accessed(df)
	}
}

// accessed sets the file's access time to now, keeping its modification
// time: the purger removes the least recently accessed files first, and
// a file served to a peer has been accessed whatever the filesystem's
// atime mount option.
func (s *Server) accessed(df *diskFile) {
	now := time.Now()
	ts := []unix.Timespec{unix.NsecToTimespec(now.UnixNano()), {Nsec: unix.UTIME_OMIT}}
	p := "/proc/self/fd/" + strconv.Itoa(int(df.f.Fd()))
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, 0); err != nil {
		s.log.Debug("cannot record the access time of a served file", "file", df.f.Name(), "err", err)
	}
}

// pendingBody is the body of a 202.
type pendingBody struct {
	LFN     string `json:"lfn"`
	State   string `json:"state"` // "pending"
	Request string `json:"request,omitempty"`
}

func pending(w http.ResponseWriter, lfn, rid string, after int) {
	h := w.Header()
	h.Set("Retry-After", strconv.Itoa(after))
	if rid != "" {
		h.Set(fedapi.HeaderStageQueued, rid)
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusAccepted)
	json.NewEncoder(w).Encode(pendingBody{LFN: lfn, State: "pending", Request: rid})
}

// stage queues a stage of lfn as frm admin stage does (site.Stage), once:
// a stage of it already queued is answered as pending too.
func (s *Server) stage(w http.ResponseWriter, r *http.Request, lfn string, p *principal) {
	if strings.Contains(lfn, "?") {
		// A queue record takes what follows ? as opaque CGI.
		writeError(w, http.StatusBadRequest, "a name with ? cannot be queued for staging")
		return
	}
	ctx := r.Context()
	if rid, ok := s.queuedStage(ctx, lfn); ok {
		pending(w, lfn, rid, StageRetryAfter)
		return
	}
	var qerr error
	res, err := s.site.Stage(ctx, []string{lfn}, site.RequestOptions{TID: requester(p), OnError: func(e error) { qerr = e }})
	if err == nil {
		err = qerr
	}
	switch {
	case err != nil:
		s.log.Error("cannot queue a stage for a peer", "lfn", lfn, "token", p.name, "err", err)
		writeError(w, http.StatusInternalServerError, "cannot queue the stage")
	case res.Queued == 0:
		// On disk meanwhile (a stage just ended): ask again.
		pending(w, lfn, "", 1)
	default:
		s.log.Info("stage queued for a peer", "lfn", lfn, "rid", res.RID, "token", p.name)
		if s.opts.Wake != nil {
			wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			if err := s.opts.Wake(wctx); err != nil {
				s.log.Debug("no transfer daemon woken; the stage waits for the next queue check", "err", err)
			}
			cancel()
		}
		pending(w, lfn, res.RID, StageRetryAfter)
	}
}

// requester is the requester a queued stage records: serve and the
// token's name, in the characters a queue record keeps.
func requester(p *principal) string {
	b := []byte("serve:")
	for i := 0; i < len(p.name) && len(b) < 32; i++ {
		c := p.name[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' {
			b = append(b, c)
		} else {
			b = append(b, '_')
		}
	}
	return string(b)
}

// errFound stops a queue walk.
var errFound = errors.New("found")

// queuedStage finds a stage of lfn already queued: in the shared queue
// of a PostgreSQL catalog, else in the queue files.
func (s *Server) queuedStage(ctx context.Context, lfn string) (string, bool) {
	if sh, ok := s.site.Shared(); ok {
		reqs, err := sh.SharedQueue().List(ctx, pgqueue.Filter{Kinds: []string{pgqueue.KindName(xrdq.Stage)}})
		if err == nil {
			for _, q := range reqs {
				if q.LFN == lfn {
					return q.RID, true
				}
			}
		}
	}
	d := xrdq.Open(s.site.Config().QueueDir())
	if !d.Exists() {
		return "", false
	}
	rid := ""
	d.Walk([]xrdq.Kind{xrdq.Stage}, -1, func(q xrdq.Request) error {
		if q.Path() == lfn {
			rid = q.ID
			return errFound
		}
		return nil
	})
	return rid, rid != ""
}
