package shrink

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
)

// fakeSeg describes one program header of a synthetic ELF file. The
// segment's file image is filled with 0xcc except for its last zeros bytes.
type fakeSeg struct {
	typ                       elf.ProgType
	flags                     elf.ProgFlag
	off, vaddr, filesz, memsz uint64
	zeros                     uint64
}

// fakeELF describes a synthetic ELF file. Zero values of the size fields
// mean the right size for the class.
type fakeELF struct {
	class     elf.Class
	data      elf.Data
	typ       elf.Type
	machine   elf.Machine
	version   uint32
	ehsize    uint16
	phentsize uint16
	shentsize uint16
	phoff     uint64
	phnum     uint16
	shoff     uint64
	shnum     uint16
	size      uint64
	segs      []fakeSeg
}

// staticExec returns a valid static executable of the class, laid out the
// way GNU ld lays out a small program: a read-only load holding the headers
// and a note, a text load, and a data load whose file image ends in zeros
// and whose memory image adds bss. The section header table follows the
// data.
func staticExec(class elf.Class) fakeELF {
	f := fakeELF{
		class:   class,
		data:    elf.ELFDATA2LSB,
		typ:     elf.ET_EXEC,
		machine: elf.EM_X86_64,
		version: uint32(elf.EV_CURRENT),
		shnum:   6,
		shoff:   0x3100,
		size:    0x3100 + 6*64,
	}
	base := uint64(0x400000)
	if class == elf.ELFCLASS32 {
		f.machine = elf.EM_386
		f.size = 0x3100 + 6*40
		base = 0x8048000
	}
	f.segs = []fakeSeg{
		{typ: elf.PT_LOAD, flags: elf.PF_R, off: 0, vaddr: base, filesz: 0x200, memsz: 0x200},
		{typ: elf.PT_LOAD, flags: elf.PF_R | elf.PF_X, off: 0x1000, vaddr: base + 0x1000, filesz: 0x123, memsz: 0x123},
		{typ: elf.PT_LOAD, flags: elf.PF_R | elf.PF_W, off: 0x2f00, vaddr: base + 0x2f00, filesz: 0x180, memsz: 0x2000, zeros: 0x40},
		{typ: elf.PT_NOTE, flags: elf.PF_R, off: 0x1c0, vaddr: base + 0x1c0, filesz: 0x24, memsz: 0x24},
		{typ: elf.PT_GNU_STACK, flags: elf.PF_R | elf.PF_W},
	}
	return f
}

// with returns a copy of f changed by fn.
func (f fakeELF) with(fn func(*fakeELF)) fakeELF {
	f.segs = append([]fakeSeg(nil), f.segs...)
	fn(&f)
	return f
}

