package pack

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/minimalbuild/minimal/magefiles/internal/lzma"
)

var (
	// ErrUnsupported is wrapped by the errors for executables Pack does not
	// handle: not ELF, another machine or byte order, not an executable,
	// dynamically linked, or with a dynamic section.
	ErrUnsupported = errors.New("unsupported executable")
	// ErrMalformed is wrapped by the errors for ELF files whose headers are
	// truncated, contradict each other or point outside the file.
	ErrMalformed = errors.New("malformed ELF file")
	// ErrNoGain is wrapped by the error Pack returns when the packed file
	// would not be smaller than the original; keep the original then.
	ErrNoGain = errors.New("packing does not make the executable smaller")
)

// Info describes a packed executable.
type Info struct {
	// Arch is the GOARCH of the executable: "amd64" or "386".
	Arch string
	// Unpacked and Packed are the sizes of the original and the packed file.
	Unpacked, Packed int
	// Stub is the part of the packed file that is not compressed data: the
	// ELF headers, the stub's code and its table of streams and pages.
	Stub int
	// Streams are the compressed streams, in memory order.
	Streams []Stream
}

// Stream is one independently compressed part of the program's memory; the
// stub decodes each on its own thread.
type Stream struct {
	// Offset is where the stream's bytes go, from the start of the
	// program's first page.
	Offset uint64
	// Size is the number of bytes the stream decodes to.
	Size int
	// Packed is the number of compressed bytes.
	Packed int
	// Props are the LZMA parameters chosen for the stream.
	Props lzma.Props
	// Filtered is the number of bytes under a filter, and Filter names
	// it: for machine code under the x86 branch filter the branches it
	// converts, "calls", "calls+jumps" or "calls+jumps+jcc", with "+rip"
	// on amd64, where RIP-relative operands are converted too; for a Go
	// program's pc tables under the pc-table filter, "pc tables"; empty
	// when no filter applies.
	Filtered int
	Filter   string
	// Pow10 says the stream held Go's table of powers of ten, which the
	// stub computes instead of decoding it.
	Pow10 bool
}

// The LZMA parameters tried, which are the ones that win on Go and C
// executables: lp is always 0 because x86 instructions are not aligned;
// machine code does best with lc 3 or 4 and pb 0, data with pb 2. The first
// code parameters are also the ones the branch filters are compared with.
var (
	codeProps = []lzma.Props{{LC: 4, PB: 0}, {LC: 3, PB: 0}}
	dataProps = []lzma.Props{{LC: 3, PB: 2}, {LC: 1, PB: 2}, {LC: 2, PB: 2}}
)

// options are the knobs of pack.
type options struct {
	code, data []lzma.Props // LZMA parameters to try on code and on data
	kinds      []branchKind // branch filters to try on code
	workers    int          // cores that estimates and encoders may use at once
}

// Pack compresses a static linux/amd64 or linux/386 ELF executable and
// prepends the stub that restores it in memory when it runs; see the package
// documentation. The input must be an ET_EXEC executable, or an ET_DYN one
// that needs no relocation, without PT_INTERP and PT_DYNAMIC. Errors wrap
// ErrUnsupported, ErrMalformed or ErrNoGain, or are ctx's error when ctx
// is done before Pack has finished. Pack never modifies bin.
func Pack(ctx context.Context, bin []byte) ([]byte, Info, error) {
	return pack(ctx, bin, options{code: codeProps, data: dataProps, kinds: branchKinds, workers: runtime.GOMAXPROCS(0)})
}

// encoding is one compressed stream.
type encoding struct {
	out    []byte
	props  lzma.Props
	kind   branchKind
	pc     bool     // under the pc-table filter
	groups pcGroups // with pc, filterPCTables's lengths of parts
	pow10  pow10At  // where the filtered bytes held the powers of ten
}

