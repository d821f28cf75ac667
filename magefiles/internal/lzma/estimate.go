package lzma

import (
	"context"
	"fmt"
)

// Estimate returns, for each of ps, about how many bytes Encode would make
// of data with those Props, in a small fraction of Encode's time: it parses
// data once, greedily (the longest match at each position, a rep unless a
// new match is at least two bytes longer), and codes that one parse under
// each Props. The sizes rank Props and inputs the way Encode's sizes do far
// more often than not; they are larger than Encode's. Matches go no
// further back than the smallest DictSize of ps. Estimate is deterministic
// and fails only for Props that Validate rejects, an empty ps, and inputs
// of MaxEncodeSize bytes or more, or when ctx is done first.
func Estimate(ctx context.Context, data []byte, ps []Props) ([]int, error) {
	if len(ps) == 0 {
		return nil, fmt.Errorf("estimating: no props")
	}
	dict := ps[0].DictSize
	for _, p := range ps {
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("estimating: %w", err)
		}
		dict = min(dict, p.DictSize)
	}
	if int64(len(data)) >= MaxEncodeSize {
		return nil, fmt.Errorf("estimating: input of %d bytes is too large", len(data))
	}
	pks, err := greedyParse(ctx, data, dict)
	if err != nil {
		return nil, fmt.Errorf("estimating: %w", err)
	}
	sizes := make([]int, len(ps))
	for i, p := range ps {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("estimating: %w", err)
		}
		e := newEncoder(data, p)
		for _, pk := range pks {
			e.emit(pk)
		}
		sizes[i] = len(e.rc.finish())
	}
	return sizes, nil
}

// Search limits of the greedy parse: a shallow tree walk and an early stop
// at a long match.
const (
	greedyDepth = 24
	greedyNice  = 64
	// greedyCheck is how many positions greedyParse parses between
	// looks at its context: a few milliseconds' work.
	greedyCheck = 1 << 16
)

// greedyParse returns the packets of a greedy parse of data: at each
// position the longest of the reps and the finder's longest match, where a
// rep wins unless the match is at least two bytes longer. It returns ctx's
// error when ctx is done, looking every greedyCheck positions.
func greedyParse(ctx context.Context, data []byte, dictSize uint32) ([]packet, error) {
	mf := newBinTree(data, dictSize, greedyNice, greedyDepth, 0)
	var reps [numReps]uint32
	out := make([]packet, 0, len(data)/4)
	check := greedyCheck
	for pos := 0; pos < len(data); {
		if pos >= check {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			check = pos + greedyCheck
		}
		ms, _ := mf.find()
		limit := min(len(data)-pos, maxMatchLen)
		best := packet{len: 1, back: backLiteral}
		for i, r := range reps {
			if n := matchLenAt(data, pos, r, limit); n >= 2 && n > best.len {
				best = packet{len: n, back: uint32(i)}
			}
		}
		if len(ms) > 0 {
			m := ms[len(ms)-1]
			n := int(m.len)
			if n == greedyNice {
				n = matchLenAt(data, pos, m.dist, limit)
			}
			if n > best.len+1 {
				best = packet{len: n, back: numReps + m.dist}
			}
		}
		if best.back == backLiteral && pos > int(reps[0]) && data[pos] == data[pos-int(reps[0])-1] {
			best = packet{len: 1, back: 0}
		}
		_, reps = apply(0, reps, best.back, best.len)
		out = append(out, best)
		pos += best.len
		for range best.len - 1 {
			mf.skip()
		}
	}
	return out, nil
}

// matchLenAt returns how far data at pos agrees with data dist+1 bytes
// before it, up to limit bytes.
func matchLenAt(data []byte, pos int, dist uint32, limit int) int {
	from := pos - int(dist) - 1
	if from < 0 {
		return 0
	}
	return commonLen(data, from, pos, 0, limit)
}
