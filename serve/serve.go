// Package serve is frm serve: a site's HTTP API for its peers, the /v1
// endpoints package fedapi defines (status, locate, files, manifest), on
// net/http and crypto/tls (docs/serve.md).
//
// It owns the listener and its limits, TLS and client certificates,
// bearer-token authentication (tokens are kept as SHA-256 digests and
// compared in constant time), the mapping of a URL to an lfn and of an
// lfn to the bytes it may serve (never a byte outside the exports), and
// the documents it answers with. Like the shell and the TUI it is a face
// over core/site: it never links package daemons. A daemon that runs it
// (frm daemon, as its serve component) hands it what only the daemon
// knows through Options: its status, its metrics handler, a way to wake
// the transfer daemon.
package serve

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"frm/core/config"
	"frm/core/control"
	"frm/core/guard"
	"frm/core/site"
)

// Limits of the server.
const (
	// ReadHeaderTimeout bounds the wait for a request's headers
	// (slowloris).
	ReadHeaderTimeout = 10 * time.Second
	// ReadTimeout bounds reading a whole request, body included (a
	// locate's body of up to fedapi.MaxLocateBody).
	ReadTimeout = time.Minute
	// IdleTimeout closes a kept-alive connection idle this long.
	IdleTimeout = 2 * time.Minute
	// MaxHeaderBytes bounds a request's headers.
	MaxHeaderBytes = 64 << 10
	// WriteStall ends a response whose writes make no progress this long
	// (a client that stopped reading). Downloads have no overall limit.
	WriteStall = 2 * time.Minute
	// MSSStatTimeout bounds one question to the MSS (is it there?).
	MSSStatTimeout = 10 * time.Second
	// MSSStatsAtOnce bounds the MSS questions in flight, all requests
	// together.
	MSSStatsAtOnce = 16
	// LocateBudget bounds one locate: names whose MSS question has not
	// started by then are answered absent with an error saying so.
	LocateBudget = 2 * time.Minute
	// StageRetryAfter is the Retry-After of a 202 (seconds).
	StageRetryAfter = 5
	// shutdownGrace is how long Run lets requests finish at the end.
	shutdownGrace = 5 * time.Second
)

// StatusSource is what a daemon running the server tells about itself:
// the control socket's status reply (components, the purger's last
// cycle, whether a transfer component runs).
type StatusSource interface {
	Status() control.StatusReply
}

// StatusFunc adapts a function to a StatusSource.
type StatusFunc func() control.StatusReply

// Status implements StatusSource.
func (f StatusFunc) Status() control.StatusReply { return f() }

// Options are what the server needs besides the site.
type Options struct {
	// Version is frm's version, reported by /v1/status.
	Version string
	// Log receives the server's messages (never a token: a token's
	// configured name stands for it). Nil: slog.Default().
	Log *slog.Logger
	// Status, when set, reports on the daemon the server runs in (last
	// purge, whether a transfer daemon runs).
	Status StatusSource
	// Metrics, when set, is served at /metrics (to authenticated
	// clients, as the rest).
	Metrics http.Handler
	// Wake, when set, is called after a stage was queued, to wake the
	// transfer daemon; its error only means the request waits for the
	// next queue check.
	Wake func(ctx context.Context) error
	// Admin, when set, runs the frm admin commands of POST /v1/admin
	// (frm sites run); without it the endpoint answers 404.
	Admin AdminRunner
}

// Server is one site's frm serve.
type Server struct {
	site    *site.Site
	opts    Options
	log     *slog.Logger
	started time.Time
	listen  string
	// loopback: the listener is on loopback only; tlsOn: it speaks TLS;
	// startedOpen: it started without tokens, letting anyone read.
	loopback, tlsOn, startedOpen bool

	auth atomic.Pointer[authSet]
	cert atomic.Pointer[tls.Certificate]
	tls  *tls.Config // nil without TLS

	dataDirs   *guard.Roots // the partitions' data directories
	partitions []string     // partition directories (skipped by manifests)

	mssSlots chan struct{} // MSSStatsAtOnce
	jobs     chan struct{} // the one admin command at a time
	access   *accessLog    // [serve] access_log; nil: none
	fails    failCounter
	cks      *checksumCache // of the files manifests list

	srv *http.Server // built by New, served by Run

	mu sync.Mutex // guards ln
	ln net.Listener
}

