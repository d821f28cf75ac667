package pack

import (
	"bytes"
	"sync"
)

// Go programs that parse or format floating-point numbers carry strconv's
// table of the powers of ten from 1e-348 to 1e347 for the Eisel-Lemire
// algorithm (with Go 1.26 every program does: the runtime links it): for
// each, the 128 bits from its leading one bit down, truncated, as two
// little-endian uint64s, the high half first since Go 1.26 and the low half
// first before. The table is 11,136 bytes that look random to LZMA, nearly
// 3% of a packed Go hello. The stub computes it instead: where a
// stream's filtered bytes hold the table, the packer stores zeros in its
// place and the table's offset in the stream's header, and the stub writes
// the table there before it undoes the stream's filter. The packer finds
// the table by comparing bytes with what this file computes, exactly as the
// stub does, so what the stub writes is what was there.

// The table's first power of ten, its number of entries, and its bytes.
const (
	pow10First = -348
	pow10Count = 696
	pow10Bytes = 16 * pow10Count
)

// pow10Scale is the power of two the computation scales the powers of ten
// by: 2^pow10Scale / 10^348 must keep 128 bits above the binary point for
// its floor to have the truncated value's bits, so pow10Scale must be at
// least 128 + 348·log2(10) ≈ 1284.1. A multiple of 16, it starts a limb.
const pow10Scale = 1296

// pow10Limbs is the number of 16-bit limbs of the largest number the
// computation holds, 2^pow10Scale · 10^348 after the last multiplication,
// which has 2,453 bits.
const pow10Limbs = 154

// pow10Table computes the table, each entry's high half first when hiFirst,
// the way the stub does: in 16-bit limbs, so that the stub divides 32 bits
// by 10 on either architecture, with n the number of limbs up to the
// highest that is not zero. From x = 2^pow10Scale it multiplies by ten for
// the powers from 1e0 up and, from x = 2^pow10Scale again, divides by ten,
// rounding down, for those from 1e-1 down; each entry is the 128 bits of x
// from its leading one, taken a byte at a time from two limbs.
func pow10Table(hiFirst bool) []byte {
	out := make([]byte, pow10Bytes)
	var x [pow10Limbs + 1]uint32 // x[n] stays zero
	n := 0
	// put writes the entry of 10^(pow10First + i) from x.
	put := func(i int) {
		lo := n*16 - 128
		for x[n-1]>>(lo+127-(n-1)*16) == 0 {
			lo--
		}
		e := out[16*i : 16*i+16]
		for k := range e {
			pos := lo + 8*k
			b := k
			if hiFirst {
				b ^= 8
			}
			e[b] = byte((x[pos>>4] | x[pos>>4+1]<<16) >> (pos & 15))
		}
	}
	reset := func() {
		x = [pow10Limbs + 1]uint32{}
		x[pow10Scale/16] = 1
		n = pow10Scale/16 + 1
	}
	reset()
	for i := -pow10First; i < pow10Count; i++ {
		put(i)
		var carry uint32
		for j := range n {
			v := x[j]*10 + carry
			x[j], carry = v&0xffff, v>>16
		}
		if carry != 0 {
			x[n] = carry
			n++
		}
	}
	reset()
	for i := -pow10First - 1; i >= 0; i-- {
		var rem uint32
		for j := n - 1; j >= 0; j-- {
			v := rem<<16 | x[j]
			x[j], rem = v/10, v%10
		}
		if x[n-1] == 0 {
			n--
		}
		put(i)
	}
	return out
}

// pow10Tables are the table in its two layouts: the high halves first
// (Go 1.26 on), then the low halves first.
var pow10Tables = sync.OnceValue(func() [2][]byte {
	return [2][]byte{pow10Table(true), pow10Table(false)}
})

// pow10At is where a stream holds the table: the offset of its first byte,
// and its layout.
type pow10At struct {
	off     int
	hiFirst bool
	ok      bool
}

// findPow10 returns where b holds the table, in either layout; the first
// place, the high-first layout before the other.
func findPow10(b []byte) pow10At {
	for i, t := range pow10Tables() {
		if off := bytes.Index(b, t); off >= 0 {
			return pow10At{off: off, hiFirst: i == 0, ok: true}
		}
	}
	return pow10At{}
}

// zeroPow10 replaces the table where p says b holds it with zeros.
func zeroPow10(b []byte, p pow10At) {
	clear(b[p.off : p.off+pow10Bytes])
}

// putPow10 writes the table where p says, as the stub does. It returns
// false when the table does not fit in b.
func putPow10(b []byte, p pow10At) bool {
	if p.off < 0 || p.off > len(b)-pow10Bytes {
		return false
	}
	t := pow10Tables()
	if p.hiFirst {
		copy(b[p.off:], t[0])
	} else {
		copy(b[p.off:], t[1])
	}
	return true
}

// pow10Word is the value of the stub header's pow10 field for p: 0 for no
// table, else one more than its offset.
func pow10Word(p pow10At) uint64 {
	if !p.ok {
		return 0
	}
	return uint64(p.off) + 1
}
