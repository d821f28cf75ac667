package pack

import (
	"encoding/binary"
	"errors"
)

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
// them back. On the Go hello this makes the pc tables 9% smaller under xz
// (BENCHMARKS.md).
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
// then eight words: the first is the number of functions, the last two are
// the offsets of the pc tables and of the function table from the header.
const (
	pcMagic118      = 0xfffffff0
	pcMagic120      = 0xfffffff1
	pcWordCount     = 8
	pcFuncCountWord = 0 // nfunc
	pcTableWord     = 6 // pctabOffset
	pcFuncWord      = 7 // pclnOffset
)

// pcArea is where a Go program's pclntab keeps its pc tables, without the
// zero byte that starts them (offset 0 means "no table"), and how many
// functions the function table that follows them lists.
type pcArea struct {
	start, n, nfunc int
	pcdata          int // with nfunc, where a record keeps its pcdata tables' offsets
}

// pcTables finds a Go pclntab's pc tables in data, for a program whose
// pointers are word bytes. ok is false when data holds no header whose
// fields agree with each other and with data.
func pcTables(data []byte, word int) (a pcArea, ok bool) {
	// The linker aligns the header to the pointer size; look at every
	// fourth byte.
	for at := 0; at+4 <= len(data); at += 4 {
		if m := binary.LittleEndian.Uint32(data[at:]); m != pcMagic118 && m != pcMagic120 {
			continue
		}
		if a, ok := pcHeaderAt(data, at, word); ok {
			return a, true
		}
	}
	return pcArea{}, false
}

// pcHeaderAt reads the pclntab header whose magic is at data[at:] and
// returns its pc tables, or ok false if the rest is not a header.
func pcHeaderAt(data []byte, at, word int) (a pcArea, ok bool) {
	h := data[at:]
	if len(h) < 8+pcWordCount*word {
		return pcArea{}, false
	}
	if h[4] != 0 || h[5] != 0 || h[6] != 1 || int(h[7]) != word {
		return pcArea{}, false
	}
	field := func(k int) uint64 {
		if word == 8 {
			return binary.LittleEndian.Uint64(h[8+8*k:])
		}
		return uint64(binary.LittleEndian.Uint32(h[8+4*k:]))
	}
	tab, fn, nfunc := field(pcTableWord), field(pcFuncWord), field(pcFuncCountWord)
	if tab < uint64(8+pcWordCount*word) || fn <= tab+1 || fn > uint64(len(h)) || h[tab] != 0 {
		return pcArea{}, false
	}
	a = pcArea{start: at + int(tab) + 1, n: int(fn - tab - 1)}
	if nfunc < uint64(len(h)) && funcsFit(h[fn:], int(nfunc)) {
		a.nfunc, a.pcdata = int(nfunc), funcPCData120
		if binary.LittleEndian.Uint32(h) == pcMagic118 {
			a.pcdata = funcPCData118
		}
	}
	return a, true
}

// varintEnd returns the end of the varint that starts at b[i]: the index
// after its first byte below 0x80, or len(b).
func varintEnd(b []byte, i int) int {
	for i < len(b) && b[i] >= 0x80 {
		i++
	}
	return min(i+1, len(b))
}

// The pc-table filter also sorts the tables by kind, which the function
// records say: a record names its function's stack, file and line tables
// and its pcdata tables, and tables of one kind are like each other and
// unlike the others (stack offsets against line deltas, say). The value
// deltas go first, those of stack tables, then of file tables and so on,
// then the pc deltas in the same order; a table that starts where no record
// points, or that only a pcdata table from the fifth on names, is of the
// last kind, and a table that records name as two kinds is of the first of
// them. The filter is still defined on any bytes: the kinds are read from
// the records, which the stub restores before it rejoins the tables, and
// where no function table was found every table is of the last kind. On the
// Go hello the kinds make the pc tables another 6% smaller under xz.

// pcKinds is the number of kinds of table the filter sorts by: stack, file
// and line (0 to 2), pcdata 0 to 3 (3 to 6), and the rest (pcOther).
const (
	pcKinds = 8
	pcOther = pcKinds - 1
)

// pcGroups are the lengths of the parts of the filtered pc tables: the
// value deltas of each kind, then the pc deltas of each kind.
type pcGroups [2 * pcKinds]int

