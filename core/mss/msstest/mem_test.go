package msstest_test

import (
	"testing"

	"frm/core/mss/msstest"
)

func TestMemConformance(t *testing.T) {
	m := msstest.NewMem()
	msstest.Run(t, m, func(lfn string) string { return "/mss" + lfn })
	if n := m.Names(); len(n) != 0 {
		t.Errorf("objects left behind: %q", n)
	}
}
