package pack

import (
	"encoding/binary"
	"fmt"
)

// ELF constants this package reads and writes.
const (
	elfClass32  = 1
	elfClass64  = 2
	elfData2LSB = 1

	etExec = 2
	etDyn  = 3

	em386   = 3
	emAMD64 = 62

	ptLoad     = 1
	ptDynamic  = 2
	ptInterp   = 3
	ptGNUStack = 0x6474e551

	pfX = 1
	pfW = 2
	pfR = 4

	pnXNum = 0xffff

	pageSize = 0x1000
)

// arch describes one supported ELF class and machine.
type arch struct {
	name      string // GOARCH
	class     byte
	machine   uint16
	word      int    // bytes in an address
	ehsize    int    // bytes in the ELF header
	phentsize int    // bytes in a program header
	limit     uint64 // no address of the packed file reaches this
	stubBase  uint64 // where the stub goes when the program may be anywhere
	rip       bool   // code reaches data relative to the instruction pointer
}

var (
	amd64 = &arch{name: "amd64", class: elfClass64, machine: emAMD64, word: 8, ehsize: 64, phentsize: 56,
		limit: 1 << 46, stubBase: 0x400000, rip: true}
	i386 = &arch{name: "386", class: elfClass32, machine: em386, word: 4, ehsize: 52, phentsize: 32,
		limit: 0xc0000000, stubBase: 0x8048000}
)

// segment is one PT_LOAD program header.
type segment struct {
	off, vaddr, filesz, memsz uint64
	flags                     uint32
}

// end returns the address just past the segment's memory image.
func (s segment) end() uint64 { return s.vaddr + s.memsz }

// program is a static executable as the kernel's ELF loader sees it.
type program struct {
	arch       *arch
	typ        uint16 // etExec or etDyn
	osabi      byte
	entry      uint64
	phnum      int
	phdr       uint64 // where the program headers are in memory, 0 if nowhere
	loads      []segment
	stackFlags uint32 // p_flags of PT_GNU_STACK
	hasStack   bool   // whether there is a PT_GNU_STACK
}

// parse reads and checks the headers of a static x86 executable.
func parse(bin []byte) (*program, error) {
	if len(bin) < 4 || string(bin[:4]) != "\x7fELF" {
		return nil, fmt.Errorf("%w: not an ELF file", ErrUnsupported)
	}
	if len(bin) < 16 {
		return nil, fmt.Errorf("%w: the ELF identification is truncated", ErrMalformed)
	}
	var a *arch
	switch bin[4] {
	case elfClass32:
		a = i386
	case elfClass64:
		a = amd64
	default:
		return nil, fmt.Errorf("%w: ELF class %d", ErrMalformed, bin[4])
	}
	if bin[5] != elfData2LSB {
		return nil, fmt.Errorf("%w: not a little-endian ELF file", ErrUnsupported)
	}
	if bin[6] != 1 {
		return nil, fmt.Errorf("%w: ELF identification version %d", ErrMalformed, bin[6])
	}
	if len(bin) < a.ehsize {
		return nil, fmt.Errorf("%w: the ELF header is truncated", ErrMalformed)
	}
	le := binary.LittleEndian
	p := &program{arch: a, osabi: bin[7], typ: le.Uint16(bin[16:])}
	machine := le.Uint16(bin[18:])
	if le.Uint32(bin[20:]) != 1 {
		return nil, fmt.Errorf("%w: ELF version %d", ErrMalformed, le.Uint32(bin[20:]))
	}
	var phoff uint64
	var phentsize, phnum int
	if a.class == elfClass64 {
		p.entry = le.Uint64(bin[24:])
		phoff = le.Uint64(bin[32:])
		phentsize = int(le.Uint16(bin[54:]))
		phnum = int(le.Uint16(bin[56:]))
	} else {
		p.entry = uint64(le.Uint32(bin[24:]))
		phoff = uint64(le.Uint32(bin[28:]))
		phentsize = int(le.Uint16(bin[42:]))
		phnum = int(le.Uint16(bin[44:]))
	}
	switch {
	case machine != a.machine:
		return nil, fmt.Errorf("%w: %d-bit ELF for machine %d; only 386 and amd64 are supported", ErrUnsupported, a.word*8, machine)
	case p.typ != etExec && p.typ != etDyn:
		return nil, fmt.Errorf("%w: ELF type %d is not an executable", ErrUnsupported, p.typ)
	case phnum == pnXNum:
		return nil, fmt.Errorf("%w: extended program header numbering", ErrUnsupported)
	case phnum == 0:
		return nil, fmt.Errorf("%w: no program headers", ErrMalformed)
	case phentsize != a.phentsize:
		return nil, fmt.Errorf("%w: program header size %d, want %d", ErrMalformed, phentsize, a.phentsize)
	case phoff > uint64(len(bin)) || uint64(len(bin))-phoff < uint64(phnum*phentsize):
		return nil, fmt.Errorf("%w: the program header table is outside the file", ErrMalformed)
	case phnum*phentsize > maxPhdrs:
		return nil, fmt.Errorf("%w: the program header table takes %d bytes; the kernel refuses more than %d", ErrMalformed, phnum*phentsize, maxPhdrs)
	}
	p.phnum = phnum

	for i := range phnum {
		h := bin[phoff+uint64(i*phentsize):]
		var typ, flags uint32
		var s segment
		if a.class == elfClass64 {
			typ, flags = le.Uint32(h), le.Uint32(h[4:])
			s = segment{off: le.Uint64(h[8:]), vaddr: le.Uint64(h[16:]), filesz: le.Uint64(h[32:]), memsz: le.Uint64(h[40:])}
		} else {
			typ, flags = le.Uint32(h), le.Uint32(h[24:])
			s = segment{off: uint64(le.Uint32(h[4:])), vaddr: uint64(le.Uint32(h[8:])),
				filesz: uint64(le.Uint32(h[16:])), memsz: uint64(le.Uint32(h[20:]))}
		}
		s.flags = flags
		switch typ {
		case ptInterp:
			return nil, fmt.Errorf("%w: dynamically linked (PT_INTERP)", ErrUnsupported)
		case ptDynamic:
			return nil, fmt.Errorf("%w: the executable has a dynamic section (PT_DYNAMIC): it relocates itself or needs a loader", ErrUnsupported)
		case ptGNUStack:
			p.hasStack, p.stackFlags = true, flags
		case ptLoad:
			if err := checkLoad(s, uint64(len(bin)), a); err != nil {
				return nil, fmt.Errorf("program header %d: %w", i, err)
			}
			if n := len(p.loads); n > 0 && s.vaddr < p.loads[n-1].end() {
				return nil, fmt.Errorf("%w: program header %d: PT_LOAD segments overlap or are out of order", ErrMalformed, i)
			}
			if s.memsz > 0 {
				if err := checkKernelLayout(s, p.loads); err != nil {
					return nil, fmt.Errorf("program header %d: %w", i, err)
				}
				p.loads = append(p.loads, s)
			}
		}
	}
	if len(p.loads) == 0 {
		return nil, fmt.Errorf("%w: nothing to load", ErrMalformed)
	}
	// As the kernel does: the program headers are in memory where the
	// last segment whose file image holds their start maps them.
	for _, s := range p.loads {
		if s.off <= phoff && phoff-s.off < s.filesz {
			p.phdr = s.vaddr + (phoff - s.off)
		}
	}
	if gaps := gapBytes(p.loads); gaps > maxGaps {
		return nil, fmt.Errorf("%w: %d MiB of address space lie between the segments; the stub maps the program's whole span at once", ErrUnsupported, gaps>>20)
	}
	return p, nil
}

