package lzma

import "math/bits"

// match is a candidate the match finder reports: length and distance minus
// one, the way the stream codes it.
type match struct {
	len  uint32
	dist uint32
}

// binTree is a match finder over the whole input. Every position starts a
// string; for each hash of the string's first four bytes a binary search
// tree orders the positions in the dictionary lexicographically by the
// strings they start, newest at the root. Inserting the current position
// walks down from the root, which visits the candidates that share the
// longest prefixes with it, and splits the tree around it so that it
// becomes the new root. Small hash tables of two and three bytes find the
// nearest short matches the tree could miss.
type binTree struct {
	data     []byte
	pos      int    // the next position to insert
	dictSize uint32 // the farthest distance reported
	cyclic   int    // tree slots: positions cyclic apart share one
	son      []uint32
	head2    []uint32
	head3    []uint32
	head4    []uint32
	shift2   uint
	shift3   uint
	shift4   uint
	depth    int // how many tree nodes a search visits at most
	nice     int // a match this long ends the search
	buf      []match
	others   []match
	// maxOthers bounds others: matches the search passes that are no
	// longer than the best found before them.
	maxOthers int
}

// Search limits of the match finder the encoder uses.
const (
	matchDepth = 512
	maxOthers  = 16
)

const hashMul = 0x9E3779B1

// newBinTree prepares a finder for data. Positions are stored plus one, so
// that zero means none.
func newBinTree(data []byte, dictSize uint32, nice, depth, maxOthers int) *binTree {
	cyclic := len(data) + 1
	if int64(dictSize)+1 < int64(cyclic) {
		cyclic = int(dictSize) + 1
	}
	// Tables grow with the input, up to 2, 3 and 4 byte hashes of 16, 18
	// and 24 bits.
	n := bits.Len(uint(len(data)))
	bits2, bits3, bits4 := min(max(n, 8), 16), min(max(n, 8), 18), min(max(n, 8), 24)
	return &binTree{
		data:      data,
		dictSize:  dictSize,
		cyclic:    cyclic,
		son:       make([]uint32, 2*cyclic),
		head2:     make([]uint32, 1<<bits2),
		head3:     make([]uint32, 1<<bits3),
		head4:     make([]uint32, 1<<bits4),
		shift2:    uint(32 - bits2),
		shift3:    uint(32 - bits3),
		shift4:    uint(32 - bits4),
		depth:     depth,
		nice:      nice,
		buf:       make([]match, 0, maxMatchLen+1),
		others:    make([]match, 0, maxOthers),
		maxOthers: maxOthers,
	}
}

// extend returns how far the strings at a and b (a < b) agree, starting at
// n and stopping at limit.
func (t *binTree) extend(a, b, n, limit int) int {
	return commonLen(t.data, a, b, n, limit)
}

// find inserts the current position and returns its matches, longest
// last: each one is longer than the one before it and the nearest of its
// length among those found. others are up to maxOthers more the search
// passed, each at its full length, no longer than the match found before
// it. The slices are valid until the next call.
func (t *binTree) find() (ms, others []match) {
	t.buf = t.buf[:0]
	t.others = t.others[:0]
	t.insert(true)
	return t.buf, t.others
}

// skip inserts the current position without reporting its matches.
func (t *binTree) skip() {
	t.insert(false)
}

func (t *binTree) insert(report bool) {
	d := t.data
	pos := t.pos
	t.pos++
	avail := len(d) - pos
	if avail < 4 {
		if report && avail >= 2 {
			t.short(pos, avail)
		}
		return
	}
	limit := min(avail, t.nice)
	v := uint32(d[pos]) | uint32(d[pos+1])<<8 | uint32(d[pos+2])<<16
	h2 := ((v & 0xFFFF) * hashMul) >> t.shift2
	h3 := (v * hashMul) >> t.shift3
	h4 := ((v | uint32(d[pos+3])<<24) * hashMul) >> t.shift4
	c2, c3, c4 := t.head2[h2], t.head3[h3], t.head4[h4]
	cur := uint32(pos + 1)
	t.head2[h2], t.head3[h3], t.head4[h4] = cur, cur, cur

	best := 1
	if report {
		if c2 != 0 && cur-c2 <= t.dictSize {
			if n := t.extend(int(c2)-1, pos, 0, limit); n >= 2 {
				best = n
				t.buf = append(t.buf, match{uint32(n), cur - c2 - 1})
			}
		}
		if c3 != 0 && c3 != c2 && cur-c3 <= t.dictSize {
			from := int(c3) - 1
			if d[from] == d[pos] && d[from+1] == d[pos+1] && d[from+2] == d[pos+2] {
				n := t.extend(from, pos, 3, limit)
				if n > best {
					best = n
					t.buf = append(t.buf, match{uint32(n), cur - c3 - 1})
				}
			}
		}
		if best == limit {
			// A nice match is found already; insert without searching
			// further.
			report = false
		}
	}
	t.walk(pos, c4, limit, best, report)
}

// short reports the matches of the last few positions, which are too short
// to hash into the tree, from the two-byte table.
func (t *binTree) short(pos, avail int) {
	d := t.data
	h2 := ((uint32(d[pos]) | uint32(d[pos+1])<<8) * hashMul) >> t.shift2
	c2 := t.head2[h2]
	cur := uint32(pos + 1)
	t.head2[h2] = cur
	if c2 != 0 && cur-c2 <= t.dictSize {
		if n := t.extend(int(c2)-1, pos, 0, avail); n >= 2 {
			t.buf = append(t.buf, match{uint32(n), cur - c2 - 1})
		}
	}
}

// walk inserts pos as the root of the tree whose old root is c (plus one),
// reporting matches longer than best when report is set.
func (t *binTree) walk(pos int, c uint32, limit, best int, report bool) {
	d := t.data
	cur := uint32(pos + 1)
	slot := 2 * (pos % t.cyclic)
	// left collects the nodes smaller than pos, right the larger ones;
	// each points at the child slot the next such node goes into.
	left, right := slot, slot+1
	lenLeft, lenRight := 0, 0
	for depth := t.depth; ; depth-- {
		if c == 0 || cur-c > t.dictSize || depth == 0 {
			t.son[left], t.son[right] = 0, 0
			return
		}
		from := int(c) - 1
		node := 2 * (from % t.cyclic)
		n := min(lenLeft, lenRight)
		if d[from+n] == d[pos+n] {
			n = t.extend(from, pos, n+1, limit)
			if report && n > best {
				best = n
				t.buf = append(t.buf, match{uint32(n), cur - c - 1})
			} else if report {
				t.other(n, cur-c-1)
			}
			if n == limit {
				// pos replaces the node: they agree as far as we look.
				t.son[left], t.son[right] = t.son[node], t.son[node+1]
				return
			}
		} else if report {
			t.other(n, cur-c-1)
		}
		if d[from+n] < d[pos+n] {
			t.son[left] = c
			left = node + 1
			c = t.son[left]
			lenLeft = n
		} else {
			t.son[right] = c
			right = node
			c = t.son[right]
			lenRight = n
		}
	}
}

// other records a match the search passed that is no longer than the best.
func (t *binTree) other(n int, dist uint32) {
	if n >= minMatchLen && len(t.others) < t.maxOthers {
		t.others = append(t.others, match{uint32(n), dist})
	}
}
