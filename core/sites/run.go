package sites

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"frm/core/fedapi"
)

// Run is one run of frm sites over a state directory.
type Run struct {
	File *File
	// StateDir keeps the runs, the latest report and the locks.
	StateDir string
	// Parallel overrides the file's probe.parallel (0: the file's).
	Parallel int
	Now      func() time.Time
}

func (r *Run) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Locks are the state directory's per-site locks.
func (r *Run) Locks() Locker { return Locker{Dir: filepath.Join(r.StateDir, "locks")} }

// History is the state directory's runs.
func (r *Run) History() History { return History{Dir: r.StateDir} }

func (r *Run) prober() *Prober {
	return &Prober{File: r.File, Locks: r.Locks(), Parallel: r.Parallel, Now: r.Now}
}

// Status probes sites (nil: all) and returns their results, the last
// seen times from the history; it records nothing.
func (r *Run) Status(ctx context.Context, sites []Site) []Result {
	if sites == nil {
		sites = r.File.Sites
	}
	res := r.prober().Probe(ctx, sites)
	runs, _ := r.History().Runs()
	LastSeen(res, runs)
	return res
}

// Report probes every site, builds the report against the kept runs,
// keeps it (the last KeepRuns) and writes it as the latest.
func (r *Run) Report(ctx context.Context) (*Report, error) {
	h := r.History()
	now := r.now()
	res := r.prober().Probe(ctx, r.File.Sites)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	runs, err := h.Runs()
	if err != nil {
		return nil, err
	}
	rep := NewReport(now, res, runs, r.File.Thresholds)
	if err := h.Save(rep); err != nil {
		return rep, err
	}
	if err := h.SaveLatest(rep); err != nil {
		return rep, err
	}
	return rep, nil
}

// JobResult is one site's answer to an admin command.
type JobResult struct {
	Site  string             `json:"site"`
	Reply *fedapi.AdminReply `json:"reply,omitempty"`
	// Error says why the site ran nothing (refused, busy, unreachable).
	Error string `json:"error,omitempty"`
	// Refused: the site refused the command for the token's scope (403).
	Refused bool `json:"refused,omitempty"`
}

// Exit is the job's exit status: the command's, or 1 when it did not
// run.
func (j JobResult) Exit() int {
	if j.Reply != nil {
		return j.Reply.Exit
	}
	return 1
}

// Jobs runs one frm admin command at every site in sites, Parallel at
// once, each under its site's lock (a site still busy after the probe
// timeout is not asked). timeout bounds each site's job, the waits
// included: a site running another job (409) is asked again after its
// Retry-After while the timeout allows. Results are in the order of
// sites.
func (r *Run) Jobs(ctx context.Context, sites []Site, args []string, jsonOut bool, timeout time.Duration) []JobResult {
	out := make([]JobResult, len(sites))
	r.prober().ForEach(ctx, sites, func(ctx context.Context, i int, s Site, lockErr error) {
		out[i].Site = s.Name
		if lockErr != nil {
			out[i].Error = lockErr.Error()
			return
		}
		// Connecting and the TLS handshake are bounded by the probe
		// timeout (a hung site is not waited for as long as a job); the
		// answer, which comes when the command has run, by the job's.
		c, err := Client(s, r.File.Timeout())
		if err != nil {
			out[i].Error = err.Error()
			return
		}
		if tr, ok := c.HTTP.Transport.(*http.Transport); ok {
			tr.ResponseHeaderTimeout = timeout
		}
		defer c.HTTP.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		deadline := time.Now().Add(timeout)
		for {
			rep, err := c.Admin(ctx, args, jsonOut)
			var busy *fedapi.BusyError
			if errors.As(err, &busy) && time.Now().Add(busy.RetryAfter).Before(deadline) {
				select {
				case <-time.After(busy.RetryAfter):
					continue
				case <-ctx.Done():
					err = ctx.Err()
				}
			}
			switch {
			case err == nil:
				out[i].Reply = &rep
			case fedapi.StatusOf(err) == 403:
				out[i].Refused = true
				out[i].Error = fmt.Sprintf("refused by the site: %v", err)
			default:
				_, reason := r.prober().classify(err, timeout)
				if errors.As(err, &busy) {
					reason = err.Error()
				}
				out[i].Error = reason
			}
			return
		}
	})
	return out
}