func pack(ctx context.Context, bin []byte, o options) ([]byte, Info, error) {
	p, err := parse(bin)
	if err != nil {
		return nil, Info{}, err
	}
	stub := stubs[p.arch.name]
	if len(stub) == 0 {
		return nil, Info{}, fmt.Errorf("no stub for %s", p.arch.name)
	}
	l, err := buildLayout(bin, p)
	if err != nil {
		return nil, Info{}, err
	}
	if _, _, fixed := sizes(p, l, stub, false); fixed >= len(bin) {
		return nil, Info{}, fmt.Errorf("%w: the stub and its tables alone take %d bytes, the executable %d", ErrNoGain, fixed, len(bin))
	}
	if p.arch.rip {
		// Go and C code for amd64 reaches its data and constants
		// through RIP-relative operands: converting them makes the
		// code stream 4-6% smaller on every program measured
		// (BENCHMARKS.md), so they are converted under every filter.
		o.kinds = slices.Clone(o.kinds)
		for i := range o.kinds {
			o.kinds[i] |= branchRIP
		}
	}
	encs, err := search(ctx, l.streams, o)
	if err != nil {
		return nil, Info{}, err
	}
	for i, s := range l.streams {
		if err := verify(encs[i], s); err != nil {
			return nil, Info{}, fmt.Errorf("checking stream %d: %w", i, err)
		}
	}

	goStub := slices.ContainsFunc(encs, func(e encoding) bool { return e.pc || e.pow10.ok })
	if goStub {
		stub = goStubs[p.arch.name]
	}
	out, stubLen, err := assemble(p, l, stub, encs, goStub)
	if err != nil {
		return nil, Info{}, err
	}
	info := Info{Arch: p.arch.name, Unpacked: len(bin), Packed: len(out), Stub: stubLen}
	for i, s := range l.streams {
		st := Stream{Offset: s.off, Size: len(s.data), Packed: len(encs[i].out), Props: encs[i].props, Pow10: encs[i].pow10.ok}
		switch {
		case s.filtered > 0:
			st.Filtered, st.Filter = s.filtered, encs[i].kind.String()
		case encs[i].pc:
			st.Filtered, st.Filter = s.pc.n, "pc tables"
		}
		info.Streams = append(info.Streams, st)
	}
	if len(out) >= len(bin) {
		return nil, info, fmt.Errorf("%w: %d bytes packed, %d unpacked", ErrNoGain, len(out), len(bin))
	}
	return out, info, nil
}

// String names the branches a filter converts.
func (k branchKind) String() string {
	s := "calls"
	if k&branchJumps != 0 {
		s += "+jumps"
	}
	if k&branchCond != 0 {
		s += "+jcc"
	}
	if k&branchRIP != 0 {
		s += "+rip"
	}
	return s
}

// closeCall is how near, in parts per closeCallScale of the smallest
// estimate, another candidate's estimate must be for search to encode it
// too.
const (
	closeCall      = 1
	closeCallScale = 10000
)

// candidate is one way to encode a stream: a branch filter or the pc-table
// filter, and LZMA parameters, with the order it has among the stream's
// candidates.
type candidate struct {
	stream, order int
	kind          branchKind
	pc            bool
	props         lzma.Props
	estimate      int
	res           encoding
	err           error
}

