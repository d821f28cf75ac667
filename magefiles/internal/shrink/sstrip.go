package shrink

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
)

// pageSize is the x86 page size, the granularity at which Linux maps
// PT_LOAD segments (ELF_MIN_ALIGN).
const pageSize = 4096

// Errors that SStrip wraps, so callers can tell the kinds apart with
// errors.Is.
var (
	// ErrNotELF means the input does not start with the ELF magic.
	ErrNotELF = errors.New("not an ELF file")
	// ErrUnsupported means the input is a well-formed ELF file of a kind
	// SStrip does not handle: big-endian, another machine, a relocatable
	// object, a core dump, or a dynamically linked executable.
	ErrUnsupported = errors.New("unsupported ELF file")
	// ErrMalformed means the input's headers are truncated, overlap or
	// contradict each other.
	ErrMalformed = errors.New("malformed ELF file")
)

// header is the part of an ELF file header SStrip reads, widened to 64 bits.
type header struct {
	class     elf.Class
	typ       elf.Type
	machine   elf.Machine
	version   uint32
	phoff     uint64
	shoff     uint64
	ehsize    uint16
	phentsize uint16
	phnum     uint16
	shentsize uint16
	shnum     uint16
}

// segment is one program header, widened to 64 bits.
type segment struct {
	index  int
	typ    elf.ProgType
	flags  elf.ProgFlag
	off    uint64
	vaddr  uint64
	filesz uint64
	memsz  uint64
}

// end is the file offset just past the segment's file image.
func (s segment) end() uint64 { return s.off + s.filesz }

// SStrip removes everything from a static x86 ELF executable that the Linux
// kernel does not load: the section header table and every byte after the
// last byte a segment's file image, the ELF header or the program header
// table needs. It then drops the trailing zero bytes of the last PT_LOAD
// segment where the kernel supplies the same zeros itself. The result maps
// to the same memory contents as the input; see the package documentation
// for the exact rules.
//
// SStrip accepts little-endian ELF32 EM_386 and ELF64 EM_X86_64 files of
// type ET_EXEC, and of type ET_DYN when they have neither PT_INTERP nor
// PT_DYNAMIC. It refuses everything else with an error wrapping ErrNotELF,
// ErrUnsupported or ErrMalformed. It never modifies bin; when nothing can be
// removed it returns an unchanged copy.
func SStrip(bin []byte) ([]byte, error) {
	h, err := parseHeader(bin)
	if err != nil {
		return nil, err
	}
	segs, err := parseSegments(bin, h)
	if err != nil {
		return nil, err
	}

	// The last PT_LOAD, the highest in memory, is the only segment whose
	// file image may shrink: every kernel turns the rest of its memory
	// image into zero pages (bss). Every other byte range the loader reads
	// is pinned.
	last, loaded := -1, false
	for i, s := range segs {
		if s.typ == elf.PT_LOAD {
			last = i
			loaded = loaded || s.memsz > 0
		}
	}
	if !loaded {
		return nil, fmt.Errorf("%w: no PT_LOAD segment with a memory image", ErrMalformed)
	}
	pinned := max(uint64(h.ehsize), h.phoff+uint64(h.phnum)*uint64(h.phentsize))
	for i, s := range segs {
		if i != last && s.typ != elf.PT_NULL && s.filesz > 0 {
			pinned = max(pinned, s.end())
		}
	}

	if err := checkOverlap(bin, h); err != nil {
		return nil, err
	}
	l := segs[last]
	newFilesz, newMemsz := trimLast(bin, l, pinned)
	if sizesInHeader(h, l.index) {
		// Writing them would change the ELF header.
		newFilesz, newMemsz = l.filesz, l.memsz
	}
	end := pinned
	if newFilesz > 0 {
		end = max(end, l.off+newFilesz)
	}

	out := make([]byte, end)
	copy(out, bin[:end])
	clearSectionHeaders(out, h.class)
	if newFilesz != l.filesz || newMemsz != l.memsz {
		setSizes(out, h, l.index, newFilesz, newMemsz)
	}
	return out, nil
}

