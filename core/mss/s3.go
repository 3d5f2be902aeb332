package mss

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3 defaults and limits.
const (
	// DefaultPartSize is the multipart part size when none is configured.
	DefaultPartSize = 64 << 20
	// MinPartSize is the smallest part S3 accepts (except the last).
	MinPartSize = 5 << 20
	// s3Threads is the number of parts of one upload in flight; each
	// holds a part-sized buffer.
	s3Threads = 2
	// s3Tries is minio-go's own per-request tries: one. Retries are the
	// transfer engine's (transfer.retries, package retry), in one place,
	// so a failing MSS is tried as often as the configuration says and
	// not that many times three.
	s3Tries = 1
)

// User metadata keys (sent as X-Amz-Meta-<key>).
const (
	// s3MetaChecksum + alg holds the hex checksum of the object's data.
	s3MetaChecksum = "frm-cks-"
	// s3MetaMtime holds the source file's mtime (Unix nanoseconds).
	s3MetaMtime = "frm-mtime"
)

// S3Options configures an S3 backend.
type S3Options struct {
	// Endpoint is "host[:port]" or "http(s)://host[:port]" (the scheme
	// then decides Secure); "" means s3.amazonaws.com over TLS.
	Endpoint string
	Bucket   string
	// Prefix is prepended to the lfn path to form the key: Prefix "frm"
	// and lfn "/a/b" give the key "frm/a/b"; no prefix gives "a/b".
	Prefix    string
	Region    string
	AccessKey string // "" = AWS_ACCESS_KEY_ID from the environment
	SecretKey string // "" = AWS_SECRET_ACCESS_KEY from the environment
	Secure    bool
	// PartSize is the multipart part size (default 64 MiB, at least
	// 5 MiB). Files larger than one part are uploaded in parts.
	PartSize int64
	// RemoteRoot is stripped from an rfn to get its lfn path ("" = the
	// rfn is the lfn).
	RemoteRoot string
	// StatAlg is the checksum algorithm Stat prefers when several are
	// recorded (default adler32).
	StatAlg string
	// Transport overrides the HTTP transport (tests).
	Transport http.RoundTripper
}

// S3 is the backend for an S3-compatible object store (minio-go v7).
//
// Names: the rfn's path below RemoteRoot (the lfn) maps to the key
// Prefix + lfn, e.g. RemoteRoot "/mss", Prefix "frm", rfn "/mss/a/b.dat"
// → key "frm/a/b.dat". An rfn outside RemoteRoot, or whose lfn is not a
// clean absolute path ("//", "/./", "/../", a trailing "/"), is
// ErrBadName.
//
// Store computes the checksum in a first pass over the local file, then
// uploads it with PutObject in one go: a single PUT up to PartSize, a
// multipart upload (completed only when every part arrived) above it;
// either way the object appears whole or not at all. The checksum and the
// source's mtime travel as user metadata ("frm-cks-<alg>", "frm-mtime")
// of that same request, so there is never an object without its
// checksum. (The alternative, uploading while hashing and then attaching
// the metadata with CopyObject, would rewrite the object server side — a
// multipart copy above 5 GiB — and leave a window where the object has no
// checksum.) Reading the local file twice costs local disk bandwidth
// only, and the upload reads through an io.SectionReader so minio-go can
// upload parts in parallel and retry a part. If the source's size or
// mtime changed between the first pass and the end of the upload, the
// new object is removed and Store fails with ErrModified.
//
// Fetch streams GetObject into a temporary file next to dst through a
// hashing writer and renames it into place; a recorded checksum is
// verified (mismatch: ErrChecksumMismatch, Permanent), as is the size.
// dst gets the source mtime recorded at Store (else the object's
// LastModified).
//
// Errors: NoSuchKey → NotExist; network errors, HTTP 5xx, 429, SlowDown,
// RequestTimeout → Transient; AccessDenied, InvalidBucketName,
// NoSuchBucket, signature and other 4xx → Permanent. Because a HEAD
// response carries no error code, Stat confirms its first "not found"
// with a listing that would reveal a missing bucket or bad credentials.
//
// A cancelled multipart upload may leave an incomplete upload on the
// server; configure the bucket's AbortIncompleteMultipartUpload lifecycle
// rule.
type S3 struct {
	c        *minio.Client
	bucket   string
	prefix   string
	root     string
	partSize int64
	statAlg  string
	accessOK atomic.Bool // checkAccess succeeded once
}

