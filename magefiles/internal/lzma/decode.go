package lzma

import (
	"errors"
	"fmt"
)

// ErrCorrupt is wrapped by the error Decode returns for a stream that does
// not decode to exactly the size it was given.
var ErrCorrupt = errors.New("corrupt lzma stream")

// maxInitialCapacity bounds the output buffer Decode allocates before it
// has decoded anything, so that a large size with a short stream cannot
// make it allocate much.
const maxInitialCapacity = 1 << 26

// Decode is the reference decoder (tests, and the packer's round-trip check);
// it never panics on any input.
//
// stream is a raw LZMA1 range-coder stream as Encode writes it, p the
// properties it was written with, and size the number of bytes it decodes
// to. Decode fails with an error wrapping ErrProps for invalid properties
// and with one wrapping ErrCorrupt unless the stream decodes to exactly size
// bytes, refers only to bytes already decoded and no more than p.DictSize
// back, ends its range coder cleanly (the final code is 0) and has no bytes
// left over.
func Decode(stream []byte, p Props, size int) ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("decoding: %w", err)
	}
	if size < 0 {
		return nil, fmt.Errorf("decoding: negative size %d", size)
	}
	var rc rangeDecoder
	if !rc.init(stream) {
		return nil, fmt.Errorf("%w: bad stream header", ErrCorrupt)
	}
	// Each input byte yields at most a few hundred decisions and each
	// decision at most maxMatchLen bytes, so a short stream cannot claim a
	// huge size without running out of input first.
	capacity := min(size, maxInitialCapacity)
	if len(stream) < capacity>>16 {
		capacity = len(stream) << 16
	}
	out := make([]byte, 0, capacity)
	m := newModel(p)
	pbMask := 1<<p.PB - 1
	var state uint32
	var rep0, rep1, rep2, rep3 uint32
	for len(out) < size {
		if rc.overrun {
			return nil, fmt.Errorf("%w: stream ends after %d of %d bytes", ErrCorrupt, len(out), size)
		}
		pos := len(out)
		posState := pos & pbMask
		if rc.decodeBit(&m.isMatch[state][posState]) == 0 {
			var prev byte
			if pos > 0 {
				prev = out[pos-1]
			}
			probs := m.literalProbs(&p, pos, prev)
			sym := uint32(1)
			if state >= numLitStates && int64(rep0) < int64(pos) {
				match := uint32(out[pos-int(rep0)-1])
				for sym < 0x100 {
					matchBit := (match >> 7) & 1
					match <<= 1
					bit := rc.decodeBit(&probs[(1+matchBit)<<8+sym])
					sym = sym<<1 | bit
					if bit != matchBit {
						break
					}
				}
			}
			for sym < 0x100 {
				sym = sym<<1 | rc.decodeBit(&probs[sym])
			}
			out = append(out, byte(sym))
			state = stateAfterLiteral(state)
			continue
		}
		var n int
		if rc.decodeBit(&m.isRep[state]) == 0 {
			n = decodeLen(&rc, &m.matchLen, posState)
			state = stateAfterMatch(state)
			rep3, rep2, rep1 = rep2, rep1, rep0
			rep0 = decodeDist(&rc, m, n)
		} else {
			if rc.decodeBit(&m.isRepG0[state]) == 0 {
				if rc.decodeBit(&m.isRep0Long[state][posState]) == 0 {
					if int64(rep0) >= int64(pos) {
						return nil, fmt.Errorf("%w: short rep at %d reaches before the start", ErrCorrupt, pos)
					}
					state = stateAfterShortRep(state)
					out = append(out, out[pos-int(rep0)-1])
					continue
				}
			} else {
				var dist uint32
				if rc.decodeBit(&m.isRepG1[state]) == 0 {
					dist = rep1
				} else {
					if rc.decodeBit(&m.isRepG2[state]) == 0 {
						dist = rep2
					} else {
						dist = rep3
						rep3 = rep2
					}
					rep2 = rep1
				}
				rep1 = rep0
				rep0 = dist
			}
			n = decodeLen(&rc, &m.repLen, posState)
			state = stateAfterRep(state)
		}
		if int64(rep0) >= int64(pos) || rep0 >= p.DictSize {
			return nil, fmt.Errorf("%w: match at %d refers %d bytes back", ErrCorrupt, pos, int64(rep0)+1)
		}
		if n > size-pos {
			return nil, fmt.Errorf("%w: match at %d of length %d runs past the size %d", ErrCorrupt, pos, n, size)
		}
		from := pos - int(rep0) - 1
		for i := range n {
			out = append(out, out[from+i])
		}
	}
	if rc.overrun {
		return nil, fmt.Errorf("%w: stream is truncated", ErrCorrupt)
	}
	if rc.code != 0 {
		return nil, fmt.Errorf("%w: range coder does not end cleanly", ErrCorrupt)
	}
	if rc.pos != len(stream) {
		return nil, fmt.Errorf("%w: %d bytes after the end of the stream", ErrCorrupt, len(stream)-rc.pos)
	}
	return out, nil
}

// decodeLen returns a match length, minMatchLen..maxMatchLen.
func decodeLen(rc *rangeDecoder, l *lenModel, posState int) int {
	if rc.decodeBit(&l.choice) == 0 {
		return minMatchLen + int(rc.decodeTree(l.low[posState][:], lenLowBits))
	}
	if rc.decodeBit(&l.choice2) == 0 {
		return minMatchLen + lenLowSyms + int(rc.decodeTree(l.mid[posState][:], lenMidBits))
	}
	return minMatchLen + lenLowSyms + lenMidSyms + int(rc.decodeTree(l.high[:], lenHighBits))
}

// decodeDist returns a distance minus one for a match of length n.
func decodeDist(rc *rangeDecoder, m *model, n int) uint32 {
	slot := rc.decodeTree(m.posSlot[lenState(n)][:], posSlotBits)
	if slot < startPosModel {
		return slot
	}
	direct := int(slot>>1) - 1
	dist := (2 | slot&1) << direct
	if slot < endPosModel {
		return dist + rc.decodeReverseTree(m.posSpecial[dist-slot:], direct)
	}
	dist += rc.decodeDirect(direct-alignBits) << alignBits
	return dist + rc.decodeReverseTree(m.align[:], alignBits)
}