// trimLast returns the file and memory sizes of the last PT_LOAD segment l
// once its trailing zero bytes are dropped, never below pinned (a file
// offset some other structure needs) and only where the kernel rebuilds the
// same memory image.
func trimLast(bin []byte, l segment, pinned uint64) (filesz, memsz uint64) {
	if l.filesz == 0 || l.end() <= pinned {
		return l.filesz, l.memsz
	}
	image := bin[l.off:l.end()]
	keep := uint64(len(bytes.TrimRight(image, "\x00")))
	if pinned > l.off {
		keep = max(keep, pinned-l.off)
	}
	// A PT_LOAD with no file bytes is mapped anonymously from the start of
	// its first page, over whatever an earlier segment put there; keep one
	// byte so the first page stays a file mapping as before.
	keep = max(keep, 1)

	writable := l.flags&elf.PF_W != 0
	if !writable && l.filesz != l.memsz {
		// Read-only bss: kernels before 6.7 fail exec when they cannot
		// zero the page tail after p_filesz, and newer ones map the bss
		// pages writable. Leave it as the linker made it.
		return l.filesz, l.memsz
	}
	if !writable || l.flags&elf.PF_X != 0 {
		// Keep the last page of the file mapping: bss pages are always
		// writable, and older kernels map them without PROT_EXEC. The
		// bytes the file no longer holds in that page are the zeros mmap
		// supplies past the end of a file.
		lastPage := (l.vaddr + l.filesz - 1) &^ (pageSize - 1)
		if lastPage > l.vaddr {
			keep = max(keep, lastPage-l.vaddr+1)
		}
	}
	if writable {
		// The kernel zeroes the rest of the page after p_filesz and maps
		// anonymous zero pages up to p_memsz: the classic bss.
		return keep, l.memsz
	}
	// Read-only: no bss; p_memsz shrinks with p_filesz inside the same
	// last page, which stays mapped from the file.
	return keep, keep
}

// checkOverlap refuses a program header table that lies over the section header
// fields of the ELF header (e_shoff, e_shnum, e_shstrndx) when they are not zero:
// clearing them would change program headers. A table may lie over the rest of the
// ELF header, as in executables laid out by hand or by the build's compact 386
// layout, where the fields each of them needs are the same bytes.
func checkOverlap(bin []byte, h header) error {
	if h.phoff >= uint64(h.ehsize) {
		return nil
	}
	tableEnd := h.phoff + uint64(h.phnum)*uint64(h.phentsize)
	for _, f := range sectionHeaderFields(h.class) {
		if f.off+f.size <= h.phoff || f.off >= tableEnd {
			continue
		}
		if bytes.Count(bin[f.off:f.off+f.size], []byte{0}) != int(f.size) {
			return fmt.Errorf("%w: the program header table at offset %d lies over %s, which is not zero", ErrUnsupported, h.phoff, f.name)
		}
	}
	return nil
}

// field is a field of the ELF header: its name, offset and size in bytes.
type field struct {
	name      string
	off, size uint64
}

// sectionHeaderFields returns the fields of the ELF header that clearSectionHeaders
// clears.
func sectionHeaderFields(c elf.Class) []field {
	if c == elf.ELFCLASS32 {
		return []field{{"e_shoff", 32, 4}, {"e_shnum", 48, 2}, {"e_shstrndx", 50, 2}}
	}
	return []field{{"e_shoff", 40, 8}, {"e_shnum", 60, 2}, {"e_shstrndx", 62, 2}}
}

