package lzma

import "testing"

// encodeGreedy is a baseline for the tests: the same packets, model and
// match finder as Encode, but at each position it takes the longest match,
// preferring a rep unless a new match is at least two bytes longer.
func encodeGreedy(data []byte, p Props) []byte {
	e := newEncoder(data, p)
	mf := newBinTree(e.data, e.p.DictSize, maxMatchLen, 32, 0)
	for e.pos < len(e.data) {
		ms, _ := mf.find()
		limit := min(len(e.data)-e.pos, maxMatchLen)
		best := packet{len: 1, back: backLiteral}
		for i, r := range e.reps {
			if n := e.matchLen(e.pos, r, limit); n >= 2 && n > best.len {
				best = packet{len: n, back: uint32(i)}
			}
		}
		if len(ms) > 0 {
			m := ms[len(ms)-1]
			if int(m.len) > best.len+1 {
				best = packet{len: int(m.len), back: numReps + m.dist}
			}
		}
		e.emit(best)
		for range best.len - 1 {
			mf.skip()
		}
	}
	return e.rc.finish()
}

// TestOptimalBeatsGreedy checks that the price-based parse pays off: it
// must be smaller than a greedy parse of the same input with the same
// coder, and both must decode.
func TestOptimalBeatsGreedy(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"machine code", realELF(t)},
		{"repetitive text", repetitiveText()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			greedy := encodeGreedy(tc.data, defaultProps)
			if _, err := Decode(greedy, defaultProps, len(tc.data)); err != nil {
				t.Fatalf("decoding the greedy parse: %v", err)
			}
			optimal := roundTrip(t, tc.data, defaultProps)
			if len(optimal) >= len(greedy) {
				t.Errorf("optimal parse: %d bytes, greedy parse: %d bytes", len(optimal), len(greedy))
			}
			t.Logf("optimal %d, greedy %d bytes", len(optimal), len(greedy))
		})
	}
}
