package lzma

import (
	"math"
	"testing"
)

// TestBitPrices checks the integer-only price table against -log2(p): to
// within rounding everywhere, and exactly where the answer is a whole
// number of bits.
func TestBitPrices(t *testing.T) {
	for p := 1; p < probTotal; p++ {
		want := -math.Log2(float64(p)/probTotal) * priceScale
		if got := float64(bitPrices[p]); math.Abs(got-want) > 0.5+1e-9 {
			t.Errorf("bitPrices[%d] = %v, want %.3f", p, got, want)
		}
	}
	for bits := uint32(1); bits < probBits; bits++ {
		p := probTotal >> bits
		if got, want := bitPrices[p], bits*priceScale; got != want {
			t.Errorf("bitPrices[%d] = %d, want exactly %d bits (%d)", p, got, bits, want)
		}
	}
}