// The fields of a _func record the kinds are read from: the offsets of its
// stack, file and line tables, its number of pcdata tables, and where the
// offsets of those are in records of Go 1.18 and 1.19 and of Go 1.20 on.
// funcRecordRead is the bytes of a record that must be there for any of
// it to be read, through the number of pcdata tables.
const (
	funcStackField  = 16
	funcNPCDataFld  = 28
	funcRecordRead  = funcNPCDataFld + 4
	funcPCData118   = 40
	funcPCData120   = 44
	funcKindsPCData = 4 // pcdata tables whose kind is their own
)

// pcTableKinds returns, for each byte of the pc tables that a says are in
// data, one more than the kind of the table that the function records say
// starts there, or 0. The records are those after the tables, as they are
// before the function-table filter or after it is undone. A record is read
// when its first funcRecordRead bytes are in data, and each table offset
// in it when that is, so any bytes give a result; the stub reads them the
// same way.
func pcTableKinds(data []byte, a pcArea) []byte {
	kinds := make([]byte, a.n)
	ft := data[a.start+a.n:]
	if a.nfunc == 0 || funcTableLen(a.nfunc) > len(ft) {
		return kinds
	}
	u32 := func(at int) uint32 { return binary.LittleEndian.Uint32(ft[at:]) }
	for i := range a.nfunc {
		rec := int(u32(i*8 + 4))
		if rec > len(ft)-funcRecordRead {
			continue
		}
		for k := 0; k < 3+funcKindsPCData && (k < 3 || uint32(k-3) < u32(rec+funcNPCDataFld)); k++ {
			at := rec + funcStackField + 4*k
			if k >= 3 {
				at = rec + a.pcdata + 4*(k-3)
			}
			if at > len(ft)-4 {
				break
			}
			// Offsets count from the empty table before the area.
			off := int64(u32(at)) - 1
			if off < 0 || off >= int64(a.n) {
				continue
			}
			if m := &kinds[off]; *m == 0 || int(*m) > k+1 {
				*m = byte(k + 1)
			}
		}
	}
	return kinds
}

// tableKind is the kind of a table whose start pcTableKinds marked so.
func tableKind(mark byte) int {
	if mark == 0 {
		return pcOther
	}
	return int(mark) - 1
}

// splitPC applies the pc-table filter to b, whose tables' kinds are as
// pcTableKinds says: it returns the value deltas of each kind, then the pc
// deltas of each kind, and their lengths.
func splitPC(b, kinds []byte) ([]byte, pcGroups) {
	var parts [2 * pcKinds][]byte
	first, k := true, pcOther
	for i := 0; i < len(b); {
		if first {
			k = tableKind(kinds[i])
		}
		end := varintEnd(b, i)
		parts[k] = append(parts[k], b[i:end]...)
		lone := end == i+1 && b[i] == 0
		i = end
		if lone && !first {
			first = true
			continue
		}
		first = false
		end = varintEnd(b, i)
		parts[pcKinds+k] = append(parts[pcKinds+k], b[i:end]...)
		i = end
	}
	out := make([]byte, 0, len(b))
	var g pcGroups
	for j, part := range parts {
		out = append(out, part...)
		g[j] = len(part)
	}
	return out, g
}

// joinPC undoes splitPC: f is its output, kinds as for splitPC, g its
// lengths. ok is false when f cannot be split's output: the lengths do not
// add up to f's, a varint is wanted from a part that is used up, or some
// part is left over. The stub does the same in C.
func joinPC(f, kinds []byte, g pcGroups) (out []byte, ok bool) {
	var parts [2 * pcKinds][]byte
	at := 0
	for j, n := range g {
		if n < 0 || n > len(f)-at {
			return nil, false
		}
		parts[j] = f[at : at+n]
		at += n
	}
	if at != len(f) || len(kinds) != len(f) {
		return nil, false
	}
	out = make([]byte, 0, len(f))
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
	first, k := true, pcOther
	for len(out) < len(f) {
		if first {
			k = tableKind(kinds[len(out)])
		}
		lone, ok := copyVarint(&parts[k])
		if !ok {
			return nil, false
		}
		if lone && !first {
			first = true
			continue
		}
		first = false
		if _, ok := copyVarint(&parts[pcKinds+k]); !ok {
			return nil, false
		}
	}
	for _, part := range parts {
		if len(part) != 0 {
			return nil, false
		}
	}
	return out, true
}

