package config

import (
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"path"
	"strings"
	"time"
)

// Serve configures frm serve, a site's HTTP API for its peers
// (docs/serve.md). It runs as a component of frm daemon when Listen is set.
type Serve struct {
	// Listen is the address ("127.0.0.1:8443"); "" runs no server.
	Listen string `toml:"listen,omitempty"`
	// TLSCert and TLSKey are PEM files; without them the server speaks
	// plain HTTP, which is allowed on loopback only (or with Insecure).
	TLSCert string `toml:"tls_cert,omitempty"`
	TLSKey  string `toml:"tls_key,omitempty"`
	// ClientCA, when set, requires client certificates signed by it
	// (mTLS), in addition to a token.
	ClientCA string `toml:"client_ca,omitempty"`
	// Insecure allows a non-loopback listener without TLS or without
	// tokens (a warning is logged).
	Insecure bool         `toml:"insecure,omitempty"`
	Tokens   []ServeToken `toml:"token,omitempty"`
	// AccessLog, when set, is a file that gets one line per request
	// (its start and end, method, path, status, bytes, token name,
	// remote address); reopened on SIGHUP, for log rotation.
	AccessLog string `toml:"access_log,omitempty"`
}

// ServeToken is one bearer token the server accepts. Only its SHA-256
// digest is kept: the token itself is never stored.
type ServeToken struct {
	Name   string `toml:"name"`
	SHA256 string `toml:"sha256"`
	// Scope is "read" (status, locate, files, manifest) or "admin"
	// (also what writes: ?stage=1).
	Scope string `toml:"scope"`
	// Prefixes limit the lfns the token may see (empty: all exports).
	Prefixes []string `toml:"prefixes,omitempty"`
}

// Token scopes.
const (
	ScopeRead  = "read"
	ScopeAdmin = "admin"
)

// Peer is another frm site this one may fetch files from.
type Peer struct {
	Name string `toml:"name"`
	URL  string `toml:"url"`
	// The token is read from TokenFile, or from the environment variable
	// TokenEnv (never written in the configuration itself).
	TokenFile string `toml:"token_file,omitempty"`
	TokenEnv  string `toml:"token_env,omitempty"`
	// CAFile holds the CA certificates the peer's must chain to.
	CAFile string `toml:"ca_file,omitempty"`
}

// Fetch bounds the fetching of files from peers (NetDRMS Remote SUMS's
// RS_MAXTHREADS, RS_REQTIMEOUT, RS_DLTIMEOUT).
type Fetch struct {
	// MaxDownloads: downloads from peers at once (0: 4).
	MaxDownloads int `toml:"max_downloads,omitempty"`
	// RequestTimeout: a fetch whose download has not started within it
	// (the peers still staging) fails (0: 1h).
	RequestTimeout Duration `toml:"request_timeout,omitempty"`
	// DownloadTimeout bounds one download (0: 6h).
	DownloadTimeout Duration `toml:"download_timeout,omitempty"`
	// Retries of a broken download, resumed where it broke (0: 3).
	Retries int `toml:"retries,omitempty"`
}

// Fetch defaults.
const (
	DefaultMaxDownloads    = 4
	DefaultRequestTimeout  = time.Hour
	DefaultDownloadTimeout = 6 * time.Hour
	DefaultFetchRetries    = 3
)

// MaxDownloadsOrDefault is the downloads at once.
func (f Fetch) MaxDownloadsOrDefault() int {
	if f.MaxDownloads > 0 {
		return f.MaxDownloads
	}
	return DefaultMaxDownloads
}

// RequestTimeoutOrDefault is how long a fetch may wait for a peer to
// stage.
func (f Fetch) RequestTimeoutOrDefault() time.Duration {
	if f.RequestTimeout > 0 {
		return f.RequestTimeout.Std()
	}
	return DefaultRequestTimeout
}

// DownloadTimeoutOrDefault bounds one download.
func (f Fetch) DownloadTimeoutOrDefault() time.Duration {
	if f.DownloadTimeout > 0 {
		return f.DownloadTimeout.Std()
	}
	return DefaultDownloadTimeout
}

