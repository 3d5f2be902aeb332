package config

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const goodToken = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" // sha256("test")

func TestFederationConfig(t *testing.T) {
	const good = `
[[export]]
path = "/store"
stage = true
peers = ["b", "c"]

[serve]
listen = "0.0.0.0:8443"
tls_cert = "/etc/frm/cert.pem"
tls_key = "/etc/frm/key.pem"

[[serve.token]]
name = "site-b"
sha256 = "` + goodToken + `"
scope = "read"
prefixes = ["/store/public"]

[[peer]]
name = "b"
url = "https://b.example:8443"
token_file = "/etc/frm/b.token"

[[peer]]
name = "c"
url = "https://c.example:8443"
token_env = "FRM_C_TOKEN"

[fetch]
max_downloads = 8
`
	c, err := Parse([]byte(good), "frm.toml", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.PeersFor("/store/x"); len(got) != 2 || got[0] != "b" {
		t.Errorf("PeersFor = %v", got)
	}
	if c.Fetch.MaxDownloadsOrDefault() != 8 || c.Fetch.RetriesOrDefault() != DefaultFetchRetries {
		t.Errorf("fetch %+v", c.Fetch)
	}
	for _, tc := range []struct{ toml, want string }{
		{"[serve]\nlisten = \"nohost\"\n", `serve.listen: not host:port`},
		{"[serve]\nlisten = \":1\"\ntls_cert = \"/a\"\n", "tls_cert and tls_key go together"},
		{"[serve]\nclient_ca = \"/ca\"\n", "client certificates need TLS"},
		{"[[serve.token]]\nname = \"a\"\nsha256 = \"test\"\nscope = \"read\"\n", "not the token"},
		{"[[serve.token]]\nname = \"a\"\nsha256 = \"" + goodToken + "\"\nscope = \"write\"\n", `scope: must be "read" or "admin"`},
		{"[[serve.token]]\nname = \"a\"\nsha256 = \"" + goodToken + "\"\nscope = \"read\"\n[[serve.token]]\nname = \"a\"\nsha256 = \"" + goodToken + "\"\nscope = \"read\"\n", `token "a" is listed twice`},
		{"[[serve.token]]\nname = \"a\"\nsha256 = \"" + goodToken + "\"\nscope = \"read\"\nprefixes = [\"x\"]\n", "prefixes[0]: must be a clean absolute path"},
		{"[[peer]]\nname = \"b\"\nurl = \"ftp://b\"\n", "url: want https://host:port"},
		{"[[peer]]\nname = \"b c\"\nurl = \"https://b\"\n", "invalid peer name"},
		{"[[peer]]\nname = \"b\"\nurl = \"https://b\"\ntoken_file = \"/t\"\ntoken_env = \"T\"\n", "exclude each other"},
		{"[[export]]\npath = \"/s\"\npeers = [\"z\"]\n", `no [[peer]] is called "z"`},
	} {
		_, err := Parse([]byte(tc.toml), "frm.toml", "", nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one with %q", tc.toml, err, tc.want)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:1": true, "[::1]:1": true, "localhost:1": true, "0.0.0.0:1": false, ":1": false, "10.0.0.1:1": false, "bad": false} {
		if IsLoopback(addr) != want {
			t.Errorf("IsLoopback(%q) = %v", addr, !want)
		}
	}
}

// TestFederationExamplesLoad: the three sites of docs/federation.md are
// valid configurations; a fetches from b and c, which serve over TLS.
func TestFederationExamplesLoad(t *testing.T) {
	files, _ := filepath.Glob("../../examples/federation/*.toml")
	// sites.toml is frm sites' data file, not a site's configuration
	// (core/sites TestExample reads it).
	files = slices.DeleteFunc(files, func(f string) bool { return filepath.Base(f) == "sites.toml" })
	if len(files) != 4 {
		t.Fatalf("federation examples: %v", files)
	}
	for _, f := range files {
		c, err := Load(f, "")
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		switch c.Site {
		case "m":
			if len(c.Mirrors) != 2 || c.Mirrors[0].MaxDelete.Limit(1000) != 100 || c.Mirrors[0].DestOf("/store/ps1/stack") != "/mirror/store/ps1/stack" {
				t.Errorf("%s: mirrors %+v", f, c.Mirrors)
			}
		case "a":
			if len(c.Peers) != 2 || len(c.PeersFor("/store/x")) != 2 || c.Serve.Listen != "" {
				t.Errorf("%s: peers %+v", f, c.Peers)
			}
		default:
			if c.Serve.TLSCert == "" || len(c.Serve.Tokens) == 0 || IsLoopback(c.Serve.Listen) {
				t.Errorf("%s: serve %+v", f, c.Serve)
			}
		}
		roundTrip(t, c)
	}
}