// search finds a small encoding of every stream. It lists each stream's
// candidates: for code every branch filter with every code parameter set,
// for data every data parameter set, with the pc-table filter where the
// stream holds a Go program's pc tables. When a stream has
// more than one, it ranks them with lzma.Estimate, one greedy parse per
// filter coded under every parameter set, and encodes only the best, for code every parameter
// set with the best one's filter, and those whose estimate is within
// closeCall of the best; the smallest result wins, ties going to the
// earlier candidate. The chosen candidates of one stream and filter are
// encoded by one lzma.EncodeEach, which finds their matches once.
// Estimates and encodes run concurrently on at most o.workers cores; an
// EncodeEach also parses on the cores the others leave free. The result
// does not depend on their timing.
func search(ctx context.Context, streams []piece, o options) ([]encoding, error) {
	// input returns the stream's bytes under a filter, filterPCTables's
	// lengths of parts, and where the filtered bytes held the table of
	// powers of ten, which input has replaced with zeros.
	input := func(s piece, kind branchKind, pc bool) (in []byte, g pcGroups, p10 pow10At) {
		in = bytes.Clone(s.data)
		switch {
		case s.filtered > 0:
			filterBranches(in[s.filter:s.filter+s.filtered], kind)
		case pc:
			g = filterPCTables(in, s.pc)
		}
		if p10 = findPow10(in); p10.ok {
			zeroPow10(in, p10)
		}
		return in, g, p10
	}
	withDict := func(props []lzma.Props, n int) []lzma.Props {
		out := make([]lzma.Props, len(props))
		for i, pr := range props {
			pr.DictSize = dictSize(n)
			out[i] = pr
		}
		return out
	}

	// Each stream's candidates, grouped by filter: one estimate per group.
	type filter struct {
		kind branchKind
		pc   bool
	}
	type group struct {
		stream int
		filter
		cands []*candidate
		err   error
	}
	var groups []*group
	cands := make([][]*candidate, len(streams))
	for i, s := range streams {
		filters, props := []filter{{}}, o.data
		switch {
		case s.filtered > 0:
			filters, props = nil, o.code
			for _, kind := range o.kinds {
				filters = append(filters, filter{kind: kind})
			}
		case s.pc.n > 0:
			// The filter saves 3-4% of the stream on every Go
			// program measured, far more than an estimate can be
			// off: estimating the stream unfiltered too would
			// only cost time.
			filters = []filter{{pc: true}}
		}
		for _, f := range filters {
			g := &group{stream: i, filter: f}
			for _, pr := range withDict(props, len(s.data)) {
				c := &candidate{stream: i, order: len(cands[i]), kind: f.kind, pc: f.pc, props: pr}
				g.cands = append(g.cands, c)
				cands[i] = append(cands[i], c)
			}
			groups = append(groups, g)
		}
	}
	var estimates []func()
	for _, g := range groups {
		if len(cands[g.stream]) == 1 {
			continue
		}
		estimates = append(estimates, func() {
			props := make([]lzma.Props, len(g.cands))
			for i, c := range g.cands {
				props[i] = c.props
			}
			in, _, _ := input(streams[g.stream], g.kind, g.pc)
			sizes, err := lzma.Estimate(ctx, in, props)
			if err != nil {
				g.err = err
				return
			}
			for i, c := range g.cands {
				c.estimate = sizes[i]
			}
		})
	}
	cores := make(chan struct{}, max(1, o.workers))
	runAll(estimates, cores)
	for _, g := range groups {
		if g.err != nil {
			return nil, fmt.Errorf("estimating stream %d: %w", g.stream, g.err)
		}
	}

	var chosen []*candidate
	for i, cs := range cands {
		best := cs[0]
		for _, c := range cs[1:] {
			if c.estimate < best.estimate {
				best = c
			}
		}
		for _, c := range cs {
			// The estimates tell filters apart well, code parameters
			// with one filter less so.
			if c == best || streams[i].filtered > 0 && c.kind == best.kind ||
				(c.estimate-best.estimate)*closeCallScale <= best.estimate*closeCall {
				chosen = append(chosen, c)
			}
		}
	}
	// One encode for each stream and filter, coding the filtered bytes
	// under every chosen parameter set with one search for matches; the
	// largest streams first, so that the last encode to start is a short
	// one.
	type job struct {
		stream int
		filter
		cands []*candidate
	}
	var jobs []*job
	for _, c := range chosen {
		f := filter{kind: c.kind, pc: c.pc}
		i := slices.IndexFunc(jobs, func(j *job) bool { return j.stream == c.stream && j.filter == f })
		if i < 0 {
			i = len(jobs)
			jobs = append(jobs, &job{stream: c.stream, filter: f})
		}
		jobs[i].cands = append(jobs[i].cands, c)
	}
	slices.SortStableFunc(jobs, func(a, b *job) int {
		return len(streams[b.stream].data) - len(streams[a.stream].data)
	})
	encodes := make([]func(), len(jobs))
	for i, j := range jobs {
		encodes[i] = func() {
			props := make([]lzma.Props, len(j.cands))
			for k, c := range j.cands {
				props[k] = c.props
			}
			in, groups, p10 := input(streams[j.stream], j.kind, j.pc)
			outs, err := lzma.EncodeEach(ctx, in, props, cores)
			for k, c := range j.cands {
				if err != nil {
					c.err = err
					continue
				}
				c.res = encoding{out: outs[k], props: c.props, kind: c.kind, pc: c.pc, groups: groups, pow10: p10}
			}
		}
	}
	runAll(encodes, cores)

	best := make([]*candidate, len(streams))
	for _, c := range chosen {
		if c.err != nil {
			return nil, fmt.Errorf("compressing stream %d: %w", c.stream, c.err)
		}
		if b := best[c.stream]; b == nil || len(c.res.out) < len(b.res.out) ||
			len(c.res.out) == len(b.res.out) && c.order < b.order {
			best[c.stream] = c
		}
	}
	encs := make([]encoding, len(streams))
	for i, b := range best {
		encs[i] = b.res
	}
	return encs, nil
}

