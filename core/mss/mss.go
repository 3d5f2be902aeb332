// Package mss defines the Mass Storage System seam: the small interface
// every MSS backend implements (posix tree, external copy commands, S3),
// its contract, and error classes.
//
// # Backends
//
//   - Posix: RemoteRoot is a mounted tree; rfns are full paths under it.
//     Transfers are done in process (temporary name, fsync, rename), the
//     source's mtime and permission bits are kept, checksums are recorded
//     as user.XrdCks.<alg> extended attributes.
//   - Command: xrootd's frm.xfr.copycmd model. An administrator-configured
//     program is run once per transfer with its argument vector expanded
//     element by element (never through a shell). See Command.
//   - S3: an S3-compatible object store through minio-go. See S3.
//
// Open builds the configured one. Every backend is safe for concurrent
// use. Decorators wrap a Backend instead of living inside each one; they
// implement Unwrap() Backend so optional capabilities can be discovered
// below them (see PropertiesOf, ProbeOf, RenamerOf). Retries are not a
// decorator: the transfer engine retries whole transfers with frm's one
// retry policy (package retry), as transfer.retries says.
//
// # Optional capabilities
//
// Beyond Backend, a backend may implement small optional interfaces
// (rclone's Copier, Mover ...), found by type assertion through the
// decorators: Renamer (RenamerOf) gives an MSS copy a new name without
// moving its data through frm; Prober (ProbeOf) tells whether the MSS as
// a whole is usable.
//
// # Errors
//
// Backends classify their errors with NotExist, Transient, Permanent and
// Outage; callers test with IsNotExist, IsTransient, IsPermanent and
// IsOutage to decide what to do: a missing object is not retried and
// reported as "file not found", a permanent error (of this file) is not
// retried, a transient one is retried with backoff, and an outage (the
// MSS as a whole: unreachable, refusing our credentials, its bucket or
// tree or copy program gone) pauses the transfers of its direction until
// a probe succeeds, failing no file. An unclassified error is treated as
// transient. An
// error caused by the caller's context being cancelled wraps ctx.Err() and
// is not classified; retrying it is pointless since the context is done.
package mss

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"frm/core/config"
	"frm/core/fedapi"
)

// Request is one transfer, as the daemons describe it (one queue record).
type Request struct {
	LFN, PFN, RFN string // logical, local physical, remote (MSS) names
	RID, TID      string // request id, trace id (requester)
	Priority      int
	Mode          byte   // 'r' or 'w' ($OFLAG); 0 means 'r'
	CGI           string // opaque "a=1&b=2" (without the '?')
}

// Checksum is a checksum value: the algorithm name as meta.NewHash knows
// it ("adler32", "crc32", "crc32c", "md5") and the value in lower-case
// hex.
type Checksum struct {
	Alg, Hex string
}

// String returns "alg:hex".
func (c Checksum) String() string { return c.Alg + ":" + c.Hex }

// Info describes the MSS copy of a file.
type Info struct {
	Size int64
	// ModTime is the modification time of the data: the source file's
	// mtime when Store could keep it (posix, S3 via metadata), else the
	// time the MSS copy was written.
	ModTime time.Time
	// Checksum is the checksum recorded with the object, when the MSS
	// records one (nil otherwise). A backend reports only a record that
	// is still valid for the object's current content as far as it can
	// tell.
	Checksum *Checksum
}

// Result reports a finished transfer.
type Result struct {
	Bytes int64 // bytes transferred (the file's size)
	// Checksum is the alg checksum of the transferred data when one was
	// asked for: computed on the fly while copying when the backend
	// streams the data itself, otherwise by reading the local file after
	// Fetch or before Store. Non-nil whenever alg != "" and the transfer
	// succeeded.
	Checksum *Checksum
	// Origin names where the data came from when not this site's own
	// MSS: the peer site a fetch downloaded it from ("" otherwise).
	Origin string
}

