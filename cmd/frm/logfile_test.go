package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLogRotationKeepsN(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "frm.log")
	w, err := openLog(p, "2")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, day := range []string{"20260101", "20260102", "20260103", "20260104"} {
		w.day = day // pretend the file was opened that day: the next write rotates
		if _, err := w.Write([]byte("line\n")); err != nil {
			t.Fatal(err)
		}
	}
	old, _ := filepath.Glob(p + ".*")
	if len(old) != 2 || old[0] != p+".20260103" || old[1] != p+".20260104" {
		t.Fatalf("old logs kept: %q", old)
	}
	if b, _ := os.ReadFile(p); string(b) != "line\n" {
		t.Fatalf("current log %q", b)
	}
	if _, err := openLog(p, "many"); err == nil {
		t.Error("-k many accepted")
	}
	if w2, err := openLog(filepath.Join(dir, "b.log"), "1k"); err != nil || w2.keepSize != 1024 {
		t.Errorf("-k 1k: %v %+v", err, w2)
	}
}
