package mirror

import (
	"context"
	"fmt"
	"hash/adler32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"frm/core/fedapi"
)

// BuildOptions configure Build.
type BuildOptions struct {
	// Previous, when set, is a manifest of the same tree (the one being
	// replaced): a file whose size and mtime it gives the same keeps its
	// checksum there instead of being read again.
	Previous string
	// Workers read files at once (0: 4).
	Workers int
}

// Build returns the manifest of the plain directory tree dir: each
// regular file, and each symlink to one (an frm namespace's XA links; a
// link to a directory is not followed), with
// its name relative to dir, size, mtime and adler32, sorted by name; the
// manifest itself, a manifest being written, and frm's side files
// (.anew, .fail) are left out.
func Build(ctx context.Context, dir string, o BuildOptions) ([]fedapi.ManifestEntry, error) {
	prev := map[string]fedapi.ManifestEntry{}
	if o.Previous != "" {
		if f, err := os.Open(o.Previous); err == nil {
			_, err := fedapi.ReadManifest(f, func(e fedapi.ManifestEntry) error {
				prev[e.LFN] = e
				return nil
			})
			f.Close()
			if err != nil {
				clear(prev) // unreadable: read every file again
			}
		}
	}
	var entries []fedapi.ManifestEntry
	var todo []int
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		name := d.Name()
		if name == fedapi.ManifestFile || strings.HasPrefix(name, "."+fedapi.ManifestFile+".tmp-") || strings.HasSuffix(name, ".anew") || strings.HasSuffix(name, ".fail") {
			return nil
		}
		var fi fs.FileInfo
		switch {
		case d.Type().IsRegular():
			if fi, err = d.Info(); err != nil {
				return err
			}
		case d.Type()&fs.ModeSymlink != 0:
			// A link to a file (an frm namespace's XA links, or a
			// web tree's): the file it leads to, as a web server
			// serves it. Links to anything else are skipped.
			if fi, err = os.Stat(p); err != nil || !fi.Mode().IsRegular() {
				return nil
			}
		default:
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		e := fedapi.ManifestEntry{LFN: rel, Size: fi.Size(), MTime: fi.ModTime().Unix(), State: fedapi.Resident}
		if pe, ok := prev[rel]; ok && pe.Size == e.Size && pe.MTime == e.MTime && pe.Checksum != "" {
			e.Checksum = pe.Checksum
		} else {
			todo = append(todo, len(entries))
		}
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	workers := o.Workers
	if workers <= 0 {
		workers = 4
	}
	ch := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1<<20)
			for i := range ch {
				e := &entries[i]
				sum, err := adlerFile(filepath.Join(dir, filepath.FromSlash(e.LFN)), buf)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				e.Checksum = fmt.Sprintf("adler32:%08x", sum)
			}
		}()
	}
	for _, i := range todo {
		if ctx.Err() != nil {
			break
		}
		ch <- i
	}
	close(ch)
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		return nil, firstErr
	}
	slices.SortFunc(entries, func(a, b fedapi.ManifestEntry) int { return strings.Compare(a.LFN, b.LFN) })
	return entries, nil
}

func adlerFile(p string, buf []byte) (uint32, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	h := adler32.New()
	if _, err := io.CopyBuffer(h, f, buf); err != nil {
		return 0, err
	}
	return h.Sum32(), nil
}

// WriteBuilt writes entries as the manifest file out, atomically (a
// temporary name, fsync, rename): a web server never serves half of it.
func WriteBuilt(out string, entries []fedapi.ManifestEntry) (string, error) {
	var b strings.Builder
	gen, err := fedapi.WriteManifest(&b, entries)
	if err != nil {
		return "", err
	}
	if err := writeFileAtomic(out, []byte(b.String())); err != nil {
		return "", err
	}
	return gen, nil
}
