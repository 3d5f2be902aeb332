package meta

import "hash"

// cksumTable is the unreflected CRC-32 table for polynomial 0x04C11DB7.
var cksumTable = func() (t [256]uint32) {
	for i := range t {
		c := uint32(i) << 24
		for range 8 {
			if c&0x80000000 != 0 {
				c = c<<1 ^ 0x04C11DB7
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// cksum is the POSIX 1003.2 cksum(1) CRC, xrootd 5.5.3's "crc32".
type cksum struct {
	crc uint32
	n   uint64
}

// NewCksum returns a hash.Hash32 computing the POSIX cksum(1) CRC, which is
// what xrootd 5.5.3 calls "crc32": `printf 'hello world\n' | cksum` prints
// 3733384285 = 0xde86ec5d. Sum appends it big-endian.
func NewCksum() hash.Hash32 { return new(cksum) }

func (c *cksum) Write(p []byte) (int, error) {
	crc := c.crc
	for _, b := range p {
		crc = crc<<8 ^ cksumTable[byte(crc>>24)^b]
	}
	c.crc = crc
	c.n += uint64(len(p))
	return len(p), nil
}

func (c *cksum) Sum32() uint32 {
	crc := c.crc
	for n := c.n; n != 0; n >>= 8 {
		crc = crc<<8 ^ cksumTable[byte(crc>>24)^byte(n)]
	}
	return ^crc
}

func (c *cksum) Sum(b []byte) []byte {
	s := c.Sum32()
	return append(b, byte(s>>24), byte(s>>16), byte(s>>8), byte(s))
}

func (c *cksum) Reset()         { *c = cksum{} }
func (c *cksum) Size() int      { return 4 }
func (c *cksum) BlockSize() int { return 1 }
