// Package mirror keeps a mirror of a distribution's products (frm mirror;
// docs/mirror.md): the [[mirror]]s of a site's configuration, each a
// source (another frm site's frm serve, or a static tree with a manifest
// any web server serves) and lfn prefixes there, brought here as ordinary
// frm files through the transfer engine's verified path, each product
// published whole by writing its manifest last.
//
// A run reads the source's manifest of each product (complete, or the run
// fails and deletes nothing), compares it with the files here (size,
// mtime, checksum), downloads what is new or changed in parallel,
// deletes what the source no longer has when asked to (never more than
// max_delete without Force), and writes <dest>/.frm-manifest.ndjson.
// A product whose source generation is the one of the last good run costs
// one request and no walk here.
package mirror

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"frm/core/catalog"
	"frm/core/config"
	"frm/core/fedapi"
	"frm/core/mss"
	"frm/core/site"
	"frm/core/xfer"
)

// ErrLocked: another run of the mirror holds its lock.
var ErrLocked = errors.New("another run of this mirror is in progress")

// ErrTooManyDeletes: a product would lose more files than max_delete
// allows; nothing was deleted (nor downloaded).
var ErrTooManyDeletes = errors.New("too many deletions")

// Options of a run.
type Options struct {
	DryRun bool
	// Delete deletes what the source no longer has (also when the
	// mirror's delete is set); Force lifts max_delete.
	Delete, Force bool
	Log           *slog.Logger
	// OnFile, when set, is told of each file the run (or the dry run)
	// adds, changes, deletes or fails.
	OnFile func(FileEvent)
	// Progress, when set, receives the bytes as they arrive.
	Progress *Progress
	// Now is the clock (tests).
	Now func() time.Time
}

// Progress counts a run's work as it goes (read it from another
// goroutine).
type Progress struct {
	Bytes, Files   atomic.Int64
	TotalBytes     atomic.Int64
	TotalFiles     atomic.Int64
	SkippedResumed atomic.Int64 // bytes a resumed download did not fetch again
}

// Action is what a run does to a file.
type Action string

// Actions.
const (
	New     Action = "new"
	Changed Action = "changed"
	Deleted Action = "deleted"
	Failed  Action = "failed"
)

// FileEvent is one file of a run.
type FileEvent struct {
	Action Action `json:"action"`
	LFN    string `json:"lfn"`
	Size   int64  `json:"size"`
	Error  string `json:"error,omitempty"`
}

// Product is what a run did with one product.
type Product struct {
	Product string `json:"product"` // at the source
	Dest    string `json:"dest"`
	// Generation of the source's manifest; Unchanged when it is the
	// one of the last good run (the files here were not looked at).
	Generation string `json:"generation,omitempty"`
	Unchanged  bool   `json:"unchanged"`
	Files      int    `json:"files"` // at the source
	New        int    `json:"new"`
	Changed    int    `json:"changed"`
	Deleted    int    `json:"deleted"`
	// Stale: files here the source no longer has, not deleted (no
	// delete asked).
	Stale     int    `json:"stale"`
	Failed    int    `json:"failed"`
	Bytes     int64  `json:"bytes"` // to download (dry run) or downloaded
	Published bool   `json:"published"`
	Error     string `json:"error,omitempty"`
}

// Result is a run of one mirror.
type Result struct {
	Mirror   string        `json:"mirror"`
	Source   string        `json:"source"`
	DryRun   bool          `json:"dry_run"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"-"`
	Products []Product     `json:"products"`
	// Totals over the products.
	New, Changed, Deleted, Failed int
	Bytes                         int64
	// Err is why the run failed as a whole (nothing published); a run
	// with failed files only has Failed > 0 and Err nil.
	Err error `json:"-"`
}

// Changes reports whether the run changed (or, dry, would change)
// anything.
func (r Result) Changes() bool { return r.New+r.Changed+r.Deleted+r.Failed > 0 }