// maxPhdrs is the largest program header table, in bytes, that the kernel loads.
const maxPhdrs = 65536

// maxGaps is the most address space, in bytes, that may lie between the pages
// of the segments: the stub reserves the program's whole span in one mapping,
// so one far from the others would make it ask for far more memory than the
// program uses, which limits and the address space's layout may refuse.
const maxGaps = 256 << 20

// gapBytes is the number of bytes of address space between the pages of
// loads, which are in order and do not overlap.
func gapBytes(loads []segment) uint64 {
	var n uint64
	for i := 1; i < len(loads); i++ {
		if from, to := pageUp(loads[i-1].end()), pageDown(loads[i].vaddr); to > from {
			n += to - from
		}
	}
	return n
}

// checkKernelLayout refuses a PT_LOAD segment s, after the segments loads,
// that kernels map in ways the stub does not copy: a segment that is not
// writable yet holds memory past its file bytes (the kernel cannot zero the
// rest of the last file page, and kernel versions differ in what it leaves
// there and how it protects the pages after it), and a segment with no file
// bytes that starts in the last page of the one before it (the kernel maps
// zeros over that whole page).
func checkKernelLayout(s segment, loads []segment) error {
	switch {
	case s.memsz > s.filesz && s.flags&pfW == 0:
		return fmt.Errorf("%w: the segment is not writable, but p_memsz is larger than p_filesz", ErrUnsupported)
	case s.filesz == 0 && len(loads) > 0 && pageDown(s.vaddr) < pageUp(loads[len(loads)-1].end()):
		return fmt.Errorf("%w: the segment has no file bytes and starts in the previous segment's last page", ErrUnsupported)
	}
	return nil
}

// checkLoad checks one PT_LOAD program header against the file and the
// address space.
func checkLoad(s segment, size uint64, a *arch) error {
	switch {
	case s.filesz > s.memsz:
		return fmt.Errorf("%w: p_filesz is larger than p_memsz", ErrMalformed)
	case s.off > size || size-s.off < s.filesz:
		return fmt.Errorf("%w: the segment is outside the file", ErrMalformed)
	case s.vaddr%pageSize != s.off%pageSize:
		return fmt.Errorf("%w: p_vaddr and p_offset differ modulo the page size", ErrMalformed)
	case s.vaddr > a.limit || s.memsz > a.limit || s.end()+pageSize > a.limit:
		return fmt.Errorf("%w: the segment ends at %#x, beyond the %s address space", ErrUnsupported, s.vaddr+s.memsz, a.name)
	}
	return nil
}

// pageDown and pageUp round an address to a page boundary.
func pageDown(x uint64) uint64 { return x &^ (pageSize - 1) }
func pageUp(x uint64) uint64   { return (x + pageSize - 1) &^ (pageSize - 1) }

// prot converts ELF segment flags into mmap protection bits.
func prot(flags uint32) uint64 {
	var p uint64
	if flags&pfR != 0 {
		p |= 1
	}
	if flags&pfW != 0 {
		p |= 2
	}
	if flags&pfX != 0 {
		p |= 4
	}
	return p
}
