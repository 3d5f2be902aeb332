package daemons

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"frm/core/catalog"
	"frm/core/config"
	"frm/core/control"
	"frm/core/mss"
	"frm/core/purge"
	"frm/core/site"
	"frm/core/wire"
	"frm/core/xfer"
	"frm/core/xrdq"
)

// Components a daemon process can run.
var Components = []string{"stage", "migrate", "purge", "scrub", "mirror"}

// Options controls a daemon process.
type Options struct {
	// Only lists the components to run ("stage" = the transfer daemon
	// serving all queues, "migrate" = the migration scan, "purge",
	// "scrub" = the checksum scrubber); empty runs stage, migrate and
	// purge, and scrub when [scrub] enabled says so.
	Only []string
	Log  *slog.Logger
	// Version is recorded with the host in a shared catalog.
	Version string
	// External names components built outside this package (frm serve)
	// that Only may select: the daemon runs what AddComponent gives it
	// under these names. A selection of external components alone
	// starts none of the daemon's own and needs no MSS.
	External []string
	// As runs the daemon as one of xrootd's programs (AsPurged, AsXfrd:
	// frm_purged, frm_xfrd), so it can replace that program alone: it
	// takes that program's lock instead of frm_daemon.lock, and as
	// frm_purged serves no control socket (the transfer daemon's is the
	// site's). Empty: frm daemon.
	As string
	// PurgeReport, when set, makes the purger report its cycles as
	// frm_purged does (and PurgeTest only list what it would purge).
	PurgeReport *purge.XrdReport
	PurgeTest   bool
}

// The xrootd programs a daemon can stand in for (Options.As).
const (
	AsPurged = "frm_purged"
	AsXfrd   = "frm_xfrd"
)

// PurgedLock is the lock file (in the admin directory) of the purger of an
// instance: frm_purged's, and frm daemon's when it purges.
const PurgedLock = "frm_purged.lock"

// Daemon is one frm daemon process.
type Daemon struct {
	Site     *site.Site
	Transfer *Transfer
	Migrator *Migrator
	Purger   *Purger
	Scrubber *Scrubber
	Mirrorer *Mirrorer
	Log      *slog.Logger

	lock      *os.File
	xfrLock   *os.File
	purgeLock *os.File
	noControl bool // as frm_purged: no control socket
	version   string
	// discoverReconf tells the discovery loop a reload may have changed
	// catalog.scan_interval.
	discoverReconf chan struct{}

	metricsOnce sync.Once
	metrics     atomic.Pointer[metrics] // nil until ServeMetrics or MetricsHandler

	// selected is what Only chose (nil: the default set); external the
	// components added with AddComponent, run by Run in that order.
	selected map[string]bool
	external []externalComponent
	started  time.Time // when Run started

	mu     sync.Mutex // guards events subscribers
	subs   map[chan control.Event]struct{}
	recent []control.Event
}

