package site

// RemoveData removes the namespace entry pfn and, when it is an XA link
// into a configured partition, its data file (see removeFile). A link
// pointing outside every partition only loses the link: frm never deletes
// files it does not own. The purge uses it to remove a file it decided to
// purge.
func (s *Site) RemoveData(pfn string) error { return s.removeFile(pfn) }