// bytes encodes f.
func (f fakeELF) bytes() []byte {
	ehsize, phentsize, shentsize := uint16(64), uint16(56), uint16(64)
	if f.class == elf.ELFCLASS32 {
		ehsize, phentsize, shentsize = 52, 32, 40
	}
	if f.ehsize == 0 {
		f.ehsize = ehsize
	}
	if f.phentsize == 0 {
		f.phentsize = phentsize
	}
	if f.shentsize == 0 {
		f.shentsize = shentsize
	}
	if f.phoff == 0 {
		f.phoff = uint64(ehsize)
	}
	if f.phnum == 0 {
		f.phnum = uint16(len(f.segs))
	}

	b := make([]byte, f.size)
	for _, s := range f.segs {
		if s.filesz == 0 || s.off >= f.size {
			continue
		}
		end := min(s.off+s.filesz-s.zeros, f.size)
		for i := s.off; i < end; i++ {
			b[i] = 0xcc
		}
		for i := end; i < min(s.off+s.filesz, f.size); i++ {
			b[i] = 0
		}
	}
	for i := f.shoff; f.shoff != 0 && i < min(f.shoff+uint64(f.shnum)*uint64(shentsize), f.size); i++ {
		b[i] = 0x5e
	}

	var hdr, phdrs bytes.Buffer
	ident := [elf.EI_NIDENT]byte{0x7f, 'E', 'L', 'F', byte(f.class), byte(f.data), byte(elf.EV_CURRENT)}
	le := binary.LittleEndian
	if f.class == elf.ELFCLASS32 {
		must(binary.Write(&hdr, le, elf.Header32{
			Ident: ident, Type: uint16(f.typ), Machine: uint16(f.machine), Version: f.version,
			Entry: uint32(f.segs[0].vaddr), Phoff: uint32(f.phoff), Shoff: uint32(f.shoff),
			Ehsize: f.ehsize, Phentsize: f.phentsize, Phnum: f.phnum,
			Shentsize: f.shentsize, Shnum: f.shnum, Shstrndx: f.shnum - min(f.shnum, 1),
		}))
		for _, s := range f.segs {
			must(binary.Write(&phdrs, le, elf.Prog32{
				Type: uint32(s.typ), Flags: uint32(s.flags), Off: uint32(s.off), Vaddr: uint32(s.vaddr),
				Paddr: uint32(s.vaddr), Filesz: uint32(s.filesz), Memsz: uint32(s.memsz), Align: 0x1000,
			}))
		}
	} else {
		must(binary.Write(&hdr, le, elf.Header64{
			Ident: ident, Type: uint16(f.typ), Machine: uint16(f.machine), Version: f.version,
			Entry: f.segs[0].vaddr, Phoff: f.phoff, Shoff: f.shoff,
			Ehsize: f.ehsize, Phentsize: f.phentsize, Phnum: f.phnum,
			Shentsize: f.shentsize, Shnum: f.shnum, Shstrndx: f.shnum - min(f.shnum, 1),
		}))
		for _, s := range f.segs {
			must(binary.Write(&phdrs, le, elf.Prog64{
				Type: uint32(s.typ), Flags: uint32(s.flags), Off: s.off, Vaddr: s.vaddr,
				Paddr: s.vaddr, Filesz: s.filesz, Memsz: s.memsz, Align: 0x1000,
			}))
		}
	}
	if f.phoff < f.size {
		copy(b[f.phoff:], phdrs.Bytes())
	}
	copy(b, hdr.Bytes())
	return b
}

// hasSectionHeaders reports whether the ELF header of b has any of e_shoff,
// e_shnum or e_shstrndx set.
func hasSectionHeaders(b []byte) bool {
	le := binary.LittleEndian
	if elf.Class(b[elf.EI_CLASS]) == elf.ELFCLASS32 {
		var h elf.Header32
		must2(binary.Decode(b, le, &h))
		return h.Shoff != 0 || h.Shnum != 0 || h.Shstrndx != 0
	}
	var h elf.Header64
	must2(binary.Decode(b, le, &h))
	return h.Shoff != 0 || h.Shnum != 0 || h.Shstrndx != 0
}