// item is one file of the plan.
type item struct {
	action Action
	src    fedapi.ManifestEntry // the source's (new, changed)
	dest   string
	local  fedapi.ManifestEntry // what is here (changed, deleted), lfn = dest
	err    error
	// inBulk: its bytes came in a bulk request (supplied to the
	// backend); its stage needs no download slot.
	inBulk bool
}

type productRun struct {
	Product
	root   string // dest lfn of the product's directory
	etag   string // of the source's published manifest read
	srcs   []fedapi.ManifestEntry
	local  map[string]fedapi.ManifestEntry // by dest lfn
	items  []*item
	failed bool // the listing failed
}

// source is a distribution: the manifest of a product and its files.
// manifest lists product (unless it is still as the last good run found
// it, ifNot: notModified) and returns the ETag of the published manifest
// it read ("" when it had the source walk the product).
type source interface {
	manifest(ctx context.Context, product string, ifNot last, fn func(fedapi.ManifestEntry) error) (etag string, notModified bool, err error)
	mss.MirrorOpener
	name() string
}

// last is what the last good run read of a product ("": nothing known):
// the ETag of the source's published manifest, and the generation of
// the product's files.
type last struct{ etag, generation string }

type peerSource struct {
	peer string
	c    *fedapi.Client
}

// manifest reads the product's published manifest (a mirror's, or one
// frm manifest build wrote) when the source has one: one conditional
// request, nothing walked at the source; else the source's listing of the
// product (GET /v1/manifest, a walk of its files there), which the
// source answers 304 without the manifest when the files are still of
// the last run's generation.
func (p peerSource) manifest(ctx context.Context, product string, ifNot last, fn func(fedapi.ManifestEntry) error) (string, bool, error) {
	etag, _, err := p.c.Published(ctx, product, ifNot.etag, fn)
	switch {
	case errors.Is(err, fedapi.ErrNotModified):
		return etag, true, nil
	case err == nil:
		return etag, false, nil
	case fedapi.StatusOf(err) != http.StatusNotFound:
		return "", false, fmt.Errorf("published manifest: %w", err)
	}
	_, err = p.c.Manifest(ctx, product, ifNot.generation, fn)
	if errors.Is(err, fedapi.ErrNotModified) {
		return "", true, nil
	}
	return "", false, err
}
func (p peerSource) Open(ctx context.Context, lfn string, off int64, ifMatch string) (*fedapi.File, error) {
	return p.c.Open(ctx, lfn, off, ifMatch, false)
}
func (p peerSource) name() string { return p.peer }

// bulk fetches many files in one request (POST /v1/bulk).
func (p peerSource) bulk(ctx context.Context, lfns []string, fn func(fedapi.BulkRecord) error) error {
	return p.c.Bulk(ctx, lfns, fn)
}

// bulker is a source that sends many files in one request: an frm site.
// A static source (a web server) has none: each file is a GET.
type bulker interface {
	bulk(ctx context.Context, lfns []string, fn func(fedapi.BulkRecord) error) error
}

// Bulk downloads. A small file costs the source a request of its own
// more than its bytes (one HTTPS GET per file reaches about 1,700 files
// a second on loopback), so files under bulkFileMax are fetched in
// batches of up to bulkBatch files or bulkBatchBytes (fedapi.MaxBulk at
// most), a few requests at once, and each then lands through the same
// stage as a downloaded file. Larger files keep a GET each, resumable
// with Range.
const (
	bulkFileMax    = 256 << 10
	bulkBatch      = 512
	bulkBatchBytes = 16 << 20
	// bulkInFlight bounds the bytes of files fetched in bulk and not yet
	// landed.
	bulkInFlight = 64 << 20
)

// byteBudget bounds bytes held at once.
type byteBudget struct {
	mu   sync.Mutex
	cond *sync.Cond
	free int64
}

func newByteBudget(n int64) *byteBudget {
	b := &byteBudget{free: n}
	b.cond = sync.NewCond(&b.mu)
	return b
}

