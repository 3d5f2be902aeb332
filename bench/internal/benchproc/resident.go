package benchproc

import (
	"crypto/rand"
	"hash/adler32"
	"os"
	"path/filepath"

	"frm/core/meta"
)

// WriteResident writes size random bytes at p (its directories made) with
// their adler32 stored (user.XrdCks.adler32), as a stage leaves a file.
func WriteResident(p string, size int64) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	h := adler32.New()
	buf := make([]byte, min(size, 1<<20))
	for left := size; left > 0; {
		b := buf[:min(int64(len(buf)), left)]
		rand.Read(b)
		if _, err := f.Write(b); err != nil {
			f.Close()
			return err
		}
		h.Write(b)
		left -= int64(len(b))
	}
	if err := f.Close(); err != nil {
		return err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	return meta.SetChecksum(p, meta.Checksum{Alg: "adler32", Value: h.Sum(nil), MTime: fi.ModTime().Unix()})
}
