package toolchain

import (
	"debug/elf"
	"encoding/binary"
	"strings"
	"testing"
)

// testExe describes a one- or two-segment executable for makeExe.
type testExe struct {
	class   elf.Class
	machine elf.Machine
	typ     elf.Type
	entry   uint64
	progs   []elf.ProgHeader
	size    int // the file's size; at least the headers'
}

// makeExe encodes e as a little-endian ELF file: the ELF header, then the program
// headers, then zeros.
func makeExe(e testExe) []byte {
	le := binary.LittleEndian
	ehsize, phsize := 64, 56
	if e.class == elf.ELFCLASS32 {
		ehsize, phsize = 52, 32
	}
	size := max(e.size, ehsize+phsize*len(e.progs))
	b := make([]byte, size)
	copy(b, elf.ELFMAG)
	b[elf.EI_CLASS], b[elf.EI_DATA], b[elf.EI_VERSION] = byte(e.class), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	le.PutUint16(b[16:], uint16(e.typ))
	le.PutUint16(b[18:], uint16(e.machine))
	le.PutUint32(b[20:], uint32(elf.EV_CURRENT))
	if e.class == elf.ELFCLASS32 {
		le.PutUint32(b[24:], uint32(e.entry))
		le.PutUint32(b[28:], uint32(ehsize))
		le.PutUint16(b[40:], uint16(ehsize))
		le.PutUint16(b[42:], uint16(phsize))
		le.PutUint16(b[44:], uint16(len(e.progs)))
	} else {
		le.PutUint64(b[24:], e.entry)
		le.PutUint64(b[32:], uint64(ehsize))
		le.PutUint16(b[52:], uint16(ehsize))
		le.PutUint16(b[54:], uint16(phsize))
		le.PutUint16(b[56:], uint16(len(e.progs)))
	}
	for i, p := range e.progs {
		ph := b[ehsize+i*phsize:]
		le.PutUint32(ph[0:], uint32(p.Type))
		if e.class == elf.ELFCLASS32 {
			le.PutUint32(ph[4:], uint32(p.Off))
			le.PutUint32(ph[8:], uint32(p.Vaddr))
			le.PutUint32(ph[16:], uint32(p.Filesz))
			le.PutUint32(ph[20:], uint32(p.Memsz))
			le.PutUint32(ph[24:], uint32(p.Flags))
		} else {
			le.PutUint32(ph[4:], uint32(p.Flags))
			le.PutUint64(ph[8:], p.Off)
			le.PutUint64(ph[16:], p.Vaddr)
			le.PutUint64(ph[32:], p.Filesz)
			le.PutUint64(ph[40:], p.Memsz)
		}
	}
	return b
}

func TestCheckExecutable(t *testing.T) {
	amd, _ := Lookup(linuxAMD64)
	x86, _ := Lookup(linux386)
	// good returns an executable for t that passes: one R+X segment holding the whole
	// file, mapped at 0x400000, entered just after the headers.
	good := func(t Target, edit func(*testExe)) []byte {
		e := testExe{class: t.Class, machine: t.Machine, typ: elf.ET_EXEC, entry: 0x400080, size: 256,
			progs: []elf.ProgHeader{{Type: elf.PT_LOAD, Flags: elf.PF_R | elf.PF_X, Off: 0, Vaddr: 0x400000, Filesz: 256, Memsz: 256}}}
		if edit != nil {
			edit(&e)
		}
		return makeExe(e)
	}
	tests := []struct {
		name    string
		data    []byte
		t       Target
		wantErr string // empty: it passes
	}{
		{name: "a good amd64 executable", data: good(amd, nil), t: amd},
		{name: "a good 386 executable", data: good(x86, nil), t: x86},
		{name: "bss after the file's bytes is fine", t: amd, data: good(amd, func(e *testExe) { e.progs[0].Memsz = 1 << 20 })},
		{name: "not ELF", t: amd, data: []byte("#!/bin/sh\necho hi\n"), wantErr: "not an ELF file"},
		{name: "another class", t: amd, data: good(x86, nil), wantErr: "it is ELFCLASS32 EM_386, want ELFCLASS64 EM_X86_64"},
		{name: "another machine", t: x86, data: good(x86, func(e *testExe) { e.machine = elf.EM_ARM }), wantErr: "it is ELFCLASS32 EM_ARM, want ELFCLASS32 EM_386"},
		{name: "a shared object", t: amd, data: good(amd, func(e *testExe) { e.typ = elf.ET_DYN }), wantErr: "its type is ET_DYN, want ET_EXEC"},
		{name: "dynamically linked", t: amd, data: good(amd, func(e *testExe) {
			e.progs = append(e.progs, elf.ProgHeader{Type: elf.PT_INTERP, Off: 200, Filesz: 10})
		}), wantErr: "it is not static: it has a PT_INTERP segment"},
		{name: "nothing to load", t: amd, data: good(amd, func(e *testExe) { e.progs[0].Type = elf.PT_NOTE }), wantErr: "it has no loadable segment"},
		{name: "entry past the segment", t: amd, data: good(amd, func(e *testExe) { e.entry = 0x400100 }), wantErr: "its entry point 0x400100 is not in an executable loadable segment"},
		{name: "entry in a segment that is not executable", t: x86, data: good(x86, func(e *testExe) { e.progs[0].Flags = elf.PF_R | elf.PF_W }), wantErr: "is not in an executable loadable segment"},
		{name: "no entry point", t: amd, data: good(amd, func(e *testExe) { e.entry = 0 }), wantErr: "it has no entry point: is _start defined"},
		{name: "a segment past the end of the file", t: amd, data: good(amd, func(e *testExe) { e.progs[0].Filesz, e.progs[0].Memsz = 4096, 4096 }), wantErr: "ends at byte 4096, past the end of the 256-byte file"},
		{name: "more file bytes than memory", t: amd, data: good(amd, func(e *testExe) { e.progs[0].Memsz = 128 }), wantErr: "more bytes in the file (256) than in memory (128)"},
		{name: "an offset the kernel cannot map at that address", t: amd, data: good(amd, func(e *testExe) {
			e.progs[0].Off, e.progs[0].Filesz = 1, 255
		}), wantErr: "offset 0x1 and address 0x400000 differ modulo the page size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkExecutable(tt.data, tt.t)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("checkExecutable: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "the result is not an executable for "+tt.t.Platform.String()+": ") {
				t.Errorf("error %q does not say which platform it was checked for", err)
			}
		})
	}
}
