package meta

import "strings"

// Side file suffixes (reference §3.6). Only .fail and the transient .anew
// are still written by xrootd 5.x; .lock (by the deprecated makelf), .pin,
// .mmap, .mkeep and .mlock are 2009-style meta-files; .pfn was the old back
// reference file.
const (
	SuffixAnew  = ".anew"
	SuffixFail  = ".fail"
	SuffixLock  = ".lock"
	SuffixPin   = ".pin"
	SuffixMmap  = ".mmap"
	SuffixMkeep = ".mkeep"
	SuffixMlock = ".mlock"
	SuffixPfn   = ".pfn"
	// SuffixPurging ends the name a purge gives a file for the moment
	// between its last check and its removal (package purge); it is frm's
	// own, never written by xrootd.
	SuffixPurging = ".frm-purging"
)

// DirLockName is the legacy directory lock file that every xrootd
// directory scan silently deletes.
const DirLockName = "DIR_LOCK"

// SideSuffix returns the recognised side-file suffix name ends with, or ""
// for a data file name. name may be a base name or a path.
func SideSuffix(name string) string {
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return ""
	}
	switch sfx := name[i:]; sfx {
	case SuffixAnew, SuffixFail, SuffixLock, SuffixPin,
		SuffixMmap, SuffixMkeep, SuffixMlock, SuffixPfn, SuffixPurging:
		return sfx
	}
	return ""
}

// IsSideFile reports whether name ends in a recognised side-file suffix;
// such files are never treated as data files by directory scans.
func IsSideFile(name string) bool { return SideSuffix(name) != "" }

// IsOldStyle reports whether name is a 2009-style meta-file (.lock, .pin,
// .mmap, .mkeep, .mlock): a scanned directory holding one triggers the
// "Found old-style files in directory" complaint. .fail, .anew and .pfn do
// not.
func IsOldStyle(name string) bool {
	switch SideSuffix(name) {
	case SuffixLock, SuffixPin, SuffixMmap, SuffixMkeep, SuffixMlock:
		return true
	}
	return false
}
