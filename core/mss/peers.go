package mss

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"frm/core/fedapi"
	"frm/core/retry"
)

// Peers is a read-only MSS made of other frm sites (their frm serve;
// docs/federation.md): what NetDRMS calls Remote SUMS. To the transfer
// engine it is one more backend, composed after the site's own MSS
// (WithPeers), so the queue, the engine, the daemons and the
// notifications need no second path for files fetched from peers.
//
// Fetch asks the peers an export opts in to where they have the file (one
// locate per peer, batched across concurrent fetches), downloads it from
// the first that has it on disk, else asks one that can stage it
// (?stage=1) and polls until it is there or the request timeout passes.
// The download goes to a temporary name next to dst, computes adler32 on
// the way and compares it with the peer's digest: a peer serving wrong
// bytes is named in the error and the next peer is tried. A connection
// that breaks resumes with Range from the same peer (If-Match: the same
// version) or from another whose checksum for the file is the same.
type Peers struct {
	o     PeersOptions
	sites map[string]*peerSite
	sem   chan struct{}
}

// PeerSite is one peer: its name and a client of its frm serve.
type PeerSite struct {
	Name   string
	Client *fedapi.Client
}

// PeersOptions configure NewPeers.
type PeersOptions struct {
	Sites []PeerSite
	// For returns the peers (by name, in preference order) that serve
	// lfn: those its export opts in to.
	For func(lfn string) []string
	// MaxDownloads bounds downloads at once (RS_MAXTHREADS).
	MaxDownloads int
	// RequestTimeout bounds the wait for a peer to stage a file
	// (RS_REQTIMEOUT); DownloadTimeout one download (RS_DLTIMEOUT).
	RequestTimeout, DownloadTimeout time.Duration
	// Retries of a broken download, resumed where it broke.
	Retries int
	// Poll spaces the polls of a staging peer (Base, doubling to Max;
	// the peer's Retry-After when longer).
	Poll retry.Policy
	Log  *slog.Logger
}

type peerSite struct {
	PeerSite
	loc *locator
}

// NewPeers returns the backend.
func NewPeers(o PeersOptions) *Peers {
	if o.MaxDownloads <= 0 {
		o.MaxDownloads = 4
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = time.Hour
	}
	if o.DownloadTimeout <= 0 {
		o.DownloadTimeout = 6 * time.Hour
	}
	if o.Poll.Base <= 0 {
		o.Poll = retry.Policy{Base: time.Second, Max: 30 * time.Second}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	p := &Peers{o: o, sites: map[string]*peerSite{}, sem: make(chan struct{}, o.MaxDownloads)}
	for _, s := range o.Sites {
		p.sites[s.Name] = &peerSite{PeerSite: s, loc: newLocator(s.Client)}
	}
	return p
}

// Name implements Backend.
func (p *Peers) Name() string { return "peers" }

// located is what one peer said of a file.
type located struct {
	site *peerSite
	loc  fedapi.Located
	err  error
}

// locate asks every peer serving lfn where it has it, at once.
func (p *Peers) locate(ctx context.Context, lfn string) []located {
	var out []located
	for _, name := range p.o.For(lfn) {
		if s := p.sites[name]; s != nil {
			out = append(out, located{site: s})
		}
	}
	var wg sync.WaitGroup
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i].loc, out[i].err = out[i].site.loc.locate(ctx, lfn)
		}()
	}
	wg.Wait()
	return out
}

// StatLFN describes the copy the peers have of lfn: a resident one first
// (with its checksum), else a stageable one.
func (p *Peers) StatLFN(ctx context.Context, lfn string) (Info, error) {
	locs := p.locate(ctx, lfn)
	var stageable *fedapi.Located
	var why []string
	for _, l := range locs {
		switch {
		case l.err != nil:
			why = append(why, l.site.Name+": "+l.err.Error())
		case l.loc.State == fedapi.Resident:
			return infoOf(l.loc), nil
		case l.loc.State == fedapi.Stageable && stageable == nil:
			stageable = &l.loc
		default:
			why = append(why, l.site.Name+": "+describe(l.loc))
		}
	}
	if stageable != nil {
		return infoOf(*stageable), nil
	}
	if len(locs) == 0 {
		return Info{}, NotExist(fmt.Errorf("peers: no peer serves %s", lfn))
	}
	err := fmt.Errorf("peers: %s: %s", lfn, strings.Join(why, "; "))
	if allAnswered(locs) {
		return Info{}, NotExist(err)
	}
	return Info{}, Transient(err)
}

