// Package pgtest starts a throwaway PostgreSQL server for tests: initdb
// into a fresh temporary directory, a Unix socket in that directory only
// (no TCP port to collide with), fsync off, trust authentication. The
// server is stopped and its directory removed when the test ends.
//
// The server binaries are looked for in $FRM_PG_BINDIR, then in
// `pg_config --bindir`, /usr/lib/postgresql/*/bin (Debian, newest first),
// /usr/pgsql-*/bin (RHEL) and $PATH. Without them the test is skipped with
// a message saying how to install them, unless FRM_REQUIRE_PG=1, which
// turns the skip into a failure (CI sets it so the tests cannot silently
// vanish).
//
// initdb and postgres refuse to run as root: as root the server runs as
// the "postgres" user (runuser), which the Debian package creates.
package pgtest

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is a running throwaway PostgreSQL server.
type Server struct {
	Dir    string // temporary directory: data/, log, the socket
	Port   int    // names the socket file (.s.PGSQL.<port>)
	BinDir string

	dbSeq atomic.Int64
}

// maxSocketPath is the longest Unix socket path (sun_path is 108 bytes
// with the terminating NUL).
const maxSocketPath = 107

// Start starts a server for the test and registers its removal with
// t.Cleanup. It skips (or fails, with FRM_REQUIRE_PG=1) the test when no
// PostgreSQL server binaries exist.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := FindBinDir()
	if err != nil {
		if os.Getenv("FRM_REQUIRE_PG") == "1" {
			t.Fatalf("pgtest: %v (FRM_REQUIRE_PG=1 makes this a failure)", err)
		}
		t.Skipf("pgtest: %v; skipping the PostgreSQL tests (set FRM_REQUIRE_PG=1 to fail instead)", err)
	}
	s, err := start(bin)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

var shared struct {
	mu  sync.Mutex
	s   *Server
	err error
}

// Shared returns a server shared by every test of the test binary that
// asks for it, started on first use (one server start instead of one per
// test; each test still takes its own database with CreateDB). The
// package's TestMain must call StopShared after m.Run.
func Shared(t testing.TB) *Server {
	t.Helper()
	bin, err := FindBinDir()
	if err != nil {
		if os.Getenv("FRM_REQUIRE_PG") == "1" {
			t.Fatalf("pgtest: %v (FRM_REQUIRE_PG=1 makes this a failure)", err)
		}
		t.Skipf("pgtest: %v; skipping the PostgreSQL tests (set FRM_REQUIRE_PG=1 to fail instead)", err)
	}
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.s == nil && shared.err == nil {
		shared.s, shared.err = start(bin)
	}
	if shared.err != nil {
		t.Fatalf("pgtest: %v", shared.err)
	}
	return shared.s
}

// StopShared stops the server Shared started, if any.
func StopShared() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.s != nil {
		shared.s.Stop()
		shared.s = nil
	}
}

// DSN starts a server for the test (see Start) and returns the DSN of a
// fresh database on it.
func DSN(t testing.TB) string {
	t.Helper()
	return Start(t).CreateDB(t)
}

// FindBinDir returns the directory holding initdb, pg_ctl and postgres.
func FindBinDir() (string, error) {
	ok := func(d string) bool {
		for _, p := range []string{"initdb", "pg_ctl", "postgres"} {
			if fi, err := os.Stat(filepath.Join(d, p)); err != nil || fi.Mode()&0o111 == 0 {
				return false
			}
		}
		return true
	}
	if d := os.Getenv("FRM_PG_BINDIR"); d != "" {
		if ok(d) {
			return d, nil
		}
		return "", fmt.Errorf("FRM_PG_BINDIR=%s holds no initdb, pg_ctl and postgres", d)
	}
	var cands []string
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		cands = append(cands, strings.TrimSpace(string(out)))
	}
	for _, pat := range []string{"/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin"} {
		m, _ := filepath.Glob(pat)
		sort.Slice(m, func(i, j int) bool { return versionOf(m[i]) > versionOf(m[j]) })
		cands = append(cands, m...)
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		cands = append(cands, filepath.Dir(p))
	}
	for _, d := range cands {
		if ok(d) {
			return d, nil
		}
	}
	return "", fmt.Errorf("no PostgreSQL server binaries (initdb, pg_ctl, postgres) found; install them with `apt-get install postgresql` or point FRM_PG_BINDIR at them")
}

func versionOf(dir string) int {
	for _, part := range strings.Split(dir, "/") {
		part = strings.TrimPrefix(part, "pgsql-")
		if n, err := strconv.Atoi(strings.SplitN(part, ".", 2)[0]); err == nil {
			return n
		}
	}
	return 0
}