// Backend is a Mass Storage System. Implementations must be safe for
// concurrent use; concurrent transfers of different names must not
// interfere, and concurrent Stores of the same name must leave one of the
// versions (where the MSS allows atomic stores; see Properties).
//
// Every method honours ctx: when it is cancelled a transfer in progress is
// abandoned promptly and an error wrapping ctx.Err() is returned.
type Backend interface {
	// Name is a short backend name for logs ("posix", "command", "s3").
	Name() string

	// Stat describes the MSS copy of rfn. It MUST return an error
	// satisfying IsNotExist when there is none. A backend that cannot
	// know (a copy command without a local view of the MSS) returns an
	// error wrapping ErrNoStat, which callers treat as "unknown".
	Stat(ctx context.Context, rfn string) (Info, error)

	// Fetch copies req.RFN from the MSS into the local file dst, creating
	// or truncating it (and its parent directories). The caller chose
	// dst, a temporary name, and renames it later. On failure dst MUST
	// NOT exist when Fetch returns: a backend that streams the data
	// itself writes a temporary name next to dst and renames it into
	// place only on success; the command backend removes dst. A fetch of
	// a missing object fails with an error satisfying IsNotExist. alg
	// ("" = none) asks for a checksum of the data (Result.Checksum); when
	// the MSS recorded a checksum with the object, a backend that streams
	// the data verifies it and fails with ErrChecksumMismatch (Permanent)
	// on a mismatch. An algorithm meta.NewHash does not know is a
	// Permanent error (for Store too). Fetch need not make dst durable:
	// the caller does, for many fetched files at once (one syncfs).
	Fetch(ctx context.Context, req Request, dst string, alg string) (Result, error)

	// Store copies the local file src to req.RFN in the MSS, creating the
	// parent "directories" as needed and replacing an existing object. It
	// MUST be atomic from the MSS reader's point of view where the MSS
	// allows (posix: temporary name + fsync + rename; S3: a single PUT or
	// a completed multipart upload): a reader sees the old object or the
	// complete new one, never a part. If alg != "" the checksum is
	// computed (Result.Checksum) and, where the MSS can keep it, recorded
	// with the object (S3 user metadata "frm-cks-<alg>", posix
	// user.XrdCks.<alg> xattr) so a later Stat/Fetch can verify end to
	// end. If src changes while it is copied, Store fails with
	// ErrModified (Transient).
	Store(ctx context.Context, req Request, src string, alg string) (Result, error)

	// Remove deletes rfn; removing a missing object is not an error.
	Remove(ctx context.Context, rfn string) error
}

// Prober is implemented by backends that can tell whether the MSS as a
// whole is usable (reachable, our credentials accepted, the bucket or the
// tree there, the copy programs installed), independently of any file.
// Probe returns nil when it is, else an error classified Outage (or
// Transient for a passing fault). The transfer daemon probes after an
// Outage error: a probe that succeeds means the error was the file's own.
type Prober interface {
	Probe(ctx context.Context) error
}

// ProbeOf probes b (through decorators). probed is false when b cannot
// probe.
func ProbeOf(ctx context.Context, b Backend) (probed bool, err error) {
	for b != nil {
		if p, yes := b.(Prober); yes {
			return true, p.Probe(ctx)
		}
		u, yes := b.(Unwrapper)
		if !yes {
			break
		}
		b = u.Unwrap()
	}
	return false, nil
}

// Properties describes what a backend guarantees, as data (restic's
// backend Properties). Backends report them through the optional
// Describer interface; PropertiesOf finds them through decorators.
type Properties struct {
	// AtomicStore: Store is all or nothing for MSS readers, also when it
	// fails or is cancelled.
	AtomicStore bool
	// RecordsChecksum: Store(alg != "") records the checksum and Stat
	// reports it.
	RecordsChecksum bool
	// CanStat: Stat answers for every rfn (never ErrNoStat) and Remove
	// works.
	CanStat bool
	// Rename: the backend's Renamer can rename (the command backend only
	// with a rename command). See RenamerOf.
	Rename bool
}

// Describer is the optional interface through which a backend reports
// its Properties.
type Describer interface {
	Properties() Properties
}

// Unwrapper is implemented by decorators: Unwrap returns the wrapped
// backend.
type Unwrapper interface {
	Unwrap() Backend
}

// PropertiesOf returns the Properties of b, looking through decorators.
// A backend that does not describe itself gets the zero Properties (no
// guarantees).
func PropertiesOf(b Backend) Properties {
	for b != nil {
		if d, ok := b.(Describer); ok {
			return d.Properties()
		}
		u, ok := b.(Unwrapper)
		if !ok {
			break
		}
		b = u.Unwrap()
	}
	return Properties{}
}

