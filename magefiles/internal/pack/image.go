package pack

import (
	"bytes"
	"fmt"
)

const (
	// maxStreams is the most compressed streams the stub decodes; it has
	// room for this many jobs.
	maxStreams = 4
	// minStream is the fewest memory bytes worth a stream (and a thread)
	// of their own.
	minStream = 64 << 10
	// maxGap is the longest run of untouched memory between two segments
	// that one stream still covers, as zeros, rather than starting a new
	// stream after it.
	maxGap = 64 << 10
)

// layout is the program's memory as the stub rebuilds it: the pages from
// base to base+size, the bytes the streams fill in, and the protection of
// every page.
type layout struct {
	base, size uint64
	streams    []piece
	ranges     []pageRange
}

// piece is memory that one stream fills: data is what the kernel would have
// put at base+off, data[filter:filter+filtered] is machine code, and
// data[pc.start:pc.start+pc.n] a Go program's pc tables, followed by a
// function table of pc.nfunc functions (0 when it does not funcsFit).
type piece struct {
	off              uint64
	data             []byte
	filter, filtered int
	pc               pcArea
	group            int // pieces of one group are contiguous
}

// pageRange gives the pages base+off..base+off+size one protection, or
// unmaps them.
type pageRange struct {
	off, size uint64
	prot      uint64 // PROT_* bits, or unmapRange
}

// unmapRange marks pages that no segment covers.
const unmapRange = ^uint64(0)

// extent is one segment's file image as the kernel maps it: from the start
// of its first page to the end of its file bytes.
type extent struct {
	start, end uint64 // addresses
	exec       bool
}

// buildLayout computes the memory image of p's PT_LOAD segments from bin,
// the way the kernel maps them: each segment's file bytes from the start of
// its first page to p_filesz, zeros after them; a later segment replaces the
// pages it shares with an earlier one. It splits that memory into at
// most maxStreams streams along the boundaries between code and data, and
// across gaps, with the filter range of each.
func buildLayout(bin []byte, p *program) (*layout, error) {
	l := &layout{base: pageDown(p.loads[0].vaddr)}
	for _, s := range p.loads {
		l.size = max(l.size, pageUp(s.end())-l.base)
	}

	// Pages where some segment has file bytes, in order, merged across
	// small gaps.
	var groups [][]extent
	for _, s := range p.loads {
		if s.filesz == 0 {
			continue
		}
		e := extent{start: pageDown(s.vaddr), end: s.vaddr + s.filesz, exec: s.flags&pfX != 0}
		if n := len(groups); n > 0 {
			last := groups[n-1][len(groups[n-1])-1]
			if e.start <= last.end+maxGap {
				groups[n-1] = append(groups[n-1], e)
				continue
			}
		}
		groups = append(groups, []extent{e})
	}

	// Segments may overlap in the file, so memory can hold more than the
	// file; refuse what would make the packer itself run out of memory.
	var total uint64
	for _, g := range groups {
		total += g[len(g)-1].end - g[0].start
	}
	if limit := 4*uint64(len(bin)) + 1<<20; total > limit {
		return nil, fmt.Errorf("%w: the segments fill %d bytes of memory from a %d-byte file", ErrUnsupported, total, len(bin))
	}

	for gi, g := range groups {
		start, end := g[0].start, g[len(g)-1].end
		mem := make([]byte, end-start)
		for _, s := range p.loads {
			if s.filesz == 0 || s.vaddr+s.filesz <= start || pageDown(s.vaddr) >= end {
				continue
			}
			// Earlier segments end before this one starts, so the
			// bytes after p_filesz are still zero, as the kernel
			// leaves them when there is bss; without bss the kernel
			// would show the file's next bytes there, which nothing
			// may rely on.
			head := s.vaddr - pageDown(s.vaddr)
			copy(mem[pageDown(s.vaddr)-start:], bin[s.off-head:s.off+s.filesz])
		}
		// Split where code and data meet, then merge pieces too small
		// to be worth a thread.
		var cuts []uint64
		for i := 1; i < len(g); i++ {
			if g[i].exec != g[i-1].exec {
				cuts = append(cuts, g[i].start)
			}
		}
		from := start
		var pieces []piece
		for _, c := range append(cuts, end) {
			pieces = append(pieces, piece{off: from - l.base, data: mem[from-start : c-start]})
			from = c
		}
		for i := range pieces {
			pieces[i].group = gi
		}
		l.streams = append(l.streams, mergeSmall(pieces)...)
	}
	for len(l.streams) > maxStreams {
		i := smallestPair(l.streams)
		if i < 0 {
			return nil, fmt.Errorf("%w: the segments lie in more than %d separate places", ErrUnsupported, maxStreams)
		}
		l.streams = mergeAt(l.streams, i)
	}

	// The filter covers the file bytes of executable segments.
	for i := range l.streams {
		st := &l.streams[i]
		lo, hi := uint64(0), uint64(0)
		for _, s := range p.loads {
			if s.flags&pfX == 0 || s.filesz == 0 {
				continue
			}
			a := max(s.vaddr-l.base, st.off)
			b := min(s.vaddr+s.filesz-l.base, st.off+uint64(len(st.data)))
			if a >= b {
				continue
			}
			if hi == 0 {
				lo = a
			}
			hi = b
		}
		if hi > lo {
			st.filter, st.filtered = int(lo-st.off), int(hi-lo)
		}
		// Trailing zeros need no decoding: the pages start out zero.
		st.data = bytes.TrimRight(st.data, "\x00")
		if st.filter+st.filtered > len(st.data) {
			st.filtered = max(0, len(st.data)-st.filter)
		}
		if st.filtered == 0 {
			st.filter = 0
			st.pc, _ = pcTables(st.data, p.arch.word)
		}
	}
	for i := 0; i < len(l.streams); {
		if len(l.streams[i].data) == 0 {
			l.streams = append(l.streams[:i], l.streams[i+1:]...)
			continue
		}
		i++
	}
	if len(l.streams) == 0 {
		return nil, fmt.Errorf("%w: the segments hold no data", ErrNoGain)
	}

	l.ranges = pageRanges(p, l.base)
	return l, nil
}