// sizesInHeader reports whether p_filesz or p_memsz of program header i lies in the
// ELF header, which setSizes must then leave alone.
func sizesInHeader(h header, i int) bool {
	start := h.phoff + uint64(i)*uint64(h.phentsize) + 16 // p_filesz in an Elf32_Phdr
	if h.class == elf.ELFCLASS64 {
		start += 16 // after the 64-bit p_offset, p_vaddr, p_paddr
	}
	return start < uint64(h.ehsize)
}

// parseHeader reads and checks the ELF file header.
func parseHeader(bin []byte) (header, error) {
	if len(bin) < 4 || string(bin[:4]) != elf.ELFMAG {
		return header{}, fmt.Errorf("%w: no \\x7fELF magic", ErrNotELF)
	}
	if len(bin) < elf.EI_NIDENT {
		return header{}, fmt.Errorf("%w: truncated ELF identification (%d bytes)", ErrMalformed, len(bin))
	}
	var h header
	h.class = elf.Class(bin[elf.EI_CLASS])
	switch data := elf.Data(bin[elf.EI_DATA]); data {
	case elf.ELFDATA2LSB:
	case elf.ELFDATA2MSB:
		return header{}, fmt.Errorf("%w: big-endian (ELFDATA2MSB); only little-endian x86 is supported", ErrUnsupported)
	default:
		return header{}, fmt.Errorf("%w: invalid data encoding %d", ErrMalformed, data)
	}
	if v := elf.Version(bin[elf.EI_VERSION]); v != elf.EV_CURRENT {
		return header{}, fmt.Errorf("%w: unknown ELF identification version %d", ErrUnsupported, v)
	}

	le := binary.LittleEndian
	switch h.class {
	case elf.ELFCLASS32:
		var eh elf.Header32
		if _, err := binary.Decode(bin, le, &eh); err != nil {
			return header{}, fmt.Errorf("%w: truncated ELF header (%d bytes)", ErrMalformed, len(bin))
		}
		h.typ, h.machine, h.version = elf.Type(eh.Type), elf.Machine(eh.Machine), eh.Version
		h.phoff, h.shoff = uint64(eh.Phoff), uint64(eh.Shoff)
		h.ehsize, h.phentsize, h.phnum = eh.Ehsize, eh.Phentsize, eh.Phnum
		h.shentsize, h.shnum = eh.Shentsize, eh.Shnum
	case elf.ELFCLASS64:
		var eh elf.Header64
		if _, err := binary.Decode(bin, le, &eh); err != nil {
			return header{}, fmt.Errorf("%w: truncated ELF header (%d bytes)", ErrMalformed, len(bin))
		}
		h.typ, h.machine, h.version = elf.Type(eh.Type), elf.Machine(eh.Machine), eh.Version
		h.phoff, h.shoff = eh.Phoff, eh.Shoff
		h.ehsize, h.phentsize, h.phnum = eh.Ehsize, eh.Phentsize, eh.Phnum
		h.shentsize, h.shnum = eh.Shentsize, eh.Shnum
	default:
		return header{}, fmt.Errorf("%w: invalid class %d", ErrMalformed, h.class)
	}
	if h.version != uint32(elf.EV_CURRENT) {
		return header{}, fmt.Errorf("%w: unknown ELF version %d", ErrUnsupported, h.version)
	}

	switch h.typ {
	case elf.ET_EXEC, elf.ET_DYN:
	case elf.ET_REL:
		return header{}, fmt.Errorf("%w: relocatable object (ET_REL), not an executable", ErrUnsupported)
	case elf.ET_CORE:
		return header{}, fmt.Errorf("%w: core dump (ET_CORE), not an executable", ErrUnsupported)
	default:
		return header{}, fmt.Errorf("%w: ELF type %v, not an executable", ErrUnsupported, h.typ)
	}

	switch {
	case h.class == elf.ELFCLASS64 && h.machine == elf.EM_X86_64,
		h.class == elf.ELFCLASS32 && h.machine == elf.EM_386:
	case h.class == elf.ELFCLASS32 && h.machine == elf.EM_X86_64:
		return header{}, fmt.Errorf("%w: x32 ABI (ELFCLASS32 EM_X86_64); only EM_386 and EM_X86_64 are supported", ErrUnsupported)
	default:
		return header{}, fmt.Errorf("%w: machine %v for %v; only EM_386 (ELFCLASS32) and EM_X86_64 (ELFCLASS64) are supported", ErrUnsupported, h.machine, h.class)
	}

	ehsize, phentsize, shentsize := sizes(h.class)
	size := uint64(len(bin))
	if h.ehsize != ehsize {
		return header{}, fmt.Errorf("%w: e_ehsize is %d, want %d", ErrMalformed, h.ehsize, ehsize)
	}
	switch {
	case h.phnum == 0 || h.phoff == 0:
		return header{}, fmt.Errorf("%w: no program header table", ErrMalformed)
	case h.phnum == 0xffff:
		return header{}, fmt.Errorf("%w: extended program header numbering (e_phnum = PN_XNUM)", ErrUnsupported)
	case h.phentsize != phentsize:
		return header{}, fmt.Errorf("%w: e_phentsize is %d, want %d", ErrMalformed, h.phentsize, phentsize)
	case h.phoff > size || uint64(h.phnum)*uint64(phentsize) > size-h.phoff:
		return header{}, fmt.Errorf("%w: program header table (offset %d, %d entries) extends past the end of the file (%d bytes)", ErrMalformed, h.phoff, h.phnum, size)
	}

	// The section header table is dropped, not read, but a table that
	// does not fit in the file means the file was cut short.
	switch {
	case h.shoff == 0 && h.shnum != 0:
		return header{}, fmt.Errorf("%w: %d section headers at offset 0", ErrMalformed, h.shnum)
	case h.shoff != 0 && h.shentsize != shentsize:
		return header{}, fmt.Errorf("%w: e_shentsize is %d, want %d", ErrMalformed, h.shentsize, shentsize)
	case h.shoff != 0:
		// With e_shnum == 0 the count lives in section header 0.
		n := max(uint64(h.shnum), 1)
		if h.shoff > size || n*uint64(shentsize) > size-h.shoff {
			return header{}, fmt.Errorf("%w: section header table (offset %d, %d entries) extends past the end of the file (%d bytes)", ErrMalformed, h.shoff, h.shnum, size)
		}
	}
	return h, nil
}

