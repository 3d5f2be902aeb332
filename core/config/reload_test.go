package config

import (
	"reflect"
	"testing"
	"time"
)

// TestReload: reloadable keys take the new value, the others keep the
// running one and are reported as needing a restart; nothing else is
// reported, and neither input is changed.
func TestReload(t *testing.T) {
	cur := Default()
	cur.RemoteRoot = "/mss"
	next := Default()
	next.RemoteRoot = "/other-mss"
	next.Transfer.CopyMax = 9
	next.Transfer.QCheck = Duration(7 * time.Second)
	next.Transfer.QueuePath = "/elsewhere"
	next.Migrate.IdleHold = Duration(time.Minute)
	next.Purge.Policies = []Policy{{Space: "*", NoPurge: true}}
	next.MSS.CopyIn = []string{"/bin/cp", "$SRC", "$DST"}
	next.Serve.Tokens = []ServeToken{{Name: "peer", SHA256: "00", Scope: ScopeRead}}
	next.Serve.Listen = "127.0.0.1:8443"
	before := *cur
	applied, changes := Reload(cur, next)
	got := map[string]bool{}
	for _, c := range changes {
		got[c.Key] = c.Applied
	}
	want := map[string]bool{
		"remote_root": false, "transfer.copy_max": true, "transfer.qcheck": true, "transfer.queue_path": false,
		"migrate.idle_hold": true, "purge.policy": true, "mss.copy_in": false,
		"serve.token": true, "serve.listen": false,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("changes %v, want %v", got, want)
	}
	if applied.Transfer.CopyMax != 9 || applied.Transfer.QCheck != next.Transfer.QCheck || applied.Migrate.IdleHold != next.Migrate.IdleHold ||
		!applied.Purge.Policies[0].NoPurge || len(applied.Serve.Tokens) != 1 {
		t.Errorf("reloadable keys not applied: %+v", applied)
	}
	if applied.RemoteRoot != "/mss" || applied.Transfer.QueuePath != "" || applied.MSS.CopyIn != nil || applied.Serve.Listen != "" {
		t.Errorf("restart-only keys applied: %+v", applied)
	}
	if !reflect.DeepEqual(*cur, before) {
		t.Error("Reload changed the running configuration")
	}
	if _, ch := Reload(cur, cur); len(ch) != 0 {
		t.Errorf("no change reported %v", ch)
	}
}