var _ Backend = (*S3)(nil)

// NewS3 returns an S3 backend. It does not contact the server.
func NewS3(o S3Options) (*S3, error) {
	if o.Bucket == "" {
		return nil, Permanent(errors.New("mss s3: no bucket configured"))
	}
	endpoint, secure := o.Endpoint, o.Secure
	switch {
	case endpoint == "":
		endpoint, secure = "s3.amazonaws.com", true
	case strings.Contains(endpoint, "://"):
		u, err := url.Parse(endpoint)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, Permanent(fmt.Errorf("mss s3: bad endpoint %q (want host[:port] or http(s)://host[:port])", o.Endpoint))
		}
		endpoint, secure = u.Host, u.Scheme == "https"
	}
	ak, sk := o.AccessKey, o.SecretKey
	token := ""
	if ak == "" && sk == "" {
		ak, sk = os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
		token = os.Getenv("AWS_SESSION_TOKEN")
	}
	part := o.PartSize
	switch {
	case part == 0:
		part = DefaultPartSize
	case part < MinPartSize:
		return nil, Permanent(fmt.Errorf("mss s3: part size %d is below the S3 minimum of 5 MiB", part))
	}
	c, err := minio.New(endpoint, &minio.Options{
		Creds:      credentials.NewStaticV4(ak, sk, token),
		Secure:     secure,
		Region:     o.Region,
		Transport:  o.Transport,
		MaxRetries: s3Tries,
	})
	if err != nil {
		return nil, Permanent(fmt.Errorf("mss s3: %w", err))
	}
	alg := o.StatAlg
	if alg == "" {
		alg = "adler32"
	}
	root := o.RemoteRoot
	if root != "/" {
		root = strings.TrimRight(root, "/")
	}
	return &S3{
		c:        c,
		bucket:   o.Bucket,
		prefix:   strings.Trim(o.Prefix, "/"),
		root:     root,
		partSize: part,
		statAlg:  alg,
	}, nil
}

// Name returns "s3".
func (s *S3) Name() string { return "s3" }

// Properties: PUT and completed multipart uploads are atomic, checksums
// are recorded as user metadata, every key can be stat'ed and renamed.
func (s *S3) Properties() Properties {
	return Properties{AtomicStore: true, RecordsChecksum: true, CanStat: true, Rename: true}
}

// Key returns the object key of rfn.
func (s *S3) Key(rfn string) (string, error) {
	rest := rfn
	if s.root != "" && s.root != "/" {
		var ok bool
		rest, ok = strings.CutPrefix(rfn, s.root)
		if !ok || !strings.HasPrefix(rest, "/") {
			return "", Permanent(fmt.Errorf("%w: %q is not below the remote root %s", ErrBadName, rfn, s.root))
		}
	}
	if !strings.HasPrefix(rest, "/") || path.Clean(rest) != rest || rest == "/" {
		return "", Permanent(fmt.Errorf("%w: %q (want a clean absolute path below the remote root)", ErrBadName, rfn))
	}
	rest = rest[1:]
	if s.prefix == "" {
		return rest, nil
	}
	return s.prefix + "/" + rest, nil
}

// Stat describes the object of rfn (StatObject).
func (s *S3) Stat(ctx context.Context, rfn string) (Info, error) {
	key, err := s.Key(rfn)
	if err != nil {
		return Info{}, err
	}
	oi, err := s.c.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		err = s.err(ctx, "stat", key, err)
		if IsNotExist(err) {
			if aerr := s.checkAccess(ctx); aerr != nil {
				return Info{}, aerr
			}
		}
		return Info{}, err
	}
	return Info{Size: oi.Size, ModTime: objMtime(oi), Checksum: metaChecksum(oi.UserMetadata, s.statAlg)}, nil
}

