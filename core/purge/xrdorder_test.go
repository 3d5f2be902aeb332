package purge

import (
	"strings"
	"testing"

	"frm/core/config"
)

// TestXrdSpaceOrder: the orders observed with xrootd 5.5.3's frm_purged
// -T on the demo site (spaces public, data, fast; the policy lines
// varied), whatever the order of the oss.space lines.
func TestXrdSpaceOrder(t *testing.T) {
	for _, tc := range []struct {
		spaces   []string
		policies []string // spaces with their own line, in line order ("*" first)
		want     string
	}{
		{[]string{"public", "data", "fast"}, []string{"*", "fast"}, "data public fast"},
		{[]string{"data", "fast", "public"}, []string{"*", "fast"}, "data public fast"},
		{[]string{"fast", "public", "data"}, []string{"*", "fast"}, "data public fast"},
		{[]string{"public", "data", "fast"}, []string{"*", "fast", "data"}, "public fast data"},
		{[]string{"public", "data", "fast"}, []string{"*", "fast", "public"}, "data fast public"},
		{[]string{"public", "data", "fast"}, []string{"*"}, "data fast public"},
		{[]string{"public", "alpha", "zeta"}, []string{"*", "zeta"}, "alpha public zeta"},
	} {
		cfg := &config.Config{}
		for _, s := range tc.spaces {
			cfg.Spaces = append(cfg.Spaces, config.Space{Name: s})
		}
		for _, p := range tc.policies {
			cfg.Purge.Policies = append(cfg.Purge.Policies, config.Policy{Space: p})
		}
		if got := strings.Join(XrdSpaceOrder(cfg), " "); got != tc.want {
			t.Errorf("spaces %v, policies %v: %q, want %q", tc.spaces, tc.policies, got, tc.want)
		}
	}
}