// New prepares a daemon: takes the single-instance lock, builds the
// components. Close releases what New took.
func New(cfg *config.Config, o Options) (*Daemon, error) {
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	want := map[string]bool{}
	known := append(append([]string(nil), Components...), o.External...)
	for _, c := range o.Only {
		if !slices.Contains(known, c) {
			return nil, fmt.Errorf("unknown component %q (have %s)", c, strings.Join(known, ", "))
		}
		want[c] = true
	}
	var selected map[string]bool
	if len(want) > 0 {
		selected = maps.Clone(want)
	}
	if len(want) == 0 {
		for _, k := range Components {
			// The scrubber reads every byte of the disks again and again:
			// it runs when the site asks for it, or when named.
			// Mirrors run when one has a schedule.
			want[k] = (k != "scrub" || cfg.Scrub.Enabled) && (k != "mirror" || Scheduled(cfg))
		}
	}
	if want["stage"] || want["migrate"] {
		// Refused before anything is opened, created or locked.
		if err := mss.Configured(cfg); err != nil {
			return nil, &ConfigError{Err: err}
		}
	}
	s, err := wire.Open(cfg)
	if err != nil {
		return nil, err
	}
	if err := s.CatalogErr(); err != nil {
		// The daemons work on the shared catalog and queue: not without.
		s.Close()
		return nil, err
	}
	d := &Daemon{Site: s, Log: log, subs: map[chan control.Event]struct{}{}, version: o.Version, discoverReconf: make(chan struct{}, 1), selected: selected}
	admin := cfg.AdminDir()
	if err := prepareAdmin(cfg, log); err != nil {
		s.Close()
		return nil, err
	}
	switch o.As {
	case "":
		if d.lock, err = lockFile(filepath.Join(admin, "frm_daemon.lock")); err != nil {
			return nil, fmt.Errorf("another frm daemon runs for this instance (%s): %w", admin, err)
		}
	case AsXfrd:
		// frm_xfrd.lock, taken below, is the lock.
	case AsPurged:
	default:
		d.Close()
		return nil, fmt.Errorf("daemon: unknown program %q", o.As)
	}
	if want["purge"] {
		// One purger per instance, frm_purged (xrootd's or frm's) or frm
		// daemon's.
		if d.purgeLock, err = lockFile(filepath.Join(admin, PurgedLock)); err != nil {
			d.Close()
			return nil, fmt.Errorf("a purger (frm_purged or an frm daemon) already runs for this instance (%s): %w", admin, err)
		}
	}
	d.noControl = o.As == AsPurged
	if want["stage"] || want["migrate"] {
		// What a previous daemon that was killed left running or half
		// written goes first: its copy commands' process groups, then its
		// stages' placeholders and data files.
		groups := filepath.Join(admin, "copycmds")
		if n, err := mss.KillOrphans(groups); err != nil {
			log.Warn("cannot end the copy commands of a previous run", "dir", groups, "err", err)
		} else if n > 0 {
			log.Warn("ended copy commands a previous run left behind", "processes", n)
		}
		b, err := mss.OpenWith(cfg, mss.OpenOptions{GroupDir: groups, Log: log.With("component", "peers")})
		if err != nil {
			d.Close()
			return nil, err // "mss ...: ..." already
		}
		e := xfer.New(s, b, log.With("component", "xfer"))
		e.Inflight = xfer.OpenInflight(filepath.Join(admin, "inflight"))
		if n := e.Inflight.Recover(s, func(err error) { log.Warn("cleaning up after a previous run", "err", err) }); n > 0 {
			log.Info("removed what stages interrupted by a previous run had written", "stages", n)
		}
		qdir := cfg.QueueDir()
		if err := cfg.MkdirAdmin(true); err != nil {
			d.Close()
			return nil, err
		}
		// The same lock as xrootd's frm_xfrd: never two transfer daemons
		// on one queue.
		if d.xfrLock, err = lockFile(filepath.Join(filepath.Dir(qdir), "frm_xfrd.lock")); err != nil {
			d.Close()
			return nil, fmt.Errorf("a transfer daemon (frm or xrootd's frm_xfrd) already serves %s: %w", qdir, err)
		}
		// A queue that cannot be opened fails the start here, before any
		// socket exists, rather than the transfer component after it.
		if err := xrdq.Open(qdir).Init(); err != nil {
			d.Close()
			return nil, fmt.Errorf("queue %s: %w", qdir, err)
		}
		d.Transfer = NewTransfer(e, xrdq.Open(qdir), admin, cfg, log.With("component", "transfer"))
		d.Transfer.OnEvent = d.publish
		if sh, ok := s.Shared(); ok {
			host := sh.HostName()
			d.Transfer.Shared = &Shared{
				Queue:  sh.SharedQueue(),
				Worker: host, Host: host, Lease: cfg.Catalog.LeaseOrDefault(),
			}
		}
		if want["migrate"] {
			d.Migrator = NewMigrator(s, d.Transfer, log.With("component", "migrate"))
		}
		if !want["stage"] {
			// The migrator needs the transfer daemon's outbound slots;
			// the queue files are still served so nothing waits forever.
			log.Info("migrate without stage: the transfer daemon runs for outbound work too")
		}
	}
	if want["purge"] {
		d.Purger = NewPurger(s, log.With("component", "purge"))
		d.Purger.Report, d.Purger.Test = o.PurgeReport, o.PurgeTest
		d.Purger.OnEvent = d.publish
		if t := d.Transfer; t != nil {
			t.OnNoRoom = d.Purger.Wake
			d.Purger.OnFreed = t.RoomFreed
		}
		if sh, ok := s.Shared(); ok {
			d.Purger.leader = &purgeLeader{queue: sh.SharedQueue(), holder: sh.HostName(), ttl: cfg.Catalog.LeaseOrDefault()}
		}
	}
	if want["scrub"] {
		d.Scrubber = NewScrubber(s, log.With("component", "scrub"))
		d.Scrubber.OnEvent = d.publish
	}
	if want["mirror"] {
		d.Mirrorer = NewMirrorer(s, log.With("component", "mirror"))
		d.Mirrorer.OnEvent = d.publish
	}
	return d, nil
}

