package config

import (
	"strings"
	"testing"
)

func TestValidateSites(t *testing.T) {
	c := &Config{Sites: Sites{Schedule: "1h", StateDir: "rel"}}
	v := &validator{}
	c.validateSites(v)
	err := v.err()
	if err == nil || !strings.Contains(err.Error(), "sites.schedule: needs sites.file") || !strings.Contains(err.Error(), "sites.state_dir: must be absolute") {
		t.Errorf("%v", err)
	}
	c = &Config{Sites: Sites{Schedule: "02:15", File: "/etc/frm/sites.toml"}, AdminPath: "/var/adm"}
	v = &validator{}
	c.validateSites(v)
	if v.err() != nil || !strings.HasSuffix(c.SitesStateDir(), "/sites") {
		t.Errorf("%v %s", v.err(), c.SitesStateDir())
	}
}