// acquire waits until n bytes are free (n at most the whole budget) or
// ctx ends.
func (b *byteBudget) acquire(ctx context.Context, n int64) error {
	stop := context.AfterFunc(ctx, func() {
		b.mu.Lock()
		b.cond.Broadcast()
		b.mu.Unlock()
	})
	defer stop()
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.free < n {
		if err := ctx.Err(); err != nil {
			return err
		}
		b.cond.Wait()
	}
	b.free -= n
	return nil
}

func (b *byteBudget) release(n int64) {
	b.mu.Lock()
	b.free += n
	b.mu.Unlock()
	b.cond.Broadcast()
}

// staticSource reads the one manifest once per run and gives each
// product its part.
type staticSource struct {
	s       *fedapi.Static
	url     string
	once    sync.Once
	entries []fedapi.ManifestEntry
	err     error
}

func (s *staticSource) manifest(ctx context.Context, product string, _ last, fn func(fedapi.ManifestEntry) error) (string, bool, error) {
	s.once.Do(func() {
		_, s.err = s.s.Manifest(ctx, func(e fedapi.ManifestEntry) error {
			s.entries = append(s.entries, e)
			return nil
		})
	})
	if s.err != nil {
		return "", false, s.err
	}
	for _, e := range s.entries {
		if under(e.LFN, product) {
			if err := fn(e); err != nil {
				return "", false, err
			}
		}
	}
	return "", false, nil
}
func (s *staticSource) Open(ctx context.Context, lfn string, off int64, ifMatch string) (*fedapi.File, error) {
	return s.s.Open(ctx, lfn, off, ifMatch)
}
func (s *staticSource) name() string { return s.url }

func under(lfn, dir string) bool {
	return dir == "/" || lfn == dir || strings.HasPrefix(lfn, dir+"/")
}

func openSource(cfg *config.Config, m config.Mirror) (source, error) {
	if m.StaticSource() {
		st, err := fedapi.NewStatic(m.Source, fedapi.ClientOptions{HTTP1: true})
		if err != nil {
			return nil, err
		}
		return &staticSource{s: st, url: m.Source}, nil
	}
	for _, pc := range cfg.Peers {
		if pc.Name == m.Source {
			c, err := mss.PeerClientWith(pc, fedapi.ClientOptions{HTTP1: true})
			if err != nil {
				return nil, err
			}
			return peerSource{peer: pc.Name, c: c}, nil
		}
	}
	return nil, fmt.Errorf("no [[peer]] is called %q", m.Source)
}

// Dir is the mirrors' directory in the admin directory: their locks and
// the state of their last runs.
func Dir(cfg *config.Config) string { return filepath.Join(cfg.AdminDir(), "mirror") }

// Lock takes the lock of mirror name, without waiting: ErrLocked when
// another run holds it. The lock is an flock, released when the process
// ends however it ends.
func Lock(cfg *config.Config, name string) (unlock func(), err error) {
	dir := Dir(cfg)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("mirror lock: %w", err)
	}
	p := filepath.Join(dir, name+".lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("mirror lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		b := make([]byte, 32)
		n, _ := f.ReadAt(b, 0)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			holder := strings.TrimSpace(string(b[:n]))
			if holder != "" {
				return nil, fmt.Errorf("mirror %s: %w (pid %s holds %s)", name, ErrLocked, holder, p)
			}
			return nil, fmt.Errorf("mirror %s: %w (%s)", name, ErrLocked, p)
		}
		return nil, fmt.Errorf("mirror lock: %w", err)
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() {
		f.Truncate(0)
		f.Close()
	}, nil
}

// state is what a mirror remembers between runs: per product, the source
// generation its last good run published.
type state struct {
	Products map[string]productState `json:"products"`
}

