// Package sitetest opens sitegen's sites for tests of the packages above
// site: the layout written under the test's temporary directory, its
// configuration loaded (and changed where a test needs), the site opened
// as frm opens one (wire.Open) and closed when the test ends.
package sitetest

import (
	"context"
	"testing"

	"frm/core/config"
	"frm/core/site"
	"frm/core/sitegen"
	"frm/core/wire"
)

// Open opens an empty site of sitegen's layout (/store, /scratch,
// /archive; spaces public, data, fast). mutate, when set, changes its
// configuration first.
func Open(t testing.TB, mutate func(*config.Config)) (*site.Site, sitegen.Layout) {
	t.Helper()
	l := sitegen.NewLayout(t.TempDir())
	if err := l.WriteConfigs(); err != nil {
		t.Fatal(err)
	}
	return open(t, l, mutate), l
}

// OpenDemo opens sitegen's demo site with its files (o).
func OpenDemo(t testing.TB, o sitegen.DemoOptions, mutate func(*config.Config)) (*site.Site, sitegen.Layout) {
	t.Helper()
	l, _, err := sitegen.Demo(context.Background(), t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	return open(t, l, mutate), l
}

func open(t testing.TB, l sitegen.Layout, mutate func(*config.Config)) *site.Site {
	t.Helper()
	cfg, err := config.Load(l.Config, "")
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(cfg)
	}
	s, err := wire.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}
