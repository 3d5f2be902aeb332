// Package meta owns frm's on-disk residency metadata: the FRM extended
// attributes as xrootd 5.5.3 writes them, pin keep specifications, checksum
// records, and the names of side files.
//
// All attributes are Linux "user." extended attributes, read and written
// through symlinks (getxattr, not lgetxattr), so for a file in an XA space
// the attributes sit on the data file the namespace symlink points to.
// Integers are stored big-endian so the values survive copies between
// architectures:
//
//	user.XrdFrm.Cpy   24 bytes  int64 copy time + 16 reserved zero bytes
//	user.XrdFrm.Pin   24 bytes  int64 pin time, flags byte, 15 zero bytes
//	user.XrdFrm.Mem    8 bytes  flags byte + 7 zero bytes
//	user.XrdFrm.Pfn   variable  the pfn, NUL terminated
//	user.XrdCks.<alg> 96 bytes  checksum record (see Checksum)
//	user.frm.BadCks  164 bytes  frm only: the data failed its checksum (see BadChecksum)
//
// The Get functions report an absent attribute as ok == false with a nil
// error; every other failure is returned as an *fs.PathError whose Op names
// the system call and the attribute, wrapping the errno (or ErrBadValue for
// a value that does not decode). GetCopyTime, GetPin and GetMem, which run
// on every file of a directory scan, do not allocate.
//
// Deliberate differences from xrootd 5.5.3 (see also the function docs):
// the pin attribute's last 8 bytes are written as zeros instead of stack
// garbage; ParseKeep accepts 4-digit years, rejects impossible dates and
// negative times, and stores the local midnight of a date deterministically.
//
// Checksum algorithm "crc32" is what xrootd 5.5.3 computes under that name:
// the POSIX cksum(1) CRC, not the IEEE/zlib CRC-32 (see NewHash).
package meta