// The function table follows the pc tables: for each function a pair of
// uint32s, its entry's offset in the text and its _func record's offset
// from the table, and one more uint32, the end of the text; then the
// records. Both offsets of the pairs grow from one function to the next,
// and so do the first fields of the records: the entry again, the name's
// offset, and the offsets of its stack, file and line tables. The
// function-table filter, which goes with the pc-table filter, stores all
// of them as differences from the previous function's (modulo 2^32), which
// turns about 1,500 distinct offsets of the Go hello into a few hundred
// small numbers that repeat.

// funcFields are the offsets of the _func fields the filter codes as
// differences: entryOff, nameOff, pcsp, pcfile and pcln.
var funcFields = [...]int{0, 4, 16, 20, 24}

// funcFieldsEnd is the end of the last of funcFields.
const funcFieldsEnd = 28

// funcTableLen is the length of a function table of nfunc functions.
func funcTableLen(nfunc int) int { return nfunc*8 + 4 }

// funcsFit reports whether b starts with a function table of nfunc
// functions whose records follow the table in order, each with room for
// funcFields before the next and within b, which is what the filter
// needs to be undone in place, in order.
func funcsFit(b []byte, nfunc int) bool {
	if nfunc < 1 || funcTableLen(nfunc) > len(b) {
		return false
	}
	prev := funcTableLen(nfunc) - funcFieldsEnd
	for i := range nfunc {
		off := int(binary.LittleEndian.Uint32(b[i*8+4:]))
		if off < prev+funcFieldsEnd || off > len(b)-funcFieldsEnd {
			return false
		}
		prev = off
	}
	return true
}

// deltaFuncs applies the function-table filter to b, whose function table
// of nfunc functions funcsFit, in place: from the last value to the first,
// so that each difference is taken from the previous value as it was.
func deltaFuncs(b []byte, nfunc int) {
	u32 := binary.LittleEndian.Uint32
	for i := nfunc - 1; i >= 1; i-- {
		off, prev := int(u32(b[i*8+4:])), int(u32(b[i*8-4:]))
		for _, f := range funcFields {
			binary.LittleEndian.PutUint32(b[off+f:], u32(b[off+f:])-u32(b[prev+f:]))
		}
	}
	for k := funcTableLen(nfunc) - 4; k >= 8; k -= 4 {
		binary.LittleEndian.PutUint32(b[k:], u32(b[k:])-u32(b[k-8:]))
	}
}

// undeltaFuncs undoes deltaFuncs in place, in order, as the stub does. It
// returns false, having changed b, when a record's offset it restores
// leaves no room for funcFields.
func undeltaFuncs(b []byte, nfunc int) bool {
	if nfunc < 1 || funcTableLen(nfunc) > len(b) || len(b) < funcFieldsEnd {
		return false
	}
	u32 := binary.LittleEndian.Uint32
	for k := 8; k < funcTableLen(nfunc); k += 4 {
		binary.LittleEndian.PutUint32(b[k:], u32(b[k:])+u32(b[k-8:]))
	}
	for i := 1; i < nfunc; i++ {
		off, prev := uint64(u32(b[i*8+4:])), uint64(u32(b[i*8-4:]))
		if max(off, prev) > uint64(len(b)-funcFieldsEnd) {
			return false
		}
		for _, f := range funcFields {
			binary.LittleEndian.PutUint32(b[int(off)+f:], u32(b[int(off)+f:])+u32(b[int(prev)+f:]))
		}
	}
	return true
}

// filterPCTables applies the pc-table filter to data's pc tables where a says,
// and the function-table filter to the function table after them when a
// has one, in place. It returns the lengths of the filtered tables' parts,
// which the stub needs to undo the split.
func filterPCTables(data []byte, a pcArea) pcGroups {
	tab := data[a.start : a.start+a.n]
	f, g := splitPC(tab, pcTableKinds(data, a))
	copy(tab, f)
	if a.nfunc > 0 {
		deltaFuncs(data[a.start+a.n:], a.nfunc)
	}
	return g
}

// unfilterPCTables undoes filterPCTables in place, as the stub does: the
// function table first, whose records give the tables' kinds.
func unfilterPCTables(data []byte, a pcArea, g pcGroups) error {
	if a.nfunc > 0 && !undeltaFuncs(data[a.start+a.n:], a.nfunc) {
		return errors.New("the function table does not fit")
	}
	tab, ok := joinPC(data[a.start:a.start+a.n], pcTableKinds(data, a), g)
	if !ok {
		return errors.New("the pc tables do not join")
	}
	copy(data[a.start:], tab)
	return nil
}