// prepareAdmin creates the admin directory (AdminDirMode) and takes from
// it and from the queue directory the permissions an frm pstga or frm
// admin of an older frm (or a hand) gave others: what they hold is the
// daemon's alone. Each change is logged.
func prepareAdmin(cfg *config.Config, log *slog.Logger) error {
	if err := cfg.MkdirAdmin(false); err != nil {
		return fmt.Errorf("admin directory: %w", err)
	}
	changed, err := cfg.TightenAdminDirs()
	for _, c := range changed {
		log.Warn("tightened the permissions of a directory others could read", "dir", c.Dir, "from", fmt.Sprintf("%04o", c.From), "to", fmt.Sprintf("%04o", c.To))
	}
	if err != nil {
		log.Warn("cannot tighten the permissions of the admin directories", "err", err)
	}
	return nil
}

// RunningMessage is what the daemon logs once its components run (frm
// daemon stops copying the start's warnings to stderr there).
const RunningMessage = "frm daemon running"

// ConfigError is a configuration New refuses before it opens, creates or
// locks anything (frm daemon exits 4, as for a file that does not load).
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// Close releases the locks and the site's connections.
func (d *Daemon) Close() {
	if d.Site != nil {
		d.Site.Close()
	}
	for _, f := range []*os.File{d.xfrLock, d.purgeLock, d.lock} {
		if f != nil {
			f.Close()
		}
	}
}

func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	if err := unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s is locked", path)
	}
	f.Truncate(0)
	fmt.Fprintf(f, "%d\n", os.Getpid())
	return f, nil
}

// Run runs the components until ctx is cancelled (SIGTERM), then drains
// within drain. A component that fails (returns an error or panics)
// stops the others as SIGTERM does: the daemon does not run on without
// it. The sockets Run creates are removed whatever the way it ends; the
// lock files New created stay (a lock dies with its process, and a lock
// file removed while another process opens it lets two daemons run).
func (d *Daemon) Run(ctx context.Context, drain time.Duration) error {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	d.started = time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 5+len(d.external))
	component := func(name string, run func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := recovered(name, run)
			if ctx.Err() == nil { // it ended before the daemon was stopped
				if err == nil {
					err = fmt.Errorf("%s: ended on its own", name)
				}
				d.Log.Error("component failed; stopping the daemon", "component", name, "err", err)
				stop()
			}
			errs <- err
		}()
	}
	drainCtx, cancelDrain := context.WithCancel(context.Background())
	defer cancelDrain()
	go func() {
		<-ctx.Done()
		time.AfterFunc(drain, cancelDrain)
	}()
	if !d.noControl {
		stopCtl, err := d.serveControl(ctx)
		if err != nil {
			d.Log.Warn("no control socket", "err", err)
		} else {
			defer stopCtl()
		}
	}
	if d.Transfer != nil {
		stop, err := d.listenWake(ctx)
		if err != nil {
			d.Log.Warn("no wake-up socket; agent requests are seen at the next queue check", "err", err)
		} else {
			defer stop()
		}
		component("transfer", func() error { return d.Transfer.Run(ctx, drainCtx) })
	}
	if d.Migrator != nil {
		component("migrate", func() error { return d.Migrator.Run(ctx) })
	}
	if d.Purger != nil {
		// xrootd's frm_purged listens on <admin>/purg.udp: a datagram
		// there starts a cycle now, for ours as for theirs.
		stop, err := listenDatagrams(PurgeWakeSocket(d.Site.Config()), d.Purger.Wake)
		if err != nil {
			d.Log.Warn("no purge wake-up socket", "err", err)
		} else {
			defer stop()
		}
		component("purge", func() error { return d.Purger.Run(ctx) })
	}
	if d.Scrubber != nil {
		component("scrub", func() error { return d.Scrubber.Run(ctx) })
	}
	if d.Mirrorer != nil {
		component("mirror", func() error { return d.Mirrorer.Run(ctx) })
	}
	for _, x := range d.external {
		component(x.name, func() error { return x.run(ctx) })
	}
	if _, shared := d.Site.Shared(); shared {
		wg.Add(3)
		go func() { defer wg.Done(); d.heartbeat(ctx) }()
		go func() { defer wg.Done(); d.applyRemote(ctx) }()
		go func() { defer wg.Done(); d.discover(ctx) }()
	}
	d.Log.Info(RunningMessage, "admin", d.Site.Config().AdminDir(), "components", d.components())
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		if err != nil {
			all = append(all, err)
		}
	}
	return errors.Join(all...)
}

// recovered runs a component, turning a panic into its error (with the
// stack) so that the daemon stops in order and removes its sockets.
func recovered(name string, run func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: panic: %v\n%s", name, r, debug.Stack())
		}
	}()
	return run()
}