func must2(_ int, err error) { must(err) }

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// checkOutput returns an error saying how out breaks what SStrip promises
// for in: out parses with debug/elf and has no section headers; it is in
// with the section header fields of the ELF header cleared, cut after the
// last byte a header or segment needs, and with at most one PT_LOAD's
// trailing zero bytes moved from its file image to its memory image; and
// stripping out again changes nothing.
func checkOutput(in, out []byte) error {
	if len(out) > len(in) {
		return fmt.Errorf("output is %d bytes, input %d", len(out), len(in))
	}
	f, err := elf.NewFile(bytes.NewReader(out))
	if err != nil {
		return fmt.Errorf("output does not parse: %v", err)
	}
	if len(f.Sections) != 0 {
		return fmt.Errorf("output has %d sections", len(f.Sections))
	}

	// want is in with the section header fields cleared.
	want := bytes.Clone(in)
	le := binary.LittleEndian
	var ehsize, phoff, phsize uint64
	switch f.Class {
	case elf.ELFCLASS32:
		var h elf.Header32
		if _, err := binary.Decode(want, le, &h); err != nil {
			return err
		}
		h.Shoff, h.Shnum, h.Shstrndx = 0, 0, 0
		if _, err := binary.Encode(want, le, h); err != nil {
			return err
		}
		ehsize, phoff, phsize = uint64(h.Ehsize), uint64(h.Phoff), uint64(h.Phnum)*uint64(h.Phentsize)
	case elf.ELFCLASS64:
		var h elf.Header64
		if _, err := binary.Decode(want, le, &h); err != nil {
			return err
		}
		h.Shoff, h.Shnum, h.Shstrndx = 0, 0, 0
		if _, err := binary.Encode(want, le, h); err != nil {
			return err
		}
		ehsize, phoff, phsize = uint64(h.Ehsize), h.Phoff, uint64(h.Phnum)*uint64(h.Phentsize)
	}
	fin, err := elf.NewFile(bytes.NewReader(want))
	if err != nil {
		return fmt.Errorf("input with its section headers cleared does not parse: %v", err)
	}

	if len(fin.Progs) != len(f.Progs) {
		return fmt.Errorf("output has %d program headers, input %d", len(f.Progs), len(fin.Progs))
	}
	trimmed := 0
	needed := max(ehsize, phoff+phsize)
	for i, p := range f.Progs {
		q := fin.Progs[i]
		if p.ProgHeader != q.ProgHeader {
			trimmed++
			ok := p.Type == elf.PT_LOAD && p.Filesz < q.Filesz
			rest := p.ProgHeader
			rest.Filesz, rest.Memsz = q.Filesz, q.Memsz
			ok = ok && rest == q.ProgHeader
			samePage := (p.Vaddr+p.Filesz-1)/pageSize == (q.Vaddr+q.Filesz-1)/pageSize
			if p.Flags&elf.PF_W != 0 {
				ok = ok && p.Memsz == q.Memsz && (p.Flags&elf.PF_X == 0 || samePage)
			} else {
				ok = ok && q.Filesz == q.Memsz && p.Memsz == p.Filesz && samePage
			}
			if !ok || p.Filesz == 0 {
				return fmt.Errorf("program header %d changed from %+v to %+v", i, q.ProgHeader, p.ProgHeader)
			}
			if z := bytes.TrimLeft(in[p.Off+p.Filesz:q.Off+q.Filesz], "\x00"); len(z) != 0 {
				return fmt.Errorf("program header %d dropped non-zero bytes", i)
			}
		}
		if p.Type != elf.PT_NULL && p.Filesz > 0 {
			needed = max(needed, p.Off+p.Filesz)
		}
	}
	if trimmed > 1 {
		return fmt.Errorf("%d program headers changed, want at most 1", trimmed)
	}
	if uint64(len(out)) != needed {
		return fmt.Errorf("output is %d bytes, its headers and segments need %d", len(out), needed)
	}
	copy(want[phoff:phoff+phsize], out[phoff:])
	if !bytes.Equal(out, want[:len(out)]) {
		return fmt.Errorf("output is not a prefix of the input apart from its headers")
	}

	again, err := SStrip(out)
	if err != nil {
		return fmt.Errorf("stripping the output again: %v", err)
	}
	if !bytes.Equal(again, out) {
		return fmt.Errorf("stripping the output again changed it from %d to %d bytes", len(out), len(again))
	}
	return nil
}

// overlap386 returns a static 386 executable in the build's compact layout: a
// PT_GNU_STACK header over the last 16 bytes of the ELF header, its p_type in e_flags,
// then a PT_LOAD header whose p_align is the first 4 bytes of its segment, at byte 96.
// The segment holds image, at address 0x400060, with the given flags and memory size.
func overlap386(image []byte, flags elf.ProgFlag, memsz uint32) []byte {
	const phoff, load, code = 36, 68, 96
	vaddr := uint32(0x400000 + code)
	b := make([]byte, max(code+len(image), load+32))
	le := binary.LittleEndian
	must2(binary.Encode(b, le, elf.Header32{
		Ident: [elf.EI_NIDENT]byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS32), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)},
		Type:  uint16(elf.ET_EXEC), Machine: uint16(elf.EM_386), Version: uint32(elf.EV_CURRENT),
		Entry: vaddr, Phoff: phoff, Flags: uint32(elf.PT_GNU_STACK),
		Ehsize: 52, Phentsize: 32, Phnum: 2,
	}))
	le.PutUint32(b[phoff+24:], uint32(elf.PF_R|elf.PF_W)) // the stack's p_flags
	must2(binary.Encode(b[load:], le, elf.Prog32{
		Type: uint32(elf.PT_LOAD), Flags: uint32(flags), Off: code, Vaddr: vaddr, Paddr: vaddr,
		Filesz: uint32(len(image)), Memsz: memsz,
	}))
	copy(b[code:], image)
	return b
}
