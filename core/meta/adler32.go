package meta

import (
	"encoding/binary"
	"hash"
)

// Adler-32 (RFC 1950), as hash/adler32 computes it, about 1.5 times as
// fast: the scrubber hashes every byte of the disks, and on a fast disk
// the hash, not the disk, sets the pace (bench/scrub). The values are the
// standard ones; TestAdler32MatchesStdlib and FuzzAdler32 hold them to
// hash/adler32.
//
// The standard loop adds byte by byte: s1 += b; s2 += s1, a chain of
// dependent additions. Over a block of eight 8-byte words w_0..w_7 the same
// result is
//
//	s1' = s1 + Σ_j A_j
//	s2' = s2 + 64·s1 + 8·Σ_k (7-k)·S_k + Σ_j (8-j)·A_j
//
// where S_k is the byte sum of word k and A_j the sum over the words of
// their byte j. The loop keeps A_j in 16-bit lanes of two words (even and
// odd j) and, for Σ_k (7-k)·S_k, the running sum of A before each word
// (B); the lanes are summed, and weighted, with one multiplication each
// at the end of the block. Bounds: a lane of A is at most 8·255 = 2040, of
// B at most 28·255 = 7140, so no lane or lane sum reaches 2^16.

const (
	adlerMod  = 65521 // largest prime below 2^16
	adlerNMax = 5552  // bytes after which s2 could overflow 32 bits before a reduction

	lanesLo  = 0x00ff00ff00ff00ff
	lanesSum = 0x0001000100010001 // x·lanesSum >> 48: the sum of x's four 16-bit lanes
	// x·c >> 48 with c's lanes c0..c3 (lowest first) is Σ x_i·c_(3-i): the
	// weights 8, 6, 4, 2 of the even bytes 0, 2, 4, 6 and 7, 5, 3, 1 of the
	// odd bytes 1, 3, 5, 7.
	weightsEven = 0x0008000600040002
	weightsOdd  = 0x0007000500030001
)

type adler struct{ s1, s2 uint32 }

// NewAdler32 returns an Adler-32 hash.Hash32; Sum appends the value
// big-endian, as hash/adler32 and xrootd's records do.
func NewAdler32() hash.Hash32 { return &adler{s1: 1} }

func (d *adler) Reset()         { d.s1, d.s2 = 1, 0 }
func (d *adler) Size() int      { return 4 }
func (d *adler) BlockSize() int { return 4 }
func (d *adler) Sum32() uint32  { return d.s2<<16 | d.s1 }

func (d *adler) Sum(b []byte) []byte {
	s := d.Sum32()
	return append(b, byte(s>>24), byte(s>>16), byte(s>>8), byte(s))
}

func (d *adler) Write(p []byte) (int, error) {
	n := len(p)
	s1, s2 := d.s1, d.s2
	for len(p) > 0 {
		var q []byte
		if len(p) > adlerNMax {
			p, q = p[:adlerNMax], p[adlerNMax:]
		}
		for len(p) >= 64 {
			var ae, ao, be, bo uint64
			for i := 0; i < 64; i += 8 {
				v := binary.LittleEndian.Uint64(p[i:])
				be += ae
				bo += ao
				ae += v & lanesLo
				ao += (v >> 8) & lanesLo
			}
			a := uint32(((ae + ao) * lanesSum) >> 48)
			b := uint32(((be + bo) * lanesSum) >> 48)
			w := uint32((ae*weightsEven)>>48 + (ao*weightsOdd)>>48)
			s2 += 64*s1 + 8*b + w
			s1 += a
			p = p[64:]
		}
		for _, x := range p {
			s1 += uint32(x)
			s2 += s1
		}
		s1 %= adlerMod
		s2 %= adlerMod
		p = q
	}
	d.s1, d.s2 = s1, s2
	return n, nil
}
