package lzma

import "math/bits"

// Prices estimate the cost of coding something in units of 1/priceScale
// of a bit. They come from the model's current probabilities.
const (
	priceShift = 6
	priceScale = 1 << priceShift
	infinity   = 1 << 30
)

// bitPrices[p] is the cost of coding a bit whose probability is p/probTotal:
// -log2(p/probTotal) bits.
var bitPrices = func() (t [probTotal]uint32) {
	for p := 1; p < probTotal; p++ {
		t[p] = uint32((uint64(probBits)<<logFracBits - log2Fixed(uint32(p)) + 1<<(logFracBits-priceShift-1)) >> (logFracBits - priceShift))
	}
	return t
}()

const logFracBits = 24

// log2Fixed returns log2(x) with logFracBits fractional bits, computed
// with integers only so that every platform gets the same table: the
// mantissa is squared repeatedly, and each time it passes 2 a fractional
// bit is 1.
func log2Fixed(x uint32) uint64 {
	n := bits.Len32(x) - 1
	r := uint64(n) << logFracBits
	// m is x/2^n in [1,2) with 31 fractional bits.
	m := uint64(x) << (31 - n)
	for i := logFracBits - 1; i >= 0; i-- {
		m = (m * m) >> 31
		if m >= 2<<31 {
			m >>= 1
			r |= 1 << i
		}
	}
	return r
}

// bitPrices2[bit<<probBits|p] is the cost of coding bit with probability
// p: a table rather than a branch, since bits are hard to predict.
var bitPrices2 = func() (t [2 * probTotal]uint32) {
	for p := 1; p < probTotal; p++ {
		t[p] = bitPrices[p]
		t[probTotal+p] = bitPrices[probTotal-p]
	}
	return t
}()

func price0(p prob) uint32 { return bitPrices[p] }
func price1(p prob) uint32 { return bitPrices[probTotal-p] }

func priceBit(p prob, bit uint32) uint32 {
	return bitPrices2[(bit<<probBits|uint32(p))&(2*probTotal-1)]
}

func treePrice(probs []prob, n int, v uint32) uint32 {
	var sum uint32
	m := uint32(1)
	for i := n - 1; i >= 0; i-- {
		bit := (v >> i) & 1
		sum += priceBit(probs[m], bit)
		m = m<<1 | bit
	}
	return sum
}

func reverseTreePrice(probs []prob, n int, v uint32) uint32 {
	var sum uint32
	m := uint32(1)
	for range n {
		bit := v & 1
		v >>= 1
		sum += priceBit(probs[m], bit)
		m = m<<1 | bit
	}
	return sum
}

// literalPrice is the cost of coding b with the coder probs; matchByte is
// used after a match (matched is set).
func literalPrice(probs []prob, b uint32, matched bool, matchByte uint32) uint32 {
	if !matched {
		return treePrice(probs, 8, b)
	}
	var sum uint32
	sym := uint32(1)
	same := true
	for i := 7; i >= 0; i-- {
		bit := (b >> i) & 1
		idx := sym
		if same {
			mb := (matchByte >> i) & 1
			idx += (1 + mb) << 8
			same = mb == bit
		}
		sum += priceBit(probs[idx], bit)
		sym = sym<<1 | bit
	}
	return sum
}

// lenPrices caches the cost of every length for every position state.
type lenPrices struct {
	prices [maxPosStates][maxMatchLen - minMatchLen + 1]uint32
}

func (t *lenPrices) update(l *lenModel, posStates int) {
	var high [lenHighSyms]uint32
	base := price1(l.choice) + price1(l.choice2)
	for v := range uint32(lenHighSyms) {
		high[v] = base + treePrice(l.high[:], lenHighBits, v)
	}
	lowBase := price0(l.choice)
	midBase := price1(l.choice) + price0(l.choice2)
	for ps := range posStates {
		row := &t.prices[ps]
		for v := range uint32(lenLowSyms) {
			row[v] = lowBase + treePrice(l.low[ps][:], lenLowBits, v)
		}
		for v := range uint32(lenMidSyms) {
			row[lenLowSyms+v] = midBase + treePrice(l.mid[ps][:], lenMidBits, v)
		}
		copy(row[lenLowSyms+lenMidSyms:], high[:])
	}
}

// distPrices caches the cost of distances for each length state.
type distPrices struct {
	slot  [numLenStates][numPosSlots]uint32 // tree plus direct bits
	small [numLenStates][fullDistances]uint32
	align [alignSize]uint32
}

func (t *distPrices) update(m *model, numSlots int) {
	for ls := range numLenStates {
		for s := range uint32(numSlots) {
			p := treePrice(m.posSlot[ls][:], posSlotBits, s)
			if s >= endPosModel {
				p += uint32((s>>1)-1-alignBits) << priceShift
			}
			t.slot[ls][s] = p
		}
	}
	for d := range uint32(fullDistances) {
		s := posSlot(d)
		var extra uint32
		if s >= startPosModel {
			direct := int(s>>1) - 1
			base := (2 | s&1) << direct
			extra = reverseTreePrice(m.posSpecial[base-s:], direct, d-base)
		}
		for ls := range numLenStates {
			t.small[ls][d] = t.slot[ls][s] + extra
		}
	}
	for v := range uint32(alignSize) {
		t.align[v] = reverseTreePrice(m.align[:], alignBits, v)
	}
}

// numSlotsFor is the number of position slots distances below dictSize
// can use.
func numSlotsFor(dictSize uint32) int {
	return int(posSlot(dictSize-1)) + 1
}
