package config

import (
	"reflect"
	"strings"
)

// ReloadableKeys are the keys a running daemon takes on SIGHUP (a key
// names itself and every key below it). Everything else — paths, spaces,
// exports, the MSS, the catalog — is built into the running daemon at
// start; a change to it is reported as needing a restart and not applied.
var ReloadableKeys = []string{
	"transfer.copy_max", "transfer.copy_max_in", "transfer.copy_max_out",
	"transfer.qcheck", "transfer.deny", "transfer.retries",
	"queue",
	"migrate",
	"purge",
	"checksum.default",
	"catalog.scan_interval",
	"scrub.rate", "scrub.interval", "scrub.readers", // scrub.enabled: the components are chosen at start
	"tui",
	// frm serve swaps its token set; the listener, TLS files and
	// client CA are built at start (the certificate files are re-read).
	"serve.token",
	// frm sites reads its data file at every run of the schedule
	// (a schedule set only by a reload needs a restart: the component
	// is chosen at start).
	"sites",
}

// Reloadable reports whether key (a dotted TOML key) takes effect on
// SIGHUP.
func Reloadable(key string) bool {
	for _, k := range ReloadableKeys {
		if key == k || strings.HasPrefix(key, k+".") {
			return true
		}
	}
	return false
}

// KeyChange is one key whose value differs between two configurations.
type KeyChange struct {
	Key string
	// Applied: the new value takes effect; otherwise the key needs a
	// restart and the running value is kept.
	Applied bool
}

// Reload returns the configuration a running daemon switches to on
// SIGHUP: next's values for the reloadable keys, cur's for the others
// (so the snapshot always describes what really runs), and the keys
// that changed, applied or not. cur and next are not modified.
func Reload(cur, next *Config) (*Config, []KeyChange) {
	applied := *cur
	var changes []KeyChange
	diff(reflect.ValueOf(&applied).Elem(), reflect.ValueOf(cur).Elem(), reflect.ValueOf(next).Elem(), "", &changes)
	return &applied, changes
}

// diff walks the struct values cur and next (dst is the copy being
// built) and records the keys that differ under prefix.
func diff(dst, cur, next reflect.Value, prefix string, changes *[]KeyChange) {
	t := cur.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		key := name
		if prefix != "" {
			key = prefix + "." + name
		}
		cv, nv := cur.Field(i), next.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type.NumField() > 0 && !leafStruct(f.Type) {
			diff(dst.Field(i), cv, nv, key, changes)
			continue
		}
		if reflect.DeepEqual(cv.Interface(), nv.Interface()) {
			continue
		}
		ok := Reloadable(key)
		if ok {
			dst.Field(i).Set(nv)
		}
		*changes = append(*changes, KeyChange{Key: key, Applied: ok})
	}
}

// leafStruct: struct types that are values, not sections.
func leafStruct(t reflect.Type) bool {
	return t.PkgPath() == "time" || t.Name() == "Duration" || t.Name() == "Size"
}
