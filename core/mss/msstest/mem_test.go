package msstest_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"frm/core/mss"
	"frm/core/mss/msstest"
)

func TestMemConformance(t *testing.T) {
	m := msstest.NewMem()
	msstest.Run(t, m, func(lfn string) string { return "/mss" + lfn })
	if n := m.Names(); len(n) != 0 {
		t.Errorf("objects left behind: %q", n)
	}
}

// TestMemFailWithRetry: injected transient failures are retried by
// mss.WithRetry; permanent ones are not.
func TestMemFailWithRetry(t *testing.T) {
	m := msstest.NewMem()
	m.Put("/mss/x", []byte("data"), time.Unix(1e9, 0))
	var calls atomic.Int32
	m.Fail = func(op, rfn string) error {
		switch n := calls.Add(1); {
		case rfn == "/mss/perm":
			return mss.Permanent(errors.New("tape library offline"))
		case n <= 2:
			return mss.Transient(errors.New("busy"))
		}
		return nil
	}
	b := mss.WithRetry(m, 3, time.Millisecond)
	dst := filepath.Join(t.TempDir(), "d")
	if res, err := b.Fetch(context.Background(), mss.Request{RFN: "/mss/x"}, dst, "adler32"); err != nil || res.Bytes != 4 {
		t.Fatalf("Fetch = %+v, %v", res, err)
	}
	if calls.Load() != 3 {
		t.Errorf("%d calls, want 3", calls.Load())
	}
	calls.Store(10)
	if _, err := b.Stat(context.Background(), "/mss/perm"); !mss.IsPermanent(err) || calls.Load() != 11 {
		t.Errorf("Stat = %v after %d calls", err, calls.Load()-10)
	}
}
