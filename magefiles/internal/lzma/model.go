package lzma

import "math/bits"

// prob is an adaptive probability that the next bit is 0, in units of
// 1/probTotal.
type prob uint16

const (
	probBits  = 11
	probTotal = 1 << probBits
	probInit  = probTotal / 2
	moveBits  = 5 // how fast a probability adapts

	numStates     = 12
	numLitStates  = 7 // states below this one follow a literal
	maxPosBits    = 4
	maxPosStates  = 1 << maxPosBits
	minMatchLen   = 2
	maxMatchLen   = 273
	numLenStates  = 4 // distance contexts, chosen by the match length
	posSlotBits   = 6
	numPosSlots   = 1 << posSlotBits
	startPosModel = 4  // the first slot with extra distance bits
	endPosModel   = 14 // the first slot whose low bits go through align
	fullDistances = 1 << (endPosModel / 2)
	alignBits     = 4
	alignSize     = 1 << alignBits

	lenLowBits  = 3
	lenMidBits  = 3
	lenHighBits = 8
	lenLowSyms  = 1 << lenLowBits
	lenMidSyms  = 1 << lenMidBits
	lenHighSyms = 1 << lenHighBits

	literalCoderSize = 0x300
)

// lenModel codes a match length minus minMatchLen: 0..7 through low,
// 8..15 through mid, 16..271 through high.
type lenModel struct {
	choice  prob
	choice2 prob
	low     [maxPosStates][lenLowSyms]prob
	mid     [maxPosStates][lenMidSyms]prob
	high    [lenHighSyms]prob
}

// model holds every probability of the LZMA1 coder. Encoder and decoder
// update it in the same way.
type model struct {
	literal    []prob
	isMatch    [numStates][maxPosStates]prob
	isRep      [numStates]prob
	isRepG0    [numStates]prob
	isRepG1    [numStates]prob
	isRepG2    [numStates]prob
	isRep0Long [numStates][maxPosStates]prob
	posSlot    [numLenStates][numPosSlots]prob
	// posSpecial holds the reverse bit trees of slots 4..13; the tree of
	// slot s with base distance b starts at index b-s, its first
	// probability at b-s+1.
	posSpecial [1 + fullDistances - endPosModel]prob
	align      [alignSize]prob
	matchLen   lenModel
	repLen     lenModel
}

func newModel(p Props) *model {
	m := &model{literal: make([]prob, literalCoderSize<<(p.LC+p.LP))}
	fill := func(ps []prob) {
		if len(ps) == 0 {
			return
		}
		ps[0] = probInit
		for n := 1; n < len(ps); n *= 2 {
			copy(ps[n:], ps[:n])
		}
	}
	fill(m.literal)
	for s := range numStates {
		fill(m.isMatch[s][:])
		fill(m.isRep0Long[s][:])
	}
	fill(m.isRep[:])
	fill(m.isRepG0[:])
	fill(m.isRepG1[:])
	fill(m.isRepG2[:])
	for i := range m.posSlot {
		fill(m.posSlot[i][:])
	}
	fill(m.posSpecial[:])
	fill(m.align[:])
	for _, l := range []*lenModel{&m.matchLen, &m.repLen} {
		l.choice, l.choice2 = probInit, probInit
		for i := range maxPosStates {
			fill(l.low[i][:])
			fill(l.mid[i][:])
		}
		fill(l.high[:])
	}
	return m
}

// The state remembers the kinds of the last few packets; states below
// numLitStates follow a literal.
func stateAfterLiteral(s uint32) uint32 {
	switch {
	case s < 4:
		return 0
	case s < 10:
		return s - 3
	}
	return s - 6
}

func stateAfterMatch(s uint32) uint32 {
	if s < numLitStates {
		return 7
	}
	return 10
}

func stateAfterRep(s uint32) uint32 {
	if s < numLitStates {
		return 8
	}
	return 11
}

func stateAfterShortRep(s uint32) uint32 {
	if s < numLitStates {
		return 9
	}
	return 11
}

// lenState is the distance context for a match of length l (l>=2).
func lenState(l int) int {
	return min(l-minMatchLen, numLenStates-1)
}

// posSlot returns the slot of a distance minus one: 0..3 stand for
// themselves, above that the slot is twice the index of the top bit plus
// the bit below it.
func posSlot(dist uint32) uint32 {
	if dist < startPosModel {
		return dist
	}
	n := uint32(31 - bits.LeadingZeros32(dist))
	return n<<1 | (dist>>(n-1))&1
}

// literalProbs returns the coder for the literal at pos following prev.
func (m *model) literalProbs(p *Props, pos int, prev byte) []prob {
	lpMask := 1<<p.LP - 1
	ctx := (pos&lpMask)<<p.LC + int(prev)>>(8-p.LC)
	return m.literal[ctx*literalCoderSize : (ctx+1)*literalCoderSize]
}
