package lzma

// matchBlockSize is how many positions a matchBlock holds.
const matchBlockSize = 1 << 14

// matchBlock holds what the match finder reported at each of a run of
// positions: the matches and the others of position lo+i are
// ms[start[i]:start[i+1]] and others[ostart[i]:ostart[i+1]].
type matchBlock struct {
	lo, hi        int
	start, ostart []uint32
	ms, others    []match
}

// fill sets the block to positions lo to hi and asks mf, which is at
// position lo, for the matches of every
// position of the block.
func (b *matchBlock) fill(mf *binTree, lo, hi int) {
	b.lo, b.hi = lo, hi
	b.start, b.ostart = b.start[:0], b.ostart[:0]
	b.ms, b.others = b.ms[:0], b.others[:0]
	for range hi - lo {
		ms, others := mf.find()
		b.start = append(b.start, uint32(len(b.ms)))
		b.ostart = append(b.ostart, uint32(len(b.others)))
		b.ms = append(b.ms, ms...)
		b.others = append(b.others, others...)
	}
	b.start = append(b.start, uint32(len(b.ms)))
	b.ostart = append(b.ostart, uint32(len(b.others)))
}

func (b *matchBlock) at(pos int) (ms, others []match) {
	i := pos - b.lo
	return b.ms[b.start[i]:b.start[i+1]], b.others[b.ostart[i]:b.ostart[i+1]]
}

// matchTable holds the finder's results for two blocks of positions at a
// time, the current one and the one before it: a parse that starts in one
// block may look into the next, and the encoders that share the table code
// as far as the current block lets them before it moves on. Blocks are at
// least parseAhead positions long, so an encoder that parsed as far as
// the end of the current block allowed still finds all it needs once the
// table moves on.
type matchTable struct {
	mf        *binTree
	n         int
	prev, cur *matchBlock
}

func newMatchTable(data []byte, dictSize uint32) *matchTable {
	t := &matchTable{mf: newBinTree(data, dictSize, niceLen, matchDepth, maxOthers), n: len(data), prev: new(matchBlock), cur: new(matchBlock)}
	t.cur.fill(t.mf, 0, min(len(data), matchBlockSize))
	return t
}

// advance moves the table on to the next block.
func (t *matchTable) advance() {
	t.prev, t.cur = t.cur, t.prev
	t.cur.fill(t.mf, t.prev.hi, min(t.n, t.prev.hi+matchBlockSize))
}

// at returns the matches at pos, which must be in the current block or the
// one before it.
func (t *matchTable) at(pos int) (ms, others []match) {
	if pos < t.cur.lo {
		return t.prev.at(pos)
	}
	return t.cur.at(pos)
}
