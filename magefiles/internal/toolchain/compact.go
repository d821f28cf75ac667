package toolchain

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
)

// The compact layout of a 386 executable with one loadable segment and a PT_GNU_STACK
// header, which a 386 program needs for a stack that is not executable (asmAMD64LinkFlags
// says why). Laid out one after the other, the ELF header and the two program headers
// take 52 + 2×32 = 116 bytes before the code. Linux reads only some of their fields, so
// compact386 lays them over each other where it reads none of the bytes twice:
//
//   - the program header table starts at byte 36, over the last 16 bytes of the ELF
//     header, with the PT_GNU_STACK header first. Its p_type is e_flags, which Linux and
//     the i386 ABI leave unused; its p_offset, p_vaddr and p_paddr, which Linux never
//     reads for PT_GNU_STACK, are e_ehsize and e_phentsize, e_phnum and e_shentsize
//     (zero), e_shnum and e_shstrndx (zero). Its p_filesz, p_memsz, p_flags and
//     p_align follow the ELF header and keep the linker's values, so the stack keeps
//     its permissions and a C library its stack size.
//   - the PT_LOAD header follows at byte 68, and the segment's bytes start at byte 96,
//     over its p_align, which Linux does not read for an ET_EXEC file, whose segments
//     go at the addresses they name. objdump and the other BFD tools warn that this
//     p_align is not a power of two; readelf, file and debug/elf say nothing. Without
//     this overlap the layout would save 16 bytes, not 20.
//
// That saves 20 bytes. The result has no section headers: e_shnum and e_shstrndx are
// the PT_GNU_STACK header's p_paddr.
const (
	elf32HeaderSize   = 52 // an Elf32_Ehdr
	elf32ProgSize     = 32 // an Elf32_Phdr
	compactPhoff      = 36 // e_flags, the first byte of the ELF header the table covers
	compactLoadHeader = compactPhoff + elf32ProgSize
	// compactCodeOff is the first byte of the segment: the PT_LOAD header's p_align.
	compactCodeOff = compactLoadHeader + elf32ProgSize - 4
)

// compactable is the shape of a linked 386 executable that compact386 can lay out
// anew: its ELF header, its PT_LOAD and PT_GNU_STACK headers, and the bytes of the
// segment.
type compactable struct {
	header      elf.Header32
	load, stack elf.Prog32
	code        []byte
}

// errNotCompact wraps the reasons compact386 leaves an executable as it is.
var errNotCompact = errors.New("not laid out as a 386 executable with one segment")

// readCompactable reads data as an executable for linux/386 as ld.lld -n lays one out:
// the ELF header, then the program header table with exactly one PT_LOAD and one
// PT_GNU_STACK header, then the segment's bytes. It does not ask the segment's file
// offset and address to agree modulo the page size: compact386 moves the bytes.
func readCompactable(data []byte) (compactable, error) {
	var l compactable
	le := binary.LittleEndian
	if _, err := binary.Decode(data, le, &l.header); err != nil || !bytes.HasPrefix(data, []byte(elf.ELFMAG)) {
		return l, fmt.Errorf("%w: not an ELF file", errNotCompact)
	}
	h := l.header
	switch {
	case elf.Class(h.Ident[elf.EI_CLASS]) != elf.ELFCLASS32 || elf.Data(h.Ident[elf.EI_DATA]) != elf.ELFDATA2LSB:
		return l, fmt.Errorf("%w: not a little-endian ELF32 file", errNotCompact)
	case elf.Machine(h.Machine) != elf.EM_386 || elf.Type(h.Type) != elf.ET_EXEC:
		return l, fmt.Errorf("%w: %v %v, want EM_386 ET_EXEC", errNotCompact, elf.Machine(h.Machine), elf.Type(h.Type))
	case h.Ehsize != elf32HeaderSize || h.Phentsize != elf32ProgSize || h.Phoff != elf32HeaderSize || h.Phnum != 2:
		return l, fmt.Errorf("%w: want two program headers right after the ELF header", errNotCompact)
	case h.Flags != 0:
		return l, fmt.Errorf("%w: e_flags is %#x, want 0", errNotCompact, h.Flags)
	case len(data) < elf32HeaderSize+2*elf32ProgSize:
		return l, fmt.Errorf("%w: the program headers run past the end of the file", errNotCompact)
	}
	for i := range 2 {
		var p elf.Prog32
		if _, err := binary.Decode(data[elf32HeaderSize+i*elf32ProgSize:], le, &p); err != nil {
			return l, fmt.Errorf("%w: %w", errNotCompact, err)
		}
		switch elf.ProgType(p.Type) {
		case elf.PT_LOAD:
			l.load = p
		case elf.PT_GNU_STACK:
			l.stack = p
		}
	}
	load, stack := l.load, l.stack
	headers := uint32(elf32HeaderSize + 2*elf32ProgSize)
	switch {
	case elf.ProgType(load.Type) != elf.PT_LOAD || elf.ProgType(stack.Type) != elf.PT_GNU_STACK:
		return l, fmt.Errorf("%w: want one PT_LOAD and one PT_GNU_STACK header", errNotCompact)
	case stack.Filesz != 0:
		return l, fmt.Errorf("%w: the PT_GNU_STACK header has %d bytes in the file", errNotCompact, stack.Filesz)
	case load.Filesz == 0 || load.Filesz > load.Memsz:
		return l, fmt.Errorf("%w: the segment has %d bytes in the file and %d in memory", errNotCompact, load.Filesz, load.Memsz)
	case load.Off < headers || uint64(load.Off)+uint64(load.Filesz) > uint64(len(data)):
		return l, fmt.Errorf("%w: the segment's %d bytes from byte %d are not between the headers and the end of the %d-byte file", errNotCompact, load.Filesz, load.Off, len(data))
	}
	l.code = data[load.Off : load.Off+load.Filesz]
	return l, nil
}

