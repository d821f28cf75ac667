package toolchain

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
)

// pageSize is the page size of both platforms: Linux maps an executable's segments in
// whole pages, so a loaded segment's file offset and address must agree modulo it.
const pageSize = 4096

// minMapAddr is the lowest address Linux maps for an unprivileged program by default
// (the vm.mmap_min_addr sysctl).
const minMapAddr = 0x10000

// flatBytes returns the program held by obj, an object assembled from the source of an
// output: flat app. The source writes its own ELF header, so the program is the content
// of the object's one section with bytes, taken as it is. It is an error if more than
// one section has bytes, or if that section has relocations: a flat program has no
// linker to resolve them, so it must compute its addresses from label differences.
func flatBytes(obj []byte) ([]byte, error) {
	f, err := elf.NewFile(bytes.NewReader(obj))
	if err != nil {
		return nil, fmt.Errorf("reading the assembled object: %w", err)
	}
	defer f.Close()
	var found []*elf.Section
	index := -1
	for i, s := range f.Sections {
		if s.Flags&elf.SHF_ALLOC != 0 && s.Size > 0 {
			found = append(found, s)
			index = i
		}
	}
	switch len(found) {
	case 0:
		return nil, errors.New("the assembled object is empty: a flat program's bytes go in .text")
	case 1:
	default:
		names := make([]string, len(found))
		for i, s := range found {
			names[i] = s.Name
		}
		return nil, fmt.Errorf("a flat program is one section, but the assembled object has %s: put every byte in .text", strings.Join(names, ", "))
	}
	sec := found[0]
	if sec.Type != elf.SHT_PROGBITS {
		return nil, fmt.Errorf("a flat program's bytes go in .text, but the assembled object has only %s (%v)", sec.Name, sec.Type)
	}
	for _, s := range f.Sections {
		if (s.Type == elf.SHT_REL || s.Type == elf.SHT_RELA) && int(s.Info) == index && s.Size > 0 {
			return nil, fmt.Errorf("%s has relocations (%s): a flat program has no linker, so write addresses as a base plus label differences", sec.Name, s.Name)
		}
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", sec.Name, err)
	}
	return data, nil
}

// checkExecutableFile is checkExecutable on the file at path.
func checkExecutableFile(path string, t Target) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return checkExecutable(data, t)
}

// checkExecutable reports whether Linux would load data as an executable for t and
// start it. It checks what the kernel's ELF loader (fs/binfmt_elf.c) checks or fails
// on, reading only the fields the loader reads, in the layout it reads them, so that
// hand-made files whose other fields hold code pass:
//
//   - the magic; e_machine, which also fixes the layout whatever EI_CLASS says
//     (EM_X86_64 for amd64, Elf64; EM_386 or EM_486 for 386, Elf32);
//   - e_phentsize the size of a program header, 1 to 4096 bytes of program headers,
//     all of them in the file;
//   - for each PT_LOAD segment: p_offset and p_vaddr equal modulo the page size,
//     p_filesz at most p_memsz, an end within user space, a start not below
//     minMapAddr; and if p_memsz > p_filesz and the file bytes end inside a page, a
//     page the loader can zero the rest of: writable (kernels before 6.7 fail on a
//     read-only one) and holding bytes of the file.
//
// It adds what a static program needs to start:
//
//   - e_type ET_EXEC (Linux would also load ET_DYN, at an address of its choosing) and
//     no PT_INTERP segment;
//   - a PT_LOAD segment, none of them mapping from an offset past the end of the file;
//   - an entry point that is a byte of the file in an executable segment: PF_X, or
//     for 386 PF_R without a PT_GNU_STACK header, as Linux then makes readable memory
//     executable.
//
// It reads nothing else: not EI_CLASS, EI_DATA, EI_VERSION, e_version, e_ehsize,
// e_flags, p_paddr, p_align or the section headers. Nor does it ask a segment's file
// bytes to end within the file: Linux maps whole pages, and those past the end are
// only an error when touched.
func checkExecutable(data []byte, t Target) error {
	if err := executableProblem(data, t); err != nil {
		return fmt.Errorf("the result is not an executable for %s: %w", t.Platform, err)
	}
	return nil
}

// loaderArch is what Linux's ELF loader expects of an executable for one platform.
type loaderArch struct {
	machines []elf.Machine // the e_machine values the loader accepts; the first is the usual one
	class    elf.Class     // the layout the loader reads the headers in
	// taskSize is where user space ends. For 386 it is the 3 GiB of a 32-bit kernel,
	// less than the 4 GiB a 386 program gets on a 64-bit kernel.
	taskSize uint64
	// readImpliesExec is set when Linux makes every readable mapping executable for a
	// program without a PT_GNU_STACK header.
	readImpliesExec bool
}