// checkAccess makes sure a "not found" from StatObject means that. A HEAD
// response has no body, so minio-go reports any 404 as NoSuchKey: a
// missing bucket, or (versitygw) an unknown access key, would make every
// object look missing. Until it has once succeeded, a one-key listing of
// the prefix (a GET, whose error has a body) checks bucket and
// credentials.
func (s *S3) checkAccess(ctx context.Context) error {
	if s.accessOK.Load() {
		return nil
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for oi := range s.c.ListObjects(lctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix, MaxKeys: 1}) {
		if oi.Err != nil {
			err := s.err(ctx, "list", s.prefix, oi.Err)
			if IsNotExist(err) {
				err = Permanent(err)
			}
			return err
		}
		break
	}
	s.accessOK.Store(true)
	return nil
}

// objMtime returns the frm-mtime recorded at Store, else LastModified.
func objMtime(oi minio.ObjectInfo) time.Time {
	for k, v := range oi.UserMetadata {
		if strings.EqualFold(k, s3MetaMtime) {
			if ns, err := strconv.ParseInt(v, 10, 64); err == nil {
				return time.Unix(0, ns)
			}
		}
	}
	return oi.LastModified
}

// metaChecksum returns the checksum recorded in user metadata: prefer's
// if present, else the first supported one in key order.
func metaChecksum(md minio.StringMap, prefer string) *Checksum {
	var found []Checksum
	for k, v := range md {
		if len(k) <= len(s3MetaChecksum) || !strings.EqualFold(k[:len(s3MetaChecksum)], s3MetaChecksum) {
			continue
		}
		alg := strings.ToLower(k[len(s3MetaChecksum):])
		if _, err := newHashSet(alg); err != nil || v == "" {
			continue
		}
		found = append(found, Checksum{Alg: alg, Hex: strings.ToLower(v)})
	}
	if len(found) == 0 {
		return nil
	}
	sort.Slice(found, func(i, j int) bool { return found[i].Alg < found[j].Alg })
	for _, c := range found {
		if c.Alg == prefer {
			return &c
		}
	}
	return &found[0]
}

// Fetch streams the object to dst (see S3).
func (s *S3) Fetch(ctx context.Context, req Request, dst, alg string) (res Result, err error) {
	defer removeOnError(dst, &err)
	key, err := s.Key(req.RFN)
	if err != nil {
		return Result{}, err
	}
	if _, err := newHashSet(alg); err != nil {
		return Result{}, err
	}
	obj, err := s.c.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return Result{}, s.err(ctx, "get", key, err)
	}
	defer obj.Close()
	oi, err := obj.Stat()
	if err != nil {
		return Result{}, s.err(ctx, "get", key, err)
	}
	rec := metaChecksum(oi.UserMetadata, alg)
	var recAlg string
	if rec != nil {
		recAlg = rec.Alg
	}
	hs, err := newHashSet(alg, recAlg)
	if err != nil {
		return Result{}, err
	}
	af, err := createAtomic(dst)
	if err != nil {
		return Result{}, err
	}
	n, err := copyCtx(ctx, multiWriter{af.f, hs}, obj)
	if err == nil && n != oi.Size {
		err = Transient(fmt.Errorf("mss s3: get %s: got %d bytes of %d", key, n, oi.Size))
	}
	if err == nil {
		err = hs.verify(rec, "s3 object "+key)
	}
	if err != nil {
		af.abort()
		return Result{}, s.err(ctx, "get", key, err)
	}
	if err := af.commit(0o644, objMtime(oi), false, nil); err != nil {
		return Result{}, err
	}
	return Result{Bytes: n, Checksum: hs.sum(alg)}, nil
}

