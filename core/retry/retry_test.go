package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestWait(t *testing.T) {
	p := Policy{Base: 100 * time.Millisecond, Max: time.Second}
	for n, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 30: time.Second} {
		for range 50 {
			if d := p.Wait(n); d < want/2 || d > want {
				t.Fatalf("Wait(%d) = %v, want in [%v, %v]", n, d, want/2, want)
			}
		}
	}
	if (Policy{}).Wait(3) != 0 {
		t.Error("a zero base must not wait")
	}
}

func TestDo(t *testing.T) {
	boom := errors.New("boom")
	final := errors.New("final")
	for _, tc := range []struct {
		name      string
		retries   int
		fails     int
		err       error
		wantTries int
		wantErr   error
	}{
		{"success", 3, 0, nil, 1, nil},
		{"passing fault then ok", 3, 2, boom, 3, nil},
		{"retries spent", 3, 10, boom, 4, boom},
		{"no retries", 0, 10, boom, 1, boom},
		{"not retried", 3, 10, final, 1, final},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			var told []int
			tries, err := Policy{Retries: tc.retries, Base: time.Microsecond}.Do(context.Background(),
				func(context.Context) error {
					calls++
					if calls <= tc.fails {
						return tc.err
					}
					return nil
				},
				func(err error) bool { return err != final },
				func(try int, _ time.Duration, _ error) { told = append(told, try) })
			if tries != tc.wantTries || calls != tc.wantTries || !errors.Is(err, tc.wantErr) || err == nil != (tc.wantErr == nil) {
				t.Errorf("tries %d calls %d err %v; want %d tries, err %v", tries, calls, err, tc.wantTries, tc.wantErr)
			}
			if len(told) != tc.wantTries-1 {
				t.Errorf("onRetry told %v", told)
			}
		})
	}
}

// TestDoCancel: a cancelled context ends the wait at once.
func TestDoCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	tries, err := Policy{Retries: 100, Base: time.Hour}.Do(ctx, func(context.Context) error { return errors.New("x") },
		func(error) bool { return true }, nil)
	if !errors.Is(err, context.Canceled) || tries != 1 || time.Since(start) > 10*time.Second {
		t.Errorf("tries %d err %v after %v", tries, err, time.Since(start))
	}
}