// loaderFor returns what Linux's loader expects of an executable for t.
func loaderFor(t Target) loaderArch {
	switch {
	case t.Machine == elf.EM_386:
		return loaderArch{machines: []elf.Machine{elf.EM_386, elf.EM_486}, class: elf.ELFCLASS32, taskSize: 0xc0000000, readImpliesExec: true}
	case t.Class == elf.ELFCLASS32:
		return loaderArch{machines: []elf.Machine{t.Machine}, class: t.Class, taskSize: 0xc0000000}
	default:
		return loaderArch{machines: []elf.Machine{t.Machine}, class: t.Class, taskSize: 1<<47 - pageSize}
	}
}

// execHeader is the part of an ELF header Linux's loader reads.
type execHeader struct {
	typ       elf.Type
	machine   elf.Machine
	entry     uint64
	phoff     uint64
	phentsize int
	phnum     int
}

// readExecHeader decodes the ELF header at the start of data in the layout of class.
// Like Linux, which reads it into a zeroed buffer, it takes bytes past the end of a
// short file as zeros.
func readExecHeader(data []byte, class elf.Class) execHeader {
	le := binary.LittleEndian
	if class == elf.ELFCLASS32 {
		var h elf.Header32
		buf := make([]byte, binary.Size(h))
		copy(buf, data)
		if _, err := binary.Decode(buf, le, &h); err != nil {
			panic(err) // buf has the size of h
		}
		return execHeader{elf.Type(h.Type), elf.Machine(h.Machine), uint64(h.Entry), uint64(h.Phoff), int(h.Phentsize), int(h.Phnum)}
	}
	var h elf.Header64
	buf := make([]byte, binary.Size(h))
	copy(buf, data)
	if _, err := binary.Decode(buf, le, &h); err != nil {
		panic(err) // buf has the size of h
	}
	return execHeader{elf.Type(h.Type), elf.Machine(h.Machine), h.Entry, h.Phoff, int(h.Phentsize), int(h.Phnum)}
}

// progHeaderSize returns the size of a program header in the layout of class.
func progHeaderSize(class elf.Class) int {
	if class == elf.ELFCLASS32 {
		return binary.Size(elf.Prog32{})
	}
	return binary.Size(elf.Prog64{})
}

// readProgHeader decodes the program header that starts b in the layout of class.
func readProgHeader(b []byte, class elf.Class) elf.ProgHeader {
	le := binary.LittleEndian
	if class == elf.ELFCLASS32 {
		var p elf.Prog32
		if _, err := binary.Decode(b, le, &p); err != nil {
			panic(err) // the caller checked that b holds one
		}
		return elf.ProgHeader{Type: elf.ProgType(p.Type), Flags: elf.ProgFlag(p.Flags), Off: uint64(p.Off), Vaddr: uint64(p.Vaddr),
			Paddr: uint64(p.Paddr), Filesz: uint64(p.Filesz), Memsz: uint64(p.Memsz), Align: uint64(p.Align)}
	}
	var p elf.Prog64
	if _, err := binary.Decode(b, le, &p); err != nil {
		panic(err) // the caller checked that b holds one
	}
	return elf.ProgHeader{Type: elf.ProgType(p.Type), Flags: elf.ProgFlag(p.Flags), Off: p.Off, Vaddr: p.Vaddr,
		Paddr: p.Paddr, Filesz: p.Filesz, Memsz: p.Memsz, Align: p.Align}
}

func pageStart(v uint64) uint64 { return v &^ (pageSize - 1) }

func executableProblem(data []byte, t Target) error {
	if !bytes.HasPrefix(data, []byte(elf.ELFMAG)) {
		return fmt.Errorf("not an ELF file: bad magic number %q", data[:min(len(data), len(elf.ELFMAG))])
	}
	arch := loaderFor(t)
	h := readExecHeader(data, arch.class)
	if !slices.Contains(arch.machines, h.machine) {
		return fmt.Errorf("it is %v, want %v", h.machine, arch.machines[0])
	}
	if h.typ != elf.ET_EXEC {
		return fmt.Errorf("its type is %v, want ET_EXEC", h.typ)
	}
	progs, err := readProgHeaders(data, h, arch.class)
	if err != nil {
		return err
	}
	gnuStack := false
	for _, p := range progs {
		switch p.Type {
		case elf.PT_INTERP:
			return fmt.Errorf("it is not static: it has a %v segment", p.Type)
		case elf.PT_GNU_STACK:
			gnuStack = true
		}
	}
	loads := 0
	for _, p := range progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		loads++
		if err := loadProblem(p, len(data), arch); err != nil {
			return err
		}
	}
	if loads == 0 {
		return errors.New("it has no loadable segment")
	}
	return entryProblem(data, h.entry, progs, arch.readImpliesExec && !gnuStack)
}

