package shell

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"frm/core/meta"
	"frm/core/site"
)

// rot changes one byte of the data behind pfn and puts the file's times
// back, as bit rot or a bad controller leaves a file: same size, same
// mtime, other data. It returns the adler32 of the new data, computed
// here without frm.
func rot(t *testing.T, pfn string) string {
	t.Helper()
	data, err := filepath.EvalSymlinks(pfn)
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(data, &st); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x40
	f, err := os.OpenFile(data, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(b[len(b)/2:len(b)/2+1], int64(len(b)/2)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, data, ts, 0); err != nil {
		t.Fatal(err)
	}
	h, _ := meta.NewHash("adler32")
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// runCmd runs one command line on s and returns its status, stdout and
// stderr.
func runCmd(t *testing.T, s *site.Site, json bool, line string) (int, string, string) {
	t.Helper()
	sh, out, errb := newShell(s)
	sh.JSON = json
	words, err := Split(line)
	if err != nil {
		t.Fatal(err)
	}
	st := sh.RunArgs(context.Background(), words, strings.NewReader(""))
	return st, out.String(), errb.String()
}

// TestChksumVerifyBitRot is issue 15 §3: a byte of the data changes with
// the mtime kept. verify without -f compares with the stored record, as
// xrootd does, and cannot see it; verify -f recomputes from the data,
// reports both values, exits 1 and marks the file bad; from then on a
// plain verify reads the data too; calc -f accepts the data and clears
// the mark.
func TestChksumVerifyBitRot(t *testing.T) {
	s, _ := testSite(t)
	const lfn = "/store/a/migrated.fits" // an XA file: the data is behind a link
	st, out, errs := runCmd(t, s, false, "chksum calc "+lfn)
	if st != 0 {
		t.Fatalf("calc: %d %q", st, errs)
	}
	good := strings.Fields(out)[0]
	rotten := rot(t, s.PFN(lfn))
	if rotten == good {
		t.Fatal("the changed byte left the checksum alone")
	}
	steps := []struct {
		line   string
		status int
		out    []string // substrings of stdout
		errs   []string // substrings of stderr
		marked bool     // the file carries the mark afterwards
	}{
		// The stored record is current: compared, the data not read.
		{"chksum verify " + good + " " + lfn, 0, []string{"adler32 checksums match for " + lfn + "\n"}, nil, false},
		// -f reads the data: it differs from the value and from the record.
		{"chksum -f verify " + good + " " + lfn, 1,
			[]string{"adler32 checksums differ for " + lfn + " (computed from the data: " + rotten + "; the stored checksum " + good + " differs: marked bad)"},
			nil, true},
		// The data matches the value, but not its stored record: still a failure.
		{"chksum -f verify " + rotten + " " + lfn, 1,
			[]string{"adler32 checksums match for " + lfn + " (computed from the data: " + rotten + "; the stored checksum " + good + " differs: marked bad"},
			nil, true},
		// A marked file's record is not trusted: a plain verify reads the data.
		{"chksum verify " + good + " " + lfn, 1, []string{"adler32 checksums differ for " + lfn + " (computed from the data: " + rotten}, nil, true},
		// An administrator accepts the data as it is.
		{"chksum -f calc " + lfn, 0, []string{rotten + " adler32\n"}, []string{"bad checksum mark removed"}, false},
		{"chksum -f verify " + rotten + " " + lfn, 0,
			[]string{"adler32 checksums match for " + lfn + " (computed from the data; the stored checksum agrees)"}, nil, false},
		{"chksum verify " + rotten + " " + lfn, 0, []string{"adler32 checksums match for " + lfn + "\n"}, nil, false},
	}
	for i, step := range steps {
		st, out, errs := runCmd(t, s, false, step.line)
		if st != step.status {
			t.Errorf("step %d %q: status %d, want %d\nstdout %q\nstderr %q", i, step.line, st, step.status, out, errs)
		}
		for _, w := range step.out {
			if !strings.Contains(out, w) {
				t.Errorf("step %d %q: stdout %q lacks %q", i, step.line, out, w)
			}
		}
		for _, w := range step.errs {
			if !strings.Contains(errs, w) {
				t.Errorf("step %d %q: stderr %q lacks %q", i, step.line, errs, w)
			}
		}
		m, marked, err := meta.GetBadChecksum(s.PFN(lfn))
		if marked != step.marked || err != nil {
			t.Errorf("step %d %q: marked %v (%v), want %v", i, step.line, marked, err, step.marked)
		}
		if marked && (hex.EncodeToString(m.Stored) != good || hex.EncodeToString(m.Computed) != rotten || m.Alg != "adler32") {
			t.Errorf("step %d: mark %s, want stored %s data %s", i, m, good, rotten)
		}
	}
}

// TestChksumVerifyJSON: verify -f reports the recomputed value and the
// stored one.
func TestChksumVerifyJSON(t *testing.T) {
	s, _ := testSite(t)
	const lfn = "/scratch/d/one.tar" // a plain file
	_, out, _ := runCmd(t, s, false, "chksum calc "+lfn)
	good := strings.Fields(out)[0]
	rotten := rot(t, s.PFN(lfn))
	tests := []struct {
		line string
		want map[string]any
	}{
		{"chksum verify " + good + " " + lfn, map[string]any{"match": true, "source": "stored", "value": good, "stored": good, "bad": false}},
		{"chksum -f verify " + good + " " + lfn, map[string]any{"match": false, "source": "data", "value": rotten,
			"computed": rotten, "stored": good, "expected": good, "bad": true, "marked": true}},
	}
	for _, tc := range tests {
		st, out, _ := runCmd(t, s, true, tc.line)
		var doc struct {
			Results []map[string]any `json:"results"`
			Status  int              `json:"status"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc.Results) != 1 {
			t.Fatalf("%s: %v\n%s", tc.line, err, out)
		}
		for k, v := range tc.want {
			if got := doc.Results[0][k]; got != v {
				t.Errorf("%s: %s = %v, want %v (%s)", tc.line, k, got, v, bytes.TrimSpace([]byte(out)))
			}
		}
		if doc.Status != st {
			t.Errorf("%s: JSON status %d, exit %d", tc.line, doc.Status, st)
		}
	}
}

// TestFindBadChecksum: find -r badchksum lists the files marked bad, in
// text (golden) and JSON, and nothing else.
func TestFindBadChecksum(t *testing.T) {
	s, l := testSite(t)
	s.Now = func() time.Time { return time.Unix(1800000000, 0) }
	s.Loc = time.UTC
	for _, lfn := range []string{"/store/a/migrated.fits", "/scratch/d/two.tar", "/store/a/nocopy.fits"} {
		if st, _, errs := runCmd(t, s, false, "chksum calc "+lfn); st != 0 {
			t.Fatalf("calc %s: %s", lfn, errs)
		}
	}
	for _, lfn := range []string{"/store/a/migrated.fits", "/scratch/d/two.tar"} {
		rot(t, s.PFN(lfn))
		if st, _, _ := runCmd(t, s, false, "chksum -f verify 00000001 "+lfn); st != 1 {
			t.Fatalf("verify -f %s: %d", lfn, st)
		}
	}
	st, out, errs := runCmd(t, s, false, "find -r badchksum /store /scratch")
	if st != 0 {
		t.Fatalf("find: %d %s", st, errs)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	sortStrings(lines[:len(lines)-1])
	golden(t, "find_badchksum", norm("stdout:\n"+strings.Join(lines, "\n")+"\nstderr:\n"+errs, l))

	st, out, _ = runCmd(t, s, true, "find badc /store/a")
	var doc struct {
		Results []map[string]any `json:"results"`
		Summary map[string]any   `json:"summary"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || st != 0 {
		t.Fatalf("JSON find: %d %v\n%s", st, err, out)
	}
	if len(doc.Results) != 1 || doc.Summary["found"] != float64(1) {
		t.Fatalf("JSON find: %s", out)
	}
	r := doc.Results[0]
	if r["lfn"] != "/store/a/migrated.fits" || r["type"] != "adler32" || r["found"] != float64(1800000000) || r["stored"] == r["computed"] || r["computed"] == nil {
		t.Errorf("JSON item %v", r)
	}
}

// TestChksumRecursiveVerify: chksum -r verify ldir re-reads every file
// with a current stored checksum, lists the mismatches (with -v every
// file), sums up, and exits 1 when there is any.
func TestChksumRecursiveVerify(t *testing.T) {
	s, _ := testSite(t)
	for _, lfn := range []string{"/store/a/migrated.fits", "/store/a/modified.fits", "/scratch/d/one.tar"} {
		if st, _, errs := runCmd(t, s, false, "chksum calc "+lfn); st != 0 {
			t.Fatalf("calc %s: %s", lfn, errs)
		}
	}
	st, out, errs := runCmd(t, s, false, "chksum -r verify /store /scratch")
	if st != 0 || !strings.Contains(out, "3 files verified (") || !strings.Contains(out, "0 mismatches") || errs != "" {
		t.Fatalf("clean tree: status %d\n%s%s", st, out, errs)
	}
	good := strings.Fields(func() string { _, o, _ := runCmd(t, s, false, "chksum ls /store/a/migrated.fits"); return o }())[0]
	rotten := rot(t, s.PFN("/store/a/migrated.fits"))

	tests := []struct {
		line   string
		status int
		out    []string
		not    []string
	}{
		{"chksum -r verify /store", 1, []string{
			"adler32 checksums differ for /store/a/migrated.fits (computed from the data: " + rotten + "; the stored checksum " + good + " differs: marked bad)\n",
			"2 files verified (", "1 mismatch, 1 marked bad now, 1 marked bad in all.",
			"Skipped: 1 without a checksum.",
		}, []string{"modified.fits"}},
		// -v lists the files that match too; the earlier mark is kept.
		{"chksum -v -r verify /store", 1, []string{
			"adler32 checksums match for /store/a/modified.fits (computed from the data; the stored checksum agrees)\n",
			"differ for /store/a/migrated.fits (computed from the data: " + rotten + "; the stored checksum " + good + " differs: marked bad since ",
			"1 mismatch, 0 marked bad now, 1 marked bad in all.",
		}, nil},
		{"chksum -r verify /scratch", 0, []string{"1 file verified (", "0 mismatches"}, []string{"differ"}},
		{"chksum -r -t md5 verify /store", 0, []string{"0 files verified", "Skipped: 3 without a checksum."}, nil},
		{"chksum -r calc /store", ExitUsage, nil, nil},
		{"chksum -r verify", ExitUsage, nil, nil},
	}
	for _, tc := range tests {
		st, out, errs := runCmd(t, s, false, tc.line)
		if st != tc.status {
			t.Errorf("%s: status %d, want %d\n%s%s", tc.line, st, tc.status, out, errs)
		}
		for _, w := range tc.out {
			if !strings.Contains(out, w) {
				t.Errorf("%s: stdout lacks %q:\n%s", tc.line, w, out)
			}
		}
		for _, w := range tc.not {
			if strings.Contains(out, w) {
				t.Errorf("%s: stdout has %q:\n%s", tc.line, w, out)
			}
		}
	}

	st, out, _ = runCmd(t, s, true, "chksum -r verify /store")
	var doc struct {
		Results []map[string]any `json:"results"`
		Summary map[string]any   `json:"summary"`
		Status  int              `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if st != 1 || doc.Status != 1 || len(doc.Results) != 1 || doc.Summary["mismatches"] != float64(1) || doc.Summary["files"] != float64(2) ||
		doc.Summary["bad"] != float64(1) || doc.Summary["no_checksum"] != float64(1) {
		t.Fatalf("JSON: status %d\n%s", st, out)
	}
	r := doc.Results[0]
	if r["lfn"] != "/store/a/migrated.fits" || r["computed"] != rotten || r["stored"] != good || r["match"] != false || r["bad"] != true {
		t.Errorf("JSON item %v", r)
	}
}