func start(bin string) (*Server, error) {
	asRoot := os.Geteuid() == 0
	var pgUser *user.User
	if asRoot {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root, but there is no \"postgres\" user to run the server as (initdb refuses root): %v", err)
		}
		pgUser = u
	}
	// Not t.TempDir: its path holds the test name and can exceed the
	// socket path limit.
	base := os.TempDir()
	if len(base) > 60 {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "frmpg.")
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, BinDir: bin, Port: 20000 + rand.IntN(40000)}
	if len(s.socketPath()) > maxSocketPath {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("socket path %s is longer than %d bytes; set TMPDIR to a shorter directory", s.socketPath(), maxSocketPath)
	}
	fail := func(err error) (*Server, error) {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		os.RemoveAll(dir)
		if len(log) > 0 {
			return nil, fmt.Errorf("%v\nserver log:\n%s", err, tail(log, 40))
		}
		return nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return fail(err)
	}
	if asRoot {
		uid, _ := strconv.Atoi(pgUser.Uid)
		gid, _ := strconv.Atoi(pgUser.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return fail(err)
		}
	}
	data := filepath.Join(dir, "data")
	// --locale=C -E UTF8: independent of LANG (only C locales may exist);
	// -N: no fsync of the new cluster; trust: nothing to configure.
	if out, err := s.run(asRoot, "initdb", "-D", data, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "-N", "--no-instructions"); err != nil {
		return fail(fmt.Errorf("initdb: %v\n%s", err, tail(out, 40)))
	}
	conf := fmt.Sprintf(`
# --- frm pgtest ---
listen_addresses = ''
port = %d
unix_socket_directories = '%s'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 100
shared_buffers = 64MB
log_min_messages = warning
`, s.Port, dir)
	f, err := os.OpenFile(filepath.Join(data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fail(err)
	}
	_, err = f.WriteString(conf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fail(err)
	}
	if out, err := s.run(asRoot, "pg_ctl", "-D", data, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "start"); err != nil {
		return fail(fmt.Errorf("pg_ctl start: %v\n%s", err, tail(out, 20)))
	}
	return s, nil
}

// run runs a server binary, as the postgres user when we are root.
func (s *Server) run(asRoot bool, prog string, args ...string) ([]byte, error) {
	path := filepath.Join(s.BinDir, prog)
	var cmd *exec.Cmd
	if asRoot {
		// env -C /: the postgres user may not read the current directory.
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", "env", "-C", "/", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

func (s *Server) socketPath() string {
	return filepath.Join(s.Dir, ".s.PGSQL."+strconv.Itoa(s.Port))
}

// Stop stops the server (immediate shutdown: the data is thrown away) and
// removes its directory. It is safe to call more than once.
func (s *Server) Stop() {
	data := filepath.Join(s.Dir, "data")
	if _, err := os.Stat(filepath.Join(data, "postmaster.pid")); err == nil {
		s.run(os.Geteuid() == 0, "pg_ctl", "-D", data, "-m", "immediate", "-w", "-t", "30", "stop")
	}
	os.RemoveAll(s.Dir)
}

// Restart stops the server (fast shutdown, as an administrator would) and
// starts it again on the same socket: open connections break.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	data := filepath.Join(s.Dir, "data")
	if out, err := s.run(os.Geteuid() == 0, "pg_ctl", "-D", data, "-l", filepath.Join(s.Dir, "log"), "-m", "fast", "-w", "-t", "60", "restart"); err != nil {
		t.Fatalf("pgtest: pg_ctl restart: %v\n%s", err, tail(out, 20))
	}
}

// Down stops the server (fast shutdown) and keeps its data: the database
// is unreachable until Up. For tests of what clients do meanwhile.
func (s *Server) Down(t testing.TB) {
	t.Helper()
	data := filepath.Join(s.Dir, "data")
	if out, err := s.run(os.Geteuid() == 0, "pg_ctl", "-D", data, "-m", "fast", "-w", "-t", "60", "stop"); err != nil {
		t.Fatalf("pgtest: pg_ctl stop: %v\n%s", err, tail(out, 20))
	}
}

// Up starts a server stopped by Down again.
func (s *Server) Up(t testing.TB) {
	t.Helper()
	data := filepath.Join(s.Dir, "data")
	if out, err := s.run(os.Geteuid() == 0, "pg_ctl", "-D", data, "-l", filepath.Join(s.Dir, "log"), "-w", "-t", "60", "start"); err != nil {
		t.Fatalf("pgtest: pg_ctl start: %v\n%s", err, tail(out, 20))
	}
}

// URL returns the DSN of database db ("postgres" when empty) as a URL,
// which pgx and libpq accept: the socket directory is the host parameter.
func (s *Server) URL(db string) string {
	if db == "" {
		db = "postgres"
	}
	q := url.Values{"host": {s.Dir}, "port": {strconv.Itoa(s.Port)}, "sslmode": {"disable"}}
	return (&url.URL{Scheme: "postgres", User: url.User("postgres"), Path: "/" + db, RawQuery: q.Encode()}).String()
}

// CreateDB creates a fresh, empty database and returns its DSN. Databases
// are cheap (a copy of template1), so each test can have its own.
func (s *Server) CreateDB(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d_%d", os.Getpid(), s.dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.URL(""))
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	return s.URL(name)
}

func tail(b []byte, lines int) string {
	s := strings.TrimRight(string(b), "\n")
	parts := strings.Split(s, "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}
