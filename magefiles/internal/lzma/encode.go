package lzma

import (
	"context"
	"fmt"
)

// Encode compresses data into a raw LZMA1 range-coder stream: no .lzma
// header, no end marker; the decoder is told the uncompressed size.
//
// The parse is price-based (see the package documentation). The output
// depends only on data and p: the same input always gives the same bytes.
// Encode fails only for Props that Validate rejects and for inputs of
// MaxEncodeSize bytes or more.
func Encode(data []byte, p Props) ([]byte, error) {
	out, err := EncodeEach(context.Background(), data, []Props{p}, nil)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// EncodeEach returns what Encode returns for data and each of ps: the
// matches in data do not depend on LC, LP and PB, so it looks for them once
// for all. Its encoders parse side by side as far as cores allows: cores,
// nil or buffered, is a semaphore the caller shares with its other work,
// where a send takes a core and a receive gives it back. The first encoder
// runs on the calling goroutine, for which EncodeEach takes no core; each
// other one runs on a goroutine of its own when a core can be had without
// waiting, and on the calling goroutine otherwise. Cores are taken for one
// block of positions at a time, and all are given back before EncodeEach
// returns. With cores nil the encoders all run in turn on the calling
// goroutine; with a free core for each but the first, EncodeEach takes a
// little more than one Encode. The ps must all have the same DictSize.
// When ctx is done EncodeEach stops at the end of a block and returns its
// error.
func EncodeEach(ctx context.Context, data []byte, ps []Props, cores chan struct{}) ([][]byte, error) {
	if len(ps) == 0 {
		return nil, fmt.Errorf("encoding: no props")
	}
	for _, p := range ps {
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("encoding: %w", err)
		}
		if p.DictSize != ps[0].DictSize {
			return nil, fmt.Errorf("encoding: %w: dictionary sizes %d and %d differ", ErrProps, ps[0].DictSize, p.DictSize)
		}
	}
	if int64(len(data)) >= MaxEncodeSize {
		return nil, fmt.Errorf("encoding: input of %d bytes is too large", len(data))
	}
	out, err := encodeAll(ctx, data, ps, cores)
	if err != nil {
		return nil, fmt.Errorf("encoding: %w", err)
	}
	return out, nil
}

// MaxEncodeSize bounds the input of Encode: its match finder numbers
// positions with 32 bits.
const MaxEncodeSize = 1<<32 - 1

// encoder writes packets for data. Its model, state and reps follow
// exactly what the decoder will see.
type encoder struct {
	data   []byte
	p      Props
	m      *model
	rc     *rangeEncoder
	pos    int // the next byte to code
	state  uint32
	reps   [4]uint32
	pbMask int
	mt     *matchTable
}

func newEncoder(data []byte, p Props) *encoder {
	return &encoder{
		data:   data,
		p:      p,
		m:      newModel(p),
		rc:     newRangeEncoder(len(data)/3 + 16),
		pbMask: 1<<p.PB - 1,
	}
}

func (e *encoder) prevByte() byte {
	if e.pos == 0 {
		return 0
	}
	return e.data[e.pos-1]
}

// literal codes data[e.pos].
func (e *encoder) literal() {
	posState := e.pos & e.pbMask
	e.rc.encodeBit(&e.m.isMatch[e.state][posState], 0)
	probs := e.m.literalProbs(&e.p, e.pos, e.prevByte())
	b := uint32(e.data[e.pos])
	if e.state < numLitStates {
		e.rc.encodeTree(probs, 8, b)
	} else {
		e.matchedLiteral(probs, b, uint32(e.data[e.pos-int(e.reps[0])-1]))
	}
	e.state = stateAfterLiteral(e.state)
	e.pos++
}

// matchedLiteral codes b after a match: while b agrees with the byte at
// rep0, each bit has its own probabilities for either value of that
// byte's bit.
func (e *encoder) matchedLiteral(probs []prob, b, matchByte uint32) {
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
		e.rc.encodeBit(&probs[idx], bit)
		sym = sym<<1 | bit
	}
}

