package mss

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"testing"
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

func TestPropertiesOfUndescribed(t *testing.T) {
	var b Backend = struct{ Backend }{}
	if PropertiesOf(b) != (Properties{}) || PropertiesOf(nil) != (Properties{}) {
		t.Error("an undescribed backend must get the zero Properties")
	}
}
