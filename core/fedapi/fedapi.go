// Package fedapi is the HTTP API an frm site serves to other sites (frm
// serve; docs/serve.md): its paths, its JSON documents, its headers, and a
// client for them. The server is package serve; the client serves the
// peers MSS backend (fetching what a site lacks from its peers), frm mirror
// and frm sites. It imports no other frm package, so every side agrees on
// one definition of the wire.
package fedapi

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Paths of version 1.
const (
	StatusPath   = "/v1/status"
	LocatePath   = "/v1/locate"
	FilesPath    = "/v1/files" // + the lfn: /v1/files/store/a.fits
	ManifestPath = "/v1/manifest"
	MetricsPath  = "/metrics"
	// AdminPath runs one frm admin command at the site (POST; frm sites
	// run).
	AdminPath = "/v1/admin"
	// SitesReportHTML and SitesReportJSON are the latest report of a
	// site that runs frm sites on a schedule ([sites] schedule).
	SitesReportHTML = "/v1/sites/report.html"
	SitesReportJSON = "/v1/sites/report.json"
)

// Limits both sides hold to.
const (
	// MaxLocate is the most lfns one locate asks about.
	MaxLocate = 10000
	// MaxLocateBody bounds a locate request's body: MaxLocate names of
	// up to 4 KiB each would be 40 MiB; names are short, and a body
	// past this is refused (413).
	MaxLocateBody = 8 << 20
)

// Status is GET /v1/status: what a site holds and does, for its peers and
// for the multi-site report.
type Status struct {
	Site    string    `json:"site"`
	Version string    `json:"version"`
	Started time.Time `json:"started"`
	// UptimeSecs is how long the serving process has run.
	UptimeSecs float64       `json:"uptime_s"`
	Spaces     []SpaceStatus `json:"spaces"`
	// Queue counts the queued transfer requests by kind (stage, get,
	// migrate, put); nil when the queue cannot be read.
	Queue map[string]int `json:"queue"`
	// Failures24h counts the files whose transfer failed (a fail file)
	// in the last 24 hours; -1 while the site has not counted them yet.
	Failures24h int `json:"failures_24h"`
	// LastPurge is the purger's last cycle, when a daemon on this host
	// purges.
	LastPurge *PurgeStatus `json:"last_purge,omitempty"`
	// Daemon is whether a transfer daemon serves the queue.
	Daemon bool `json:"daemon"`
	// OldestUnmigrated is the modification time of the oldest file of a
	// mig export that has no current copy in the MSS (counted with the
	// failures); nil when there is none or it is not known yet.
	OldestUnmigrated *time.Time `json:"oldest_unmigrated,omitempty"`
}

// AdminRequest is the body of POST /v1/admin: one frm admin command as
// its words ("audit", "-r", "names", "/store"), run at the site.
type AdminRequest struct {
	Args []string `json:"args"`
	// JSON asks for the command's JSON document (frm admin -o json)
	// instead of its text.
	JSON bool `json:"json,omitempty"`
}

// AdminReply is the answer to an admin command the site ran: its exit
// status (as frm admin's), its standard output and its diagnostics.
type AdminReply struct {
	Exit   int    `json:"exit"`
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr,omitempty"`
	// ReadOnly says how the site classified the command.
	ReadOnly bool `json:"read_only"`
}

// MaxAdminBody bounds an admin request's body.
const MaxAdminBody = 64 << 10

// SpaceStatus is one space's usage.
type SpaceStatus struct {
	Name       string `json:"name"`
	Partitions int    `json:"partitions"`
	Total      int64  `json:"total"`
	Free       int64  `json:"free"`
}

// PurgeStatus is a purge cycle.
type PurgeStatus struct {
	At    time.Time `json:"at"`
	Files int       `json:"files"`
	Bytes int64     `json:"bytes"`
}

// LocateRequest is the body of POST /v1/locate.
type LocateRequest struct {
	LFNs []string `json:"lfns"`
}

// State is where a site has a file.
type State string

// States of a located file.
const (
	// Resident: on disk here, served at once.
	Resident State = "resident"
	// Stageable: in this site's MSS, not on disk; GET with ?stage=1
	// brings it back.
	Stageable State = "stageable"
	// Absent: neither.
	Absent State = "absent"
	// Denied: not exported, outside the token's prefixes, or not a
	// valid name (Error says which).
	Denied State = "denied"
)

// Located is one file of a locate reply.
type Located struct {
	LFN   string `json:"lfn"`
	State State  `json:"state"`
	// Size, MTime (Unix seconds) and Checksum ("adler32:<hex>") of a
	// resident file; Size and MTime of a stageable one when the MSS
	// tells.
	Size     int64  `json:"size,omitempty"`
	MTime    int64  `json:"mtime,omitempty"`
	Checksum string `json:"checksum,omitempty"`
	Error    string `json:"error,omitempty"`
}

