package sitegen

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"frm/core/meta"
)

// FlatCounts is what Flat created.
type FlatCounts struct {
	Files, Unmigrated, NoCopy, Pinned int
}

// Flat creates a benchmark namespace of n empty files under
// <layout>/ns/store/bNNNN/ (perDir files each, in a two-level tree) with
// FRM attributes: 1 in 10 without a copy time, 2 in 10 modified since
// their copy, the rest migrated; 1 in 50 pinned forever. The pattern is
// fixed, so counts are predictable: Flat returns them.
func Flat(ctx context.Context, l Layout, n, perDir int) (FlatCounts, error) {
	var c FlatCounts
	if err := l.WriteConfigs(); err != nil {
		return c, err
	}
	if perDir <= 0 {
		perDir = 1000
	}
	dirs := (n + perDir - 1) / perDir
	mtime := time.Now().Add(-48 * time.Hour).Unix()
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	jobs := make(chan int)
	for w := 0; w < runtime.GOMAXPROCS(0)*2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range jobs {
				cc, err := flatDir(l, d, perDir, n, mtime)
				mu.Lock()
				c.Files += cc.Files
				c.Unmigrated += cc.Unmigrated
				c.NoCopy += cc.NoCopy
				c.Pinned += cc.Pinned
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	for d := 0; d < dirs && ctx.Err() == nil; d++ {
		jobs <- d
	}
	close(jobs)
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return c, firstErr
}

func flatDir(l Layout, d, perDir, n int, mtime int64) (FlatCounts, error) {
	var c FlatCounts
	dir := filepath.Join(l.LocalRoot, "store", fmt.Sprintf("g%03d", d/100), fmt.Sprintf("b%05d", d))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return c, err
	}
	cpyOld := meta.EncodeCopyTime(mtime - 113)
	cpyOK := meta.EncodeCopyTime(mtime)
	pin := meta.EncodePin(meta.Pin{Flags: meta.PinForever})
	ts := []unix.Timespec{unix.NsecToTimespec(mtime * 1e9), unix.NsecToTimespec(mtime * 1e9)}
	for i := 0; i < perDir; i++ {
		k := d*perDir + i
		if k >= n {
			break
		}
		p := fmt.Sprintf("%s/f%07d.dat", dir, k)
		fd, err := unix.Open(p, unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
		if err != nil {
			return c, fmt.Errorf("create %s: %w", p, err)
		}
		unix.Close(fd)
		if err := unix.UtimesNano(p, ts); err != nil {
			return c, err
		}
		c.Files++
		switch k % 10 {
		case 0:
			c.NoCopy++
			c.Unmigrated++
		case 1, 2:
			c.Unmigrated++
			err = unix.Setxattr(p, meta.AttrCopy, cpyOld, 0)
		default:
			err = unix.Setxattr(p, meta.AttrCopy, cpyOK, 0)
		}
		if err == nil && k%50 == 3 {
			c.Pinned++
			err = unix.Setxattr(p, meta.AttrPin, pin, 0)
		}
		if err != nil {
			return c, fmt.Errorf("setxattr %s: %w", p, err)
		}
	}
	return c, nil
}
