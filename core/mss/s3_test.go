package mss_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"frm/core/mss"
	"frm/core/mss/msstest"
	"frm/core/retry"
)

const (
	s3Access = "frmtestaccess"
	s3Secret = "frmtestsecret0123456789"
	s3Bucket = "frm-test"
	s3Root   = "/mss"
	s3Prefix = "site/frm"
)

// versitygwBinary finds the versitygw binary: $VERSITYGW, then PATH,
// then $(go env GOPATH)/bin.
func versitygwBinary() string {
	if p := os.Getenv("VERSITYGW"); p != "" {
		return p
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			gopath = strings.TrimSpace(string(out))
		}
	}
	for _, dir := range filepath.SplitList(gopath) {
		p := filepath.Join(dir, "bin", "versitygw")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

// gateway is a versitygw server run by a test.
type gateway struct {
	endpoint string // host:port
	dir      string // posix backend directory
	client   *minio.Client
}

// startGateway starts versitygw on 127.0.0.1 with a posix backend in a
// temporary directory and creates the test bucket. Without the binary the
// test is skipped, or fails when FRM_REQUIRE_S3=1 (CI).
func startGateway(t *testing.T) *gateway {
	t.Helper()
	bin := versitygwBinary()
	if bin == "" {
		msg := "versitygw not found ($VERSITYGW, PATH, $(go env GOPATH)/bin); install it with .ci/versitygw.sh " +
			"(go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)"
		if os.Getenv("FRM_REQUIRE_S3") == "1" {
			t.Fatal(msg + "; FRM_REQUIRE_S3=1 forbids skipping")
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		var out bytes.Buffer
		cmd := exec.Command(bin, "--access", s3Access, "--secret", s3Secret, "--port", addr, "--quiet", "posix", dir)
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.Env = append(os.Environ(), "VGW_LOG_LEVEL=silent")
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", bin, err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		stop := func() {
			cmd.Process.Kill()
			<-exited
		}
		if err := waitListening(addr, exited); err != nil {
			stop()
			lastErr = fmt.Errorf("%v; output:\n%s", err, out.String())
			continue // the port may have been taken meanwhile
		}
		t.Cleanup(func() {
			stop()
			if t.Failed() && out.Len() > 0 {
				t.Logf("versitygw output:\n%s", out.String())
			}
		})
		c, err := minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4(s3Access, s3Secret, "")})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.MakeBucket(context.Background(), s3Bucket, minio.MakeBucketOptions{}); err != nil {
			t.Fatalf("MakeBucket: %v", err)
		}
		return &gateway{endpoint: addr, dir: dir, client: c}
	}
	t.Fatalf("versitygw did not start: %v", lastErr)
	return nil
}

func waitListening(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("versitygw exited")
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("versitygw is not listening after 20s")
}

func (g *gateway) options() mss.S3Options {
	return mss.S3Options{
		Endpoint:   "http://" + g.endpoint,
		Bucket:     s3Bucket,
		Prefix:     s3Prefix,
		AccessKey:  s3Access,
		SecretKey:  s3Secret,
		PartSize:   mss.MinPartSize, // 5 MiB: the 20 MiB file goes multipart
		RemoteRoot: s3Root,
	}
}

