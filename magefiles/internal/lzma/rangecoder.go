package lzma

// rangeEncoder is the binary arithmetic coder of LZMA. low is the bottom of
// the current interval (33 bits: bit 32 is a carry), rng its width. Output
// is delayed by one byte plus any run of 0xFF bytes, because a carry may
// still ripple into them.
type rangeEncoder struct {
	low       uint64
	rng       uint32
	cache     byte
	cacheSize int
	out       []byte
}

const topValue = 1 << 24

func newRangeEncoder(capacity int) *rangeEncoder {
	return &rangeEncoder{rng: 0xFFFFFFFF, cacheSize: 1, out: make([]byte, 0, capacity)}
}

func (e *rangeEncoder) shiftLow() {
	if uint32(e.low) < 0xFF000000 || e.low>>32 != 0 {
		carry := byte(e.low >> 32)
		b := e.cache
		for ; e.cacheSize > 0; e.cacheSize-- {
			e.out = append(e.out, b+carry)
			b = 0xFF
		}
		e.cache = byte(e.low >> 24)
	}
	e.cacheSize++
	e.low = (e.low & 0x00FFFFFF) << 8
}

func (e *rangeEncoder) encodeBit(p *prob, bit uint32) {
	bound := (e.rng >> probBits) * uint32(*p)
	if bit == 0 {
		e.rng = bound
		*p += (probTotal - *p) >> moveBits
	} else {
		e.low += uint64(bound)
		e.rng -= bound
		*p -= *p >> moveBits
	}
	for e.rng < topValue {
		e.rng <<= 8
		e.shiftLow()
	}
}

// encodeDirect writes the low n bits of v, high bit first, each with
// probability one half.
func (e *rangeEncoder) encodeDirect(v uint32, n int) {
	for i := n - 1; i >= 0; i-- {
		e.rng >>= 1
		if (v>>i)&1 != 0 {
			e.low += uint64(e.rng)
		}
		for e.rng < topValue {
			e.rng <<= 8
			e.shiftLow()
		}
	}
}

// encodeTree writes the low n bits of v, high bit first, through the bit
// tree probs (index 1 is the root).
func (e *rangeEncoder) encodeTree(probs []prob, n int, v uint32) {
	m := uint32(1)
	for i := n - 1; i >= 0; i-- {
		bit := (v >> i) & 1
		e.encodeBit(&probs[m], bit)
		m = m<<1 | bit
	}
}

// encodeReverseTree writes the low n bits of v, low bit first, through the
// bit tree probs.
func (e *rangeEncoder) encodeReverseTree(probs []prob, n int, v uint32) {
	m := uint32(1)
	for range n {
		bit := v & 1
		v >>= 1
		e.encodeBit(&probs[m], bit)
		m = m<<1 | bit
	}
}

// finish flushes the interval's bottom so the decoder's code ends at 0.
func (e *rangeEncoder) finish() []byte {
	for range 5 {
		e.shiftLow()
	}
	return e.out
}

// rangeDecoder mirrors rangeEncoder. Reading past the end of the input
// sets overrun and supplies zero bytes, so a hostile stream cannot make the
// decoder misbehave; the caller checks overrun.
type rangeDecoder struct {
	in      []byte
	pos     int
	rng     uint32
	code    uint32
	overrun bool
}

func (d *rangeDecoder) next() byte {
	if d.pos >= len(d.in) {
		d.overrun = true
		return 0
	}
	b := d.in[d.pos]
	d.pos++
	return b
}

// init reads the five bytes every stream starts with; it returns false
// when they cannot start a stream.
func (d *rangeDecoder) init(in []byte) bool {
	*d = rangeDecoder{in: in, rng: 0xFFFFFFFF}
	first := d.next()
	for range 4 {
		d.code = d.code<<8 | uint32(d.next())
	}
	return first == 0 && d.code != d.rng && !d.overrun
}

func (d *rangeDecoder) decodeBit(p *prob) uint32 {
	bound := (d.rng >> probBits) * uint32(*p)
	var bit uint32
	if d.code < bound {
		d.rng = bound
		*p += (probTotal - *p) >> moveBits
	} else {
		d.rng -= bound
		d.code -= bound
		*p -= *p >> moveBits
		bit = 1
	}
	if d.rng < topValue {
		d.rng <<= 8
		d.code = d.code<<8 | uint32(d.next())
	}
	return bit
}

func (d *rangeDecoder) decodeDirect(n int) uint32 {
	var v uint32
	for range n {
		d.rng >>= 1
		var bit uint32
		if d.code >= d.rng {
			d.code -= d.rng
			bit = 1
		}
		v = v<<1 | bit
		if d.rng < topValue {
			d.rng <<= 8
			d.code = d.code<<8 | uint32(d.next())
		}
	}
	return v
}

func (d *rangeDecoder) decodeTree(probs []prob, n int) uint32 {
	m := uint32(1)
	for range n {
		m = m<<1 | d.decodeBit(&probs[m])
	}
	return m - 1<<n
}

func (d *rangeDecoder) decodeReverseTree(probs []prob, n int) uint32 {
	m, v := uint32(1), uint32(0)
	for i := range n {
		bit := d.decodeBit(&probs[m])
		m = m<<1 | bit
		v |= bit << i
	}
	return v
}
