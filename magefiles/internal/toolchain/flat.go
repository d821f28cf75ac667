package toolchain

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"strings"
)

// pageSize is the page size of both platforms: a loaded segment's file offset and
// address must agree modulo it.
const pageSize = 4096

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

// checkExecutable reports whether data is an executable Linux can load for t, as far
// as its headers tell: an ELF file of t's class and machine, of type ET_EXEC, with no
// interpreter or dynamic section, whose loadable segments lie in the file and can be
// mapped, and whose entry point is in an executable loadable segment.
func checkExecutable(data []byte, t Target) error {
	if err := executableProblem(data, t); err != nil {
		return fmt.Errorf("the result is not an executable for %s: %w", t.Platform, err)
	}
	return nil
}

func executableProblem(data []byte, t Target) error {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("not an ELF file: %w", err)
	}
	defer f.Close()
	if f.Class != t.Class || f.Machine != t.Machine {
		return fmt.Errorf("it is %v %v, want %v %v", f.Class, f.Machine, t.Class, t.Machine)
	}
	if f.Type != elf.ET_EXEC {
		return fmt.Errorf("its type is %v, want ET_EXEC", f.Type)
	}
	entry := false
	loads := 0
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_INTERP, elf.PT_DYNAMIC:
			return fmt.Errorf("it is not static: it has a %v segment", p.Type)
		case elf.PT_LOAD:
		default:
			continue
		}
		loads++
		switch {
		case p.Filesz > p.Memsz:
			return fmt.Errorf("a loadable segment at %#x has more bytes in the file (%d) than in memory (%d)", p.Vaddr, p.Filesz, p.Memsz)
		case p.Off > uint64(len(data)) || p.Filesz > uint64(len(data))-p.Off:
			return fmt.Errorf("a loadable segment at %#x ends at byte %d, past the end of the %d-byte file", p.Vaddr, p.Off+p.Filesz, len(data))
		case p.Off%pageSize != p.Vaddr%pageSize:
			return fmt.Errorf("a loadable segment's offset %#x and address %#x differ modulo the page size", p.Off, p.Vaddr)
		}
		if p.Flags&elf.PF_X != 0 && p.Vaddr <= f.Entry && f.Entry-p.Vaddr < p.Memsz {
			entry = true
		}
	}
	if loads == 0 {
		return errors.New("it has no loadable segment")
	}
	if !entry && f.Entry == 0 {
		return errors.New("it has no entry point: is _start defined, and .globl?")
	}
	if !entry {
		return fmt.Errorf("its entry point %#x is not in an executable loadable segment", f.Entry)
	}
	return nil
}