func infoOf(l fedapi.Located) Info {
	i := Info{Size: l.Size}
	if l.MTime > 0 {
		i.ModTime = time.Unix(l.MTime, 0)
	}
	if c, err := fedapi.ParseChecksum(l.Checksum); err == nil && c.Alg != "" {
		i.Checksum = &Checksum{Alg: c.Alg, Hex: c.Hex}
	}
	return i
}

func describe(l fedapi.Located) string {
	if l.Error != "" {
		return string(l.State) + " (" + l.Error + ")"
	}
	return string(l.State)
}

// allAnswered: every peer answered (none failed to): their "absent" and
// "denied" are final.
func allAnswered(locs []located) bool {
	for _, l := range locs {
		if l.err != nil {
			return false
		}
	}
	return true
}

// Stat implements Backend for an rfn that is the lfn (a site whose only
// MSS is its peers).
func (p *Peers) Stat(ctx context.Context, rfn string) (Info, error) { return p.StatLFN(ctx, rfn) }

// Store implements Backend: peers are read-only.
func (p *Peers) Store(context.Context, Request, string, string) (Result, error) {
	return Result{}, Permanent(errors.New("peers: read-only (this site has no MSS to copy files out to)"))
}

// Remove implements Backend: peers are read-only.
func (p *Peers) Remove(context.Context, string) error {
	return Permanent(errors.New("peers: read-only (this site has no MSS)"))
}

// Fetch implements Backend: req.LFN from the peers into dst.
func (p *Peers) Fetch(ctx context.Context, req Request, dst, alg string) (Result, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	defer func() { <-p.sem }()
	lfn := req.LFN
	deadline := time.Now().Add(p.o.RequestTimeout)
	tried := map[string]string{} // peer → what it answered (the error names each)
	bad := map[string]bool{}     // peers that served wrong bytes
	for poll := 1; ; poll++ {
		if poll > 1 {
			// Ask again, not the answers that sent us waiting.
			for _, name := range p.o.For(lfn) {
				if s := p.sites[name]; s != nil {
					s.loc.forget(lfn)
				}
			}
		}
		locs := p.locate(ctx, lfn)
		if len(locs) == 0 {
			return Result{}, NotExist(fmt.Errorf("peers: no peer serves %s (its export names none)", lfn))
		}
		var stageable []located
		for _, l := range locs {
			switch {
			case bad[l.site.Name]:
			case l.err != nil:
				tried[l.site.Name] = "locate: " + l.err.Error()
			case l.loc.State == fedapi.Resident:
				res, err := p.download(ctx, l, locs, bad, req, dst, alg)
				if err == nil {
					return res, nil
				}
				l.site.loc.forget(lfn)
				if ctx.Err() != nil {
					return Result{}, err
				}
				tried[l.site.Name] = err.Error()
			case l.loc.State == fedapi.Stageable:
				stageable = append(stageable, l)
				tried[l.site.Name] = "stageable"
			default:
				tried[l.site.Name] = describe(l.loc)
			}
		}
		if len(stageable) == 0 {
			return Result{}, p.failure(lfn, locs, tried, bad)
		}
		// Nobody has it on disk: the first peer that can stage it is
		// asked to (pending), and the locate is repeated until it is
		// there.
		wait := p.o.Poll.Wait(poll)
		asked := false
		for _, l := range stageable {
			f, err := l.site.Client.Open(ctx, lfn, 0, "", true)
			var pe *fedapi.PendingError
			if err == nil {
				// Resident by now: the next locate says so, and the
				// download starts from there.
				f.Body.Close()
				asked = true
				break
			}
			if errors.As(err, &pe) {
				wait = max(wait, pe.RetryAfter)
				tried[l.site.Name] = "staging (pending)"
				reportSource(ctx, "peer "+l.site.Name+" (staging there)")
				asked = true
				break
			}
			tried[l.site.Name] = "stage: " + err.Error()
		}
		if !asked {
			return Result{}, p.failure(lfn, locs, tried, bad)
		}
		if time.Now().Add(wait).After(deadline) {
			return Result{}, Transient(fmt.Errorf("peers: %s not brought back within %v (request timeout): %s", lfn, p.o.RequestTimeout, summary(tried)))
		}
		if err := retry.Sleep(ctx, wait); err != nil {
			return Result{}, err
		}
	}
}

