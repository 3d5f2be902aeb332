package fedapi

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
)

// ManifestFile is the name of a published product's manifest, in the
// product's directory (frm mirror writes it last; frm manifest build
// writes it for a static distribution). Its lines are ManifestEntry's
// with names relative to its directory, then the end line.
const ManifestFile = ".frm-manifest.ndjson"

// Generation summarises a manifest whatever the order of its lines: the
// lane-wise sum of the SHA-256 of each entry (lfn, size, mtime,
// checksum), with the count. The same files in the same state give the
// same generation; a file added, removed or changed gives another. frm
// serve computes the same over the lfns it lists.
type Generation struct {
	lanes [4]uint64
	n     int
}

// Add counts one entry.
func (g *Generation) Add(m ManifestEntry) {
	h := sha256.Sum256([]byte(m.LFN + "\x00" + strconv.FormatInt(m.Size, 10) + "\x00" + strconv.FormatInt(m.MTime, 10) + "\x00" + m.Checksum))
	for i := range g.lanes {
		g.lanes[i] += binary.BigEndian.Uint64(h[i*8:])
	}
	g.n++
}

// N is the entries counted.
func (g *Generation) N() int { return g.n }

func (g *Generation) String() string {
	var b [40]byte
	for i, l := range g.lanes {
		binary.BigEndian.PutUint64(b[i*8:], l)
	}
	binary.BigEndian.PutUint64(b[32:], uint64(g.n))
	h := sha256.Sum256(b[:])
	return hex.EncodeToString(h[:16])
}

// ReadManifest reads a manifest stream (entry lines, then the end line)
// and calls fn for each entry. A stream without its end line, or whose
// end line counts another number of entries, is an error: a manifest is
// complete or refused.
func ReadManifest(r io.Reader, fn func(ManifestEntry) error) (ManifestEnd, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if bytes.Contains(line, []byte(`"end"`)) {
			var end ManifestEnd
			if err := json.Unmarshal(line, &end); err == nil && end.End {
				if end.Files != n {
					return ManifestEnd{}, fmt.Errorf("manifest: %d entries, its end says %d", n, end.Files)
				}
				return end, nil
			}
		}
		var e ManifestEntry
		if err := json.Unmarshal(line, &e); err != nil {
			return ManifestEnd{}, fmt.Errorf("manifest line %d: %w", n+1, err)
		}
		if e.LFN == "" || e.Size < 0 {
			return ManifestEnd{}, fmt.Errorf("manifest line %d: no name, or a negative size", n+1)
		}
		n++
		if err := fn(e); err != nil {
			return ManifestEnd{}, err
		}
	}
	if err := sc.Err(); err != nil {
		return ManifestEnd{}, fmt.Errorf("manifest: %w", err)
	}
	return ManifestEnd{}, fmt.Errorf("manifest: cut short after %d entries (no end line)", n)
}

// WriteManifest writes entries (in the order given) and the end line,
// whose generation it returns.
func WriteManifest(w io.Writer, entries []ManifestEntry) (string, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	var g Generation
	for _, e := range entries {
		if err := enc.Encode(e); err != nil {
			return "", err
		}
		g.Add(e)
	}
	if err := enc.Encode(ManifestEnd{End: true, Files: g.n, Generation: g.String()}); err != nil {
		return "", err
	}
	return g.String(), bw.Flush()
}

// Static is a distribution any web server serves: a manifest (written
// by frm manifest build) at a URL, and each file at the URL of its name
// relative to the manifest's. Its lfns are "/" + the manifest's names.
type Static struct {
	c *Client
	// manifest is the manifest's path on the server; dir its directory.
	manifest, dir string
}

// NewStatic returns a client of the static distribution whose manifest
// is at manifestURL.
func NewStatic(manifestURL string, o ClientOptions) (*Static, error) {
	u, err := url.Parse(manifestURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path == "" || strings.HasSuffix(u.Path, "/") {
		return nil, fmt.Errorf("manifest url %q: want https://host/path/to/%s", manifestURL, ManifestFile)
	}
	c, err := NewClient(u.Scheme+"://"+u.Host, o)
	if err != nil {
		return nil, err
	}
	return &Static{c: c, manifest: u.EscapedPath(), dir: path.Dir(u.EscapedPath())}, nil
}

// Manifest reads the whole manifest, calling fn with each entry as an
// lfn ("/" + its relative name).
func (s *Static) Manifest(ctx context.Context, fn func(ManifestEntry) error) (ManifestEnd, error) {
	resp, err := s.c.do(ctx, http.MethodGet, s.manifest, nil, nil)
	if err != nil {
		return ManifestEnd{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return ManifestEnd{}, errorOf(resp)
	}
	defer resp.Body.Close()
	return ReadManifest(resp.Body, func(e ManifestEntry) error {
		name := path.Clean("/" + e.LFN)
		if name != "/"+strings.TrimPrefix(e.LFN, "/") || name == "/" {
			return fmt.Errorf("manifest: name %q is not clean", e.LFN)
		}
		e.LFN = name
		return fn(e)
	})
}

// Open starts a download of lfn (as Client.Open; never staging).
func (s *Static) Open(ctx context.Context, lfn string, offset int64, ifMatch string) (*File, error) {
	parts := strings.Split(strings.TrimPrefix(lfn, "/"), "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	p := s.dir
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return s.c.open(ctx, p+strings.Join(parts, "/"), lfn, offset, ifMatch)
}

// Base is the server's URL (for messages and the origin of a file).
func (s *Static) Base() string { return s.c.Base }

// ErrNotModified: a conditional GET found the file unchanged (304).
var ErrNotModified = errors.New("not modified")

// Published reads the manifest a product's publisher left at
// <product>/.frm-manifest.ndjson (frm mirror, frm manifest build) through
// GET /v1/files, unless its ETag is still ifNoneMatch (ErrNotModified:
// one request, nothing read). fn gets each entry with its lfn (product +
// its relative name). It returns the manifest's ETag and end line. An
// HTTPError with status 404 says the product has none.
func (c *Client) Published(ctx context.Context, product, ifNoneMatch string, fn func(ManifestEntry) error) (string, ManifestEnd, error) {
	hdr := http.Header{}
	if ifNoneMatch != "" {
		hdr.Set("If-None-Match", ifNoneMatch)
	}
	resp, err := c.do(ctx, http.MethodGet, FileURLPath(path.Join(product, ManifestFile)), nil, hdr)
	if err != nil {
		return "", ManifestEnd{}, err
	}
	switch resp.StatusCode {
	case http.StatusNotModified:
		resp.Body.Close()
		return ifNoneMatch, ManifestEnd{}, ErrNotModified
	case http.StatusOK:
	default:
		return "", ManifestEnd{}, errorOf(resp)
	}
	defer resp.Body.Close()
	end, err := ReadManifest(resp.Body, func(e ManifestEntry) error {
		name := path.Clean(e.LFN)
		if name != e.LFN || path.IsAbs(name) || name == "." || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("published manifest of %s: name %q is not a clean relative name", product, e.LFN)
		}
		e.LFN = path.Join(product, name)
		return fn(e)
	})
	return resp.Header.Get("ETag"), end, err
}
