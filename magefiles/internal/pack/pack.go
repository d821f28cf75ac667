package pack

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
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
	// Filtered is the number of bytes of machine code under the x86
	// branch filter, and Filter names the branches it converts: "calls",
	// "calls+jumps" or "calls+jumps+jcc"; empty for data.
	Filtered int
	Filter   string
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
	workers    int          // encoders that may run at once
}

// Pack compresses a static linux/amd64 or linux/386 ELF executable and
// prepends the stub that restores it in memory when it runs; see the package
// documentation. The input must be an ET_EXEC executable, or an ET_DYN one
// that needs no relocation, without PT_INTERP and PT_DYNAMIC. Errors wrap
// ErrUnsupported, ErrMalformed or ErrNoGain. Pack never modifies bin.
func Pack(bin []byte) ([]byte, Info, error) {
	return pack(bin, options{code: codeProps, data: dataProps, kinds: branchKinds, workers: runtime.GOMAXPROCS(0)})
}

// encoding is one compressed stream.
type encoding struct {
	out   []byte
	props lzma.Props
	kind  branchKind
}

func pack(bin []byte, o options) ([]byte, Info, error) {
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
	if _, _, fixed := sizes(p, l, stub); fixed >= len(bin) {
		return nil, Info{}, fmt.Errorf("%w: the stub and its tables alone take %d bytes, the executable %d", ErrNoGain, fixed, len(bin))
	}
	encs, err := search(l.streams, o)
	if err != nil {
		return nil, Info{}, err
	}
	for i, s := range l.streams {
		if err := verify(encs[i], s); err != nil {
			return nil, Info{}, fmt.Errorf("checking stream %d: %w", i, err)
		}
	}

	out, stubLen, err := assemble(p, l, stub, encs)
	if err != nil {
		return nil, Info{}, err
	}
	info := Info{Arch: p.arch.name, Unpacked: len(bin), Packed: len(out), Stub: stubLen}
	for i, s := range l.streams {
		st := Stream{Offset: s.off, Size: len(s.data), Packed: len(encs[i].out), Props: encs[i].props}
		if s.filtered > 0 {
			st.Filtered, st.Filter = s.filtered, encs[i].kind.String()
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
	return s
}

// search finds the smallest encoding of every stream. Streams of code are
// first encoded under every branch filter with the first code parameters,
// then under the best filter with the other code parameters; streams of
// data with every data parameter set. Ties go to the earlier filter and parameters, so the
// result does not depend on timing.
func search(streams []piece, o options) ([]encoding, error) {
	type job struct {
		stream, order int
		kind          branchKind
		props         lzma.Props
		res           encoding
		err           error
	}
	run := func(jobs []*job) {
		sem := make(chan struct{}, max(1, o.workers))
		var wg sync.WaitGroup
		for _, j := range jobs {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				s := streams[j.stream]
				in := s.data
				if s.filtered > 0 {
					in = bytes.Clone(s.data)
					filterBranches(in[s.filter:s.filter+s.filtered], j.kind)
				}
				pr := j.props
				pr.DictSize = dictSize(len(in))
				out, err := lzma.Encode(in, pr)
				j.res, j.err = encoding{out: out, props: pr, kind: j.kind}, err
			}()
		}
		wg.Wait()
	}

	var first []*job
	for i, s := range streams {
		if s.filtered > 0 {
			for k, kind := range o.kinds {
				first = append(first, &job{stream: i, order: k, kind: kind, props: o.code[0]})
			}
			continue
		}
		for k, pr := range o.data {
			first = append(first, &job{stream: i, order: k, props: pr})
		}
	}
	run(first)

	best := make([]*job, len(streams))
	pick := func(jobs []*job) error {
		for _, j := range jobs {
			if j.err != nil {
				return fmt.Errorf("compressing: %w", j.err)
			}
			if b := best[j.stream]; b == nil || len(j.res.out) < len(b.res.out) ||
				len(j.res.out) == len(b.res.out) && j.order < b.order {
				best[j.stream] = j
			}
		}
		return nil
	}
	if err := pick(first); err != nil {
		return nil, err
	}
	var second []*job
	for i, s := range streams {
		if s.filtered == 0 {
			continue
		}
		for k, pr := range o.code[1:] {
			second = append(second, &job{stream: i, order: len(o.kinds) + k, kind: best[i].kind, props: pr})
		}
	}
	run(second)
	if err := pick(second); err != nil {
		return nil, err
	}
	encs := make([]encoding, len(streams))
	for i, b := range best {
		encs[i] = b.res
	}
	return encs, nil
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
	if s.filtered > 0 {
		unfilterBranches(got[s.filter:s.filter+s.filtered], e.kind)
	}
	if !bytes.Equal(got, s.data) {
		return errors.New("the compressed stream does not decode to its input")
	}
	return nil
}

// Header layout: words of the target's size, as struct header, struct
// stream and struct range in stub/stub.c.
const (
	headerWords  = 8
	streamWords  = 7
	rangeWords   = 3
	flagRelocate = 1
)

// assemble writes the packed file: ELF header, program headers, the stub,
// its header, the streams. It returns the file and the bytes before the
// first stream.
func assemble(p *program, l *layout, stub []byte, encs []encoding) ([]byte, int, error) {
	a := p.arch
	nph, blobOff, size := sizes(p, l, stub)
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
		w.word(uint64(e.props.LC) | uint64(e.props.LP)<<8 | uint64(e.props.PB)<<16 | uint64(e.kind)<<24)
		w.word(uint64(s.filter))
		w.word(uint64(s.filtered))
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
// offset of the stub in it, and the offset of the first stream.
func sizes(p *program, l *layout, stub []byte) (nph, blobOff, dataOff int) {
	a := p.arch
	nph = 1
	if p.hasStack {
		nph = 2
	}
	blobOff = alignUp(a.ehsize+nph*a.phentsize, a.word)
	tableLen := (headerWords + streamWords*len(l.streams) + rangeWords*len(l.ranges)) * a.word
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
