package meta

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestAtVariantsMatchPathVariants(t *testing.T) {
	for _, forceFallback := range []bool{false, true} {
		dir := t.TempDir()
		target := filepath.Join(dir, "data")
		os.WriteFile(target, nil, 0o644)
		link := filepath.Join(dir, "link")
		os.Symlink(target, link)
		if err := SetCopyTime(target, 1234); err != nil {
			if err == ErrNotSupported {
				t.Skip("no user xattrs here")
			}
			t.Fatal(err)
		}
		SetPin(target, Pin{Flags: PinIdle, Time: 60})
		SetMem(target, MemMap|MemLock)
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			t.Fatal(err)
		}
		noXattrat.Store(forceFallback)
		for _, name := range []string{"data", "link"} {
			p := filepath.Join(dir, name)
			c, ok, err := GetCopyTimeAt(fd, name, p)
			if err != nil || !ok || c != 1234 {
				t.Errorf("fallback=%v %s: copy %d %v %v", forceFallback, name, c, ok, err)
			}
			pin, ok, _ := GetPinAt(fd, name, p)
			if !ok || pin.Time != 60 {
				t.Errorf("pin %+v %v", pin, ok)
			}
			m, ok, _ := GetMemAt(fd, name, p)
			if !ok || m != MemMap|MemLock {
				t.Errorf("mem %v %v", m, ok)
			}
		}
		if _, ok, err := GetCopyTimeAt(fd, "missing", filepath.Join(dir, "missing")); ok || err == nil {
			t.Errorf("missing file: %v %v", ok, err)
		}
		os.WriteFile(filepath.Join(dir, "plain"), nil, 0o644)
		if _, ok, err := GetCopyTimeAt(fd, "plain", filepath.Join(dir, "plain")); ok || err != nil {
			t.Errorf("absent attribute: %v %v", ok, err)
		}
		if !forceFallback && noXattrat.Load() {
			t.Logf("kernel has no getxattrat: the path fallback was used")
		}
		unix.Close(fd)
	}
	noXattrat.Store(false)
}
