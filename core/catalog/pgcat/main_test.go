package pgcat

import (
	"os"
	"testing"

	"frm/core/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	os.Exit(code)
}