// mergeSmall merges pieces below minStream into a neighbour, the smaller of
// the two, until none is left or one piece remains.
func mergeSmall(ps []piece) []piece {
	for len(ps) > 1 {
		small := -1
		for i, p := range ps {
			if len(p.data) < minStream && (small < 0 || len(p.data) < len(ps[small].data)) {
				small = i
			}
		}
		if small < 0 {
			break
		}
		switch {
		case small == 0:
			ps = mergeAt(ps, 0)
		case small == len(ps)-1:
			ps = mergeAt(ps, small-1)
		case len(ps[small-1].data) <= len(ps[small+1].data):
			ps = mergeAt(ps, small-1)
		default:
			ps = mergeAt(ps, small)
		}
	}
	return ps
}

// smallestPair returns i such that ps[i] and ps[i+1] are the smallest
// adjacent pair in one group, or -1 if no two pieces share a group.
func smallestPair(ps []piece) int {
	best := -1
	for i := 0; i+1 < len(ps); i++ {
		if ps[i].group != ps[i+1].group {
			continue
		}
		if best < 0 || len(ps[i].data)+len(ps[i+1].data) < len(ps[best].data)+len(ps[best+1].data) {
			best = i
		}
	}
	return best
}

// mergeAt joins ps[i] and ps[i+1], filling any gap between them with zeros.
func mergeAt(ps []piece, i int) []piece {
	a, b := ps[i], ps[i+1]
	data := make([]byte, b.off+uint64(len(b.data))-a.off)
	copy(data, a.data)
	copy(data[b.off-a.off:], b.data)
	ps[i] = piece{off: a.off, data: data, group: a.group}
	return append(ps[:i+1], ps[i+2:]...)
}

// pageRanges gives every page from base to the end of the last segment the protection of the
// last segment that covers it, and marks the pages no segment covers for
// unmapping.
func pageRanges(p *program, base uint64) []pageRange {
	// Segments are in address order and do not overlap, so a segment can
	// only take over pages at the end of what came before it.
	type span struct{ start, end, prot uint64 }
	var spans []span
	for _, s := range p.loads {
		start, end := pageDown(s.vaddr), pageUp(s.end())
		for len(spans) > 0 && spans[len(spans)-1].end > start {
			if last := &spans[len(spans)-1]; last.start < start {
				last.end = start
			} else {
				spans = spans[:len(spans)-1]
			}
		}
		spans = append(spans, span{start, end, prot(s.flags)})
	}
	var rs []pageRange
	add := func(start, end, prot uint64) {
		if k := len(rs); k > 0 && rs[k-1].prot == prot {
			rs[k-1].size += end - start
			return
		}
		rs = append(rs, pageRange{off: start - base, size: end - start, prot: prot})
	}
	at := base
	for _, s := range spans {
		if s.start > at {
			add(at, s.start, unmapRange)
		}
		add(s.start, s.end, s.prot)
		at = s.end
	}
	return rs
}