func (d *Daemon) components() []string {
	var c []string
	if d.Transfer != nil {
		c = append(c, "transfer")
	}
	if d.Migrator != nil {
		c = append(c, "migrate")
	}
	if d.Purger != nil {
		c = append(c, "purge")
	}
	if d.Scrubber != nil {
		c = append(c, "scrub")
	}
	if d.Mirrorer != nil {
		c = append(c, "mirror")
	}
	for _, x := range d.external {
		c = append(c, x.name)
	}
	return c
}

// externalComponent is a component built outside this package.
type externalComponent struct {
	name string
	run  func(ctx context.Context) error
}

// Selected reports whether the component name is to run: -only named it,
// or -only was not given (the default set; an external component then
// runs when its own configuration asks for it).
func (d *Daemon) Selected(name string) bool {
	return d.selected == nil || d.selected[name]
}

// AddComponent gives the daemon a component built elsewhere (frm serve),
// called before Run. Run starts it with the others, lists it in the
// status, and treats it like them: it runs until ctx ends, and returning
// earlier (an error, or nil) or panicking stops the daemon.
func (d *Daemon) AddComponent(name string, run func(ctx context.Context) error) {
	d.external = append(d.external, externalComponent{name: name, run: run})
}

// ControlStatus is what the control socket answers to status: the
// components, the transfer daemon's slots and transfers, the purger's
// last cycle (for components that report on the daemon, as frm serve's
// /v1/status does).
func (d *Daemon) ControlStatus() control.StatusReply { return d.status(d.started) }

// WakeQueue tells whoever serves the queue that requests were added: this
// daemon's transfer component, or, when this daemon runs none, a transfer
// daemon listening on the wake socket (xrootd's frm_xfrd), as frm pstga
// does. Without any, the request waits for the next queue check or start.
func (d *Daemon) WakeQueue(ctx context.Context) error {
	if d.Transfer != nil {
		d.Transfer.Wake()
		return nil
	}
	var dl net.Dialer
	c, err := dl.DialContext(ctx, "unixgram", WakeSocket(d.Site.Config()))
	if err != nil {
		return fmt.Errorf("no transfer daemon to wake: %w", err)
	}
	defer c.Close()
	_, err = c.Write([]byte("!"))
	return err
}

// WakeSocket is where agents ping the transfer daemon (xrootd's
// <qpath>/xfrd.udp, a Unix datagram socket).
func WakeSocket(cfg *config.Config) string {
	return filepath.Join(filepath.Dir(cfg.QueueDir()), "xfrd.udp")
}

func (d *Daemon) listenWake(ctx context.Context) (func(), error) {
	return listenDatagrams(WakeSocket(d.Site.Config()), d.Transfer.Wake)
}

// PurgeWakeSocket is where xrootd's frm_purged takes wake-ups (a Unix
// datagram socket in the admin directory).
func PurgeWakeSocket(cfg *config.Config) string {
	return filepath.Join(cfg.AdminDir(), "purg.udp")
}

// listenDatagrams calls wake for every datagram that comes to the Unix
// datagram socket path (created anew: the caller holds the lock of the
// daemon that owns it, so a leftover socket is stale) until the returned
// function closes and removes it.
func listenDatagrams(path string, wake func()) (func(), error) {
	os.Remove(path)
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, err
	}
	go func() {
		buf := make([]byte, 512)
		for {
			if _, _, err := c.ReadFrom(buf); err != nil {
				return
			}
			wake()
		}
	}()
	return func() { c.Close(); os.Remove(path) }, nil
}

// Reload applies a new configuration (SIGHUP). The site switches to one
// new snapshot (config.Reload): the reloadable keys (slots, intervals,
// holds, retries, deny, purge policies...) take the new values, which
// every component reads at its next transfer, scan or cycle (a purge in
// progress before each space and batch); the others need a restart and
// keep their running values. Each changed key is logged, those not
// applied with "restart needed".
func (d *Daemon) Reload(next *config.Config) {
	applied, changes := config.Reload(d.Site.Config(), next)
	restart := 0
	for _, c := range changes {
		if c.Applied {
			d.Log.Info("configuration changed", "key", c.Key)
		} else {
			restart++
			d.Log.Warn("configuration changed but not applied: restart needed", "key", c.Key)
		}
	}
	d.Site.SetConfig(applied)
	if d.Transfer != nil {
		d.Transfer.Reconfigure(applied)
	}
	if d.Migrator != nil {
		d.Migrator.Reconfigure()
	}
	if d.Purger != nil {
		d.Purger.Reconfigure()
	}
	if d.Scrubber != nil {
		d.Scrubber.SetConfig(applied)
	}
	poke(d.discoverReconf)
	d.Log.Info("configuration reloaded", "changed", len(changes)-restart, "restart_needed", restart)
}