func (g *gateway) backend(t *testing.T) *mss.S3 {
	t.Helper()
	b, err := mss.NewS3(g.options())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func s3RFN(lfn string) string { return s3Root + lfn }

func TestS3Conformance(t *testing.T) {
	g := startGateway(t)
	b := g.backend(t)
	msstest.Run(t, b, s3RFN)
	// Nothing but the bucket's own metadata is left behind. A store the
	// suite cancelled may still be completed by the server after the
	// suite removed its name (the client went away once the whole body
	// was sent): the suite allows that complete object, so it is not
	// counted here.
	res := g.client.ListObjects(context.Background(), s3Bucket, minio.ListObjectsOptions{Recursive: true})
	for oi := range res {
		if oi.Err == nil && !strings.HasSuffix(oi.Key, "/msstest/cancel/fresh.dat") {
			t.Errorf("object left behind: %s", oi.Key)
		}
	}
}

// TestS3Layout: keys, user metadata and multipart uploads as documented.
func TestS3Layout(t *testing.T) {
	g := startGateway(t)
	b := g.backend(t)
	ctx := context.Background()
	mt := time.Date(2021, 2, 3, 4, 5, 6, 789, time.UTC)
	for _, tc := range []struct {
		name      string
		size      int
		multipart bool
	}{{"single", 1000, false}, {"multipart", 3*mss.MinPartSize + 17, true}} {
		t.Run(tc.name, func(t *testing.T) {
			lfn := "/store/" + tc.name + ".dat"
			src := filepath.Join(t.TempDir(), "src")
			p := bytes.Repeat([]byte("frm!"), tc.size/4+1)[:tc.size]
			os.WriteFile(src, p, 0o644)
			os.Chtimes(src, mt, mt)
			res, err := b.Store(ctx, mss.Request{LFN: lfn, RFN: s3RFN(lfn)}, src, "adler32")
			if err != nil {
				t.Fatal(err)
			}
			key := s3Prefix + lfn
			oi, err := g.client.StatObject(ctx, s3Bucket, key, minio.StatObjectOptions{})
			if err != nil {
				t.Fatalf("object %s: %v", key, err)
			}
			if got := lookupMeta(oi.UserMetadata, "frm-cks-adler32"); got != res.Checksum.Hex {
				t.Errorf("frm-cks-adler32 = %q, want %q (metadata %v)", got, res.Checksum.Hex, oi.UserMetadata)
			}
			if isMP := strings.Contains(oi.ETag, "-"); isMP != tc.multipart {
				t.Errorf("ETag %q: multipart %v, want %v", oi.ETag, isMP, tc.multipart)
			}
			if _, err := os.Stat(filepath.Join(g.dir, s3Bucket, key)); err != nil {
				t.Errorf("posix backend file: %v", err)
			}
			info, err := b.Stat(ctx, s3RFN(lfn))
			if err != nil || !info.ModTime.Equal(mt) || info.Size != int64(tc.size) {
				t.Errorf("Stat = %+v, %v; want mtime %v", info, err, mt)
			}
			dst := filepath.Join(t.TempDir(), "dst")
			if _, err := b.Fetch(ctx, mss.Request{RFN: s3RFN(lfn)}, dst, ""); err != nil {
				t.Fatal(err)
			}
			if st, _ := os.Stat(dst); !st.ModTime().Equal(mt) {
				t.Errorf("fetched file mtime %v, want %v", st.ModTime(), mt)
			}
		})
	}
}

func lookupMeta(md minio.StringMap, key string) string {
	for k, v := range md {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}

// TestS3FetchVerifies: an object whose recorded checksum does not match
// its data fails the fetch permanently and leaves no dst.
func TestS3FetchVerifies(t *testing.T) {
	g := startGateway(t)
	b := g.backend(t)
	ctx := context.Background()
	key := s3Prefix + "/bad.dat"
	data := []byte("some data")
	_, err := g.client.PutObject(ctx, s3Bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{
		UserMetadata: map[string]string{"frm-cks-adler32": "00000001"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range []string{"", "adler32", "md5"} {
		dst := filepath.Join(t.TempDir(), "dst")
		_, err := b.Fetch(ctx, mss.Request{RFN: s3RFN("/bad.dat")}, dst, alg)
		if !errors.Is(err, mss.ErrChecksumMismatch) || !mss.IsPermanent(err) {
			t.Errorf("alg %q: err = %v, want a permanent checksum mismatch", alg, err)
		}
		if _, err := os.Stat(dst); err == nil {
			t.Errorf("alg %q: dst left after a failed fetch", alg)
		}
	}
	// Without a record the object fetches fine and gets LastModified.
	g.client.PutObject(ctx, s3Bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{})
	dst := filepath.Join(t.TempDir(), "dst")
	if res, err := b.Fetch(ctx, mss.Request{RFN: s3RFN("/bad.dat")}, dst, "adler32"); err != nil || res.Bytes != int64(len(data)) {
		t.Errorf("Fetch = %+v, %v", res, err)
	}
	if info, err := b.Stat(ctx, s3RFN("/bad.dat")); err != nil || info.Checksum != nil || time.Since(info.ModTime) > time.Hour {
		t.Errorf("Stat = %+v, %v", info, err)
	}
}

// TestS3ErrorClasses: errors about the MSS as a whole — wrong credentials,
// a missing bucket, a server that is down — are outages (the daemon pauses
// instead of failing every file), for every operation and for the probe;
// a working configuration probes fine.
func TestS3ErrorClasses(t *testing.T) {
	g := startGateway(t)
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "src")
	os.WriteFile(src, []byte("x"), 0o644)

	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := l.Addr().String()
	l.Close()

	for _, tc := range []struct {
		name  string
		mod   func(*mss.S3Options)
		class func(error) bool
	}{
		{"wrong secret", func(o *mss.S3Options) { o.SecretKey = "wrong" }, mss.IsOutage},
		{"unknown access key", func(o *mss.S3Options) { o.AccessKey = "nobody" }, mss.IsOutage},
		{"missing bucket", func(o *mss.S3Options) { o.Bucket = "no-such-bucket" }, mss.IsOutage},
		{"server down", func(o *mss.S3Options) { o.Endpoint = closed }, mss.IsOutage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := g.options()
			tc.mod(&o)
			b, err := mss.NewS3(o)
			if err != nil {
				t.Fatal(err)
			}
			_, err = b.Store(ctx, mss.Request{RFN: s3RFN("/e.dat")}, src, "")
			if !tc.class(err) {
				t.Errorf("Store: %v (transient %v permanent %v)", err, mss.IsTransient(err), mss.IsPermanent(err))
			}
			dst := filepath.Join(t.TempDir(), "dst")
			if _, err := b.Fetch(ctx, mss.Request{RFN: s3RFN("/e.dat")}, dst, ""); !tc.class(err) {
				t.Errorf("Fetch: %v", err)
			}
			// A configuration error must not look like a missing object.
			if _, err := b.Stat(ctx, s3RFN("/e.dat")); !tc.class(err) || mss.IsNotExist(err) {
				t.Errorf("Stat: %v", err)
			}
			if err := b.Remove(ctx, s3RFN("/e.dat")); !tc.class(err) {
				t.Errorf("Remove: %v", err)
			}
			if _, err := os.Stat(dst); err == nil {
				t.Error("dst left after a failed fetch")
			}
			if err := b.Probe(ctx); !mss.IsOutage(err) {
				t.Errorf("Probe: %v", err)
			}
		})
	}
	b, err := mss.NewS3(g.options())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Probe(ctx); err != nil {
		t.Errorf("Probe of a working configuration: %v", err)
	}
}

// TestS3EnvCredentials: without keys in the options the AWS environment
// variables are used.
func TestS3EnvCredentials(t *testing.T) {
	g := startGateway(t)
	t.Setenv("AWS_ACCESS_KEY_ID", s3Access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3Secret)
	t.Setenv("AWS_SESSION_TOKEN", "")
	o := g.options()
	o.AccessKey, o.SecretKey = "", ""
	b, err := mss.NewS3(o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Stat(context.Background(), s3RFN("/none")); !mss.IsNotExist(err) {
		t.Errorf("Stat with environment credentials: %v", err)
	}
}

// TestS3ParallelBackends: several backends (as several daemons) on one
// bucket. The transfer engine retries transient errors (package retry),
// and so does this test: versitygw's posix store can answer "Existing
// Object is a directory" (ExistingObjectIsDirectory, 409) while a
// concurrent Remove prunes a shared parent directory, a gateway race that
// a retry resolves (classified transient for that reason).
func TestS3ParallelBackends(t *testing.T) {
	g := startGateway(t)
	var wg sync.WaitGroup
	policy := retry.Policy{Retries: 3, Base: 50 * time.Millisecond}
	ctx := context.Background()
	for i := range 4 {
		b := g.backend(t)
		src := filepath.Join(t.TempDir(), "src")
		os.WriteFile(src, bytes.Repeat([]byte{byte(i)}, 1<<20), 0o644)
		wg.Go(func() {
			rfn := s3RFN(fmt.Sprintf("/par/%d.dat", i))
			if _, err := policy.Do(ctx, func(ctx context.Context) error {
				_, err := b.Store(ctx, mss.Request{RFN: rfn}, src, "md5")
				return err
			}, mss.IsTransient, nil); err != nil {
				t.Errorf("Store: %v", err)
			}
			if _, err := policy.Do(ctx, func(ctx context.Context) error { return b.Remove(ctx, rfn) }, mss.IsTransient, nil); err != nil {
				t.Errorf("Remove: %v", err)
			}
		})
	}
	wg.Wait()
}

// TestS3RenameResumes: a rename whose copy was made but whose removal of
// the old key failed (both keys hold the object) completes when tried
// again; a multipart object keeps its metadata through the copy.
func TestS3RenameResumes(t *testing.T) {
	g := startGateway(t)
	b := g.backend(t)
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "src")
	p := bytes.Repeat([]byte("frm!"), (2*mss.MinPartSize+3)/4)
	os.WriteFile(src, p, 0o644)
	res, err := b.Store(ctx, mss.Request{RFN: s3RFN("/r/old.dat")}, src, "adler32")
	if err != nil {
		t.Fatal(err)
	}
	// The state an interrupted Rename leaves: the same object under both keys.
	if _, err := g.client.CopyObject(ctx, minio.CopyDestOptions{Bucket: s3Bucket, Object: s3Prefix + "/r/new.dat"},
		minio.CopySrcOptions{Bucket: s3Bucket, Object: s3Prefix + "/r/old.dat"}); err != nil {
		t.Fatal(err)
	}
	if err := b.Rename(ctx, s3RFN("/r/old.dat"), s3RFN("/r/new.dat")); err != nil {
		t.Fatalf("Rename after an interrupted one: %v", err)
	}
	if _, err := b.Stat(ctx, s3RFN("/r/old.dat")); !mss.IsNotExist(err) {
		t.Errorf("old key: %v, want IsNotExist", err)
	}
	info, err := b.Stat(ctx, s3RFN("/r/new.dat"))
	if err != nil || info.Size != int64(len(p)) || info.Checksum == nil || info.Checksum.Hex != res.Checksum.Hex {
		t.Errorf("new key: %+v, %v; want the stored object with checksum %v", info, err, res.Checksum)
	}
}
