package mss

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/adler32"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"frm/core/fedapi"
	"frm/core/retry"
)

// peerServer speaks frm serve's /v1 locate and files, with faults to
// inject: it is the far side of the Peers backend's HTTP, not frm's
// server (that one is tested in package serve and end to end in cmd/frm).
type peerServer struct {
	mu      sync.Mutex
	files   map[string][]byte // resident
	mss     map[string][]byte // stageable: resident after pending polls
	pending int               // polls answered 202 before a staged file is resident
	corrupt bool              // serve bytes that differ from the digest
	cutAt   int64             // close the connection after this many body bytes (once per request without Range)
	dead    atomic.Bool       // refuse everything (503), like a killed site
	locates atomic.Int32
	gets    atomic.Int32
	ranges  atomic.Int32
}

func adler(b []byte) string { return fmt.Sprintf("%08x", adler32.Checksum(b)) }

func (s *peerServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.dead.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case r.URL.Path == fedapi.LocatePath:
		s.locates.Add(1)
		var req fedapi.LocateRequest
		json.NewDecoder(r.Body).Decode(&req)
		var rep fedapi.LocateReply
		for _, lfn := range req.LFNs {
			l := fedapi.Located{LFN: lfn, State: fedapi.Absent}
			if b, ok := s.files[lfn]; ok {
				l = fedapi.Located{LFN: lfn, State: fedapi.Resident, Size: int64(len(b)), MTime: 1, Checksum: "adler32:" + adler(b)}
			} else if b, ok := s.mss[lfn]; ok {
				l = fedapi.Located{LFN: lfn, State: fedapi.Stageable, Size: int64(len(b))}
			}
			rep.Files = append(rep.Files, l)
		}
		json.NewEncoder(w).Encode(rep)
	case strings.HasPrefix(r.URL.Path, fedapi.FilesPath+"/"):
		s.gets.Add(1)
		lfn := strings.TrimPrefix(r.URL.Path, fedapi.FilesPath)
		b, ok := s.files[lfn]
		if !ok {
			if mb, staged := s.mss[lfn]; staged && r.URL.Query().Get("stage") == "1" {
				if s.pending > 0 {
					s.pending--
					w.Header().Set("Retry-After", "1")
					w.WriteHeader(http.StatusAccepted)
					return
				}
				s.files[lfn] = mb
				delete(s.mss, lfn)
				b = mb
			} else {
				http.Error(w, `{"error":"not on disk"}`, http.StatusNotFound)
				return
			}
		}
		c := fedapi.Checksum{Alg: "adler32", Hex: adler(b)}
		w.Header().Set(fedapi.HeaderReprDigest, fedapi.ReprDigest(c))
		w.Header().Set("ETag", `"v1"`)
		body := b
		if s.corrupt {
			body = bytes.Clone(b)
			body[len(body)/2] ^= 0xff
		}
		if r.Header.Get("Range") != "" {
			s.ranges.Add(1)
		} else if s.cutAt > 0 && s.cutAt < int64(len(body)) {
			// Send a part, then drop the connection.
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.WriteHeader(http.StatusOK)
			w.Write(body[:s.cutAt])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
		http.ServeContent(w, r, "", time.Unix(1, 0), bytes.NewReader(body))
	default:
		http.NotFound(w, r)
	}
}

func newPeer(t *testing.T, s *peerServer) PeerSite {
	t.Helper()
	srv := httptest.NewTLSServer(s)
	t.Cleanup(srv.Close)
	c := &fedapi.Client{Base: srv.URL, HTTP: srv.Client()}
	return PeerSite{Client: c}
}

func peersOf(t *testing.T, names []string, servers ...*peerServer) *Peers {
	t.Helper()
	var sites []PeerSite
	for i, s := range servers {
		ps := newPeer(t, s)
		ps.Name = names[i]
		sites = append(sites, ps)
	}
	return NewPeers(PeersOptions{Sites: sites, For: func(string) []string { return names }, Retries: 3,
		RequestTimeout: time.Minute, Poll: retry.Policy{Base: 10 * time.Millisecond, Max: 50 * time.Millisecond}})
}

