package fedapi

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// bulkStream builds a stream: files (name, content) and error records.
func bulkStream(t testing.TB, recs []BulkHeader, bodies []string, end int) []byte {
	var b bytes.Buffer
	for i, h := range recs {
		if err := WriteBulkHeader(&b, h); err != nil {
			t.Fatal(err)
		}
		b.WriteString(bodies[i])
	}
	if end >= 0 {
		WriteBulkHeader(&b, BulkHeader{End: true, Files: end})
	}
	return b.Bytes()
}

func TestReadBulk(t *testing.T) {
	good := []BulkHeader{
		{LFN: "/a", Size: 3, MTime: 1, Checksum: "adler32:024d0127"},
		{LFN: "/b", Status: 404, Error: "not on disk"},
		{LFN: "/c", Size: 0},
	}
	bodies := []string{"abc", "", ""}
	for _, tc := range []struct {
		name   string
		stream []byte
		skip   bool // the callback reads nothing
		want   string
		err    string
	}{
		{"whole", bulkStream(t, good, bodies, 3), false, "/a=abc /b!404 /c= ", ""},
		{"bytes left unread are skipped", bulkStream(t, good, bodies, 3), true, "/a= /b!404 /c= ", ""},
		{"empty", bulkStream(t, nil, nil, 0), false, "", ""},
		{"no end line", bulkStream(t, good, bodies, -1), false, "/a=abc /b!404 /c= ", "no end line"},
		{"end counts otherwise", bulkStream(t, good, bodies, 2), false, "/a=abc /b!404 /c= ", "its end line says 2"},
		{"cut within a file", bulkStream(t, good[:1], bodies[:1], -1)[:len(`{"lfn":"/a","size":3,"mtime":1,"checksum":"adler32:024d0127"}`)+3], true, "/a= ", "missing"},
		{"cut within a header", []byte(`{"lfn":"/a","si`), false, "", "within a header line"},
		{"not JSON", []byte("GET / HTTP/1.1\n"), false, "", "header"},
		{"unknown field", []byte(`{"lfn":"/a","path":"/etc/passwd"}` + "\n"), false, "", "unknown field"},
		{"no name", []byte(`{"size":1}` + "\nx"), false, "", "without a name"},
		{"negative size", []byte(`{"lfn":"/a","size":-1}` + "\n"), false, "", "negative size"},
		{"error record with bytes", []byte(`{"lfn":"/a","size":1,"status":404}` + "\nx"), false, "", "error record"},
		{"status not an error", []byte(`{"lfn":"/a","status":200}` + "\n"), false, "", "error record"},
		{"header too long", []byte(`{"lfn":"/` + strings.Repeat("a", MaxBulkHeader+10) + `"}` + "\n"), false, "", "longer than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got strings.Builder
			_, err := ReadBulk(bytes.NewReader(tc.stream), func(r BulkRecord) error {
				if r.Status != 0 {
					got.WriteString(r.LFN + "!" + itoa(r.Status) + " ")
					if r.Err() == nil || StatusOf(r.Err()) != r.Status {
						t.Errorf("Err of %+v: %v", r.BulkHeader, r.Err())
					}
					return nil
				}
				var b []byte
				if !tc.skip {
					b, _ = io.ReadAll(r.Body)
				}
				got.WriteString(r.LFN + "=" + string(b) + " ")
				return nil
			})
			if got.String() != tc.want {
				t.Errorf("records %q, want %q", got.String(), tc.want)
			}
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("err %v, want %q", err, tc.err)
			}
		})
	}
	// The callback's error ends the read.
	stop := errors.New("stop")
	if _, err := ReadBulk(bytes.NewReader(bulkStream(t, good, bodies, 3)), func(BulkRecord) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("callback error: %v", err)
	}
}

func itoa(n int) string {
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// FuzzReadBulk: whatever the stream, the reader never panics, never
// hands a record more bytes than its header promises, and accepts a
// stream only when it ends with the right count.
func FuzzReadBulk(f *testing.F) {
	f.Add(bulkStream(f, []BulkHeader{{LFN: "/a", Size: 3}, {LFN: "/b", Status: 404, Error: "x"}}, []string{"abc", ""}, 2))
	f.Add([]byte(`{"end":true}` + "\n"))
	f.Add([]byte(`{"lfn":"/a","size":99999999999}` + "\nabc"))
	f.Add([]byte(`{"lfn":"/a","size":1}` + "\n" + `{"end":true,"files":1}` + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n := 0
		got, err := ReadBulk(bytes.NewReader(b), func(r BulkRecord) error {
			n++
			if r.LFN == "" && r.Status == 0 || r.Size < 0 {
				t.Fatalf("record %+v", r.BulkHeader)
			}
			m, _ := io.Copy(io.Discard, r.Body)
			if m > r.Size {
				t.Fatalf("%d bytes for a record of %d", m, r.Size)
			}
			return nil
		})
		if got != n {
			t.Fatalf("counted %d, saw %d", got, n)
		}
		if err == nil && !bytes.Contains(b, []byte(`"end"`)) {
			t.Fatalf("accepted a stream without an end line: %q", b)
		}
	})
}
