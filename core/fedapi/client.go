package fedapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

func pathEscape(s string) string { return url.PathEscape(s) }

// Client speaks to one site's frm serve.
type Client struct {
	// Base is the site's URL ("https://b.example:8443").
	Base  string
	Token string
	HTTP  *http.Client
}

// ClientOptions configure NewClient.
type ClientOptions struct {
	Token string
	// CAFile, when set, holds the PEM certificates the server's must
	// chain to (a site's own CA); otherwise the system roots.
	CAFile string
	// CertFile and KeyFile: a client certificate, for servers that ask
	// for one (mTLS).
	CertFile, KeyFile string
	// HTTP1 speaks HTTP/1.1 only, one connection per download at once:
	// bulk transfers (frm mirror) cost less CPU than multiplexed on one
	// HTTP/2 connection.
	HTTP1 bool
	// Timeout bounds connecting and the wait for response headers (not
	// the body: a large file takes what it takes). 0: 30 s.
	Timeout time.Duration
}

// NewClient returns a client of the site at base.
func NewClient(base string, o ClientOptions) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("peer url %q: want https://host:port", base)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("peer CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("peer CA %s: no PEM certificate", o.CAFile)
		}
		tc.RootCAs = pool
	}
	if o.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   16,
		ForceAttemptHTTP2:     !o.HTTP1,
	}
	if o.HTTP1 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return &Client{Base: strings.TrimSuffix(u.String(), "/"), Token: o.Token, HTTP: &http.Client{Transport: tr}}, nil
}

// HTTPError is a response other than the one asked for.
type HTTPError struct {
	Status int
	Msg    string // the server's error message, or the status text
	URL    string
}

func (e *HTTPError) Error() string { return fmt.Sprintf("%s: %d %s", e.URL, e.Status, e.Msg) }

// StatusOf returns the HTTP status of err (0 when it is none).
func StatusOf(err error) int {
	var he *HTTPError
	if errors.As(err, &he) {
		return he.Status
	}
	return 0
}

// PendingError is a file the site is staging (202): ask again after
// RetryAfter.
type PendingError struct {
	RetryAfter time.Duration
	Request    string // the site's stage request id
}

func (e *PendingError) Error() string {
	return fmt.Sprintf("being staged at the peer (retry after %v)", e.RetryAfter)
}

func (c *Client) do(ctx context.Context, method, path string, body io.Reader, hdr http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, body)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	req.Header.Set("User-Agent", "frm")
	return c.HTTP.Do(req)
}

// errorOf reads an error response.
func errorOf(resp *http.Response) error {
	defer resp.Body.Close()
	msg := http.StatusText(resp.StatusCode)
	var eb ErrorBody
	if b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10)); json.Unmarshal(b, &eb) == nil && eb.Error != "" {
		msg = eb.Error
	}
	return &HTTPError{Status: resp.StatusCode, Msg: msg, URL: resp.Request.URL.Redacted()}
}

func (c *Client) getJSON(ctx context.Context, path string, v any) error {
	resp, err := c.do(ctx, http.MethodGet, path, nil, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return errorOf(resp)
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

// Status asks the site's status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.getJSON(ctx, StatusPath, &st)
	return st, err
}

// Locate asks where the site has each lfn (in batches of MaxLocate).
func (c *Client) Locate(ctx context.Context, lfns []string) ([]Located, error) {
	out := make([]Located, 0, len(lfns))
	for len(lfns) > 0 {
		n := min(len(lfns), MaxLocate)
		body, _ := json.Marshal(LocateRequest{LFNs: lfns[:n]})
		resp, err := c.do(ctx, http.MethodPost, LocatePath, bytes.NewReader(body), http.Header{"Content-Type": {"application/json"}})
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, errorOf(resp)
		}
		var r LocateReply
		err = json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&r)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("locate reply: %w", err)
		}
		if len(r.Files) != n {
			return nil, fmt.Errorf("locate reply: %d answers for %d names", len(r.Files), n)
		}
		out = append(out, r.Files...)
		lfns = lfns[n:]
	}
	return out, nil
}

// File is an open download.
type File struct {
	Body io.ReadCloser
	// Size is the whole file's size; Offset where Body starts.
	Size, Offset int64
	// Checksum is the whole file's, from the digest headers (zero when
	// the site sent none); ETag identifies the version.
	Checksum Checksum
	ETag     string
	Modified time.Time
}

// Open starts a download of lfn from offset (a Range request when > 0).
// ifMatch, when set, makes the site refuse (412) a file that is not that
// version: a resumed download never mixes two versions. stage asks the
// site to stage a file that is only in its MSS: the answer is then a
// *PendingError.
func (c *Client) Open(ctx context.Context, lfn string, offset int64, ifMatch string, stage bool) (*File, error) {
	path := FileURLPath(lfn)
	if stage {
		path += "?stage=1"
	}
	return c.open(ctx, path, lfn, offset, ifMatch)
}