// failure is the error of a fetch no peer could serve: NotExist when every
// peer answered that it has no such file (or may not give it),
// ErrChecksumMismatch when they served wrong bytes, else Transient (a
// peer that could not be reached may have it next time).
func (p *Peers) failure(lfn string, locs []located, tried map[string]string, bad map[string]bool) error {
	err := fmt.Errorf("peers: cannot fetch %s: %s", lfn, summary(tried))
	switch {
	case len(bad) > 0 && len(bad) == len(locs):
		return Permanent(fmt.Errorf("%w: %w", ErrChecksumMismatch, err))
	case allAnswered(locs) && len(bad) == 0 && noneResident(locs):
		return NotExist(err)
	}
	return Transient(err)
}

func noneResident(locs []located) bool {
	for _, l := range locs {
		if l.loc.State == fedapi.Resident || l.loc.State == fedapi.Stageable {
			return false
		}
	}
	return true
}

// summary names each peer tried and what it answered, in name order.
func summary(tried map[string]string) string {
	var names []string
	for n := range tried {
		names = append(names, n)
	}
	slices.Sort(names)
	var parts []string
	for _, n := range names {
		parts = append(parts, n+": "+tried[n])
	}
	return strings.Join(parts, "; ")
}

// download fetches the file from l's peer into a temporary name next to
// dst, resuming a broken connection from the same peer or from another
// in locs holding the same version (same size and checksum), verifies the
// checksum and renames the file to dst. A peer that served wrong bytes is
// added to bad.
func (p *Peers) download(ctx context.Context, l located, locs []located, bad map[string]bool, req Request, dst, alg string) (res Result, err error) {
	dctx, cancel := context.WithTimeout(ctx, p.o.DownloadTimeout)
	defer cancel()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return Result{}, classifyErrno(err, false)
	}
	out, err := os.CreateTemp(filepath.Dir(dst), filepath.Base(dst)+".frmtmp-*")
	if err != nil {
		return Result{}, classifyErrno(err, false)
	}
	tmp := out.Name()
	defer func() {
		out.Close()
		if err != nil {
			os.Remove(tmp)
		}
	}()
	hs, err := newHashSet(alg, "adler32")
	if err != nil {
		return Result{}, err
	}
	want, _ := fedapi.ParseChecksum(l.loc.Checksum)
	// Sources of the same version, the chosen peer first.
	sources := []located{l}
	for _, o := range locs {
		if o.site != l.site && o.err == nil && o.loc.State == fedapi.Resident && !bad[o.site.Name] &&
			o.loc.Size == l.loc.Size && o.loc.Checksum != "" && o.loc.Checksum == l.loc.Checksum {
			sources = append(sources, o)
		}
	}
	var offset, size int64 = 0, -1
	etags := map[string]string{}
	from := l.site.Name
	var used []string // the peers whose bytes the file holds, in order
	breaks := 0
	for src := 0; ; {
		s := sources[src%len(sources)]
		f, oerr := s.site.Client.Open(dctx, req.LFN, offset, etags[s.site.Name], false)
		if oerr == nil {
			if size < 0 {
				size = f.Size
			}
			if f.Size != size {
				f.Body.Close()
				oerr = fmt.Errorf("%s has another version (%d bytes, not %d)", s.site.Name, f.Size, size)
			}
		}
		if oerr != nil {
			if dctx.Err() != nil {
				return Result{}, fmt.Errorf("%s: %w", s.site.Name, dctx.Err())
			}
			breaks++
			if breaks > p.o.Retries+len(sources) {
				return Result{}, Transient(fmt.Errorf("download from %s: %w", s.site.Name, oerr))
			}
			src++ // another source, or the same again after the others
			if src%len(sources) == 0 {
				if err := retry.Sleep(dctx, time.Duration(breaks)*200*time.Millisecond); err != nil {
					return Result{}, err
				}
			}
			continue
		}
		if etags[s.site.Name] == "" {
			etags[s.site.Name] = f.ETag
		}
		if want.Alg == "" {
			want = f.Checksum
		}
		if want.Alg == "" && offset == 0 {
			p.o.Log.Warn("peer sends no checksum for the file; its bytes cannot be verified", "lfn", req.LFN, "peer", s.site.Name)
		}
		if from != s.site.Name || offset == 0 {
			reportSource(ctx, "peer "+s.site.Name)
		}
		from = s.site.Name
		if !slices.Contains(used, from) {
			used = append(used, from)
		}
		n, cerr := copyCtx(dctx, io.MultiWriter(out, hs), f.Body)
		f.Body.Close()
		offset += n
		if cerr == nil && offset == size {
			break
		}
		if cerr == nil {
			cerr = fmt.Errorf("connection ended at %d of %d bytes", offset, size)
		}
		if dctx.Err() != nil {
			return Result{}, Transient(fmt.Errorf("download from %s: %w (download timeout %v)", s.site.Name, dctx.Err(), p.o.DownloadTimeout))
		}
		breaks++
		p.o.Log.Info("peer download broke; resuming", "lfn", req.LFN, "peer", s.site.Name, "at", offset, "err", cerr)
		if breaks > p.o.Retries+len(sources) {
			return Result{}, Transient(fmt.Errorf("download from %s broke %d times, last at %d bytes: %w", s.site.Name, breaks, offset, cerr))
		}
		// Resume: the same peer first (its connection may just have
		// dropped), then the others.
	}
	if got := hs.sum("adler32"); want.Alg == "adler32" && got.Hex != want.Hex {
		// Which part was wrong cannot be told when a resumed download
		// took bytes from several peers: none of them is trusted again
		// for this file.
		who := strings.Join(used, " and ")
		for _, name := range used {
			bad[name] = true
		}
		p.o.Log.Warn("peer served wrong bytes; trying the others", "lfn", req.LFN, "peer", who, "adler32", got.Hex, "claimed", want.Hex)
		return Result{}, Permanent(fmt.Errorf("%w: %s served wrong bytes for %s (adler32 %s, it claims %s)", ErrChecksumMismatch, who, req.LFN, got.Hex, want.Hex))
	}
	if err := out.Close(); err != nil {
		return Result{}, classifyErrno(err, false)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return Result{}, classifyErrno(err, false)
	}
	return Result{Bytes: size, Checksum: hs.sum(alg), Origin: from}, nil
}

