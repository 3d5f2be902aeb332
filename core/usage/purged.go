package usage

// AddPurged adds bytes to the Purged field of space name (creating the
// entry, and the file, if needed) and touches .Usage.upd so servers notice,
// as xrootd's oss does when frm_purged removes a file. The file is
// rewritten atomically (temp file, fsync, rename).
func AddPurged(path, name string, bytes int64) error {
	return update(path, name, func(e *Entry) { e.Purged += bytes })
}