// Store uploads src (see S3).
func (s *S3) Store(ctx context.Context, req Request, src, alg string) (Result, error) {
	key, err := s.Key(req.RFN)
	if err != nil {
		return Result{}, err
	}
	f, st, err := openSource("s3", src)
	if err != nil {
		return Result{}, err
	}
	defer f.Close()
	hs, err := newHashSet(alg)
	if err != nil {
		return Result{}, err
	}
	if alg != "" {
		if _, err := copyCtx(ctx, hs, io.NewSectionReader(f, 0, st.Size())); err != nil {
			if ctx.Err() != nil {
				return Result{}, fmt.Errorf("mss s3: checksum %s: %w", src, ctx.Err())
			}
			return Result{}, classifyErrno(fmt.Errorf("mss s3: checksum %s: %w", src, err), false)
		}
	}
	cks := hs.sum(alg)
	md := map[string]string{s3MetaMtime: strconv.FormatInt(st.ModTime().UnixNano(), 10)}
	if cks != nil {
		md[s3MetaChecksum+alg] = cks.Hex
	}
	_, err = s.c.PutObject(ctx, s.bucket, key, io.NewSectionReader(f, 0, st.Size()), st.Size(), minio.PutObjectOptions{
		PartSize:     uint64(s.partSize),
		NumThreads:   s3Threads,
		UserMetadata: md,
		ContentType:  "application/octet-stream",
	})
	if err != nil {
		return Result{}, s.err(ctx, "put", key, err)
	}
	if after, err := f.Stat(); err != nil || changed(st, after) {
		// The object may hold a mix of versions and carries the checksum
		// of the old one: do not leave it behind.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		s.c.RemoveObject(rctx, s.bucket, key, minio.RemoveObjectOptions{})
		return Result{}, Transient(fmt.Errorf("%w: %s", ErrModified, src))
	}
	return Result{Bytes: st.Size(), Checksum: cks}, nil
}

// Remove deletes the object of rfn; a missing object is not an error.
func (s *S3) Remove(ctx context.Context, rfn string) error {
	key, err := s.Key(rfn)
	if err != nil {
		return err
	}
	err = s.c.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{})
	if err = s.err(ctx, "remove", key, err); IsNotExist(err) {
		return nil
	}
	return err
}

// Probe implements Prober: the endpoint answers, accepts our credentials
// and has the bucket.
func (s *S3) Probe(ctx context.Context) error {
	ok, err := s.c.BucketExists(ctx, s.bucket)
	if err != nil {
		return s.err(ctx, "probe", "", err)
	}
	if !ok {
		return Outage(fmt.Errorf("mss s3: bucket %s does not exist", s.bucket))
	}
	return nil
}

// Rename gives the object of from the key of to: a server-side copy
// (ComposeObject: one CopyObject up to 5 GiB, a multipart copy above it;
// either way the new object appears whole, with the source's user
// metadata, so the recorded checksum and mtime go along), then the
// removal of from. S3 has no rename and no portable "copy unless the
// destination exists": an existing to is refused after a HEAD, so a store
// to the same key racing with the rename could be replaced. The copy is
// pinned to the ETag the source had when looked at, so a source replaced
// meanwhile fails the copy instead of being copied half old, half new.
//
// If the removal fails the object exists under both keys and the error
// is returned; a retry finds to already holding the same object (see
// sameObject) and only removes from.
func (s *S3) Rename(ctx context.Context, from, to string) error {
	src, err := s.Key(from)
	if err != nil {
		return err
	}
	dst, err := s.Key(to)
	if err != nil {
		return err
	}
	si, err := s.c.StatObject(ctx, s.bucket, src, minio.StatObjectOptions{})
	if err != nil {
		err = s.err(ctx, "rename: stat", src, err)
		if IsNotExist(err) {
			if aerr := s.checkAccess(ctx); aerr != nil {
				return aerr
			}
		}
		return err
	}
	di, err := s.c.StatObject(ctx, s.bucket, dst, minio.StatObjectOptions{})
	switch err = s.err(ctx, "rename: stat", dst, err); {
	case err == nil && sameObject(si, di):
		// An earlier attempt copied it and failed to remove the source.
	case err == nil:
		return Permanent(fmt.Errorf("mss s3: rename %s/%s to %s: %w", s.bucket, src, dst, ErrExist))
	case !IsNotExist(err):
		return err
	default:
		_, err = s.c.ComposeObject(ctx,
			minio.CopyDestOptions{Bucket: s.bucket, Object: dst},
			minio.CopySrcOptions{Bucket: s.bucket, Object: src, MatchETag: si.ETag})
		if err != nil {
			return s.err(ctx, "rename: copy to "+dst+" from", src, err)
		}
	}
	if err := s.c.RemoveObject(ctx, s.bucket, src, minio.RemoveObjectOptions{}); err != nil {
		return s.err(ctx, "rename: remove (the copy "+dst+" is made)", src, err)
	}
	return nil
}