// locator batches the locates of one peer as a group commit does: a name
// asked while no locate is in flight goes at once; names asked while one
// is in flight wait for it and go together in the next (one round trip for
// a burst of stages, as the SUMS CGI answers for a list of units, and no
// added wait when the peer is idle). Answers are kept a few seconds, so
// the Stat and the Fetch of one stage ask once.
type locator struct {
	c  *fedapi.Client
	mu sync.Mutex
	// pending are the names of the next batch, with their waiters;
	// inFlight says a batch is being asked.
	pending  map[string][]chan locReply
	inFlight bool
	cache    map[string]cachedLoc
}

type locReply struct {
	loc fedapi.Located
	err error
}

type cachedLoc struct {
	loc fedapi.Located
	at  time.Time
}

// locateBatch is the most names one locate carries; locateTTL how long an
// answer is reused.
const (
	locateBatch = 1000
	locateTTL   = 5 * time.Second
)

func newLocator(c *fedapi.Client) *locator {
	return &locator{c: c, pending: map[string][]chan locReply{}, cache: map[string]cachedLoc{}}
}

// forget drops the cached answer for lfn (it proved wrong: the file
// changed or went).
func (l *locator) forget(lfn string) {
	l.mu.Lock()
	delete(l.cache, lfn)
	l.mu.Unlock()
}

func (l *locator) locate(ctx context.Context, lfn string) (fedapi.Located, error) {
	l.mu.Lock()
	if c, ok := l.cache[lfn]; ok && time.Since(c.at) < locateTTL {
		l.mu.Unlock()
		return c.loc, nil
	}
	ch := make(chan locReply, 1)
	l.pending[lfn] = append(l.pending[lfn], ch)
	if !l.inFlight {
		l.sendLocked()
	}
	l.mu.Unlock()
	select {
	case r := <-ch:
		return r.loc, r.err
	case <-ctx.Done():
		return fedapi.Located{}, ctx.Err()
	}
}

