package sites

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"frm/core/fedapi"
	"frm/core/retry"
)

// State is a site's state, numbered as a Nagios plugin's exit status.
type State int

// States.
const (
	OK       State = 0
	Warning  State = 1
	Critical State = 2
	Unknown  State = 3
)

var stateNames = [...]string{"OK", "WARNING", "CRITICAL", "UNKNOWN"}

func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// MarshalText writes the state's name.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a state's name.
func (s *State) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if strings.EqualFold(string(b), n) {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("unknown state %q", b)
}

// severity orders states for Worst: CRITICAL above UNKNOWN above WARNING
// above OK (a critical site is never hidden behind one that could not be
// asked).
func (s State) severity() int {
	switch s {
	case OK:
		return 0
	case Warning:
		return 1
	case Unknown:
		return 2
	case Critical:
		return 3
	}
	return 2
}

// Worst returns the more severe of a and b.
func Worst(a, b State) State {
	if b.severity() > a.severity() {
		return b
	}
	return a
}

// Result is what a probe found out about one site.
type Result struct {
	Name string   `json:"name"`
	URL  string   `json:"url"`
	Tags []string `json:"tags,omitempty"`
	// State and why (every threshold crossed, or why the site could not
	// be asked).
	State   State    `json:"state"`
	Reasons []string `json:"reasons,omitempty"`
	// Status is what the site answered (nil when it did not).
	Status *fedapi.Status `json:"status,omitempty"`
	// Checked is when the probe started, TookMS how long it took, Tries
	// how many requests it made.
	Checked time.Time `json:"checked"`
	TookMS  int64     `json:"took_ms"`
	Tries   int       `json:"tries"`
	// LastSeen is the last time the site answered (this probe, or an
	// earlier run's from the history); nil: never seen.
	LastSeen *time.Time `json:"last_seen,omitempty"`
}

// Reason is the reasons joined ("; ").
func (r Result) Reason() string { return strings.Join(r.Reasons, "; ") }

// Prober probes sites.
type Prober struct {
	File  *File
	Locks Locker
	// Parallel is how many sites are probed at once (0: the file's).
	Parallel int
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

func (p *Prober) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Prober) parallel() int {
	if p.Parallel > 0 {
		return p.Parallel
	}
	if p.File.Probe.Parallel > 0 {
		return p.File.Probe.Parallel
	}
	return DefaultParallel
}

// Client makes the fedapi client of a site: its token read from its
// token file (trailing white space dropped), its CA.
func Client(s Site, timeout time.Duration) (*fedapi.Client, error) {
	b, err := os.ReadFile(s.TokenFile)
	if err != nil {
		return nil, fmt.Errorf("token_file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return nil, fmt.Errorf("token_file %s is empty", s.TokenFile)
	}
	return fedapi.NewClient(s.URL, fedapi.ClientOptions{Token: tok, CAFile: s.CAFile, Timeout: timeout})
}

// ForEach runs fn for every site, Parallel at once, each under its site's
// lock (waiting for it up to the probe timeout; a site still busy then
// gets ErrBusy instead of fn). It returns when every fn has.
func (p *Prober) ForEach(ctx context.Context, sites []Site, fn func(ctx context.Context, i int, s Site, lockErr error)) {
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(p.parallel(), len(sites)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				unlock, err := p.Locks.Lock(ctx, sites[i].Name, p.File.Timeout())
				fn(ctx, i, sites[i], err)
				if err == nil {
					unlock()
				}
			}
		}()
	}
	for i := range sites {
		work <- i
	}
	close(work)
	wg.Wait()
}

// Probe asks every site its status and judges it. The results are in the
// order of sites.
func (p *Prober) Probe(ctx context.Context, sites []Site) []Result {
	out := make([]Result, len(sites))
	p.ForEach(ctx, sites, func(ctx context.Context, i int, s Site, lockErr error) {
		r := Result{Name: s.Name, URL: s.URL, Tags: s.Tags, Checked: p.now().UTC()}
		start := time.Now()
		if lockErr != nil {
			r.State, r.Reasons = Unknown, []string{lockErr.Error()}
			out[i] = r
			return
		}
		p.probeOne(ctx, s, &r)
		r.TookMS = time.Since(start).Milliseconds()
		out[i] = r
	})
	return out
}

func (p *Prober) probeOne(ctx context.Context, s Site, r *Result) {
	timeout := p.File.Timeout()
	c, err := Client(s, timeout)
	if err != nil {
		r.State, r.Reasons = Unknown, []string{err.Error()}
		return
	}
	defer c.HTTP.CloseIdleConnections()
	var st fedapi.Status
	pol := retry.Policy{Retries: p.File.Retries(), Base: 200 * time.Millisecond, Max: 2 * time.Second}
	tries, err := pol.Do(ctx, func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		var err error
		st, _, err = c.StatusRaw(ctx)
		return err
	}, retryable, nil)
	r.Tries = tries
	if err != nil {
		state, reason := p.classify(err, timeout)
		r.State, r.Reasons = state, []string{reason}
		return
	}
	r.Status = &st
	seen := r.Checked
	r.LastSeen = &seen
	r.State, r.Reasons = p.File.Thresholds.Judge(st, p.now())
}

