package serve

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"frm/core/config"
)

// token is one configured bearer token: its digest, never the token.
type token struct {
	name     string
	admin    bool
	digest   [sha256.Size]byte
	prefixes []string
}

// authSet is the token set in force (swapped whole by Reconfigure).
type authSet struct {
	tokens []token
	// anonymous: no token is configured and the listener is open for
	// reading (loopback, or insecure).
	anonymous bool
}

func newAuthSet(sc config.Serve, open bool) (*authSet, error) {
	a := &authSet{anonymous: open && len(sc.Tokens) == 0}
	for _, t := range sc.Tokens {
		b, err := hex.DecodeString(t.SHA256)
		if err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("serve.token %q: sha256 is not 64 hex digits", t.Name)
		}
		tk := token{name: t.Name, admin: t.Scope == config.ScopeAdmin, prefixes: t.Prefixes}
		copy(tk.digest[:], b)
		a.tokens = append(a.tokens, tk)
	}
	return a, nil
}

func (a *authSet) names() []string {
	var n []string
	for _, t := range a.tokens {
		n = append(n, t.name)
	}
	return n
}

// principal is who a request comes from.
type principal struct {
	// name is the token's configured name ("anonymous" without one): what
	// the log says instead of the token.
	name      string
	admin     bool
	prefixes  []string // nil: every export
	anonymous bool     // no token (an open listener)
}

// may reports whether the principal may see lfn (a clean lfn).
func (p *principal) may(lfn string) bool {
	if len(p.prefixes) == 0 {
		return true
	}
	for _, pre := range p.prefixes {
		if under(lfn, pre) {
			return true
		}
	}
	return false
}

// under reports whether the clean lfn is dir or lies below it.
func under(lfn, dir string) bool {
	return dir == "/" || lfn == dir || strings.HasPrefix(lfn, dir) && lfn[len(dir)] == '/'
}

var (
	errNoToken  = errors.New("a bearer token is required (Authorization: Bearer <token>)")
	errBadToken = errors.New("the token is not valid here")
)

// authenticate finds who sent r. A token is compared with every
// configured digest in constant time (its SHA-256 is compared, so the
// time does not depend on the token's length either), all of them
// whatever matched, so the time does not tell which one did.
func (a *authSet) authenticate(r *http.Request) (*principal, error) {
	h := r.Header.Get("Authorization")
	scheme, tok, _ := strings.Cut(h, " ")
	tok = strings.TrimSpace(tok)
	if a.anonymous {
		return &principal{name: "anonymous", anonymous: true}, nil
	}
	if h == "" || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return nil, errNoToken
	}
	sum := sha256.Sum256([]byte(tok))
	found := -1
	for i := range a.tokens {
		if subtle.ConstantTimeCompare(sum[:], a.tokens[i].digest[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return nil, errBadToken
	}
	t := a.tokens[found]
	return &principal{name: t.name, admin: t.admin, prefixes: t.prefixes}, nil
}