// RetriesOrDefault is the retries of a broken download.
func (f Fetch) RetriesOrDefault() int {
	if f.Retries > 0 {
		return f.Retries
	}
	return DefaultFetchRetries
}

// PeersFor returns the peers the export holding lfn opts in to.
func (c *Config) PeersFor(lfn string) []string {
	if e, ok := c.ExportFor(lfn); ok {
		return e.Peers
	}
	return nil
}

// IsLoopback reports whether addr (host:port) listens on loopback only.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c *Config) validateFederation(v *validator) {
	s := c.Serve
	if s.Listen != "" {
		if _, _, err := net.SplitHostPort(s.Listen); err != nil {
			v.add("serve.listen", "not host:port: %q", s.Listen)
		}
	}
	if (s.TLSCert == "") != (s.TLSKey == "") {
		v.add("serve.tls_cert", "tls_cert and tls_key go together")
	}
	v.absPath("serve.tls_cert", s.TLSCert, false)
	v.absPath("serve.tls_key", s.TLSKey, false)
	v.absPath("serve.client_ca", s.ClientCA, false)
	v.absPath("serve.access_log", s.AccessLog, false)
	if s.ClientCA != "" && s.TLSCert == "" {
		v.add("serve.client_ca", "client certificates need TLS (tls_cert, tls_key)")
	}
	names := map[string]bool{}
	for i, tk := range s.Tokens {
		key := fmt.Sprintf("serve.token[%d]", i)
		if tk.Name == "" {
			v.add(key+".name", "must be set")
		} else if names[tk.Name] {
			v.add(key+".name", "token %q is listed twice", tk.Name)
		}
		names[tk.Name] = true
		if b, err := hex.DecodeString(tk.SHA256); err != nil || len(b) != 32 {
			v.add(key+".sha256", "must be the 64 hex digits of the token's SHA-256 (sha256sum), not the token")
		}
		if tk.Scope != ScopeRead && tk.Scope != ScopeAdmin {
			v.add(key+".scope", "must be %q or %q (is %q)", ScopeRead, ScopeAdmin, tk.Scope)
		}
		for j, p := range tk.Prefixes {
			if !strings.HasPrefix(p, "/") || path.Clean(p) != p || strings.IndexByte(p, 0) >= 0 {
				v.add(fmt.Sprintf("%s.prefixes[%d]", key, j), "must be a clean absolute path: %q", p)
			}
		}
	}
	peers := map[string]bool{}
	for i, p := range c.Peers {
		key := fmt.Sprintf("peer[%d]", i)
		switch {
		case p.Name == "":
			v.add(key+".name", "must be set")
		case !ValidSpaceName(p.Name):
			v.add(key+".name", "invalid peer name %q (1 to 63 characters of A-Z a-z 0-9 _ . -)", p.Name)
		case peers[p.Name]:
			v.add(key+".name", "peer %q is listed twice", p.Name)
		}
		peers[p.Name] = true
		if u, err := url.Parse(p.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			v.add(key+".url", "want https://host:port (is %q)", p.URL)
		}
		if p.TokenFile != "" && p.TokenEnv != "" {
			v.add(key+".token_file", "token_file and token_env exclude each other")
		}
		v.absPath(key+".token_file", p.TokenFile, false)
		v.absPath(key+".ca_file", p.CAFile, false)
	}
	for i, e := range c.Exports {
		for j, name := range e.Peers {
			if !peers[name] {
				v.add(fmt.Sprintf("export[%d].peers[%d]", i, j), "no [[peer]] is called %q", name)
			}
		}
	}
	f := c.Fetch
	v.count("fetch.max_downloads", f.MaxDownloads, 0, -1, "")
	v.duration("fetch.request_timeout", f.RequestTimeout)
	v.duration("fetch.download_timeout", f.DownloadTimeout)
	v.count("fetch.retries", f.Retries, 0, MaxRetries, "")
}
