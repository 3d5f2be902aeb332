package site

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"frm/core/meta"
	"frm/core/space"
)

// Place writes a new file lfn with the content of src. With spaceName ""
// the file is a plain file in the namespace; otherwise its data goes to the
// partition of that space with the most free space, in xrootd's XA layout,
// and the namespace gets an absolute symlink to it. The data is fsync'd
// under a temporary name and only then made visible, so a crash never
// leaves a partial file under the real name. An existing lfn is an error.
//
// The site's catalog records the new file (Catalog.Record).
func (s *Site) Place(ctx context.Context, lfnArg, spaceName string, src io.Reader, size int64) (string, error) {
	lfn, err := s.Clean(lfnArg)
	if err != nil {
		return "", err
	}
	ch := s.BeginChange(false, lfn)
	pfn, err := s.place(ctx, lfn, spaceName, src, size)
	if cerr := ch.Done(ctx); err == nil && cerr != nil {
		return pfn, cerr
	}
	return pfn, err
}

func (s *Site) place(ctx context.Context, lfn, spaceName string, src io.Reader, size int64) (string, error) {
	pfn := s.PFN(lfn)
	if _, err := os.Lstat(pfn); err == nil {
		return "", opErr("create", lfn, os.ErrExist)
	}
	if err := os.MkdirAll(filepath.Dir(pfn), 0o755); err != nil {
		return "", opErr("create", lfn, err)
	}
	if spaceName == "" {
		tmp := pfn + ".anew"
		if err := writeSynced(ctx, tmp, src); err != nil {
			return "", opErr("create", lfn, err)
		}
		if err := os.Rename(tmp, pfn); err != nil {
			os.Remove(tmp)
			return "", opErr("create", lfn, err)
		}
		return pfn, nil
	}
	sp, ok := s.Spaces.Get(spaceName)
	if !ok {
		return "", opErr("create", lfn, &ErrNoSpace{spaceName})
	}
	part, err := space.Choose(sp, size)
	if err != nil {
		return "", opErr("create", lfn, err)
	}
	var data string
	for i := 0; ; i++ {
		data = space.NewDataPath(part, s.Now())
		if err := os.MkdirAll(filepath.Dir(data), 0o755); err != nil {
			return "", opErr("create", lfn, err)
		}
		if _, err := os.Lstat(data); errors.Is(err, os.ErrNotExist) || i > 8 {
			break
		}
	}
	if err := writeSynced(ctx, data, src); err != nil {
		return "", opErr("create", lfn, err)
	}
	if err := meta.SetPfn(data, pfn); err != nil {
		os.Remove(data)
		return "", opErr("create", lfn, err)
	}
	if err := replaceSymlink(data, pfn); err != nil {
		os.Remove(data)
		return "", opErr("create", lfn, err)
	}
	return pfn, nil
}

// writeSynced creates path exclusively, copies src into it and fsyncs it.
// On any error the file is removed.
func writeSynced(ctx context.Context, path string, src io.Reader) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, ctxReader{ctx, src})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
