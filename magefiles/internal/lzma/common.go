package lzma

import (
	"encoding/binary"
	"math/bits"
)

// commonLen returns n plus how far data[a+n:] and data[b+n:] agree, up to
// limit in all: eight bytes at a time while both have eight to compare.
// a < b and b+limit <= len(data).
func commonLen(data []byte, a, b, n, limit int) int {
	for n+8 <= limit {
		x := binary.LittleEndian.Uint64(data[a+n:]) ^ binary.LittleEndian.Uint64(data[b+n:])
		if x != 0 {
			return n + bits.TrailingZeros64(x)>>3
		}
		n += 8
	}
	for n < limit && data[a+n] == data[b+n] {
		n++
	}
	return n
}
