// Package units formats quantities for people: the one byte formatter of
// every face (shell, TUI, purge reports, daemon logs), so that a size reads
// the same wherever it is shown.
package units

import (
	"math/bits"
	"strconv"
)

// Bytes renders n as xrootd's frm_purged does (XrdOucUtils::fmtBytes),
// whose report lines sites parse: below 1024 (negative values included)
// the plain number, else the value in K, M, G or T (powers of 1024) with
// one decimal, truncated, not rounded: 4000 is "3.9K", 2100 is "2.0K",
// 1,048,575 is "1023.9K". Truncation never overstates a size or a free
// space.
func Bytes(n int64) string {
	if n < 1<<10 {
		return strconv.FormatInt(n, 10)
	}
	div, unit := uint64(1)<<40, byte('T')
	switch {
	case n < 1<<20:
		div, unit = 1<<10, 'K'
	case n < 1<<30:
		div, unit = 1<<20, 'M'
	case n < 1<<40:
		div, unit = 1<<30, 'G'
	}
	hi, lo := bits.Mul64(uint64(n), 10) // n*10/div without overflow
	v, _ := bits.Div64(hi, lo, div)
	return strconv.FormatUint(v/10, 10) + "." + strconv.FormatUint(v%10, 10) + string(unit)
}
