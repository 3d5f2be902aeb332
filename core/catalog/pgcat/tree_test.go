package pgcat

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"frm/core/meta"
)

// buildFlatTree creates dirs directories d000.. of perDir files each.
// Every file has an mtime; half are migrated (copy time = mtime), a
// quarter were modified after their copy, a quarter have no copy time:
// half the files are "unmigrated".
func buildFlatTree(t testing.TB, root string, dirs, perDir int) (unmigrated int) {
	t.Helper()
	mt := time.Unix(1700000000, 0)
	for d := 0; d < dirs; d++ {
		dir := filepath.Join(root, fmt.Sprintf("d%03d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for f := 0; f < perDir; f++ {
			p := filepath.Join(dir, fmt.Sprintf("f%06d.dat", f))
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			os.Chtimes(p, mt, mt)
			switch f % 4 {
			case 0, 1:
				if err := meta.SetCopyTime(p, mt.Unix()); err != nil {
					if err == meta.ErrNotSupported {
						t.Skip("no user xattrs here")
					}
					t.Fatal(err)
				}
			case 2:
				meta.SetCopyTime(p, mt.Unix()-60)
				unmigrated++
			default:
				unmigrated++
			}
		}
	}
	return unmigrated
}