// retryable: a passing failure worth another try at once: the connection
// refused or reset, a 5xx. A timeout is not tried again (the next try
// would wait as long), nor a certificate, a token or an answer that is
// wrong.
func retryable(err error) bool {
	if code := fedapi.StatusOf(err); code != 0 {
		return code >= 500
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
}

// classify turns a probe's error into a state and a reason.
func (p *Prober) classify(err error, timeout time.Duration) (State, string) {
	down := map[string]State{"critical": Critical, "warning": Warning, "unknown": Unknown}[p.File.Thresholds.NotAnswering]
	var (
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		invalid   x509.CertificateInvalidError
		verifyErr *tls.CertificateVerificationError
		recErr    tls.RecordHeaderError
		bad       *fedapi.BadAnswerError
		netErr    net.Error
	)
	switch {
	case errors.As(err, &unknownCA):
		return Unknown, "TLS: the site's certificate is not signed by its ca_file's CA (" + short(unknownCA.Error()) + ")"
	case errors.As(err, &hostErr):
		return Unknown, "TLS: " + short(hostErr.Error())
	case errors.As(err, &invalid):
		return Unknown, "TLS: " + short(invalid.Error())
	case errors.As(err, &verifyErr):
		return Unknown, "TLS: " + short(verifyErr.Error())
	case errors.As(err, &recErr):
		return Unknown, "garbage answer: not TLS"
	case errors.As(err, &bad):
		return Unknown, "garbage answer: " + short(bad.Error())
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout():
		return down, fmt.Sprintf("not answering: no answer within %v", timeout)
	case errors.Is(err, syscall.ECONNREFUSED):
		return down, "not answering: connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return down, "not answering: connection reset"
	}
	if code := fedapi.StatusOf(err); code != 0 {
		var he *fedapi.HTTPError
		errors.As(err, &he)
		switch {
		case code == http.StatusUnauthorized || code == http.StatusForbidden:
			return Unknown, fmt.Sprintf("token refused: %d %s", code, he.Msg)
		case code >= 500:
			return Critical, fmt.Sprintf("server error: %d %s", code, he.Msg)
		}
		return Unknown, fmt.Sprintf("unexpected answer: %d %s", code, he.Msg)
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return down, "not answering: " + short(opErr.Err.Error())
	}
	return Unknown, "garbage answer: " + short(err.Error())
}

// short trims a message to one line of reasonable length.
func short(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}

// Judge sets a site's state from its status: every threshold it crosses
// is a reason.
func (t Thresholds) Judge(st fedapi.Status, now time.Time) (State, []string) {
	state := OK
	var reasons []string
	note := func(s State, format string, a ...any) {
		state = Worst(state, s)
		reasons = append(reasons, fmt.Sprintf(format, a...))
	}
	for _, sp := range st.Spaces {
		pct, ok := UsedPercent(sp)
		switch {
		case !ok:
		case pct >= t.SpaceCritical:
			note(Critical, "space %s %.0f%% used (critical at %g%%)", sp.Name, pct, t.SpaceCritical)
		case pct >= t.SpaceWarn:
			note(Warning, "space %s %.0f%% used (warning at %g%%)", sp.Name, pct, t.SpaceWarn)
		}
	}
	switch f := st.Failures24h; {
	case f < 0:
	case f >= t.FailuresCritical:
		note(Critical, "%d failed transfers in 24h (critical at %d)", f, t.FailuresCritical)
	case f >= t.FailuresWarn:
		note(Warning, "%d failed transfers in 24h (warning at %d)", f, t.FailuresWarn)
	}
	if u := st.OldestUnmigrated; u != nil {
		age := now.Sub(*u)
		switch {
		case age >= t.UnmigratedCritical.Std():
			note(Critical, "oldest unmigrated file %s old (critical at %s)", Age(age), t.UnmigratedCritical)
		case age >= t.UnmigratedWarn.Std():
			note(Warning, "oldest unmigrated file %s old (warning at %s)", Age(age), t.UnmigratedWarn)
		}
	}
	if st.Queue == nil {
		note(Warning, "the queue cannot be read")
	}
	return state, reasons
}

// UsedPercent is the share of a space in use (false: no capacity known).
func UsedPercent(sp fedapi.SpaceStatus) (float64, bool) {
	if sp.Total <= 0 {
		return 0, false
	}
	return float64(sp.Total-sp.Free) * 100 / float64(sp.Total), true
}

// Age renders a duration as an administrator reads it: 45s, 12m, 5h, 3d.
func Age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
