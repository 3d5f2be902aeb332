package mss

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/minio/minio-go/v7"
)

func TestS3Key(t *testing.T) {
	for _, tc := range []struct {
		root, prefix, rfn, key string
	}{
		{"/mss", "frm", "/mss/a/b.dat", "frm/a/b.dat"},
		{"/mss/", "/frm/", "/mss/a/b.dat", "frm/a/b.dat"},
		{"/mss", "", "/mss/a/b.dat", "a/b.dat"},
		{"", "", "/a/b.dat", "a/b.dat"},
		{"/", "p", "/a/b.dat", "p/a/b.dat"},
		{"", "site/frm", "/x y/'q';$(z).dat", "site/frm/x y/'q';$(z).dat"},
		{"s3://bucket/root", "", "s3://bucket/root/a", "a"},
		{"/mss", "", "/mssx/a", ""},         // not below the root
		{"/mss", "", "/other/a", ""},        // not below the root
		{"/mss", "", "/mss", ""},            // the root itself
		{"/mss", "", "/mss/", ""},           // no object
		{"/mss", "", "/mss/dir/", ""},       // a "directory"
		{"", "", "", ""},                    // empty
		{"/mss", "p", "/mss//a//b", ""},     // not clean
		{"/mss", "p", "/mss/a/../../b", ""}, // not clean
		{"/mss", "p", "/mss/./a", ""},       // not clean
		{"", "", "a/b", ""},                 // relative
	} {
		s, err := NewS3(S3Options{Bucket: "b", Endpoint: "localhost:1", Prefix: tc.prefix, RemoteRoot: tc.root})
		if err != nil {
			t.Fatal(err)
		}
		key, err := s.Key(tc.rfn)
		if tc.key == "" {
			if !errors.Is(err, ErrBadName) || !IsPermanent(err) {
				t.Errorf("root %q Key(%q) = %q, %v; want ErrBadName", tc.root, tc.rfn, key, err)
			}
			continue
		}
		if err != nil || key != tc.key {
			t.Errorf("root %q prefix %q Key(%q) = %q, %v; want %q", tc.root, tc.prefix, tc.rfn, key, err, tc.key)
		}
	}
}

func TestNewS3Options(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    S3Options
		ok   bool
	}{
		{"plain", S3Options{Bucket: "b", Endpoint: "host:9000"}, true},
		{"https url", S3Options{Bucket: "b", Endpoint: "https://host:9000"}, true},
		{"http url", S3Options{Bucket: "b", Endpoint: "http://host"}, true},
		{"aws default", S3Options{Bucket: "b"}, true},
		{"no bucket", S3Options{Endpoint: "host"}, false},
		{"bad scheme", S3Options{Bucket: "b", Endpoint: "ftp://host"}, false},
		{"url without host", S3Options{Bucket: "b", Endpoint: "http://"}, false},
		{"small parts", S3Options{Bucket: "b", PartSize: MinPartSize - 1}, false},
		{"min parts", S3Options{Bucket: "b", PartSize: MinPartSize}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewS3(tc.o)
			if (err == nil) != tc.ok {
				t.Fatalf("NewS3 = %v", err)
			}
			if err != nil && !IsPermanent(err) {
				t.Errorf("error not permanent: %v", err)
			}
			if err == nil && tc.o.PartSize == 0 && s.partSize != DefaultPartSize {
				t.Errorf("part size %d, want the default", s.partSize)
			}
		})
	}
	s, _ := NewS3(S3Options{Bucket: "b", Endpoint: "https://host:9000"})
	if u := s.c.EndpointURL(); u.Scheme != "https" || u.Host != "host:9000" {
		t.Errorf("endpoint %v", u)
	}
}

func TestClassifyS3(t *testing.T) {
	resp := func(code string, status int) error {
		return fmt.Errorf("op: %w", minio.ErrorResponse{Code: code, StatusCode: status})
	}
	for _, tc := range []struct {
		name string
		err  error
		want class
	}{
		{"NoSuchKey", resp("NoSuchKey", 404), classNotExist},
		{"NoSuchBucket", resp("NoSuchBucket", 404), classOutage},
		{"versitygw unknown access key", resp("XAdminUserNotFound", 404), classOutage},
		{"unknown 404", resp("Weird", 404), classPermanent},
		{"AccessDenied", resp("AccessDenied", 403), classOutage},
		{"unknown 403", resp("Weird", 403), classOutage},
		{"InvalidBucketName", resp("InvalidBucketName", 400), classOutage},
		{"SignatureDoesNotMatch", resp("SignatureDoesNotMatch", 403), classOutage},
		{"SlowDown", resp("SlowDown", 503), classTransient},
		{"ExistingObjectIsDirectory", resp("ExistingObjectIsDirectory", 409), classTransient},
		{"InternalError", resp("InternalError", 500), classTransient},
		{"unknown 502", resp("502 Bad Gateway", 502), classTransient},
		{"429", resp("TooManyRequests", 429), classTransient},
		{"RequestTimeout", resp("RequestTimeout", 400), classTransient},
		{"unknown 400", resp("Weird", 400), classPermanent},
		{"connection refused", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, classOutage},
		{"no such host", &net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "s3.example"}}, classOutage},
		{"no route", &net.OpError{Op: "dial", Err: syscall.EHOSTUNREACH}, classOutage},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), classTransient},
		{"unexpected EOF", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), classTransient},
		{"ENOSPC writing dst", fmt.Errorf("write: %w", syscall.ENOSPC), classPermanent},
		{"unknown", errors.New("something"), 0},
	} {
		if got := classOf(classifyS3(tc.err)); got != tc.want {
			t.Errorf("%s: class %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestMetaChecksum(t *testing.T) {
	md := minio.StringMap{
		"Frm-Cks-Md5":     "ABCDEF0123456789abcdef0123456789",
		"Frm-Cks-Adler32": "0a0b0c0d",
		"Frm-Cks-Nope":    "00",
		"Frm-Mtime":       "1",
		"Other":           "x",
	}
	if c := metaChecksum(md, "adler32"); c == nil || *c != (Checksum{"adler32", "0a0b0c0d"}) {
		t.Errorf("prefer adler32: %v", c)
	}
	if c := metaChecksum(md, "md5"); c == nil || *c != (Checksum{"md5", "abcdef0123456789abcdef0123456789"}) {
		t.Errorf("prefer md5: %v", c)
	}
	if c := metaChecksum(md, "crc32"); c == nil || c.Alg != "adler32" {
		t.Errorf("no preferred: %v (want the first by name)", c)
	}
	if c := metaChecksum(minio.StringMap{"frm-cks-adler32": ""}, "adler32"); c != nil {
		t.Errorf("empty value: %v", c)
	}
}