// Renamer is the optional capability of a backend that can give an MSS
// copy a new name in place: a posix rename, an S3 server-side copy then
// delete, an administrator's rename command. frm renames a migrated
// file's copy when the file is renamed in the namespace, so the copy
// stays reachable under the new name (see site.Mv). Find it with
// RenamerOf.
type Renamer interface {
	// Rename gives the MSS copy from the name to, creating to's parent
	// "directories" as needed. It MUST NOT replace an existing to: that
	// fails with an error wrapping ErrExist (Permanent) where the backend
	// can tell, and with some error otherwise. A missing from fails with
	// an error satisfying IsNotExist. On success to has from's data,
	// size, mtime and recorded checksum (what Stat reported for from),
	// and from no longer exists. A failed Rename leaves from in place; it
	// may leave a complete copy under to as well (S3: the delete after
	// the copy failed), never a partial one where the MSS can promise it.
	// Retrying a Rename that failed is safe.
	Rename(ctx context.Context, from, to string) error
}

// RenamerOf returns the Renamer of b, looking through decorators: the
// outermost one in the chain, so a decorator's retries apply to renames
// too. ok is false when no backend in the chain implements Renamer, when
// a decorator without Unwrap hides it, or when the backend reports it
// cannot rename (Properties.Rename false: the command backend without a
// rename command).
func RenamerOf(b Backend) (r Renamer, ok bool) {
	if !PropertiesOf(b).Rename {
		return nil, false
	}
	for b != nil {
		if rn, isR := b.(Renamer); isR && r == nil {
			r = rn
		}
		u, isU := b.(Unwrapper)
		if !isU {
			// The innermost backend must implement it: a decorator's
			// Rename only forwards.
			_, base := b.(Renamer)
			return r, base && r != nil
		}
		b = u.Unwrap()
	}
	return nil, false
}

// Open builds the backend cfg.MSS.Backend names ("" is inferred as
// config.ApplyDefaults does: copy commands → command, a remote root →
// posix):
//
//   - posix: cfg.RemoteRoot is a mounted tree; rfns are full paths under
//     it.
//   - command: cfg.MSS.CopyIn / CopyOut (and the URL variants) with
//     cfg.MSS.CopyTimeout; a local directory as cfg.RemoteRoot lets Stat
//     and Remove work (see Command).
//   - s3: cfg.MSS.S3; the rfn's path under cfg.RemoteRoot (the lfn)
//     maps to the key Prefix + lfn; credentials from the config or
//     AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
//
// cfg.Checksum.Default is the algorithm Stat prefers when an object has
// several checksums recorded. Open adds no retries (see package retry).
func Open(cfg *config.Config) (Backend, error) { return OpenWith(cfg, OpenOptions{}) }

// Configured reports why cfg names no MSS backend Open could build (nil:
// it names one), without building it: a daemon checks this before it
// takes its lock. The backend's own settings (a bucket, the copy
// commands) are checked by Open.
func Configured(cfg *config.Config) error {
	kind, err := backendKind(cfg)
	if err != nil {
		if len(cfg.Peers) > 0 {
			return nil // its peers are its MSS
		}
		return err
	}
	switch kind {
	case "posix":
		if cfg.RemoteRoot == "" {
			return Permanent(errors.New("mss: the posix backend needs remote_root (the mounted MSS tree)"))
		}
	case "command", "s3":
	default:
		return Permanent(fmt.Errorf("mss: unknown backend %q (want posix, command or s3)", kind))
	}
	return nil
}

// backendKind is the backend cfg selects: mss.backend, else command when
// copy commands are given, else posix with a remote_root.
func backendKind(cfg *config.Config) (string, error) {
	if kind := cfg.MSS.Backend; kind != "" {
		return kind, nil
	}
	switch {
	case cfg.CopyCommands():
		return "command", nil
	case cfg.RemoteRoot != "":
		return "posix", nil
	}
	return "", Permanent(errors.New("mss: no MSS configured (mss.backend, remote_root and copy commands are all unset)"))
}

// OpenOptions are what a daemon adds to the configuration when it opens
// the MSS.
type OpenOptions struct {
	// GroupDir: see CommandOptions.GroupDir.
	GroupDir string
	// Log receives what the peers backend has to say (a peer that
	// served wrong bytes, a download resumed); nil discards it.
	Log *slog.Logger
}

