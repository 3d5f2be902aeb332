package serve

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"frm/core/fedapi"
)

// AdminRunner runs frm admin commands for POST /v1/admin (frm sites run).
// The daemon hands one in (cmd/frm wires the shell's): serve links no
// other face, so which commands only read is the runner's to say, from the
// command language's one table.
type AdminRunner interface {
	// ReadOnly reports whether the command (its words) only reads the
	// site, so that a read token may run it; an error is a command the
	// language does not know or cannot parse (400).
	ReadOnly(args []string) (bool, error)
	// Run runs the command at the site and returns what frm admin would
	// print and its exit status.
	Run(ctx context.Context, args []string, json bool) fedapi.AdminReply
}

// Admin jobs.
const (
	// AdminTimeout bounds one admin command.
	AdminTimeout = 30 * time.Minute
	// AdminRetryAfter is the Retry-After of a 409 (seconds).
	AdminRetryAfter = 10
)

// admin answers POST /v1/admin: one command at a time at this site,
// whoever sends it (409 with Retry-After otherwise); a command that
// changes state needs an admin token (403); a token limited to prefixes
// runs none (a command's names are not checked against them).
func (s *Server) admin(w http.ResponseWriter, r *http.Request, p *principal) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeError(w, http.StatusMethodNotAllowed, "admin is a POST")
		return
	}
	if s.opts.Admin == nil {
		writeError(w, http.StatusNotFound, "this frm serve runs no admin commands")
		return
	}
	if len(p.prefixes) > 0 {
		writeError(w, http.StatusForbidden, "a token limited to prefixes may not run admin commands")
		return
	}
	var req fedapi.AdminRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, fedapi.MaxAdminBody+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "reading the request: "+err.Error())
		return
	}
	if len(body) > fedapi.MaxAdminBody {
		writeError(w, http.StatusRequestEntityTooLarge, "admin request too large")
		return
	}
	if err := json.Unmarshal(body, &req); err != nil || len(req.Args) == 0 {
		writeError(w, http.StatusBadRequest, `want {"args": ["command", ...]}`)
		return
	}
	ro, err := s.opts.Admin.ReadOnly(req.Args)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if !ro && !p.admin {
		writeError(w, http.StatusForbidden, "'"+req.Args[0]+"' changes the site: it needs an admin token (this one is read-only)")
		return
	}
	select {
	case s.jobs <- struct{}{}:
	default:
		w.Header().Set("Retry-After", strconv.Itoa(AdminRetryAfter))
		writeError(w, http.StatusConflict, "another admin command is running at this site")
		return
	}
	defer func() { <-s.jobs }()
	ctx, cancel := context.WithTimeout(r.Context(), AdminTimeout)
	defer cancel()
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(AdminTimeout + WriteStall))
	s.log.Info("admin command", "token", p.name, "args", req.Args, "read_only", ro)
	reply := s.opts.Admin.Run(ctx, req.Args, req.JSON)
	reply.ReadOnly = ro
	writeJSON(w, r, reply)
}

// sitesReport answers GET /v1/sites/report.html and .json: the latest
// report of frm daemon's [sites] schedule, from the state directory.
func (s *Server) sitesReport(w http.ResponseWriter, r *http.Request) {
	name, ctype := "report.json", "application/json"
	if r.URL.Path == fedapi.SitesReportHTML {
		name, ctype = "report.html", "text/html; charset=utf-8"
	}
	f, err := os.Open(filepath.Join(s.site.Config().SitesStateDir(), name))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			writeError(w, http.StatusNotFound, "no sites report yet ([sites] schedule makes frm daemon write one)")
			return
		}
		writeError(w, http.StatusInternalServerError, "sites report: "+err.Error())
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "sites report: "+err.Error())
		return
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Cache-Control", "no-cache")
	// The page is self-contained: it loads nothing, runs nothing.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
	http.ServeContent(newStreamWriter(w), r, name, fi.ModTime(), f)
}