// readProgHeaders returns the program headers of data, which Linux reads whole or not
// at all.
func readProgHeaders(data []byte, h execHeader, class elf.Class) ([]elf.ProgHeader, error) {
	size := progHeaderSize(class)
	switch {
	case h.phentsize != size:
		return nil, fmt.Errorf("its program headers are %d bytes each, want %d", h.phentsize, size)
	case h.phnum == 0:
		return nil, errors.New("it has no loadable segment: it has no program headers")
	case h.phnum*size > pageSize:
		return nil, fmt.Errorf("it has %d program headers: Linux reads at most %d", h.phnum, pageSize/size)
	case h.phoff > uint64(len(data)) || uint64(h.phnum*size) > uint64(len(data))-h.phoff:
		return nil, fmt.Errorf("its program headers, %d bytes from byte %d, run past the end of the %d-byte file", h.phnum*size, h.phoff, len(data))
	}
	progs := make([]elf.ProgHeader, h.phnum)
	for i := range progs {
		progs[i] = readProgHeader(data[int(h.phoff)+i*size:], class)
	}
	return progs, nil
}

// loadProblem reports why Linux could not map the PT_LOAD segment p of a size-byte
// file, or why the program could not use it.
func loadProblem(p elf.ProgHeader, size int, arch loaderArch) error {
	switch {
	case p.Filesz > p.Memsz:
		return fmt.Errorf("a loadable segment at %#x has more bytes in the file (%d) than in memory (%d)", p.Vaddr, p.Filesz, p.Memsz)
	case p.Vaddr >= arch.taskSize || p.Memsz > arch.taskSize-p.Vaddr:
		return fmt.Errorf("a loadable segment at %#x of %d bytes ends past %#x, the end of user space", p.Vaddr, p.Memsz, arch.taskSize)
	case p.Memsz == 0:
		return nil // nothing to map
	case p.Off%pageSize != p.Vaddr%pageSize && (p.Filesz > 0 || p.Vaddr%pageSize != 0):
		return fmt.Errorf("a loadable segment's offset %#x and address %#x differ modulo the page size", p.Off, p.Vaddr)
	case pageStart(p.Vaddr) < minMapAddr:
		return fmt.Errorf("a loadable segment at %#x starts below %#x, where Linux maps nothing by default (vm.mmap_min_addr)", p.Vaddr, minMapAddr)
	case p.Filesz > 0 && pageStart(p.Off) >= uint64(size):
		return fmt.Errorf("a loadable segment at %#x maps the file from byte %d, past the end of the %d-byte file", p.Vaddr, pageStart(p.Off), size)
	}
	end := p.Vaddr + p.Filesz // the first byte Linux zeroes
	if p.Memsz == p.Filesz || end%pageSize == 0 {
		return nil
	}
	if p.Flags&elf.PF_W == 0 {
		return fmt.Errorf("a loadable segment at %#x has %d bytes of zeros after its file bytes, but Linux before 6.7 cannot zero the rest of the page at %#x, which is not writable: end the file bytes on a page, or make p_memsz equal p_filesz", p.Vaddr, p.Memsz-p.Filesz, pageStart(end))
	}
	if pageStart(p.Off+p.Filesz) >= uint64(size) {
		return fmt.Errorf("a loadable segment at %#x has %d bytes of zeros after its file bytes, but the page at %#x that Linux zeroes first is past the end of the %d-byte file", p.Vaddr, p.Memsz-p.Filesz, pageStart(end), size)
	}
	return nil
}

// entryProblem reports why entry is not a byte of data that a PT_LOAD segment of progs
// maps executable. readExec says that readable segments are executable.
func entryProblem(data []byte, entry uint64, progs []elf.ProgHeader, readExec bool) error {
	if entry == 0 {
		return errors.New("it has no entry point: is _start defined, and .globl?")
	}
	pastEnd := false
	for _, p := range progs {
		// Linux maps whole pages, so the entry can be before p_vaddr in its page.
		start := pageStart(p.Vaddr)
		if p.Type != elf.PT_LOAD || p.Filesz == 0 || entry < start || entry >= p.Vaddr+p.Filesz {
			continue
		}
		if p.Flags&elf.PF_X == 0 && !(readExec && p.Flags&elf.PF_R != 0) {
			continue
		}
		if pageStart(p.Off)+(entry-start) >= uint64(len(data)) {
			pastEnd = true
			continue
		}
		return nil
	}
	if pastEnd {
		return fmt.Errorf("its entry point %#x is past the end of the %d-byte file", entry, len(data))
	}
	return fmt.Errorf("its entry point %#x is not in an executable loadable segment", entry)
}