func (d *Daemon) publish(ev control.Event) {
	if m := d.metrics.Load(); m != nil {
		m.observe(ev)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.recent = append(d.recent, ev)
	if len(d.recent) > 200 {
		d.recent = d.recent[len(d.recent)-200:]
	}
	for c := range d.subs {
		select {
		case c <- ev:
		default: // a slow reader loses events rather than stalling transfers
		}
	}
}

// subscribe returns the recent events, a channel of the ones that follow
// and the function that ends the subscription (control.Handler).
func (d *Daemon) subscribe() ([]control.Event, <-chan control.Event, func()) {
	c := make(chan control.Event, 256)
	d.mu.Lock()
	d.subs[c] = struct{}{}
	recent := append([]control.Event(nil), d.recent...)
	d.mu.Unlock()
	return recent, c, func() {
		d.mu.Lock()
		delete(d.subs, c)
		d.mu.Unlock()
	}
}

func sortedKeys(m map[string]bool) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}

// registerEvery is how often a host refreshes its partitions' sizes in a
// shared catalog, as SUMS keeps sum_partn_avail; its heartbeat comes
// every catalog.HeartbeatEvery (tools show silent hosts).
const registerEvery = 5 * time.Minute

// heartbeat registers this host in the shared catalog and keeps its
// heartbeat fresh until ctx ends. Failures are logged and retried at the
// next beat: a database restart must not stop the daemon.
func (d *Daemon) heartbeat(ctx context.Context) {
	register := func() {
		rctx, cancel := context.WithTimeout(ctx, dbTimeout)
		defer cancel()
		if err := d.Site.Register(rctx, d.version); err != nil && ctx.Err() == nil {
			d.Log.Warn("cannot register this host in the shared catalog", "host", d.Site.HostName(), "err", err)
		}
	}
	register()
	failing := false // heartbeats fail: said once
	beat := time.NewTicker(catalog.HeartbeatEvery)
	defer beat.Stop()
	reg := time.NewTicker(registerEvery)
	defer reg.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-reg.C:
			register()
		case <-beat.C:
			rctx, cancel := context.WithTimeout(ctx, dbTimeout)
			err := d.Site.Heartbeat(rctx)
			cancel()
			switch {
			case err != nil && ctx.Err() == nil && !failing:
				d.Log.Warn("heartbeat failed; other hosts will take this host's requests over if it lasts a lease", "host", d.Site.HostName(), "err", err)
				failing = true
			case err == nil && failing:
				d.Log.Info("heartbeat again", "host", d.Site.HostName())
				failing = false
			}
		}
	}
}

// discover finds the changes made to this host's files outside frm
// (site.Discover) at start and every catalog.scan_interval, so a shared
// catalog lags the files by at most that period plus a pass. A failing
// pass is said once until one succeeds again.
func (d *Daemon) discover(ctx context.Context) {
	var failing error
	for {
		r, err := d.Site.Discover(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && failing == nil:
			d.Log.Warn("cannot compare this host's files with the catalog; trying again every scan_interval", "err", err)
		case err == nil && failing != nil:
			d.Log.Info("the catalog is compared with this host's files again")
		}
		failing = err
		if err == nil && (r.Full || r.Recorded > 0) {
			d.Log.Info("changes made outside frm recorded in the catalog", "entries", r.Recorded, "dirs_read", r.Changed, "dirs", r.Dirs, "full", r.Full, "took", r.Took.Round(time.Millisecond))
		}
		if !waitPeriod(ctx, time.Now(), func() time.Duration { return d.Site.Config().Catalog.ScanIntervalOrDefault() }, nil, d.discoverReconf) {
			return
		}
	}
}

// applyRemote writes onto this host's files the catalog changes other
// hosts made to them (site.ApplyRemoteChanges): at start, when one is
// notified, and every minute as a safety net.
func (d *Daemon) applyRemote(ctx context.Context) {
	sh, ok := d.Site.Shared()
	if !ok {
		return
	}
	me := sh.HostName()
	kick := make(chan struct{}, 1)
	go sh.WatchRemoteChanges(ctx, func(host string) {
		if host == "" || host == me {
			select {
			case kick <- struct{}{}:
			default:
			}
		}
	})
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-kick:
		case <-tick.C:
		}
		n, err := d.Site.ApplyRemoteChanges(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			d.Log.Warn("cannot apply other hosts' changes to this host's files; retrying in a minute", "err", err)
		case n > 0:
			d.Log.Info("applied other hosts' changes to this host's files", "files", n)
		}
	}
}