// OpenWith is Open with o. A site with [[peer]]s gets its MSS followed
// by its peers (WithPeers); a site with peers and no MSS, the peers
// alone.
func OpenWith(cfg *config.Config, o OpenOptions) (Backend, error) {
	if len(cfg.Peers) == 0 {
		return openLocal(cfg, o)
	}
	var local Backend
	if _, err := backendKind(cfg); err == nil {
		if local, err = openLocal(cfg, o); err != nil {
			return nil, err
		}
	}
	peers, err := OpenPeers(cfg, o.Log)
	if err != nil {
		return nil, err
	}
	root := cfg.RemoteRoot
	return WithPeers(local, peers, func(rfn string) string {
		if root != "" && strings.HasPrefix(rfn, root+"/") {
			return rfn[len(root):]
		}
		return rfn
	}), nil
}

// OpenPeers builds the peers backend of cfg's [[peer]]s and [fetch]
// limits, reading each peer's token from its file or environment
// variable.
func OpenPeers(cfg *config.Config, log *slog.Logger) (*Peers, error) {
	var sites []PeerSite
	for _, pc := range cfg.Peers {
		c, err := PeerClient(pc)
		if err != nil {
			return nil, err
		}
		sites = append(sites, PeerSite{Name: pc.Name, Client: c})
	}
	f := cfg.Fetch
	return NewPeers(PeersOptions{Sites: sites, For: cfg.PeersFor, MaxDownloads: f.MaxDownloadsOrDefault(),
		RequestTimeout: f.RequestTimeoutOrDefault(), DownloadTimeout: f.DownloadTimeoutOrDefault(), Retries: f.RetriesOrDefault(), Log: log}), nil
}

// PeerClient returns a client of the peer pc, with its token read from
// its file or environment variable.
func PeerClient(pc config.Peer) (*fedapi.Client, error) {
	return PeerClientWith(pc, fedapi.ClientOptions{})
}

// PeerClientWith is PeerClient with o's other options (its token and CA
// are the peer's).
func PeerClientWith(pc config.Peer, o fedapi.ClientOptions) (*fedapi.Client, error) {
	token := ""
	switch {
	case pc.TokenFile != "":
		b, err := os.ReadFile(pc.TokenFile)
		if err != nil {
			return nil, Permanent(fmt.Errorf("peer %s: token: %w", pc.Name, err))
		}
		token = strings.TrimSpace(string(b))
	case pc.TokenEnv != "":
		token = os.Getenv(pc.TokenEnv)
		if token == "" {
			return nil, Permanent(fmt.Errorf("peer %s: token: $%s is empty or unset", pc.Name, pc.TokenEnv))
		}
	}
	o.Token, o.CAFile = token, pc.CAFile
	c, err := fedapi.NewClient(pc.URL, o)
	if err != nil {
		return nil, Permanent(fmt.Errorf("peer %s: %w", pc.Name, err))
	}
	return c, nil
}

func openLocal(cfg *config.Config, o OpenOptions) (Backend, error) {
	kind, err := backendKind(cfg)
	if err != nil {
		return nil, err
	}
	alg := strings.ToLower(cfg.Checksum.Default)
	if alg == "" {
		alg = config.DefaultChecksumAlg
	}
	switch kind {
	case "posix":
		if cfg.RemoteRoot == "" {
			return nil, Permanent(errors.New("mss: the posix backend needs remote_root (the mounted MSS tree)"))
		}
		return NewPosix(PosixOptions{Root: cfg.RemoteRoot, StatAlg: alg})
	case "command":
		return NewCommand(CommandOptions{
			CopyIn:          cfg.MSS.CopyIn,
			CopyOut:         cfg.MSS.CopyOut,
			CopyInURL:       cfg.MSS.CopyInURL,
			CopyOutURL:      cfg.MSS.CopyOutURL,
			Rename:          cfg.MSS.RenameCmd,
			Timeout:         time.Duration(cfg.MSS.CopyTimeout),
			RemoteRoot:      cfg.RemoteRoot,
			StatAlg:         alg,
			PermanentStatus: cfg.MSS.PermanentStatus,
			GroupDir:        o.GroupDir,
		})
	case "s3":
		s := cfg.MSS.S3
		return NewS3(S3Options{
			Endpoint:   s.Endpoint,
			Bucket:     s.Bucket,
			Prefix:     s.Prefix,
			Region:     s.Region,
			AccessKey:  s.AccessKey,
			SecretKey:  s.SecretKey,
			Secure:     s.Secure,
			PartSize:   int64(s.PartSize),
			RemoteRoot: cfg.RemoteRoot,
			StatAlg:    alg,
		})
	}
	return nil, Permanent(fmt.Errorf("mss: unknown backend %q (want posix, command or s3)", kind))
}