// compactBase returns the image base at which ld.lld -n must link again what it linked
// into data, an executable that readCompactable reads, for compact386 to lay it out 20
// bytes shorter: with -n the segment's address is the image base plus its offset, and
// its bytes go to byte compactCodeOff of the compact file, where that address and
// offset must still agree modulo the page size.
func compactBase(data []byte) (uint32, error) {
	l, err := readCompactable(data)
	if err != nil {
		return 0, err
	}
	if l.load.Off%pageSize != l.load.Vaddr%pageSize {
		return 0, fmt.Errorf("%w: the segment's offset %#x and address %#x differ modulo the page size", errNotCompact, l.load.Off, l.load.Vaddr)
	}
	base, shift := l.load.Vaddr-l.load.Off, l.load.Off-compactCodeOff
	if base < minMapAddr+shift {
		return 0, fmt.Errorf("%w: the image base %#x is too low to move the segment down %d bytes", errNotCompact, base, shift)
	}
	return base - shift, nil
}

// compact386 returns data, an executable that readCompactable reads, in the compact
// layout described at compactPhoff, with the segment's bytes at its address modulo the
// page size, which must be at least compactCodeOff and less than the segment's offset in
// data. The result has the same entry point and maps the same bytes, with the same
// permissions, at the same addresses.
func compact386(data []byte) ([]byte, error) {
	l, err := readCompactable(data)
	if err != nil {
		return nil, err
	}
	off := l.load.Vaddr % pageSize
	if off < compactCodeOff || off >= l.load.Off {
		return nil, fmt.Errorf("%w: the segment at %#x cannot start at byte %d", errNotCompact, l.load.Vaddr, off)
	}
	// Linux reads the program headers whole: the file holds them even when the
	// segment's bytes end before their last one.
	out := make([]byte, max(int(off)+len(l.code), compactLoadHeader+elf32ProgSize))
	le := binary.LittleEndian
	h := l.header
	h.Phoff = compactPhoff
	h.Shoff, h.Shentsize, h.Shnum, h.Shstrndx = 0, 0, 0, 0
	h.Flags = uint32(elf.PT_GNU_STACK)
	mustEncode(binary.Encode(out, le, h))
	// The PT_GNU_STACK header's p_offset, p_vaddr and p_paddr are the ELF header's
	// fields; its other fields follow the ELF header.
	stack := l.stack
	le.PutUint32(out[elf32HeaderSize:], stack.Filesz)
	le.PutUint32(out[elf32HeaderSize+4:], stack.Memsz)
	le.PutUint32(out[elf32HeaderSize+8:], stack.Flags)
	le.PutUint32(out[elf32HeaderSize+12:], stack.Align)
	load := l.load
	load.Off = off
	mustEncode(binary.Encode(out[compactLoadHeader:], le, load))
	copy(out[off:], l.code) // over p_align
	return out, nil
}

// mustEncode panics on an encoding error, which only a buffer shorter than its caller
// sized it can cause.
func mustEncode(_ int, err error) {
	if err != nil {
		panic(err)
	}
}