// ConfigError is a [serve] configuration New refuses (frm daemon exits 4
// on it).
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// New builds the server the site's [serve] section describes. It refuses
// (a *ConfigError) a listener that is not on loopback and lacks TLS or
// tokens, unless insecure = true says so (then it logs a warning), and
// TLS files it cannot load. It opens no socket: Listen or Run does.
func New(s *site.Site, opts Options) (*Server, error) {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	cfg := s.Config()
	sc := cfg.Serve
	if err := CheckConfig(sc); err != nil {
		return nil, err
	}
	srv := &Server{site: s, opts: opts, log: opts.Log, started: time.Now(), listen: sc.Listen,
		loopback: config.IsLoopback(sc.Listen), tlsOn: sc.TLSCert != "",
		mssSlots: make(chan struct{}, MSSStatsAtOnce), jobs: make(chan struct{}, 1),
		cks: newChecksumCache(checksumCacheMax)}
	srv.startedOpen = len(sc.Tokens) == 0
	a, err := newAuthSet(sc, srv.startedOpen)
	if err != nil {
		return nil, &ConfigError{err}
	}
	srv.auth.Store(a)
	if srv.tlsOn {
		cert, err := tls.LoadX509KeyPair(sc.TLSCert, sc.TLSKey)
		if err != nil {
			return nil, &ConfigError{fmt.Errorf("serve.tls_cert, serve.tls_key: %w", err)}
		}
		srv.cert.Store(&cert)
		srv.tls = &tls.Config{
			MinVersion: tls.VersionTLS12,
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
				return srv.cert.Load(), nil
			},
		}
		if sc.ClientCA != "" {
			pem, err := os.ReadFile(sc.ClientCA)
			if err != nil {
				return nil, &ConfigError{fmt.Errorf("serve.client_ca: %w", err)}
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, &ConfigError{fmt.Errorf("serve.client_ca %s: no PEM certificate", sc.ClientCA)}
			}
			srv.tls.ClientCAs = pool
			srv.tls.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	var data []string
	for _, sp := range s.Spaces.All() {
		for _, p := range sp.Partitions {
			data = append(data, p.DataDir())
			srv.partitions = append(srv.partitions, p.Path)
		}
	}
	srv.dataDirs = guard.NewRoots(data...)
	if sc.AccessLog != "" {
		if srv.access, err = openAccessLog(sc.AccessLog); err != nil {
			return nil, &ConfigError{err}
		}
	}
	srv.srv = &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		TLSConfig:         srv.tls,
		// Handshake failures and broken connections are the network's
		// business: debug only.
		ErrorLog: slog.NewLogLogger(srv.log.Handler(), slog.LevelDebug),
	}
	if !srv.loopback && (!srv.tlsOn || len(sc.Tokens) == 0) {
		if !srv.tlsOn {
			srv.log.Warn("serve.insecure: serving plain HTTP on a non-loopback address; tokens and files cross the network in clear", "listen", sc.Listen)
		}
		if len(sc.Tokens) == 0 {
			srv.log.Warn("serve.insecure: no [[serve.token]] on a non-loopback address; anyone who reaches it may read every export", "listen", sc.Listen)
		}
	} else if len(sc.Tokens) == 0 {
		srv.log.Info("no [[serve.token]]: read access is open to anyone who reaches the loopback address; staging needs an admin token", "listen", sc.Listen)
	}
	return srv, nil
}

// CheckConfig is New's refusal of a [serve] section, without a site: a
// listener is needed, and one that is not on loopback needs TLS and at
// least one token, or insecure = true. (New also loads the TLS files.)
func CheckConfig(sc config.Serve) error {
	if sc.Listen == "" {
		return &ConfigError{errors.New("serve.listen is not set: frm serve needs [serve] listen = \"host:port\"")}
	}
	if !config.IsLoopback(sc.Listen) && (sc.TLSCert == "" || len(sc.Tokens) == 0) && !sc.Insecure {
		return &ConfigError{fmt.Errorf("serve.listen %s is not loopback: frm serve needs tls_cert/tls_key and at least one [[serve.token]] there (or insecure = true)", sc.Listen)}
	}
	return nil
}

// Reconfigure takes a new configuration (SIGHUP): the token set is
// replaced at once (requests already authenticated finish), and the TLS
// certificate and key files are read again (a renewed certificate); a
// file that no longer loads keeps the running one. The listener, the
// client CA and insecure need a restart. Removing every token from a
// non-loopback listener does not open it: every request is refused.
func (s *Server) Reconfigure(cfg *config.Config) {
	sc := cfg.Serve
	// Without tokens, a loopback listener is open for reading; another
	// only when it started so (insecure): removing the tokens of a
	// network listener never opens it.
	open := len(sc.Tokens) == 0 && (s.loopback || s.startedOpen)
	a, err := newAuthSet(sc, open)
	if err != nil {
		s.log.Error("serve tokens not reloaded; keeping the running ones", "err", err)
	} else {
		s.auth.Store(a)
		s.log.Info("serve tokens reloaded", "tokens", a.names())
		if len(a.tokens) == 0 && !open {
			s.log.Warn("no [[serve.token]] left on a non-loopback listener: every request is refused until tokens are configured")
		}
	}
	if s.access != nil {
		if err := s.access.reopen(); err != nil {
			s.log.Error("serve access log not reopened; writing to the open file", "err", err)
		}
	}
	if s.tlsOn {
		cert, err := tls.LoadX509KeyPair(sc.TLSCert, sc.TLSKey)
		if err != nil {
			s.log.Error("serve certificate not reloaded; keeping the running one", "err", err)
			return
		}
		s.cert.Store(&cert)
	}
}

// Listen opens the listener (Run opens it when Listen was not called)
// and returns its address.
func (s *Server) Listen() (net.Addr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return s.ln.Addr(), nil
	}
	ln, err := net.Listen("tcp", s.listen)
	if err != nil {
		return nil, fmt.Errorf("serve.listen: %w", err)
	}
	s.ln = ln
	return ln.Addr(), nil
}

// URL is the server's base URL (after Listen).
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	scheme := "http"
	if s.tlsOn {
		scheme = "https"
	}
	addr := s.listen
	if s.ln != nil {
		addr = s.ln.Addr().String()
	}
	return scheme + "://" + addr
}

// Handler is the server's HTTP handler (for tests that bring their own
// listener).
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Run serves until ctx ends, then shuts down: requests in progress get a
// few seconds to finish, and the connections are closed. It returns nil
// after ctx ended, else why it could not serve.
func (s *Server) Run(ctx context.Context) error {
	if _, err := s.Listen(); err != nil {
		return err
	}
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	srv := s.srv
	s.fails.start(ctx)
	s.log.Info("frm serve listening", "url", s.URL(), "tls", s.tlsOn, "client_certificates", s.tls != nil && s.tls.ClientCAs != nil)
	errc := make(chan error, 1)
	go func() {
		if s.tlsOn {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	<-errc
	s.access.close()
	return nil
}