// match codes a new match of length n at distance dist+1.
func (e *encoder) match(dist uint32, n int) {
	posState := e.pos & e.pbMask
	e.rc.encodeBit(&e.m.isMatch[e.state][posState], 1)
	e.rc.encodeBit(&e.m.isRep[e.state], 0)
	e.encodeLen(&e.m.matchLen, n, posState)
	slot := posSlot(dist)
	e.rc.encodeTree(e.m.posSlot[lenState(n)][:], posSlotBits, slot)
	if slot >= startPosModel {
		direct := int(slot>>1) - 1
		base := (2 | slot&1) << direct
		rest := dist - base
		if slot < endPosModel {
			e.rc.encodeReverseTree(e.m.posSpecial[base-slot:], direct, rest)
		} else {
			e.rc.encodeDirect(rest>>alignBits, direct-alignBits)
			e.rc.encodeReverseTree(e.m.align[:], alignBits, rest&(alignSize-1))
		}
	}
	e.reps = [4]uint32{dist, e.reps[0], e.reps[1], e.reps[2]}
	e.state = stateAfterMatch(e.state)
	e.pos += n
}

// rep codes a match of length n at the distance reps[i]; n == 1 with i == 0
// is a short rep.
func (e *encoder) rep(i int, n int) {
	posState := e.pos & e.pbMask
	e.rc.encodeBit(&e.m.isMatch[e.state][posState], 1)
	e.rc.encodeBit(&e.m.isRep[e.state], 1)
	if i == 0 {
		e.rc.encodeBit(&e.m.isRepG0[e.state], 0)
		if n == 1 {
			e.rc.encodeBit(&e.m.isRep0Long[e.state][posState], 0)
			e.state = stateAfterShortRep(e.state)
			e.pos++
			return
		}
		e.rc.encodeBit(&e.m.isRep0Long[e.state][posState], 1)
	} else {
		e.rc.encodeBit(&e.m.isRepG0[e.state], 1)
		if i == 1 {
			e.rc.encodeBit(&e.m.isRepG1[e.state], 0)
		} else {
			e.rc.encodeBit(&e.m.isRepG1[e.state], 1)
			e.rc.encodeBit(&e.m.isRepG2[e.state], uint32(i-2))
		}
		d := e.reps[i]
		copy(e.reps[1:i+1], e.reps[:i])
		e.reps[0] = d
	}
	e.encodeLen(&e.m.repLen, n, posState)
	e.state = stateAfterRep(e.state)
	e.pos += n
}

func (e *encoder) encodeLen(l *lenModel, n, posState int) {
	v := uint32(n - minMatchLen)
	switch {
	case v < lenLowSyms:
		e.rc.encodeBit(&l.choice, 0)
		e.rc.encodeTree(l.low[posState][:], lenLowBits, v)
	case v < lenLowSyms+lenMidSyms:
		e.rc.encodeBit(&l.choice, 1)
		e.rc.encodeBit(&l.choice2, 0)
		e.rc.encodeTree(l.mid[posState][:], lenMidBits, v-lenLowSyms)
	default:
		e.rc.encodeBit(&l.choice, 1)
		e.rc.encodeBit(&l.choice2, 1)
		e.rc.encodeTree(l.high[:], lenHighBits, v-lenLowSyms-lenMidSyms)
	}
}

// packet is one parse decision: a literal, a short rep, a rep or a match.
type packet struct {
	len  int
	back uint32 // backLiteral, a rep index 0..3, or numReps plus a distance minus one
}

const (
	numReps     = 4
	backLiteral = ^uint32(0)
)

func (e *encoder) emit(pk packet) {
	switch {
	case pk.back == backLiteral:
		e.literal()
	case pk.back < numReps:
		e.rep(int(pk.back), pk.len)
	default:
		e.match(pk.back-numReps, pk.len)
	}
}

// matchLen returns how far data at pos agrees with data dist+1 bytes
// before it, up to limit bytes.
func (e *encoder) matchLen(pos int, dist uint32, limit int) int {
	from := pos - int(dist) - 1
	if from < 0 {
		return 0
	}
	return commonLen(e.data, from, pos, 0, limit)
}
