package shell

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"frm/core/meta"
)

// TestLsShowsOrigin: a file fetched from a peer site shows where from and
// when, in ls -l and in JSON; other files show nothing of it.
func TestLsShowsOrigin(t *testing.T) {
	s, _ := testSite(t)
	const lfn = "/store/a/migrated.fits"
	at := time.Date(2026, 12, 6, 15, 4, 0, 0, s.Loc)
	if err := meta.SetOrigin(s.PFN(lfn), meta.Origin{Peer: "site-b", At: at}); err != nil {
		t.Skip(err) // no user xattrs here
	}
	st, out, errs := runCmd(t, s, false, "ls -l "+lfn)
	if st != ExitOK || !strings.Contains(out, " from=site-b@2026-12-06T15:04  "+lfn) {
		t.Errorf("ls -l (%d): %q %s", st, out, errs)
	}
	_, out, _ = runCmd(t, s, true, "ls "+lfn)
	if !strings.Contains(out, `"origin":{"at":`+strconv.FormatInt(at.Unix(), 10)+`,"peer":"site-b"}`) {
		t.Errorf("ls JSON: %s", out)
	}
	_, out, _ = runCmd(t, s, true, "query space "+lfn)
	if !strings.Contains(out, `"origin":{"at":`+strconv.FormatInt(at.Unix(), 10)+`,"peer":"site-b"}`) {
		t.Errorf("query space JSON: %s", out)
	}
	_, out, _ = runCmd(t, s, false, "ls -l /store/a")
	if n := strings.Count(out, "from="); n != 1 {
		t.Errorf("%d files with an origin, want 1:\n%s", n, out)
	}
}