// parseSegments reads the program header table and checks what the loader
// relies on: no dynamic linking, segment file images inside the file, and
// PT_LOAD segments in ascending, non-overlapping memory order that the
// kernel can map.
func parseSegments(bin []byte, h header) ([]segment, error) {
	le := binary.LittleEndian
	segs := make([]segment, h.phnum)
	for i := range segs {
		b := bin[h.phoff+uint64(i)*uint64(h.phentsize):]
		s := segment{index: i}
		if h.class == elf.ELFCLASS32 {
			var p elf.Prog32
			if _, err := binary.Decode(b, le, &p); err != nil {
				return nil, fmt.Errorf("%w: reading program header %d: %w", ErrMalformed, i, err)
			}
			s.typ, s.flags = elf.ProgType(p.Type), elf.ProgFlag(p.Flags)
			s.off, s.vaddr = uint64(p.Off), uint64(p.Vaddr)
			s.filesz, s.memsz = uint64(p.Filesz), uint64(p.Memsz)
		} else {
			var p elf.Prog64
			if _, err := binary.Decode(b, le, &p); err != nil {
				return nil, fmt.Errorf("%w: reading program header %d: %w", ErrMalformed, i, err)
			}
			s.typ, s.flags = elf.ProgType(p.Type), elf.ProgFlag(p.Flags)
			s.off, s.vaddr, s.filesz, s.memsz = p.Off, p.Vaddr, p.Filesz, p.Memsz
		}
		segs[i] = s
	}

	for _, s := range segs {
		switch s.typ {
		case elf.PT_INTERP:
			return nil, fmt.Errorf("%w: dynamically linked executable (program header %d is PT_INTERP); link it statically", ErrUnsupported, s.index)
		case elf.PT_DYNAMIC:
			return nil, fmt.Errorf("%w: executable with a dynamic section (program header %d is PT_DYNAMIC); link it statically without PIE", ErrUnsupported, s.index)
		}
	}

	size := uint64(len(bin))
	addrLimit := ^uint64(0)
	if h.class == elf.ELFCLASS32 {
		addrLimit = 1<<32 - 1
	}
	var prev *segment
	for i := range segs {
		s := &segs[i]
		// No file holds 2^63 bytes, and debug/elf refuses such headers.
		if s.off >= 1<<63 || s.filesz >= 1<<63 {
			return nil, fmt.Errorf("%w: program header %d has offset %#x and file size %#x past any file", ErrMalformed, s.index, s.off, s.filesz)
		}
		if s.typ == elf.PT_NULL {
			continue
		}
		if s.filesz > 0 && (s.off > size || s.filesz > size-s.off) {
			return nil, fmt.Errorf("%w: segment %d (%v, offset %d, %d bytes) extends past the end of the file (%d bytes)", ErrMalformed, s.index, s.typ, s.off, s.filesz, size)
		}
		if s.typ != elf.PT_LOAD {
			continue
		}
		switch {
		case s.filesz > s.memsz:
			return nil, fmt.Errorf("%w: PT_LOAD segment %d has p_filesz %d > p_memsz %d", ErrMalformed, s.index, s.filesz, s.memsz)
		case s.memsz > addrLimit-s.vaddr:
			return nil, fmt.Errorf("%w: PT_LOAD segment %d (vaddr %#x, %d bytes) wraps around the address space", ErrMalformed, s.index, s.vaddr, s.memsz)
		case s.filesz > 0 && s.off%pageSize != s.vaddr%pageSize:
			return nil, fmt.Errorf("%w: PT_LOAD segment %d has offset %#x and vaddr %#x on different page offsets", ErrMalformed, s.index, s.off, s.vaddr)
		}
		if prev != nil && prev.vaddr+prev.memsz > s.vaddr {
			return nil, fmt.Errorf("%w: PT_LOAD segments %d and %d overlap in memory or are not in ascending order", ErrMalformed, prev.index, s.index)
		}
		prev = s
	}
	return segs, nil
}

