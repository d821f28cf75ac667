package pack

import "encoding/binary"

// Go programs keep, for every function, tables that map each instruction to
// a value: the stack pointer's offset, the source file and line, and the
// garbage collector's and the inliner's indices. The linker puts them all in
// one area of the pclntab, the pc tables, which in a Go program is about a
// fifth of the memory and, compressed, about a quarter of the packed file.
// Each table is a run of pairs of unsigned varints, a value delta (zigzag)
// and a pc delta, ended by a value delta of one zero byte after the first
// pair. Value deltas and pc deltas are different data: the values repeat
// across functions and the pc deltas across instructions, but interleaved
// neither finds its like at a fixed distance. The pc-table filter moves all
// value deltas, end markers included, before all pc deltas; the stub puts
// them back. On the Go hello this makes the pc tables about 9% smaller.
//
// The split is defined on any bytes, so the filter needs no proof that the
// area holds tables: from the area's start it reads a value varint (bytes up
// to one below 0x80, or to the area's end); a lone zero byte after the first
// pair ends a table and the next varint starts a new one; any other value is
// followed by a pc varint. Both passes walk the same state machine over the
// original bytes, one reading them in place and one writing them, so any
// area comes back as it was, and every byte read by the stub is one of the
// area's own.

// pcHeader is what Pack reads of a Go pclntab header: the magic of Go 1.18
// and later, two zero bytes, the instruction size quantum, the pointer size,
// then eight words, of which the last two are the offsets of the pc tables
// and of the function table from the header.
const (
	pcMagic118  = 0xfffffff0
	pcMagic120  = 0xfffffff1
	pcWordCount = 8
	pcTableWord = 6 // pctabOffset
	pcFuncWord  = 7 // pclnOffset
)

// pcTables finds a Go pclntab's pc tables in data, for a program whose
// pointers are word bytes, and returns where they are, without the zero
// byte that starts them (offset 0 means "no table"). ok is false when data
// holds no header whose fields agree with each other and with data.
func pcTables(data []byte, word int) (start, n int, ok bool) {
	// The linker aligns the header to the pointer size; look at every
	// fourth byte.
	for at := 0; at+4 <= len(data); at += 4 {
		if m := binary.LittleEndian.Uint32(data[at:]); m != pcMagic118 && m != pcMagic120 {
			continue
		}
		if start, n, ok := pcHeaderAt(data, at, word); ok {
			return start, n, true
		}
	}
	return 0, 0, false
}

// pcHeaderAt reads the pclntab header whose magic is at data[at:] and
// returns its pc tables, or ok false if the rest is not a header.
func pcHeaderAt(data []byte, at, word int) (start, n int, ok bool) {
	h := data[at:]
	if len(h) < 8+pcWordCount*word {
		return 0, 0, false
	}
	if h[4] != 0 || h[5] != 0 || h[6] != 1 || int(h[7]) != word {
		return 0, 0, false
	}
	field := func(k int) uint64 {
		if word == 8 {
			return binary.LittleEndian.Uint64(h[8+8*k:])
		}
		return uint64(binary.LittleEndian.Uint32(h[8+4*k:]))
	}
	tab, fn := field(pcTableWord), field(pcFuncWord)
	if tab < uint64(8+pcWordCount*word) || fn <= tab+1 || fn > uint64(len(h)) || h[tab] != 0 {
		return 0, 0, false
	}
	return at + int(tab) + 1, int(fn - tab - 1), true
}

// varintEnd returns the end of the varint that starts at b[i]: the index
// after its first byte below 0x80, or len(b).
func varintEnd(b []byte, i int) int {
	for i < len(b) && b[i] >= 0x80 {
		i++
	}
	return min(i+1, len(b))
}

// splitPC applies the pc-table filter to b: it returns the value deltas
// followed by the pc deltas, and the number of bytes of value deltas.
func splitPC(b []byte) ([]byte, int) {
	vals := make([]byte, 0, len(b))
	var pcs []byte
	first := true
	for i := 0; i < len(b); {
		end := varintEnd(b, i)
		vals = append(vals, b[i:end]...)
		lone := end == i+1 && b[i] == 0
		i = end
		if lone && !first {
			first = true
			continue
		}
		first = false
		end = varintEnd(b, i)
		pcs = append(pcs, b[i:end]...)
		i = end
	}
	return append(vals, pcs...), len(vals)
}

// joinPC undoes splitPC: f is its output and split its count of value
// bytes. ok is false when f cannot be split's output: a varint is wanted
// from values or pc deltas that are used up, or some are left over. The
// stub does the same in C.
func joinPC(f []byte, split int) (out []byte, ok bool) {
	out = make([]byte, 0, len(f))
	vals, pcs := f[:split], f[split:]
	// copyVarint moves one varint from *src to out, stopping when out is
	// full, and reports whether it was a lone zero byte.
	copyVarint := func(src *[]byte) (lone, ok bool) {
		start := len(out)
		for len(out) < len(f) {
			if len(*src) == 0 {
				return false, false
			}
			c := (*src)[0]
			*src = (*src)[1:]
			out = append(out, c)
			if c < 0x80 {
				break
			}
		}
		return len(out) == start+1 && out[start] == 0, true
	}
	first := true
	for len(out) < len(f) {
		lone, ok := copyVarint(&vals)
		if !ok {
			return nil, false
		}
		if lone && !first {
			first = true
			continue
		}
		first = false
		if _, ok := copyVarint(&pcs); !ok {
			return nil, false
		}
	}
	return out, len(vals) == 0 && len(pcs) == 0
}