// sendLocked sends up to locateBatch pending names (l.mu held; the
// request runs without it) and, when it is answered, the next batch.
func (l *locator) sendLocked() {
	if len(l.pending) == 0 {
		l.inFlight = false
		return
	}
	l.inFlight = true
	batch := map[string][]chan locReply{}
	for n, w := range l.pending {
		batch[n] = w
		delete(l.pending, n)
		if len(batch) == locateBatch {
			break
		}
	}
	go func() {
		names := make([]string, 0, len(batch))
		for n := range batch {
			names = append(names, n)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		locs, err := l.c.Locate(ctx, names)
		cancel()
		now := time.Now()
		l.mu.Lock()
		if len(l.cache) > 100000 {
			clear(l.cache) // bounded: a cache, not a catalog
		}
		for i, n := range names {
			r := locReply{err: err}
			if err == nil {
				r.loc = locs[i]
				if st := locs[i].State; st == fedapi.Resident || st == fedapi.Stageable {
					// What a Fetch right after a Stat needs; a "no" is
					// asked again next time.
					l.cache[n] = cachedLoc{loc: locs[i], at: now}
				}
			}
			for _, ch := range batch[n] {
				ch <- r
			}
		}
		l.sendLocked()
		l.mu.Unlock()
	}()
}

// withPeers is a site's MSS followed by its peers: what the local MSS
// does not have (or every file, for a site without an MSS) is fetched from
// the peers. Copies out, removals and renames are the local MSS's only.
type withPeers struct {
	local Backend // nil: the site has no MSS
	peers *Peers
	// lfnOf maps an rfn back to its lfn (the peers know files by lfn).
	lfnOf func(rfn string) string
}

// WithPeers composes local (nil for none) and peers. lfnOf maps the rfns
// the engine gives Stat back to lfns.
func WithPeers(local Backend, peers *Peers, lfnOf func(rfn string) string) Backend {
	return &withPeers{local: local, peers: peers, lfnOf: lfnOf}
}

func (w *withPeers) Name() string {
	if w.local == nil {
		return "peers"
	}
	return w.local.Name() + "+peers"
}

// Unwrap implements Unwrapper (renames are the local MSS's).
func (w *withPeers) Unwrap() Backend { return w.local }

// Properties implements Describer: the local MSS's.
func (w *withPeers) Properties() Properties { return PropertiesOf(w.local) }

// withPeers is no Prober: ProbeOf reaches the local MSS through Unwrap.
// Only the local MSS can be out as a whole; a peer that cannot be reached
// fails its files' fetches (and is retried), not the direction.

func (w *withPeers) Stat(ctx context.Context, rfn string) (Info, error) {
	if w.local != nil {
		i, err := w.local.Stat(ctx, rfn)
		if err == nil || !IsNotExist(err) {
			return i, err
		}
	}
	return w.peers.StatLFN(ctx, w.lfnOf(rfn))
}

func (w *withPeers) Fetch(ctx context.Context, req Request, dst, alg string) (Result, error) {
	if w.local != nil {
		res, err := w.local.Fetch(ctx, req, dst, alg)
		if err == nil || !IsNotExist(err) {
			return res, err
		}
	}
	return w.peers.Fetch(ctx, req, dst, alg)
}

func (w *withPeers) Store(ctx context.Context, req Request, src, alg string) (Result, error) {
	if w.local == nil {
		return w.peers.Store(ctx, req, src, alg)
	}
	return w.local.Store(ctx, req, src, alg)
}

func (w *withPeers) Remove(ctx context.Context, rfn string) error {
	if w.local == nil {
		return w.peers.Remove(ctx, rfn)
	}
	return w.local.Remove(ctx, rfn)
}

// sourceKey carries a SourceFunc in a context.
type sourceKey struct{}

// SourceFunc is told where a fetch's data comes from, as it starts (and
// again when a resumed download changes peer).
type SourceFunc func(source string)

// WithSource returns a context whose fetches report their source to fn
// (the daemon shows it with the transfer's progress).
func WithSource(ctx context.Context, fn SourceFunc) context.Context {
	return context.WithValue(ctx, sourceKey{}, fn)
}

func reportSource(ctx context.Context, source string) {
	if fn, ok := ctx.Value(sourceKey{}).(SourceFunc); ok && fn != nil {
		fn(source)
	}
}