type productState struct {
	Generation string    `json:"generation"`
	Published  time.Time `json:"published"`
	// Stale: files here the source did not have, left (no delete).
	Stale int `json:"stale,omitempty"`
	Files int `json:"files"`
	// ManifestETag is the ETag of the source's published manifest of the
	// product that run read ("" when the source walked it).
	ManifestETag string `json:"manifest_etag,omitempty"`
}

func statePath(cfg *config.Config, name string) string {
	return filepath.Join(Dir(cfg), name+".state.json")
}

func loadState(cfg *config.Config, name string) state {
	st := state{Products: map[string]productState{}}
	if b, err := os.ReadFile(statePath(cfg, name)); err == nil {
		json.Unmarshal(b, &st)
		if st.Products == nil {
			st.Products = map[string]productState{}
		}
	}
	return st
}

func saveState(cfg *config.Config, name string, st state) error {
	b, _ := json.MarshalIndent(st, "", "  ")
	return writeFileAtomic(statePath(cfg, name), b)
}

// writeFileAtomic writes p through a temporary name, fsync and rename.
func writeFileAtomic(p string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".tmp-*")
	if err != nil {
		return err
	}
	if _, err = tmp.Write(b); err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if d, err := os.Open(filepath.Dir(p)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Run runs mirror m of site s once. The caller holds the mirror's lock
// (Lock).
func Run(ctx context.Context, s *site.Site, m config.Mirror, o Options) Result {
	src, err := openSource(s.Config(), m)
	if err != nil {
		if o.Now == nil {
			o.Now = time.Now
		}
		return Result{Mirror: m.Name, Source: m.Source, DryRun: o.DryRun, Started: o.Now(), Err: fmt.Errorf("mirror %s: %w", m.Name, err)}
	}
	return run(ctx, s, m, src, o)
}

// run is Run from an open source.
func run(ctx context.Context, s *site.Site, m config.Mirror, src source, o Options) (r Result) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	cfg := s.Config()
	r = Result{Mirror: m.Name, Source: m.Source, DryRun: o.DryRun, Started: o.Now()}
	defer func() { r.Duration = o.Now().Sub(r.Started) }()
	st := loadState(cfg, m.Name)
	del := o.Delete || m.Delete

	// 1. The plan: every product's manifest, complete, and its files here.
	// The products' manifests are read at once (a few at a time): the
	// source walks each, and an unchanged one costs that walk only.
	var prods []*productRun
	errs := make([]error, len(m.Products))
	var pwg sync.WaitGroup
	psem := make(chan struct{}, 4)
	for i, p := range m.Products {
		pr := &productRun{Product: Product{Product: p, Dest: m.DestOf(p)}, root: m.DestOf(p)}
		prods = append(prods, pr)
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			psem <- struct{}{}
			defer func() { <-psem }()
			errs[i] = plan(ctx, s, src, m, pr, st, del)
		}()
	}
	pwg.Wait()
	for i, err := range errs {
		if err != nil {
			prods[i].failed = true
			prods[i].Error = err.Error()
			if r.Err == nil {
				r.Err = fmt.Errorf("product %s: %w", m.Products[i], err)
			}
		}
	}
	if r.Err != nil {
		// A source that cannot be listed completely: nothing changes.
		r.Products = products(prods)
		return r
	}
	var tooMany []string
	for _, pr := range prods {
		nd := 0
		for _, it := range pr.items {
			if it.action == Deleted {
				nd++
			}
		}
		if lim := m.MaxDelete.Limit(len(pr.local)); nd > lim && !o.Force && del {
			tooMany = append(tooMany, fmt.Sprintf("%s would lose %d of its %d files here (max_delete allows %d)", pr.Dest, nd, len(pr.local), lim))
		}
	}
	if len(tooMany) > 0 && !o.DryRun {
		r.Products = products(prods)
		r.Err = fmt.Errorf("%w: %s; nothing was changed (run with --force to delete them)", ErrTooManyDeletes, strings.Join(tooMany, "; "))
		return r
	}
	if o.DryRun {
		for _, pr := range prods {
			for _, it := range pr.items {
				count(&pr.Product, it)
				if o.OnFile != nil {
					o.OnFile(event(it))
				}
			}
		}
		r.Products = products(prods)
		total(&r)
		if len(tooMany) > 0 {
			r.Err = fmt.Errorf("%w: %s (run with --force to delete them)", ErrTooManyDeletes, strings.Join(tooMany, "; "))
		}
		return r
	}

	// 2. Downloads, all products' at once, m.Transfers at a time.
	be := &mss.Mirror{Origin: src.name(), Src: src, Retries: 3, Log: o.Log}
	if o.Progress != nil {
		be.OnBytes = func(n int64, skipped bool) {
			if skipped {
				o.Progress.SkippedResumed.Add(n)
				return
			}
			o.Progress.Bytes.Add(n)
		}
	}
	eng := xfer.New(s, be, o.Log)
	eng.Backoff = 200 * time.Millisecond
	var work []*item
	for _, pr := range prods {
		for _, it := range pr.items {
			if it.action != New && it.action != Changed {
				continue
			}
			rfn, err := s.Names.RFN(it.dest)
			if err != nil {
				it.err = err
				continue
			}
			be.Add(it.dest, rfn, mss.MirrorFile{Src: it.src.LFN, Size: it.src.Size, MTime: it.src.MTime, Checksum: checksumOf(it.src)})
			work = append(work, it)
			if o.Progress != nil {
				o.Progress.TotalBytes.Add(it.src.Size)
				o.Progress.TotalFiles.Add(1)
			}
		}
	}
	// transfers bounds the downloads; a file whose bytes are in and
	// verified gives its slot to the next while it waits for the group
	// flush that makes it durable (as the transfer daemon does), so that
	// one flush serves many files. A file that came in bulk takes no
	// slot: its bytes are here already.
	dl := make(chan struct{}, m.TransfersOrDefault())
	ch := make(chan *item)
	var wg sync.WaitGroup
	var small, large []*item
	bk, canBulk := src.(bulker)
	for _, it := range work {
		if canBulk && it.src.Size < bulkFileMax {
			small = append(small, it)
		} else {
			large = append(large, it)
		}
	}
	// Stages waiting for a group flush hold no download slot; the more
	// of them wait, the more files one flush serves (a flush of a busy
	// file system takes tens of milliseconds whatever it holds): many
	// for small files, whose bytes come in bulk and land in a moment;
	// fewer for large ones, bound by their downloads. Files that came in
	// bulk hold their bytes until they land: bulkInFlight bounds those.
	budget := newByteBudget(bulkInFlight)
	workers := m.TransfersOrDefault() * 64
	if len(small) > 0 {
		workers = m.TransfersOrDefault() * 256
	}
	for range min(workers, max(len(work), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range ch {
				held := false
				release := func() {
					if held {
						<-dl
						held = false
					}
				}
				job := xfer.Job{Kind: xfer.Stage, LFN: it.dest, Mode: 'r', Replace: it.action == Changed, Resume: true, Fresh: true,
					// A mirror tries each file on every run: a .fail
					// left by an earlier run does not hold it back.
					Retry: true,
					OnCopy: func(string, int64) {
						if held || it.inBulk {
							return
						}
						select {
						case dl <- struct{}{}:
							held = true
						case <-ctx.Done():
						}
					},
					OnCopied: release}
				out := eng.Run(ctx, job)
				release()
				if it.inBulk {
					be.Drop(it.dest)
					budget.release(it.src.Size)
				}
				if out.Err == nil && out.Skipped != "" {
					out.Err = fmt.Errorf("not replaced: %s", out.Skipped)
				}
				it.err = out.Err
				if o.Progress != nil {
					o.Progress.Files.Add(1)
				}
			}
		}()
	}
	var feeders sync.WaitGroup
	feeders.Go(func() {
		for _, it := range large {
			if ctx.Err() != nil {
				return
			}
			ch <- it
		}
	})
	batches := make(chan []*item)
	for range min(m.TransfersOrDefault(), 4) {
		feeders.Go(func() {
			for b := range batches {
				bulkBatchRun(ctx, bk, be, budget, b, ch, o.Log)
			}
		})
	}
	for len(small) > 0 && ctx.Err() == nil {
		n, bytes := 0, int64(0)
		for n < len(small) && n < bulkBatch && (n == 0 || bytes+small[n].src.Size <= bulkBatchBytes) {
			bytes += small[n].src.Size
			n++
		}
		batches <- small[:n]
		small = small[n:]
	}
	close(batches)
	feeders.Wait()
	close(ch)
	wg.Wait()
	if ctx.Err() != nil {
		r.Err = fmt.Errorf("interrupted: %w", ctx.Err())
		for _, pr := range prods {
			pr.Error = "interrupted"
		}
		r.Products = products(prods)
		return r
	}

	// 3. Deletions (a complete, non-empty manifest, within max_delete).
	for _, pr := range prods {
		for _, it := range pr.items {
			if it.action != Deleted {
				continue
			}
			ch := s.BeginChange(false, it.dest)
			if err := s.RemoveData(s.PFN(it.dest)); err != nil && !errors.Is(err, os.ErrNotExist) {
				it.err = fmt.Errorf("delete: %w", err)
			}
			if err := ch.Done(ctx); err != nil {
				o.Log.Warn("catalog not updated", "lfn", it.dest, "err", err)
			}
		}
	}

	// 4. Publish each product: its manifest, last.
	for _, pr := range prods {
		for _, it := range pr.items {
			if it.err != nil {
				it.action, it.err = Failed, fmt.Errorf("%s: %w", it.dest, it.err)
				o.Log.Warn("mirror: file failed", "mirror", m.Name, "lfn", it.dest, "err", it.err)
			}
			count(&pr.Product, it)
			if o.OnFile != nil {
				o.OnFile(event(it))
			}
		}
		if err := publish(s, pr); err != nil {
			pr.Error = "publish: " + err.Error()
			pr.Failed++
			continue
		}
		pr.Published = true
		switch {
		case pr.Unchanged:
			// The state of the run that published it stands (its count
			// of stale files included), with the ETag just read.
			if ps, ok := st.Products[pr.Product.Product]; ok && pr.etag != "" {
				ps.ManifestETag = pr.etag
				st.Products[pr.Product.Product] = ps
			}
		case pr.Failed == 0:
			st.Products[pr.Product.Product] = productState{Generation: pr.Generation, Published: o.Now(), Stale: pr.Stale, Files: pr.Files, ManifestETag: pr.etag}
		default:
			delete(st.Products, pr.Product.Product)
		}
	}
	if err := saveState(cfg, m.Name, st); err != nil {
		o.Log.Warn("mirror: state not saved (the next run compares every file)", "mirror", m.Name, "err", err)
	}
	r.Products = products(prods)
	total(&r)
	return r
}