// open is Open of the URL path.
func (c *Client) open(ctx context.Context, path, lfn string, offset int64, ifMatch string) (*File, error) {
	hdr := http.Header{}
	if offset > 0 {
		hdr.Set("Range", "bytes="+strconv.FormatInt(offset, 10)+"-")
	}
	if ifMatch != "" {
		hdr.Set("If-Match", ifMatch)
	}
	resp, err := c.do(ctx, http.MethodGet, path, nil, hdr)
	if err != nil {
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusOK, http.StatusPartialContent:
	case http.StatusAccepted:
		resp.Body.Close()
		secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return nil, &PendingError{RetryAfter: time.Duration(max(secs, 1)) * time.Second, Request: resp.Header.Get(HeaderStageQueued)}
	default:
		return nil, errorOf(resp)
	}
	f := &File{Body: resp.Body, ETag: resp.Header.Get("ETag"),
		Checksum: ParseDigests(resp.Header.Get(HeaderReprDigest), resp.Header.Get(HeaderDigest))}
	f.Modified, _ = http.ParseTime(resp.Header.Get("Last-Modified"))
	if resp.StatusCode == http.StatusPartialContent {
		// Content-Range: bytes start-end/size
		var start, end, size int64
		if _, err := fmt.Sscanf(resp.Header.Get("Content-Range"), "bytes %d-%d/%d", &start, &end, &size); err != nil || start != offset {
			resp.Body.Close()
			return nil, fmt.Errorf("%s: bad Content-Range %q for offset %d", lfn, resp.Header.Get("Content-Range"), offset)
		}
		f.Offset, f.Size = start, size
	} else {
		if offset > 0 {
			resp.Body.Close()
			return nil, fmt.Errorf("%s: the site ignored the range from %d", lfn, offset)
		}
		f.Size = resp.ContentLength
	}
	return f, nil
}

// Manifest streams the manifest of every file under prefix to fn and
// returns its generation. A stream without its end line is an error.
// With ifNoneMatch, the generation of a manifest the caller holds, a site
// whose files under prefix are still in that state answers without the
// manifest: ErrNotModified, fn never called (the site still walks its
// files, the transfer and the reading are spared).
func (c *Client) Manifest(ctx context.Context, prefix, ifNoneMatch string, fn func(ManifestEntry) error) (string, error) {
	var hdr http.Header
	if ifNoneMatch != "" {
		hdr = http.Header{"If-None-Match": {`"` + ifNoneMatch + `"`}}
	}
	resp, err := c.do(ctx, http.MethodGet, ManifestPath+"?prefix="+url.QueryEscape(prefix), nil, hdr)
	if err != nil {
		return "", err
	}
	switch resp.StatusCode {
	case http.StatusNotModified:
		resp.Body.Close()
		return ifNoneMatch, ErrNotModified
	case http.StatusOK:
	default:
		return "", errorOf(resp)
	}
	defer resp.Body.Close()
	end, err := ReadManifest(resp.Body, fn)
	return end.Generation, err
}

// BusyError is a site that runs another admin job (409): ask again after
// RetryAfter.
type BusyError struct {
	RetryAfter time.Duration
	Msg        string
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("busy: %s (retry after %v)", e.Msg, e.RetryAfter)
}

// Admin runs one frm admin command at the site (POST /v1/admin). A site
// already running a job answers *BusyError; a command that changes state
// sent with a read token is refused (an *HTTPError with status 403).
func (c *Client) Admin(ctx context.Context, args []string, jsonOut bool) (AdminReply, error) {
	body, _ := json.Marshal(AdminRequest{Args: args, JSON: jsonOut})
	resp, err := c.do(ctx, http.MethodPost, AdminPath, bytes.NewReader(body), http.Header{"Content-Type": {"application/json"}})
	if err != nil {
		return AdminReply{}, err
	}
	if resp.StatusCode == http.StatusConflict {
		secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		he := errorOf(resp).(*HTTPError)
		return AdminReply{}, &BusyError{RetryAfter: time.Duration(max(secs, 1)) * time.Second, Msg: he.Msg}
	}
	if resp.StatusCode != http.StatusOK {
		return AdminReply{}, errorOf(resp)
	}
	defer resp.Body.Close()
	var r AdminReply
	if err := json.NewDecoder(io.LimitReader(resp.Body, 256<<20)).Decode(&r); err != nil {
		return AdminReply{}, fmt.Errorf("admin reply: %w", err)
	}
	return r, nil
}

// StatusRaw asks the site's status and returns the body as it came too
// (a report shows what a site answered when it is not a status).
func (c *Client) StatusRaw(ctx context.Context) (Status, []byte, error) {
	resp, err := c.do(ctx, http.MethodGet, StatusPath, nil, nil)
	if err != nil {
		return Status{}, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return Status{}, nil, errorOf(resp)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return Status{}, b, err
	}
	var st Status
	if err := json.Unmarshal(b, &st); err != nil {
		return Status{}, b, &BadAnswerError{Err: err, Body: b}
	}
	return st, b, nil
}

// BadAnswerError is a 200 whose body is not the document asked for.
type BadAnswerError struct {
	Err  error
	Body []byte
}

func (e *BadAnswerError) Error() string {
	b := e.Body
	if len(b) > 40 {
		b = b[:40]
	}
	return fmt.Sprintf("not a status document (%v): %q", e.Err, b)
}

func (e *BadAnswerError) Unwrap() error { return e.Err }