func fetchPeers(t *testing.T, p *Peers, lfn string) (string, Result, error) {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "dst")
	res, err := p.Fetch(context.Background(), Request{LFN: lfn}, dst, "adler32")
	return dst, res, err
}

func data(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func TestPeersFetchResident(t *testing.T) {
	content := data(300 << 10)
	b := &peerServer{files: map[string][]byte{}}
	c := &peerServer{files: map[string][]byte{"/store/a": content}}
	p := peersOf(t, []string{"b", "c"}, b, c)
	dst, res, err := fetchPeers(t, p, "/store/a")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, content) || res.Origin != "c" || res.Bytes != int64(len(content)) || res.Checksum.Hex != adler(content) {
		t.Errorf("fetched %d bytes from %q, checksum %v", len(got), res.Origin, res.Checksum)
	}
	if i, err := p.StatLFN(context.Background(), "/store/a"); err != nil || i.Size != int64(len(content)) || i.Checksum == nil {
		t.Errorf("StatLFN = %+v, %v", i, err)
	}
}

// TestPeersResumeAfterBreak: a connection dropped mid-file resumes with
// Range from the same peer; the result is whole and verified.
func TestPeersResumeAfterBreak(t *testing.T) {
	content := data(1 << 20)
	b := &peerServer{files: map[string][]byte{"/store/a": content}, cutAt: 300 << 10}
	p := peersOf(t, []string{"b"}, b)
	dst, res, err := fetchPeers(t, p, "/store/a")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, content) || res.Origin != "b" {
		t.Errorf("fetched %d bytes from %q", len(got), res.Origin)
	}
	if b.ranges.Load() != 1 {
		t.Errorf("%d range requests, want the one resume", b.ranges.Load())
	}
}

// TestPeersResumeFromAnotherPeer: the peer dies mid-file; the download
// goes on at the same offset from another peer with the same checksum.
func TestPeersResumeFromAnotherPeer(t *testing.T) {
	content := data(1 << 20)
	b := &peerServer{files: map[string][]byte{"/store/a": content}, cutAt: 400 << 10}
	c := &peerServer{files: map[string][]byte{"/store/a": content}}
	p := peersOf(t, []string{"b", "c"}, b, c)
	// b dies as it cuts the connection.
	go func() {
		for b.gets.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		b.dead.Store(true)
	}()
	dst, res, err := fetchPeers(t, p, "/store/a")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, content) {
		t.Errorf("fetched %d bytes", len(got))
	}
	if res.Origin != "c" || c.ranges.Load() != 1 {
		t.Errorf("origin %q, %d range requests at c; want the rest from c", res.Origin, c.ranges.Load())
	}
}

// TestPeersWrongBytes: a peer whose bytes do not match its digest is
// named and never used; the next peer serves; with no good peer, the
// fetch fails with a checksum mismatch and leaves nothing at dst.
func TestPeersWrongBytes(t *testing.T) {
	content := data(200 << 10)
	b := &peerServer{files: map[string][]byte{"/store/a": content}, corrupt: true}
	c := &peerServer{files: map[string][]byte{"/store/a": content}}
	p := peersOf(t, []string{"b", "c"}, b, c)
	dst, res, err := fetchPeers(t, p, "/store/a")
	if err != nil || res.Origin != "c" {
		t.Fatalf("fetch: %v (origin %q)", err, res.Origin)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, content) {
		t.Error("wrong content")
	}
	p = peersOf(t, []string{"b"}, b)
	dst, _, err = fetchPeers(t, p, "/store/a")
	if err == nil || !IsPermanent(err) || !strings.Contains(err.Error(), "b served wrong bytes") {
		t.Errorf("only a corrupting peer: %v", err)
	}
	if _, serr := os.Stat(dst); serr == nil {
		t.Error("a file was left at dst")
	}
	ents, _ := os.ReadDir(filepath.Dir(dst))
	if len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}

