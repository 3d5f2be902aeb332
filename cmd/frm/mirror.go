package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"frm/core/config"
	"frm/core/mirror"
	"frm/core/units"
	"frm/core/wire"
)

const mirrorUsage = `Usage: frm mirror [-c FILE] [-n NAME] [--dry-run] [--delete] [--force] [-v] [-o text|json] [MIRROR...]

Run the named [[mirror]]s of the configuration once (all of them when none
is named): read each product's manifest at the source, download what is
new or changed (verified, resumable, in parallel), delete what the source
no longer has when asked to, and publish each product by writing its
manifest, <dest>/.frm-manifest.ndjson, last. Made for cron: it prints
nothing when nothing changed, one line per mirror when something did, and
its errors on stderr.

  -c FILE    configuration (default: $FRM_CONFIG, then /etc/frm/frm.toml)
  -n NAME    instance name (default $XRDNAME)
  --dry-run  print the plan (new, changed, deleted, bytes); change nothing
  --delete   delete the files the source no longer has (as delete = true)
  --force    delete even more than max_delete allows
  -v         list each file
  -o FMT     text (default) or json: one summary document

Exit status: 0 done (or nothing to do), 1 failure (nothing published for
the mirror that failed: its source could not be listed completely, or it
would delete more than max_delete), 2 usage, 3 partial (some files
failed, the rest published), 4 configuration error, 75 another run of a
mirror holds its lock (EX_TEMPFAIL: try later), 130 interrupted. See
docs/mirror.md.
`

// exitTempFail is EX_TEMPFAIL (sysexits.h): another run holds the lock.
const exitTempFail = 75

func mirrorMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := siteFlags("frm mirror")
	dry := fs.Bool("dry-run", false, "")
	del := fs.Bool("delete", false, "")
	force := fs.Bool("force", false, "")
	verbose := fs.Bool("v", false, "")
	outFmt := fs.String("o", "text", "")
	if code, done := fs.parse(args, mirrorUsage, stdout, stderr); done {
		return code
	}
	if *outFmt != "text" && *outFmt != "json" {
		fmt.Fprintf(stderr, "frm mirror: -o %q: want text or json\n", *outFmt)
		return 2
	}
	jsonOut := *outFmt == "json"
	_, cfg, err := loadConfig(*fs.cfgPath, *fs.inst, nil, warnTo(stderr, "frm mirror"))
	if err != nil {
		fmt.Fprintf(stderr, "frm mirror: %v\n", err)
		return 4
	}
	var todo []config.Mirror
	if fs.NArg() == 0 {
		todo = cfg.Mirrors
		if len(todo) == 0 {
			fmt.Fprintf(stderr, "frm mirror: %s has no [[mirror]]\n", cfg.Source)
			return 4
		}
	}
	for _, name := range fs.Args() {
		found := false
		for _, m := range cfg.Mirrors {
			if m.Name == name {
				todo, found = append(todo, m), true
			}
		}
		if !found {
			fmt.Fprintf(stderr, "frm mirror: no [[mirror]] is called %q in %s\n", name, cfg.Source)
			return 4
		}
	}
	ctx, cancel := interruptible(ctx)
	defer cancel()
	s, err := wire.Open(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "frm mirror: %v\n", err)
		return 1
	}
	defer s.Close()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))

	var outs []mirrorOut
	code := 0
	worse := func(c int) {
		rank := map[int]int{0: 0, 3: 1, exitTempFail: 2, 1: 3, 130: 4}
		if rank[c] > rank[code] {
			code = c
		}
	}
	for _, m := range todo {
		o := mirrorOut{Mirror: m.Name, Source: m.Source, DryRun: *dry}
		unlock, err := mirror.Lock(cfg, m.Name)
		if err != nil {
			fmt.Fprintf(stderr, "frm mirror: %v\n", err)
			o.Error = err.Error()
			outs = append(outs, o)
			if errors.Is(err, mirror.ErrLocked) {
				worse(exitTempFail)
			} else {
				worse(1)
			}
			continue
		}
		var mu sync.Mutex
		opts := mirror.Options{DryRun: *dry, Delete: *del, Force: *force, Log: log, Progress: &mirror.Progress{}}
		opts.OnFile = func(e mirror.FileEvent) {
			mu.Lock()
			defer mu.Unlock()
			if e.Action == mirror.Failed {
				fmt.Fprintf(stderr, "frm mirror: %s: %s\n", m.Name, e.Error)
			}
			if *verbose {
				if jsonOut {
					o.Files = append(o.Files, e)
				} else {
					fmt.Fprintf(stdout, "%-8s %s %d\n", e.Action, e.LFN, e.Size)
				}
			}
		}
		stop := func() {}
		if !*dry && isTerminal(stderr) {
			stop = progressBar(stderr, m.Name, opts.Progress)
		}
		r := mirror.Run(ctx, s, m, opts)
		stop()
		unlock()
		o.fill(r)
		outs = append(outs, o)
		switch {
		case r.Err != nil && ctx.Err() != nil:
			fmt.Fprintf(stderr, "frm mirror: %s: interrupted (the next run resumes)\n", m.Name)
			worse(130)
		case r.Err != nil:
			fmt.Fprintf(stderr, "frm mirror: %s: %v\n", m.Name, r.Err)
			worse(1)
		case r.Failed > 0:
			worse(3)
		}
		if !jsonOut && (r.Err == nil || *dry) && (r.Changes() || *dry) {
			fmt.Fprintln(stdout, summaryLine(r))
		}
	}
	if jsonOut {
		writeMirrorJSON(stdout, args, outs, code)
	}
	return code
}