// sizes returns the ELF header, program header and section header sizes of
// a class.
func sizes(c elf.Class) (ehsize, phentsize, shentsize uint16) {
	if c == elf.ELFCLASS32 {
		return 52, 32, 40
	}
	return 64, 56, 64
}

// clearSectionHeaders sets e_shoff, e_shnum and e_shstrndx to zero in the
// ELF header at the start of out. e_shentsize keeps its value.
func clearSectionHeaders(out []byte, c elf.Class) {
	le := binary.LittleEndian
	if c == elf.ELFCLASS32 {
		le.PutUint32(out[32:], 0) // e_shoff
		le.PutUint16(out[48:], 0) // e_shnum
		le.PutUint16(out[50:], 0) // e_shstrndx
		return
	}
	le.PutUint64(out[40:], 0) // e_shoff
	le.PutUint16(out[60:], 0) // e_shnum
	le.PutUint16(out[62:], 0) // e_shstrndx
}

// setSizes writes p_filesz and p_memsz of program header i in out.
func setSizes(out []byte, h header, i int, filesz, memsz uint64) {
	le := binary.LittleEndian
	p := out[h.phoff+uint64(i)*uint64(h.phentsize):]
	if h.class == elf.ELFCLASS32 {
		le.PutUint32(p[16:], uint32(filesz))
		le.PutUint32(p[20:], uint32(memsz))
		return
	}
	le.PutUint64(p[32:], filesz)
	le.PutUint64(p[40:], memsz)
}