// bulkBatchRun fetches one batch of small files in one request and hands
// each to the stages (ch) as its bytes arrive, supplied to the backend.
// A file the source refused in the stream (absent, denied), or that the
// request did not deliver (it failed, or was cut short), goes to its
// stage without bytes: it is then downloaded on its own, which gives
// the file its own error, or its bytes.
func bulkBatchRun(ctx context.Context, bk bulker, be *mss.Mirror, budget *byteBudget, batch []*item, ch chan<- *item, log *slog.Logger) {
	lfns := make([]string, len(batch))
	for i, it := range batch {
		lfns[i] = it.src.LFN
	}
	i := 0
	err := bk.bulk(ctx, lfns, func(r fedapi.BulkRecord) error {
		it := batch[i]
		if r.Status == 0 && r.Size == it.src.Size {
			if err := budget.acquire(ctx, r.Size); err != nil {
				return err
			}
			data := make([]byte, r.Size)
			if _, err := io.ReadFull(r.Body, data); err != nil {
				budget.release(r.Size)
				return err
			}
			be.Supply(it.dest, data)
			it.inBulk = true
		}
		i++
		select {
		case ch <- it:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	if err != nil && ctx.Err() == nil {
		log.Info("mirror: a bulk request failed; its remaining files are downloaded one by one", "files", len(batch)-i, "err", err)
	}
	for _, it := range batch[i:] {
		if ctx.Err() != nil {
			return
		}
		ch <- it
	}
}

func products(prods []*productRun) []Product {
	out := make([]Product, len(prods))
	for i, p := range prods {
		out[i] = p.Product
	}
	return out
}

func total(r *Result) {
	for _, p := range r.Products {
		r.New += p.New
		r.Changed += p.Changed
		r.Deleted += p.Deleted
		r.Failed += p.Failed
		r.Bytes += p.Bytes
	}
}

func count(p *Product, it *item) {
	switch it.action {
	case New:
		p.New++
		p.Bytes += it.src.Size
	case Changed:
		p.Changed++
		p.Bytes += it.src.Size
	case Deleted:
		p.Deleted++
	case Failed:
		p.Failed++
	}
}

func event(it *item) FileEvent {
	e := FileEvent{Action: it.action, LFN: it.dest, Size: it.src.Size}
	if it.action == Deleted {
		e.Size = it.local.Size
	}
	if it.err != nil {
		e.Error = it.err.Error()
	}
	return e
}

func checksumOf(e fedapi.ManifestEntry) fedapi.Checksum {
	c, _ := fedapi.ParseChecksum(e.Checksum)
	return c
}

// skipName: a product's own manifest is never a file of it (each mirror
// writes its own).
func skipName(lfn string) bool { return path.Base(lfn) == fedapi.ManifestFile }

// plan lists the product at the source and, unless its generation is the
// one last published, here, and decides each file's action.
func plan(ctx context.Context, s *site.Site, src source, m config.Mirror, pr *productRun, st state, del bool) error {
	var g fedapi.Generation
	ps, known := st.Products[pr.Product.Product]
	_, statErr := os.Stat(s.PFN(path.Join(pr.root, fedapi.ManifestFile)))
	fresh := known && statErr == nil && (ps.Stale == 0 || !del)
	var ifNot last
	if fresh {
		ifNot = last{etag: ps.ManifestETag, generation: ps.Generation}
	}
	etag, notModified, err := src.manifest(ctx, pr.Product.Product, ifNot, func(e fedapi.ManifestEntry) error {
		if skipName(e.LFN) || !under(e.LFN, pr.Product.Product) {
			return nil
		}
		e.State = fedapi.Resident
		pr.srcs = append(pr.srcs, e)
		g.Add(e)
		return nil
	})
	if err != nil {
		return fmt.Errorf("the source's manifest: %w", err)
	}
	pr.etag = etag
	if notModified {
		// The source's published manifest is the one the last good run
		// read, or its files are of the generation that run published:
		// one request, no walk here.
		pr.Generation, pr.Files, pr.Unchanged = ps.Generation, ps.Files, true
		return nil
	}
	pr.Generation = g.String()
	pr.Files = len(pr.srcs)
	if fresh && ps.Generation == pr.Generation {
		pr.Unchanged = true
		return nil
	}
	pr.local = map[string]fedapi.ManifestEntry{}
	var walkErr error
	wo := catalog.WalkOptions{Want: catalog.WantStat | catalog.WantLink | catalog.WantChecksums, Recursive: true, Workers: 4,
		OnError: func(pfn string, err error) {
			if walkErr == nil && !errors.Is(err, os.ErrNotExist) {
				walkErr = err
			}
		}}
	err = s.Files().Walk(ctx, pr.root, wo, func(e *catalog.Entry) error {
		if e.Type != catalog.File || e.Dangling || skipName(e.LFN) {
			return nil
		}
		pr.local[e.LFN] = fedapi.ManifestEntry{LFN: e.LFN, Size: e.Size, MTime: e.Mtime, Checksum: localChecksum(e), State: fedapi.Resident}
		return nil
	})
	if err == nil {
		err = walkErr
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, catalog.ErrNotExist) {
		return fmt.Errorf("the files here: %w", err)
	}
	seen := make(map[string]bool, len(pr.srcs))
	for _, e := range pr.srcs {
		dest := m.DestOf(e.LFN)
		seen[dest] = true
		l, ok := pr.local[dest]
		switch {
		case !ok:
			pr.items = append(pr.items, &item{action: New, src: e, dest: dest})
		case !same(e, l):
			pr.items = append(pr.items, &item{action: Changed, src: e, dest: dest, local: l})
		}
	}
	var stale []string
	for lfn := range pr.local {
		if !seen[lfn] {
			stale = append(stale, lfn)
		}
	}
	slices.Sort(stale)
	pr.Stale = len(stale)
	if del && len(pr.srcs) > 0 {
		// Never on an empty manifest: a source that lost everything
		// is more likely broken than emptied.
		for _, lfn := range stale {
			pr.items = append(pr.items, &item{action: Deleted, dest: lfn, local: pr.local[lfn]})
		}
		pr.Stale = 0
	}
	return nil
}

// same: the file here is the source's (size and mtime, and the checksum
// when both sides know it).
func same(src, local fedapi.ManifestEntry) bool {
	if src.Size != local.Size || src.MTime != local.MTime {
		return false
	}
	return src.Checksum == "" || local.Checksum == "" || strings.EqualFold(src.Checksum, local.Checksum)
}

// localChecksum is the adler32 stored for the file's current mtime.
func localChecksum(e *catalog.Entry) string {
	for _, c := range e.Checksums {
		if c.Alg == "adler32" && c.MTime == e.Mtime {
			return c.Alg + ":" + c.Hex()
		}
	}
	return ""
}

// publish writes the product's manifest, last: the files here as the run
// leaves them (the source's for those it has or brought, the old for a
// changed file that failed), names relative to the product's directory,
// sorted.
func publish(s *site.Site, pr *productRun) error {
	if pr.Unchanged {
		return nil
	}
	failed := map[string]*item{}
	gone := map[string]bool{}
	for _, it := range pr.items {
		switch {
		case it.action == Failed:
			failed[it.dest] = it
		case it.action == Deleted:
			gone[it.dest] = true
		}
	}
	var entries []fedapi.ManifestEntry
	rel := func(lfn string) string { return strings.TrimPrefix(strings.TrimPrefix(lfn, pr.root), "/") }
	seen := map[string]bool{}
	for _, e := range pr.srcs {
		dest := pr.root
		if d := strings.TrimPrefix(e.LFN, pr.Product.Product); d != "" {
			dest = path.Join(pr.root, d)
		}
		seen[dest] = true
		if it, ok := failed[dest]; ok {
			if it.local.LFN == "" {
				continue // new and failed: not here
			}
			e = it.local
		}
		e.LFN = rel(dest)
		if e.LFN == "" {
			e.LFN = path.Base(dest)
		}
		entries = append(entries, e)
	}
	for lfn, l := range pr.local {
		if !seen[lfn] && !gone[lfn] {
			l.LFN = rel(lfn)
			entries = append(entries, l)
		}
	}
	slices.SortFunc(entries, func(a, b fedapi.ManifestEntry) int { return strings.Compare(a.LFN, b.LFN) })
	var b strings.Builder
	if _, err := fedapi.WriteManifest(&b, entries); err != nil {
		return err
	}
	p := s.PFN(path.Join(pr.root, fedapi.ManifestFile))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return writeFileAtomic(p, []byte(b.String()))
}
