package pgtest

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestStartCreateDBStop(t *testing.T) {
	s := Start(t)
	ctx := context.Background()
	dsn := s.CreateDB(t)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	var db, enc string
	if err := conn.QueryRow(ctx, "SELECT current_database(), pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()").Scan(&db, &enc); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if db == "postgres" || enc != "UTF8" {
		t.Errorf("database %q encoding %q", db, enc)
	}
	if s.CreateDB(t) == dsn {
		t.Error("CreateDB returned the same database twice")
	}
	s.Stop()
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Errorf("server directory left behind: %v", err)
	}
	s.Stop() // twice is fine (t.Cleanup calls it again)
}

func TestFindBinDirOverride(t *testing.T) {
	t.Setenv("FRM_PG_BINDIR", t.TempDir())
	if _, err := FindBinDir(); err == nil {
		t.Error("an empty FRM_PG_BINDIR was accepted")
	}
}
