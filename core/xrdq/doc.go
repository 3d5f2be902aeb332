// Package xrdq owns the xrootd FRM request queue files
// (<qdir>/{pstg,migr,getf,putf}Q.{0,1,2}): their 4096-byte record format,
// fcntl locking, and add/cancel/list/take/compact operations, so frm and
// xrootd's frm_xfragent/frm_xfrd can share one queue.
//
// # On-disk format (xrootd 5.5.3, XrdFrcRequest / XrdFrcReqFile)
//
// Every queue file is an array of 4096-byte slots in native byte order.
// Slot 0 is the header: int32 First, Last, Free (byte offsets of the first
// and last chained request and of the first free slot), the rest zero. Every
// other slot is a request record (see EncodeRecord for the field layout).
// Requests are chained through their Next field starting at First; free
// slots are chained through Next starting at Free. A cancelled request is a
// tombstone: LFN[0] is NUL but it stays chained. All access is serialised by
// an fcntl (POSIX record) lock on the empty companion file <file>.lock.
//
// # The LFN field
//
// Request.LFN holds the LFN field's bytes up to its last non-NUL byte, so a
// record read from disk re-encodes byte for byte. xrootd's intended layout
// for a request with CGI is "path\x00cgi" with Opaque pointing just past the
// NUL (that is how the xrootd server's XrdFrcProxy writes it, and how frm
// writes it: see BuildRequest). frm_xfragent 5.5.3 instead keeps
// "path?cgi" inside the field (Opaque pointing just past the '?'). Both are
// handled by Path, CGI and Object; use those rather than LFN.
package xrdq
