package serve

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"frm/core/fedapi"
)

// serveHTTP authenticates, then routes. The routing reads the decoded
// path itself (no ServeMux: it would clean and redirect names, which are
// the files handler's to judge).
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	w = sw
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	p, err := s.auth.Load().authenticate(r)
	who := "-"
	if p != nil {
		who = p.name
	}
	defer func() {
		lvl := slog.LevelDebug
		if sw.status >= 500 {
			lvl = slog.LevelWarn
		}
		end := time.Now()
		s.log.Log(r.Context(), lvl, "request", "method", r.Method, "path", r.URL.Path, "status", sw.status,
			"bytes", sw.bytes, "token", who, "remote", r.RemoteAddr, "took", end.Sub(start).Round(time.Millisecond))
		s.access.write(start, end, r.RemoteAddr, who, r.Method, r.URL.Path, sw.status, sw.bytes)
	}()
	if err != nil {
		e := `Bearer realm="frm"`
		if errors.Is(err, errBadToken) {
			e += `, error="invalid_token"`
		}
		h.Set("WWW-Authenticate", e)
		writeError(w, http.StatusUnauthorized, err.Error())
		return
	}
	if p.anonymous && s.loopback && !loopbackHost(r.Host) {
		// A web page cannot make a browser read an open loopback
		// listener through a name that resolves to 127.0.0.1 (DNS
		// rebinding): without a token, the Host must be loopback too.
		writeError(w, http.StatusForbidden, "without a token, ask by a loopback address (Host "+r.Host+")")
		return
	}
	path := r.URL.Path
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPost:
		if path == fedapi.LocatePath || path == fedapi.AdminPath || path == fedapi.BulkPath {
			break // a read token may locate and read in bulk; admin judges its command
		}
		fallthrough
	case http.MethodPut, http.MethodDelete, http.MethodPatch:
		if !p.admin {
			writeError(w, http.StatusForbidden, "this token is read-only")
			return
		}
		fallthrough
	default:
		allow := "GET, HEAD"
		if path == fedapi.LocatePath || path == fedapi.AdminPath || path == fedapi.BulkPath {
			allow = "POST"
		}
		h.Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, r.Method+" is not served here")
		return
	}
	switch {
	case path == fedapi.StatusPath:
		s.status(w, r)
	case path == fedapi.LocatePath:
		if r.Method != http.MethodPost {
			h.Set("Allow", "POST")
			writeError(w, http.StatusMethodNotAllowed, "locate is a POST")
			return
		}
		s.locate(w, r, p)
	case path == fedapi.BulkPath:
		if r.Method != http.MethodPost {
			h.Set("Allow", "POST")
			writeError(w, http.StatusMethodNotAllowed, "bulk is a POST")
			return
		}
		s.bulk(w, r, p)
	case strings.HasPrefix(path, fedapi.FilesPath+"/"):
		s.files(w, r, p)
	case path == fedapi.ManifestPath:
		s.manifest(w, r, p)
	case path == fedapi.AdminPath:
		s.admin(w, r, p)
	case path == fedapi.SitesReportHTML || path == fedapi.SitesReportJSON:
		s.sitesReport(w, r)
	case path == fedapi.MetricsPath && s.opts.Metrics != nil:
		s.opts.Metrics.ServeHTTP(w, r)
	default:
		writeError(w, http.StatusNotFound, "no such endpoint")
	}
}

// loopbackHost reports whether the Host of a request names loopback.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// writeError answers with a fedapi.ErrorBody.
func writeError(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Del("Content-Length")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(fedapi.ErrorBody{Error: msg})
}

// writeJSON answers 200 with v.
func writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(WriteStall))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(append(b, '\n'))
	}
}

// statusWriter records the status and size of a response (for the log).
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// streamWriter writes a long response (a file, a manifest): each write
// that makes progress pushes the write deadline WriteStall further, so a
// download takes what it takes but a client that stopped reading is let
// go. An error status (from http.ServeContent: 412, 416) is answered as
// JSON instead of the text ServeContent writes.
type streamWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	status  int
	errText []byte
	pushed  time.Time
}

func newStreamWriter(w http.ResponseWriter) *streamWriter {
	sw := &streamWriter{ResponseWriter: w, rc: http.NewResponseController(w)}
	sw.push()
	return sw
}

func (w *streamWriter) push() {
	if now := time.Now(); now.Sub(w.pushed) > time.Second {
		w.pushed = now
		w.rc.SetWriteDeadline(now.Add(WriteStall))
	}
}

func (w *streamWriter) WriteHeader(code int) {
	if w.status != 0 {
		return
	}
	w.status = code
	if code >= 400 {
		return // held until finish knows the text
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *streamWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.status >= 400 {
		if len(w.errText) < 1024 {
			w.errText = append(w.errText, p...)
		}
		return len(p), nil
	}
	w.push()
	return w.ResponseWriter.Write(p)
}

func (w *streamWriter) Flush() { w.rc.Flush() }

func (w *streamWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// finish writes a held error status as JSON, without the file's digest
// headers (they describe a body that was not sent).
func (w *streamWriter) finish() {
	if w.status < 400 {
		return
	}
	h := w.Header()
	h.Del(fedapi.HeaderReprDigest)
	h.Del(fedapi.HeaderDigest)
	msg := strings.TrimSpace(string(w.errText))
	if msg == "" {
		msg = http.StatusText(w.status)
	}
	writeError(w.ResponseWriter, w.status, msg)
}
