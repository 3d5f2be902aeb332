// Package qclass owns request classes: which class of the transfer queue a
// request belongs to, and the slots, timeout and lending of each class
// (config [[queue.class]], docs/daemons.md "Request classes").
//
// Without configured classes a site has the two implicit classes that
// reproduce xrootd's frm_xfrd exactly: "in" (stage and get) with the
// inbound slots and "out" (migrate and put) with the outbound slots of
// transfer.copy_max, neither lending. Configured classes replace them; each
// serves both directions.
package qclass

import (
	"net/url"
	"path"
	"strings"
	"time"

	"frm/core/config"
)

// Class is one request class.
type Class struct {
	Name    string
	Slots   int
	Timeout time.Duration // 0: none
	Lend    bool

	maxSize    int64 // 0: no size rule
	prefixes   []string
	requesters []string
	kinds      []string
}

// CGIKey is the cgi key a request names its class with (?frm.class=NAME).
const CGIKey = "frm.class"

// Set is the classes of a configuration, in order: the first is where
// requests no rule matches go.
type Set struct {
	Classes []Class
	// Implicit: no class is configured; the classes are xrootd's two
	// directions.
	Implicit bool
	byName   map[string]int
}

// Implicit class names.
const (
	In  = "in"
	Out = "out"
)

// FromConfig returns the classes cfg configures, or the implicit ones.
func FromConfig(cfg *config.Config) *Set {
	s := &Set{byName: map[string]int{}}
	if len(cfg.Queue.Classes) == 0 {
		in, out := SlotsFor(cfg)
		s.Implicit = true
		s.Classes = []Class{
			{Name: In, Slots: in, kinds: []string{"stage", "get"}},
			{Name: Out, Slots: out, kinds: []string{"migrate", "put"}},
		}
	} else {
		for _, c := range cfg.Queue.Classes {
			s.Classes = append(s.Classes, Class{Name: c.Name, Slots: max(c.Slots, 1), Timeout: c.Timeout.Std(), Lend: c.Lends(),
				maxSize: int64(c.MaxSize), prefixes: c.Prefixes, requesters: c.Requesters, kinds: c.Kinds})
		}
	}
	for i, c := range s.Classes {
		s.byName[c.Name] = i
	}
	return s
}

// SlotsFor is the inbound and outbound slots of transfer.copy_max (or
// copy_max_in / copy_max_out when split), at least one each.
func SlotsFor(cfg *config.Config) (in, out int) {
	in, out = cfg.Transfer.CopyMax, cfg.Transfer.CopyMax
	if cfg.Transfer.CopyMaxIn > 0 || cfg.Transfer.CopyMaxOut > 0 {
		in, out = cfg.Transfer.CopyMaxIn, cfg.Transfer.CopyMaxOut
	}
	return max(in, 1), max(out, 1)
}

// Index returns the index of the class called name.
func (s *Set) Index(name string) (int, bool) {
	i, ok := s.byName[name]
	return i, ok
}

// Names returns the class names in order.
func (s *Set) Names() []string {
	out := make([]string, len(s.Classes))
	for i, c := range s.Classes {
		out[i] = c.Name
	}
	return out
}

// Request is what a class rule looks at.
type Request struct {
	Kind      string // stage, get, migrate, put
	LFN       string
	Requester string // the tid ("user.pid:fd@host") or a user name
	CGI       string // without '?'
}

// Named returns the class a request names in its cgi (frm.class=NAME), if
// it names one of s. The implicit classes cannot be named.
func (s *Set) Named(r Request) (int, bool) {
	if s.Implicit || !strings.Contains(r.CGI, CGIKey) {
		return 0, false
	}
	v, err := url.ParseQuery(r.CGI)
	if err != nil {
		return 0, false
	}
	return s.Index(v.Get(CGIKey))
}

// NeedsSize reports whether classifying r asks its size: no class is named
// and a class with a size rule is reached before one that matches
// without.
func (s *Set) NeedsSize(r Request) bool {
	if _, ok := s.Named(r); ok {
		return false
	}
	for _, c := range s.Classes {
		if !c.matchesBut(r) {
			continue
		}
		return c.maxSize > 0
	}
	return false
}

// Classify returns the class of r. size is asked only when a size rule is
// reached (see NeedsSize); known false (the size cannot be learnt) makes
// that rule not match.
func (s *Set) Classify(r Request, size func() (n int64, known bool)) int {
	if i, ok := s.Named(r); ok {
		return i
	}
	asked, n, known := false, int64(0), false
	for i, c := range s.Classes {
		if !c.matchesBut(r) {
			continue
		}
		if c.maxSize > 0 {
			if !asked {
				asked = true
				if size != nil {
					n, known = size()
				}
			}
			if !known || n > c.maxSize {
				continue
			}
		}
		return i
	}
	return 0
}

// Serves reports whether c takes requests of kind by its rules (a class
// without a kind rule takes every kind).
func (c Class) Serves(kind string) bool { return len(c.kinds) == 0 || contains(c.kinds, kind) }

// matchesBut reports whether every rule of c but the size matches r; a
// class with no rule at all matches nothing.
func (c Class) matchesBut(r Request) bool {
	if c.maxSize == 0 && len(c.prefixes) == 0 && len(c.requesters) == 0 && len(c.kinds) == 0 {
		return false
	}
	if len(c.kinds) > 0 && !contains(c.kinds, r.Kind) {
		return false
	}
	if len(c.prefixes) > 0 && !underAny(r.LFN, c.prefixes) {
		return false
	}
	if len(c.requesters) > 0 && !requesterMatches(r.Requester, c.requesters) {
		return false
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// underAny: lfn is one of the prefixes or below one (whole components:
// /store/raw does not take /store/rawdata).
func underAny(lfn string, prefixes []string) bool {
	for _, p := range prefixes {
		if p == "/" || lfn == p || strings.HasPrefix(lfn, p) && len(lfn) > len(p) && lfn[len(p)] == '/' {
			return true
		}
	}
	return false
}

// requesterMatches: a pattern matches the whole tid or its user part
// (before the first '.', ':' or '@').
func requesterMatches(tid string, patterns []string) bool {
	user := tid
	if i := strings.IndexAny(tid, ".:@"); i >= 0 {
		user = tid[:i]
	}
	for _, p := range patterns {
		if ok, _ := path.Match(p, tid); ok {
			return true
		}
		if ok, _ := path.Match(p, user); ok {
			return true
		}
	}
	return false
}