// runAll runs the functions, each on a core taken from the semaphore cores
// (a send takes one, a receive gives it back), and returns when all have.
func runAll(fns []func(), cores chan struct{}) {
	var wg sync.WaitGroup
	for _, fn := range fns {
		wg.Add(1)
		cores <- struct{}{}
		go func() {
			defer func() { <-cores; wg.Done() }()
			fn()
		}()
	}
	wg.Wait()
}

// dictSize is a dictionary that holds all of n bytes: the decoder's
// dictionary is its whole output.
func dictSize(n int) uint32 { return uint32(max(n, 4096)) }

// verify decodes a stream the way the stub will and compares the result.
func verify(e encoding, s piece) error {
	got, err := lzma.Decode(e.out, e.props, len(s.data))
	if err != nil {
		return err
	}
	if e.pow10.ok && !putPow10(got, e.pow10) {
		return errors.New("the table of powers of ten does not fit")
	}
	switch {
	case s.filtered > 0:
		unfilterBranches(got[s.filter:s.filter+s.filtered], e.kind)
	case e.pc:
		if err := unfilterPCTables(got, s.pc, e.groups); err != nil {
			return err
		}
	}
	if !bytes.Equal(got, s.data) {
		return errors.New("the compressed stream does not decode to its input")
	}
	return nil
}

// Header layout: words of the target's size, as struct header, struct
// stream and struct range in stub/stub.c; struct stream has goStreamWords
// and pcGroupBytes (the pc-table filter's lengths of parts, as uint32s
// before its last three words) in the stub for Go programs.
const (
	headerWords   = 8
	streamWords   = 7
	goStreamWords = 10
	pcGroupBytes  = 4 * len(pcGroups{})
	rangeWords    = 3
	flagRelocate  = 1
	// filterPC marks, beside the branchKind bits, a stream under the
	// pc-table filter; stub.c's FILTER_PC.
	filterPC = 4
	// filterPow10HiFirst marks a stream whose table of powers of ten has
	// the high half of each entry first; stub.c's FILTER_POW10_HI.
	filterPow10HiFirst = 16
)