// TestPeersStageAndPoll: a file only in a peer's MSS is staged there
// (202) and polled for until resident.
func TestPeersStageAndPoll(t *testing.T) {
	content := data(10 << 10)
	c := &peerServer{files: map[string][]byte{}, mss: map[string][]byte{"/store/t": content}, pending: 3}
	p := peersOf(t, []string{"c"}, c)
	dst, res, err := fetchPeers(t, p, "/store/t")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, content) || res.Origin != "c" {
		t.Errorf("fetched %d bytes from %q", len(got), res.Origin)
	}
	// A peer that never finishes staging: the request timeout ends it.
	c2 := &peerServer{files: map[string][]byte{}, mss: map[string][]byte{"/store/t": content}, pending: 1 << 30}
	p = peersOf(t, []string{"c"}, c2)
	p.o.RequestTimeout = 200 * time.Millisecond
	if _, _, err := fetchPeers(t, p, "/store/t"); err == nil || !IsTransient(err) || !strings.Contains(err.Error(), "not brought back within") {
		t.Errorf("never staged: %v", err)
	}
}

// TestPeersAbsentNamesEachPeer: a file no peer has is NotExist, and the
// error says what each peer answered; a peer that cannot be reached makes
// it Transient.
func TestPeersAbsentNamesEachPeer(t *testing.T) {
	b := &peerServer{files: map[string][]byte{}}
	c := &peerServer{files: map[string][]byte{}}
	p := peersOf(t, []string{"b", "c"}, b, c)
	_, _, err := fetchPeers(t, p, "/store/none")
	if !IsNotExist(err) || !strings.Contains(err.Error(), "b: absent; c: absent") {
		t.Errorf("absent: %v", err)
	}
	c.dead.Store(true)
	_, _, err = fetchPeers(t, p, "/store/none")
	if !IsTransient(err) || !strings.Contains(err.Error(), "c: locate:") {
		t.Errorf("one peer down: %v", err)
	}
}

// TestPeersLocateBatched: concurrent Stats of many files make a few
// locate requests, not one each.
func TestPeersLocateBatched(t *testing.T) {
	files := map[string][]byte{}
	for i := range 200 {
		files[fmt.Sprintf("/store/f%d", i)] = []byte("x")
	}
	b := &peerServer{files: files}
	p := peersOf(t, []string{"b"}, b)
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.StatLFN(context.Background(), fmt.Sprintf("/store/f%d", i)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := b.locates.Load(); n > 20 {
		t.Errorf("%d locate requests for 200 concurrent stats", n)
	}
}

// TestWithPeers: the local MSS first; what it lacks comes from the peers;
// copies out stay local.
func TestWithPeers(t *testing.T) {
	root := t.TempDir()
	local, err := NewPosix(PosixOptions{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(root, "store"), 0o755)
	os.WriteFile(filepath.Join(root, "store/local"), []byte("local"), 0o644)
	b := &peerServer{files: map[string][]byte{"/store/remote": []byte("remote")}}
	p := peersOf(t, []string{"b"}, b)
	w := WithPeers(local, p, func(rfn string) string { return strings.TrimPrefix(rfn, root) })
	for lfn, want := range map[string]string{"/store/local": "local", "/store/remote": "remote"} {
		dst := filepath.Join(t.TempDir(), "d")
		res, err := w.Fetch(context.Background(), Request{LFN: lfn, RFN: root + lfn}, dst, "adler32")
		got, _ := os.ReadFile(dst)
		if err != nil || string(got) != want {
			t.Errorf("%s: %q %v", lfn, got, err)
		}
		if wantOrigin := map[string]string{"local": "", "remote": "b"}[want]; res.Origin != wantOrigin {
			t.Errorf("%s: origin %q", lfn, res.Origin)
		}
	}
	if i, err := w.Stat(context.Background(), root+"/store/remote"); err != nil || i.Size != 6 {
		t.Errorf("Stat remote: %+v %v", i, err)
	}
	if _, ok := RenamerOf(w); !ok {
		t.Error("the local MSS's renames are hidden")
	}
	if probed, _ := ProbeOf(context.Background(), w); !probed {
		t.Error("the local MSS's probe is hidden")
	}
}
