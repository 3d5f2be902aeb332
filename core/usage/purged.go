package usage

// AddPurged adds bytes to the Purged field of space name (creating the
// entry, and the file, if needed), as xrootd's stand-alone tools account
// for what they remove (frm_purged, rm): the servers fold it into Used.
func AddPurged(path, name string, bytes int64) error {
	return update(path, name, func(e *Entry) { e.Purged += bytes })
}

// AddStaged adds bytes to the Staged field of space name, as a stand-alone
// tool accounts for what it adds to a space (a stage, the new copy of a
// reloc).
func AddStaged(path, name string, bytes int64) error {
	return update(path, name, func(e *Entry) { e.Staged += bytes })
}

// SetAdjust sets the Adjust field of space name so that its effective usage
// becomes actual, creating the entry if needed (audit -fix usage).
func SetAdjust(path, name string, actual int64) error {
	return update(path, name, func(e *Entry) { e.Adjust = actual - (e.Used + e.Staged - e.Purged) })
}
