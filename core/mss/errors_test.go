package mss

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestErrorClasses(t *testing.T) {
	base := errors.New("boom")
	for _, tc := range []struct {
		name                  string
		err                   error
		notExist, trans, perm bool
	}{
		{"nil", nil, false, false, false},
		{"unclassified", base, false, false, false},
		{"not exist", NotExist(base), true, false, false},
		{"transient", Transient(base), false, true, false},
		{"permanent", Permanent(base), false, false, true},
		{"wrapped transient", fmt.Errorf("ctx: %w", Transient(base)), false, true, false},
		{"outermost wins", Permanent(Transient(base)), false, false, true},
		{"fs.ErrNotExist", &fs.PathError{Op: "open", Path: "/x", Err: syscall.ENOENT}, true, false, false},
		{"classified beats fs.ErrNotExist", Transient(os.ErrNotExist), false, true, false},
		{"context", fmt.Errorf("x: %w", context.Canceled), false, false, false},
		{"ErrNoStat", fmt.Errorf("x: %w", ErrNoStat), false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsNotExist(tc.err); got != tc.notExist {
				t.Errorf("IsNotExist = %v", got)
			}
			if got := IsTransient(tc.err); got != tc.trans {
				t.Errorf("IsTransient = %v", got)
			}
			if got := IsPermanent(tc.err); got != tc.perm {
				t.Errorf("IsPermanent = %v", got)
			}
		})
	}
	if NotExist(nil) != nil || Transient(nil) != nil || Permanent(nil) != nil {
		t.Error("classifying nil must give nil")
	}
	e := Permanent(fmt.Errorf("wrap: %w", base))
	if e.Error() != "wrap: boom" || !errors.Is(e, base) {
		t.Errorf("classification changed the message or the chain: %q", e)
	}
}

func TestClassifyErrno(t *testing.T) {
	pe := func(e syscall.Errno) error { return &fs.PathError{Op: "open", Path: "/p", Err: e} }
	for _, tc := range []struct {
		errno  syscall.Errno
		lookup bool
		want   class
	}{
		{syscall.ENOENT, false, classNotExist},
		{syscall.ENOTDIR, true, classNotExist},
		{syscall.ENOTDIR, false, classPermanent},
		{syscall.ENOSPC, false, classPermanent},
		{syscall.EDQUOT, false, classPermanent},
		{syscall.EROFS, false, classPermanent},
		{syscall.EACCES, false, classPermanent},
		{syscall.EIO, false, classTransient},
		{syscall.EAGAIN, false, classTransient},
		{syscall.ETIMEDOUT, false, classTransient},
		{syscall.EMLINK, false, 0},
	} {
		if got := classOf(classifyErrno(pe(tc.errno), tc.lookup)); got != tc.want {
			t.Errorf("%v (lookup %v): class %v, want %v", tc.errno, tc.lookup, got, tc.want)
		}
	}
	if classifyErrno(nil, false) != nil {
		t.Error("classifyErrno(nil) != nil")
	}
	// An error that is already classified keeps its class.
	if !IsTransient(classifyErrno(Transient(pe(syscall.ENOSPC)), false)) {
		t.Error("classifyErrno reclassified a classified error")
	}
}

// flaky fails its first fails calls of every method with err.
type flaky struct {
	err   error
	fails int32
	calls atomic.Int32
}

func (f *flaky) Name() string { return "flaky" }
func (f *flaky) do() error {
	if f.calls.Add(1) <= f.fails {
		return f.err
	}
	return nil
}
func (f *flaky) Stat(context.Context, string) (Info, error) { return Info{Size: 7}, f.do() }
func (f *flaky) Fetch(context.Context, Request, string, string) (Result, error) {
	return Result{Bytes: 1}, f.do()
}
func (f *flaky) Store(context.Context, Request, string, string) (Result, error) {
	return Result{Bytes: 2}, f.do()
}
func (f *flaky) Remove(context.Context, string) error { return f.do() }
func (f *flaky) Properties() Properties               { return Properties{CanStat: true} }

func TestWithRetry(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name      string
		err       error
		fails     int32
		tries     int
		wantCalls int32
		wantErr   bool
	}{
		{"success", nil, 0, 3, 1, false},
		{"transient then ok", Transient(boom), 2, 3, 3, false},
		{"unclassified then ok", boom, 1, 3, 2, false},
		{"transient exhausts", Transient(boom), 5, 3, 3, true},
		{"permanent not retried", Permanent(boom), 5, 3, 1, true},
		{"not exist not retried", NotExist(boom), 5, 3, 1, true},
		{"no stat not retried", fmt.Errorf("x: %w", ErrNoStat), 5, 3, 1, true},
		{"tries 0 means 1", Transient(boom), 5, 0, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ops := map[string]func(Backend) error{
				"Stat":   func(b Backend) error { _, err := b.Stat(context.Background(), "/x"); return err },
				"Fetch":  func(b Backend) error { _, err := b.Fetch(context.Background(), Request{}, "/d", ""); return err },
				"Store":  func(b Backend) error { _, err := b.Store(context.Background(), Request{}, "/s", ""); return err },
				"Remove": func(b Backend) error { return b.Remove(context.Background(), "/x") },
			}
			for op, call := range ops {
				f := &flaky{err: tc.err, fails: tc.fails}
				err := call(WithRetry(f, tc.tries, time.Microsecond))
				if (err != nil) != tc.wantErr {
					t.Errorf("%s: err = %v", op, err)
				}
				if got := f.calls.Load(); got != tc.wantCalls {
					t.Errorf("%s: %d calls, want %d", op, got, tc.wantCalls)
				}
				if err != nil && classOf(err) != classOf(tc.err) {
					t.Errorf("%s: class %v, want %v (%v)", op, classOf(err), classOf(tc.err), err)
				}
			}
		})
	}
}

func TestWithRetryResults(t *testing.T) {
	f := &flaky{err: Transient(errors.New("x")), fails: 1}
	b := WithRetry(f, 3, time.Microsecond)
	if info, err := b.Stat(context.Background(), "/x"); err != nil || info.Size != 7 {
		t.Errorf("Stat = %+v, %v", info, err)
	}
	if b.Name() != "flaky" || !PropertiesOf(b).CanStat || b.(Unwrapper).Unwrap() != f {
		t.Errorf("decorator hides the backend: %q %+v", b.Name(), PropertiesOf(b))
	}
}

// TestWithRetryCancel: a cancelled context ends the backoff wait at once.
func TestWithRetryCancel(t *testing.T) {
	f := &flaky{err: Transient(errors.New("x")), fails: 100}
	b := WithRetry(f, 100, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := b.Stat(ctx, "/x")
	if err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("Stat returned %v after %v", err, time.Since(start))
	}
	if f.calls.Load() != 1 {
		t.Errorf("%d calls, want 1", f.calls.Load())
	}
}

func TestBackoff(t *testing.T) {
	r := &retryBackend{base: 100 * time.Millisecond}
	for n, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 30: maxBackoff} {
		for range 50 {
			if d := r.backoff(n); d < want/2 || d >= want*3/2 {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v)", n, d, want/2, want*3/2)
			}
		}
	}
	if (&retryBackend{}).backoff(3) != 0 {
		t.Error("zero base must not wait")
	}
}

func TestPropertiesOfUndescribed(t *testing.T) {
	var b Backend = struct{ Backend }{}
	if PropertiesOf(b) != (Properties{}) || PropertiesOf(nil) != (Properties{}) {
		t.Error("an undescribed backend must get the zero Properties")
	}
}