// assemble writes the packed file: ELF header, program headers, the stub,
// its header, the streams. goStub says the stub is the one for Go
// programs. It returns the file and the bytes before the first stream.
func assemble(p *program, l *layout, stub []byte, encs []encoding, goStub bool) ([]byte, int, error) {
	a := p.arch
	nph, blobOff, size := sizes(p, l, stub, goStub)
	tableLen := size - blobOff - len(stub)
	for _, e := range encs {
		size += len(e.out)
	}

	// The stub goes above the program, or anywhere if the program may be.
	vaddr := a.stubBase
	flags := uint64(0)
	if p.typ == etDyn {
		flags |= flagRelocate
	} else {
		vaddr = l.base + l.size
	}
	if vaddr+pageUp(uint64(size)) > a.limit {
		return nil, 0, fmt.Errorf("%w: no room for the stub above the program at %#x", ErrUnsupported, l.base+l.size)
	}

	out := make([]byte, 0, size)
	w := &writer{b: out, size: a.word}
	// ELF header.
	w.bytes([]byte{0x7f, 'E', 'L', 'F', a.class, elfData2LSB, 1, p.osabi})
	w.bytes(make([]byte, 8))
	w.u16(etExec)
	w.u16(a.machine)
	w.u32(1)
	w.word(vaddr + uint64(blobOff)) // e_entry
	w.word(uint64(a.ehsize))        // e_phoff
	w.word(0)                       // e_shoff
	w.u32(0)                        // e_flags
	w.u16(uint16(a.ehsize))
	w.u16(uint16(a.phentsize))
	w.u16(uint16(nph))
	w.u16(0) // e_shentsize
	w.u16(0) // e_shnum
	w.u16(0) // e_shstrndx
	// Program headers: one PT_LOAD for the whole file, and the program's
	// own PT_GNU_STACK, which decides whether the stack is executable.
	w.phdr(ptLoad, pfR|pfX, 0, vaddr, uint64(size), uint64(size), pageSize)
	if p.hasStack {
		w.phdr(ptGNUStack, p.stackFlags, 0, 0, 0, 0, uint64(a.word*2))
	}
	w.bytes(make([]byte, blobOff-len(w.b)))
	w.bytes(stub)

	// The stub's header, streams and page ranges.
	w.word(l.base)
	w.word(l.size)
	w.word(p.entry)
	w.word(p.phdr)
	w.word(uint64(p.phnum))
	w.word(flags)
	w.word(uint64(len(encs)))
	w.word(uint64(len(l.ranges)))
	data := uint64(tableLen)
	for i, s := range l.streams {
		e := encs[i]
		w.word(s.off)
		w.word(uint64(len(s.data)))
		w.word(data)
		w.word(uint64(len(e.out)))
		filter, filtered, kind := s.filter, s.filtered, uint64(e.kind)
		var pa pcArea
		if e.pc {
			filter, filtered, kind, pa = s.pc.start, s.pc.n, filterPC, s.pc
		}
		if e.pow10.hiFirst {
			kind |= filterPow10HiFirst
		}
		w.word(uint64(e.props.LC) | uint64(e.props.LP)<<8 | uint64(e.props.PB)<<16 | kind<<24)
		w.word(uint64(filter))
		w.word(uint64(filtered))
		if goStub {
			for _, n := range e.groups {
				w.u32(uint32(n))
			}
			w.word(uint64(pa.nfunc))
			w.word(uint64(pa.pcdata))
			w.word(pow10Word(e.pow10))
		}
		data += uint64(len(e.out))
	}
	for _, r := range l.ranges {
		w.word(r.off)
		w.word(r.size)
		w.word(r.prot)
	}
	stubLen := len(w.b)
	for _, e := range encs {
		w.bytes(e.out)
	}
	if len(w.b) != size {
		return nil, 0, fmt.Errorf("packed file is %d bytes, want %d", len(w.b), size)
	}
	return w.b, stubLen, nil
}

// sizes returns the number of program headers of the packed file, the
// offset of the stub in it, and the offset of the first stream; goStub as
// for assemble.
func sizes(p *program, l *layout, stub []byte, goStub bool) (nph, blobOff, dataOff int) {
	a := p.arch
	nph = 1
	if p.hasStack {
		nph = 2
	}
	blobOff = alignUp(a.ehsize+nph*a.phentsize, a.word)
	tableLen := (headerWords + streamWords*len(l.streams) + rangeWords*len(l.ranges)) * a.word
	if goStub {
		tableLen += ((goStreamWords-streamWords)*a.word + pcGroupBytes) * len(l.streams)
	}
	return nph, blobOff, blobOff + len(stub) + tableLen
}

func alignUp(n, a int) int { return (n + a - 1) / a * a }

// writer appends little-endian values; a word is size bytes, 4 or 8.
type writer struct {
	b    []byte
	size int
}

func (w *writer) bytes(b []byte) { w.b = append(w.b, b...) }
func (w *writer) u16(v uint16)   { w.b = binary.LittleEndian.AppendUint16(w.b, v) }
func (w *writer) u32(v uint32)   { w.b = binary.LittleEndian.AppendUint32(w.b, v) }

func (w *writer) word(v uint64) {
	if w.size == 8 {
		w.b = binary.LittleEndian.AppendUint64(w.b, v)
	} else {
		w.b = binary.LittleEndian.AppendUint32(w.b, uint32(v))
	}
}

// phdr appends a program header in the class's field order.
func (w *writer) phdr(typ, flags uint32, off, vaddr, filesz, memsz, align uint64) {
	w.u32(typ)
	if w.size == 8 {
		w.u32(flags)
		w.word(off)
		w.word(vaddr)
		w.word(vaddr)
		w.word(filesz)
		w.word(memsz)
		w.word(align)
		return
	}
	w.word(off)
	w.word(vaddr)
	w.word(vaddr)
	w.word(filesz)
	w.word(memsz)
	w.u32(flags)
	w.word(align)
}