// sameObject reports whether b is a server-side copy of a: the same size
// and either the same ETag (a single-part copy) or the same recorded
// checksum and mtime (a multipart copy gets an ETag of its own).
func sameObject(a, b minio.ObjectInfo) bool {
	if a.Size != b.Size {
		return false
	}
	if a.ETag == b.ETag {
		return true
	}
	ca, cb := metaChecksum(a.UserMetadata, ""), metaChecksum(b.UserMetadata, "")
	return ca != nil && cb != nil && *ca == *cb && objMtime(a).Equal(objMtime(b))
}

// err adds context to err and classifies it (see S3).
func (s *S3) err(ctx context.Context, op, key string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("mss s3: %s %s/%s: %w", op, s.bucket, key, ctx.Err())
	}
	if classOf(err) != 0 {
		return err
	}
	e := fmt.Errorf("mss s3: %s %s/%s: %w", op, s.bucket, key, err)
	return classifyS3(e)
}

// classifyS3 classifies an error from minio-go.
func classifyS3(err error) error {
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		switch er.Code {
		case "NoSuchKey", "NotFound", "NoSuchVersion":
			return NotExist(err)
		// PreconditionFailed: the object changed between the reads of one
		// GET (minio-go pins later reads to the first ETag), as when a
		// store finishes meanwhile; reading again gets the new version.
		// ExistingObjectIsDirectory (409, versitygw's posix store): the
		// store could not create the object's parent directory or link
		// the object in, because a concurrent delete was pruning that
		// parent as empty; the next attempt succeeds. A real directory in
		// the way fails again on every retry and then for good.
		case "PreconditionFailed", "SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout",
			"RequestTimeTooSkewed", "OperationAborted", "XMinioServerNotInitialized", "503 SlowDown",
			"ExistingObjectIsDirectory":
			return Transient(err)
		// Refusals of us rather than of the object: wrong or rotated
		// credentials, a bucket that is gone. (AccessDenied may be one
		// object's policy: the daemon probes the bucket before it pauses,
		// and a good probe makes the error the file's own.) versitygw
		// answers an unknown access key with 404 XAdminUserNotFound.
		case "AccessDenied", "NoSuchBucket", "InvalidAccessKeyId", "SignatureDoesNotMatch",
			"InvalidBucketName", "XAdminUserNotFound", "ExpiredToken", "InvalidToken", "AccountProblem":
			return Outage(err)
		case "EntityTooLarge", "EntityTooSmall", "InvalidArgument",
			"MethodNotAllowed", "NotImplemented", "InvalidRequest", "KeyTooLongError":
			return Permanent(err)
		}
		// An unknown code with status 404 is not taken as "no such key":
		// versitygw answers an unknown access key with 404
		// XAdminUserNotFound, and a configuration error must not make
		// every file look missing.
		switch s := er.StatusCode; {
		case s == http.StatusTooManyRequests || s == http.StatusRequestTimeout || s >= 500:
			return Transient(err)
		case s == http.StatusUnauthorized || s == http.StatusForbidden:
			return Outage(err)
		case s >= 400:
			return Permanent(err)
		}
	}
	// The endpoint cannot be reached or trusted at all: no name, no
	// route, nobody listening, a certificate we refuse.
	var cve *tls.CertificateVerificationError
	var dns *net.DNSError
	if errors.As(err, &cve) || errors.As(err, &dns) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) {
		return Outage(err)
	}
	// syscall.Errno is a net.Error too: let the errno decide first, so
	// ENOSPC writing dst stays permanent.
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if c := classifyErrno(err, false); classOf(c) != 0 {
			return c
		}
	}
	var oe *net.OpError
	var ue *url.Error
	var ne net.Error
	if errors.As(err, &oe) || errors.As(err, &ue) || (errors.As(err, &ne) && ne.Timeout()) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return Transient(err)
	}
	return classifyErrno(err, false)
}