// mirrorOut is one mirror's result object in -o json.
type mirrorOut struct {
	Mirror    string             `json:"mirror"`
	Source    string             `json:"source"`
	DryRun    bool               `json:"dry_run"`
	Started   *time.Time         `json:"started,omitempty"`
	DurationS float64            `json:"duration_s"`
	New       int                `json:"new"`
	Changed   int                `json:"changed"`
	Deleted   int                `json:"deleted"`
	Failed    int                `json:"failed"`
	Bytes     int64              `json:"bytes"`
	Products  []mirror.Product   `json:"products"`
	Files     []mirror.FileEvent `json:"files,omitempty"`
	Error     string             `json:"error,omitempty"`
}

func (o *mirrorOut) fill(r mirror.Result) {
	t := r.Started
	o.Started = &t
	o.DurationS = r.Duration.Seconds()
	o.New, o.Changed, o.Deleted, o.Failed, o.Bytes = r.New, r.Changed, r.Deleted, r.Failed, r.Bytes
	o.Products = r.Products
	if r.Err != nil {
		o.Error = r.Err.Error()
	}
}

// writeMirrorJSON writes the document frm admin -o json writes
// (docs/json.md): one result per mirror.
func writeMirrorJSON(w io.Writer, args []string, outs []mirrorOut, status int) {
	type errMsg struct {
		Message string `json:"message"`
	}
	doc := struct {
		Schema     int            `json:"schema"`
		Command    string         `json:"command"`
		Args       []string       `json:"args"`
		Results    []mirrorOut    `json:"results"`
		Summary    map[string]any `json:"summary"`
		Errors     []errMsg       `json:"errors"`
		ErrorCount int            `json:"error_count"`
		Status     int            `json:"status"`
	}{Schema: 1, Command: "mirror", Args: args, Results: outs, Errors: []errMsg{}, Status: status}
	if doc.Args == nil {
		doc.Args = []string{}
	}
	sum := map[string]any{"mirrors": len(outs)}
	var n, c, d, f int
	var b int64
	for _, o := range outs {
		n, c, d, f, b = n+o.New, c+o.Changed, d+o.Deleted, f+o.Failed, b+o.Bytes
		if o.Error != "" {
			doc.Errors = append(doc.Errors, errMsg{o.Mirror + ": " + o.Error})
		}
		for _, fe := range o.Files {
			if fe.Error != "" {
				doc.Errors = append(doc.Errors, errMsg{fe.Error})
			}
		}
	}
	sum["new"], sum["changed"], sum["deleted"], sum["failed"], sum["bytes"] = n, c, d, f, b
	doc.Summary = sum
	doc.ErrorCount = len(doc.Errors)
	enc := json.NewEncoder(w)
	enc.Encode(doc)
}

// summaryLine is a mirror's one line: what changed.
func summaryLine(r mirror.Result) string {
	var b strings.Builder
	if r.DryRun {
		fmt.Fprintf(&b, "mirror %s (dry run): would add %d, change %d, delete %d files; %s to download", r.Mirror, r.New, r.Changed, r.Deleted, units.Bytes(r.Bytes))
	} else {
		fmt.Fprintf(&b, "mirror %s: %d new, %d changed, %d deleted, %d failed; %s in %s", r.Mirror, r.New, r.Changed, r.Deleted, r.Failed,
			units.Bytes(r.Bytes), r.Duration.Round(time.Millisecond))
		if secs := r.Duration.Seconds(); secs > 0 && r.Bytes > 0 {
			fmt.Fprintf(&b, " (%s/s)", units.Bytes(int64(float64(r.Bytes)/secs)))
		}
	}
	stale := 0
	for _, p := range r.Products {
		stale += p.Stale
	}
	if stale > 0 {
		fmt.Fprintf(&b, "; %d files here are no longer at the source (--delete removes them)", stale)
	}
	return b.String()
}

// progressBar draws bytes, files, rate and ETA on the terminal w until
// stop is called (which clears the line).
func progressBar(w io.Writer, name string, p *mirror.Progress) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	start := time.Now()
	go func() {
		defer wg.Done()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				fmt.Fprint(w, "\r\033[K")
				return
			case <-t.C:
			}
			b, tb := p.Bytes.Load(), p.TotalBytes.Load()
			if p.TotalFiles.Load() == 0 {
				continue
			}
			rate := float64(b) / time.Since(start).Seconds()
			eta := "--"
			if rate > 0 && tb > b {
				eta = (time.Duration(float64(tb-b-p.SkippedResumed.Load())/rate) * time.Second).Round(time.Second).String()
			}
			fmt.Fprintf(w, "\r\033[Kmirror %s: %d/%d files, %s/%s, %s/s, ETA %s", name, p.Files.Load(), p.TotalFiles.Load(),
				units.Bytes(b), units.Bytes(tb), units.Bytes(int64(rate)), eta)
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}