// LocateReply is the answer to a locate, one entry per lfn asked, in
// order.
type LocateReply struct {
	Files []Located `json:"files"`
}

// ManifestEntry is one line of GET /v1/manifest (NDJSON).
type ManifestEntry struct {
	LFN      string `json:"lfn"`
	Size     int64  `json:"size"`
	MTime    int64  `json:"mtime"`
	Checksum string `json:"checksum,omitempty"`
	State    State  `json:"state"` // resident or stageable
}

// ManifestEnd is the last line of a manifest: a stream that lacks it was
// cut short. Generation names the state of the namespace the manifest
// describes: the same generation, the same files.
type ManifestEnd struct {
	End        bool   `json:"end"`
	Files      int    `json:"files"`
	Generation string `json:"generation"`
}

// Headers.
const (
	// HeaderGeneration carries a manifest's generation in an HTTP
	// trailer (after the body, when it is known; the end line carries
	// it too).
	HeaderGeneration = "Frm-Manifest-Generation"
	// HeaderReprDigest is RFC 9530's digest of the file's whole content.
	HeaderReprDigest = "Repr-Digest"
	// HeaderDigest is RFC 3230's, as xrootd and dCache HTTP doors send
	// it ("adler32=<hex>").
	HeaderDigest = "Digest"
	// HeaderStageQueued carries the request id of a stage a GET with
	// ?stage=1 queued (202).
	HeaderStageQueued = "Frm-Stage-Request"
)

// Checksum is a file's checksum: an algorithm (as frm names it: adler32)
// and its value in lower-case hex.
type Checksum struct {
	Alg, Hex string
}

// String is "alg:hex", as locate and manifest carry it.
func (c Checksum) String() string {
	if c.Alg == "" {
		return ""
	}
	return c.Alg + ":" + c.Hex
}

// ParseChecksum parses "alg:hex" ("" gives the zero Checksum).
func ParseChecksum(s string) (Checksum, error) {
	if s == "" {
		return Checksum{}, nil
	}
	alg, h, ok := strings.Cut(s, ":")
	if !ok || alg == "" {
		return Checksum{}, fmt.Errorf("checksum %q: want alg:hex", s)
	}
	if _, err := hex.DecodeString(h); err != nil || h == "" {
		return Checksum{}, fmt.Errorf("checksum %q: value not hex", s)
	}
	return Checksum{Alg: strings.ToLower(alg), Hex: strings.ToLower(h)}, nil
}

// ReprDigest renders an adler32 checksum as RFC 9530's Repr-Digest field
// ("adler=:<base64 of the 4 bytes>:"; the registry names it adler). Other
// algorithms give "".
func ReprDigest(c Checksum) string {
	if c.Alg != "adler32" {
		return ""
	}
	b, err := hex.DecodeString(c.Hex)
	if err != nil || len(b) != 4 {
		return ""
	}
	return "adler=:" + base64.StdEncoding.EncodeToString(b) + ":"
}

// LegacyDigest renders a checksum as RFC 3230's Digest field
// ("adler32=<hex>").
func LegacyDigest(c Checksum) string {
	if c.Alg == "" {
		return ""
	}
	return c.Alg + "=" + c.Hex
}

// ParseDigests reads the adler32 checksum a response carries: from
// Repr-Digest (RFC 9530, "adler=:…:"), else from Digest (RFC 3230,
// "adler32=<hex>", as xrootd sends it). The zero Checksum when neither
// has one.
func ParseDigests(repr, legacy string) Checksum {
	for _, member := range strings.Split(repr, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(member), "=")
		if !ok || !strings.EqualFold(k, "adler") || len(v) < 2 || v[0] != ':' || v[len(v)-1] != ':' {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(v[1 : len(v)-1])
		if err == nil && len(b) == 4 {
			return Checksum{Alg: "adler32", Hex: fmt.Sprintf("%08x", binary.BigEndian.Uint32(b))}
		}
	}
	for _, member := range strings.Split(legacy, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(member), "=")
		if !ok || !strings.EqualFold(k, "adler32") {
			continue
		}
		if b, err := hex.DecodeString(v); err == nil && len(b) == 4 {
			return Checksum{Alg: "adler32", Hex: strings.ToLower(v)}
		}
		if b, err := base64.StdEncoding.DecodeString(v); err == nil && len(b) == 4 {
			return Checksum{Alg: "adler32", Hex: fmt.Sprintf("%08x", binary.BigEndian.Uint32(b))}
		}
	}
	return Checksum{}
}

// FileURLPath is the URL path of lfn's bytes (each component escaped).
func FileURLPath(lfn string) string {
	parts := strings.Split(strings.TrimPrefix(lfn, "/"), "/")
	for i, p := range parts {
		parts[i] = pathEscape(p)
	}
	return FilesPath + "/" + strings.Join(parts, "/")
}

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	Error string `json:"error"`
}
