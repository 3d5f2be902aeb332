package mss_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"frm/core/config"
	"frm/core/mss"
)

func TestOpen(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     config.Config
		want    string // Name(), "" = error
		canStat bool
	}{
		{"posix explicit", config.Config{RemoteRoot: "/mss", MSS: config.MSS{Backend: "posix"}}, "posix", true},
		{"posix implied", config.Config{RemoteRoot: "/mss"}, "posix", true},
		{"command implied", config.Config{RemoteRoot: "/mss", MSS: config.MSS{CopyIn: []string{"/bin/cp", "$SRC", "$DST"}}}, "command", false},
		{"command with rename", config.Config{RemoteRoot: "/mss", MSS: config.MSS{CopyIn: []string{"/bin/cp", "$SRC", "$DST"}, RenameCmd: []string{"/bin/mssmv", "$SRC", "$DST"}}}, "command", false},
		{"command url only", config.Config{MSS: config.MSS{Backend: "command", CopyInURL: []string{"/usr/bin/xrdcp", "$SRC", "$DST"}}}, "command", false},
		{"s3", config.Config{RemoteRoot: "/mss", MSS: config.MSS{Backend: "s3", S3: config.S3{Bucket: "b", Endpoint: "localhost:9000"}}}, "s3", true},
		{"nothing", config.Config{}, "", false},
		{"unknown", config.Config{MSS: config.MSS{Backend: "tape"}}, "", false},
		{"posix without root", config.Config{MSS: config.MSS{Backend: "posix"}}, "", false},
		{"posix relative root", config.Config{RemoteRoot: "mss", MSS: config.MSS{Backend: "posix"}}, "", false},
		{"command without commands", config.Config{MSS: config.MSS{Backend: "command"}}, "", false},
		{"s3 without bucket", config.Config{MSS: config.MSS{Backend: "s3"}}, "", false},
		{"s3 tiny parts", config.Config{MSS: config.MSS{Backend: "s3", S3: config.S3{Bucket: "b", PartSize: 1 << 20}}}, "", false},
		{"s3 bad endpoint", config.Config{MSS: config.MSS{Backend: "s3", S3: config.S3{Bucket: "b", Endpoint: "ftp://x"}}}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := mss.Open(&tc.cfg)
			if tc.want == "" {
				if err == nil || !mss.IsPermanent(err) {
					t.Errorf("Open = %v, %v; want a permanent error", b, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if b.Name() != tc.want || mss.PropertiesOf(b).CanStat != tc.canStat {
				t.Errorf("Open = %s %+v, want %s (CanStat %v)", b.Name(), mss.PropertiesOf(b), tc.want, tc.canStat)
			}
			// posix and s3 rename by themselves, the command backend with
			// rename_cmd only.
			wantRename := tc.want != "command" || len(tc.cfg.MSS.RenameCmd) > 0
			if _, ok := mss.RenamerOf(b); ok != wantRename {
				t.Errorf("RenamerOf(%s) ok = %v, want %v", b.Name(), ok, wantRename)
			}
		})
	}
}

// TestOpenCommandTimeout: the configured copy timeout reaches the
// command backend.
func TestOpenCommandTimeout(t *testing.T) {
	cfg := config.Config{MSS: config.MSS{
		CopyIn:      []string{"/bin/sleep", "30"},
		CopyTimeout: config.Duration(200 * time.Millisecond),
	}}
	b, err := mss.Open(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = b.Fetch(context.Background(), mss.Request{RFN: "/x"}, filepath.Join(t.TempDir(), "d"), "")
	if !mss.IsTransient(err) || time.Since(start) > 10*time.Second {
		t.Errorf("Fetch = %v after %v", err, time.Since(start))
	}
}

// TestOpenS3: the S3 settings of a config reach a working backend.
func TestOpenS3(t *testing.T) {
	g := startGateway(t)
	cfg := config.Config{
		RemoteRoot: s3Root,
		MSS: config.MSS{Backend: "s3", S3: config.S3{
			Endpoint: g.endpoint, Bucket: s3Bucket, Prefix: "opened/",
			AccessKey: s3Access, SecretKey: s3Secret, PartSize: 5 << 20,
		}},
		Checksum: config.Checksum{Default: "md5"},
	}
	b, err := mss.Open(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "src")
	os.WriteFile(src, []byte("opened"), 0o644)
	ctx := context.Background()
	if _, err := b.Store(ctx, mss.Request{RFN: s3Root + "/o/x.dat"}, src, "md5"); err != nil {
		t.Fatal(err)
	}
	if _, err := g.client.StatObject(ctx, s3Bucket, "opened/o/x.dat", minio.StatObjectOptions{}); err != nil {
		t.Errorf("object not at the configured prefix: %v", err)
	}
	info, err := b.Stat(ctx, s3Root+"/o/x.dat")
	if err != nil || info.Checksum == nil || info.Checksum.Alg != "md5" {
		t.Errorf("Stat = %+v, %v", info, err)
	}
}

// TestConfigured: what a daemon checks before it takes its lock, the
// same verdict as OpenWith on the choice of a backend.
func TestConfigured(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  config.Config
		want string // "" = configured
	}{
		{"nothing", config.Config{}, "mss: no MSS configured"},
		{"remote root", config.Config{RemoteRoot: "/mss"}, ""},
		{"copy commands", config.Config{MSS: config.MSS{CopyIn: []string{"/bin/cp", "$SRC", "$DST"}}}, ""},
		{"posix without root", config.Config{MSS: config.MSS{Backend: "posix"}}, "posix backend needs remote_root"},
		{"s3", config.Config{MSS: config.MSS{Backend: "s3"}}, ""},
		{"unknown", config.Config{MSS: config.MSS{Backend: "tape"}}, `unknown backend "tape"`},
	} {
		err := mss.Configured(&tc.cfg)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
		if tc.want != "" {
			if _, oerr := mss.Open(&tc.cfg); oerr == nil || oerr.Error() != err.Error() {
				t.Errorf("%s: Open says %v, Configured %v", tc.name, oerr, err)
			}
		}
	}
}
