package toolchain

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// testExe describes an executable for makeExe.
type testExe struct {
	class   elf.Class
	machine elf.Machine
	typ     elf.Type
	entry   uint64
	progs   []elf.ProgHeader
	size    int          // the file's size; at least the headers'
	edit    func([]byte) // changes the encoded file, if set
}

// makeExe encodes e as a little-endian ELF file: the ELF header, then the program
// headers, then zeros; then it applies e.edit.
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
			le.PutUint32(ph[12:], uint32(p.Paddr))
			le.PutUint32(ph[16:], uint32(p.Filesz))
			le.PutUint32(ph[20:], uint32(p.Memsz))
			le.PutUint32(ph[24:], uint32(p.Flags))
			le.PutUint32(ph[28:], uint32(p.Align))
		} else {
			le.PutUint32(ph[4:], uint32(p.Flags))
			le.PutUint64(ph[8:], p.Off)
			le.PutUint64(ph[16:], p.Vaddr)
			le.PutUint64(ph[24:], p.Paddr)
			le.PutUint64(ph[32:], p.Filesz)
			le.PutUint64(ph[40:], p.Memsz)
			le.PutUint64(ph[48:], p.Align)
		}
	}
	if e.edit != nil {
		e.edit(b)
	}
	return b
}

// The files apps/teensy builds, in hex: ELF and program headers that overlap and hold
// the code, as Linux reads them and debug/elf does not.
const (
	teensy386Hex = "7f454c46010000004e0700004eb7000502000300b218430414b0000504000000" +
		"b930b00005cd809381e320000100cd804869206d696e696d616c20736372617463682120454c460a"
	teensyAMD64Hex = "7f454c46b218488d353b000000b0013d02003e006a3c90bf0100000075120000" +
		"180000000000000018000000751200000f0558ffcf3d380001000f0500000000" +
		"01000f05000000004869206d696e696d616c20736372617463682120454c460a"
)

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCheckExecutable(t *testing.T) {
	amd, _ := Lookup(linuxAMD64)
	x86, _ := Lookup(linux386)
	le := binary.LittleEndian
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
	gnuStack := elf.ProgHeader{Type: elf.PT_GNU_STACK, Flags: elf.PF_R | elf.PF_W}
	tests := []struct {
		name    string
		data    []byte
		t       Target
		wantErr string // empty: it passes
	}{
		{name: "a good amd64 executable", data: good(amd, nil), t: amd},
		{name: "a good 386 executable", data: good(x86, nil), t: x86},
		{name: "the amd64 teensy: headers that overlap and hold code", t: amd, data: mustHex(t, teensyAMD64Hex)},
		{name: "the 386 teensy: headers that overlap and hold code", t: x86, data: mustHex(t, teensy386Hex)},
		{name: "Linux takes EM_486 for a 386 program", t: x86, data: good(x86, func(e *testExe) { e.machine = elf.EM_486 })},
		{name: "fields Linux does not read can hold anything", t: amd, data: good(amd, func(e *testExe) {
			e.progs[0].Paddr, e.progs[0].Align = 0x9090909090909090, 3
			e.edit = func(b []byte) {
				b[elf.EI_CLASS], b[elf.EI_DATA], b[elf.EI_VERSION], b[elf.EI_OSABI] = 0xff, 0xff, 0xff, 0xff
				le.PutUint32(b[20:], 0xcd80cd80) // e_version
				le.PutUint64(b[40:], 1<<63)      // e_shoff
				le.PutUint32(b[48:], 0x0f05)     // e_flags
				le.PutUint16(b[52:], 1)          // e_ehsize
				le.PutUint16(b[58:], 0xffff)     // e_shentsize
				le.PutUint16(b[60:], 0xffff)     // e_shnum
			}
		})},
		{name: "an Elf32 header of the wrong class is read as Elf32 for 386", t: x86, data: good(x86, func(e *testExe) {
			e.edit = func(b []byte) { b[elf.EI_CLASS] = byte(elf.ELFCLASS64) }
		})},
		{name: "zeros after the file bytes of a writable segment", t: amd, data: good(amd, func(e *testExe) {
			e.progs[0].Flags |= elf.PF_W
			e.progs[0].Memsz = 1 << 20
		})},
		{name: "zeros after file bytes that end on a page", t: amd, data: good(amd, func(e *testExe) {
			e.size, e.progs[0].Filesz, e.progs[0].Memsz = pageSize, pageSize, 1<<20
		})},
		{name: "file bytes past the end of the file: Linux maps whole pages", t: x86, data: good(x86, func(e *testExe) {
			e.progs[0].Filesz, e.progs[0].Memsz = 1<<20, 1<<20
		})},
		{name: "the entry point can precede p_vaddr in its page", t: amd, data: good(amd, func(e *testExe) {
			e.entry, e.progs[0].Off, e.progs[0].Vaddr, e.progs[0].Filesz, e.progs[0].Memsz = 0x400080, 0xf0, 0x4000f0, 16, 16
		})},
		{name: "Linux makes readable memory executable for a 386 program without PT_GNU_STACK", t: x86, data: good(x86, func(e *testExe) {
			e.progs[0].Flags = elf.PF_R
		})},
		{name: "a segment with nothing to map can be anywhere", t: amd, data: good(amd, func(e *testExe) {
			e.progs = append(e.progs, elf.ProgHeader{Type: elf.PT_LOAD, Off: 12345})
		})},
		{name: "PT_DYNAMIC alone does not need an interpreter", t: amd, data: good(amd, func(e *testExe) {
			e.progs = append(e.progs, elf.ProgHeader{Type: elf.PT_DYNAMIC, Off: 200, Filesz: 16})
		})},

		{name: "not ELF", t: amd, data: []byte("#!/bin/sh\necho hi\n"), wantErr: `not an ELF file: bad magic number "#!/b"`},
		{name: "shorter than the magic", t: amd, data: []byte("\x7fEL"), wantErr: "not an ELF file: bad magic number"},
		{name: "a 386 program checked for amd64", t: amd, data: good(x86, nil), wantErr: "it is EM_386, want EM_X86_64"},
		{name: "the 386 teensy checked for amd64", t: amd, data: mustHex(t, teensy386Hex), wantErr: "it is EM_386, want EM_X86_64"},
		{name: "an amd64 program checked for 386", t: x86, data: good(amd, nil), wantErr: "it is EM_X86_64, want EM_386"},
		{name: "another machine", t: x86, data: good(x86, func(e *testExe) { e.machine = elf.EM_ARM }), wantErr: "it is EM_ARM, want EM_386"},
		{name: "a shared object", t: amd, data: good(amd, func(e *testExe) { e.typ = elf.ET_DYN }), wantErr: "its type is ET_DYN, want ET_EXEC"},
		{name: "an object file", t: x86, data: good(x86, func(e *testExe) { e.typ = elf.ET_REL }), wantErr: "its type is ET_REL, want ET_EXEC"},
		{name: "program headers of another size", t: amd, data: good(amd, func(e *testExe) {
			e.edit = func(b []byte) { le.PutUint16(b[54:], 32) }
		}), wantErr: "its program headers are 32 bytes each, want 56"},
		{name: "no program headers", t: amd, data: good(amd, func(e *testExe) { e.progs = nil }), wantErr: "it has no loadable segment: it has no program headers"},
		{name: "more program headers than Linux reads", t: amd, data: good(amd, func(e *testExe) {
			e.progs = append(e.progs, make([]elf.ProgHeader, 73)...)
		}), wantErr: "it has 74 program headers: Linux reads at most 73"},
		{name: "program headers past the end of the file", t: x86, data: good(x86, func(e *testExe) {
			e.edit = func(b []byte) { le.PutUint32(b[28:], 240) }
		}), wantErr: "its program headers, 32 bytes from byte 240, run past the end of the 256-byte file"},
		{name: "dynamically linked", t: amd, data: good(amd, func(e *testExe) {
			e.progs = append(e.progs, elf.ProgHeader{Type: elf.PT_INTERP, Off: 200, Filesz: 10})
		}), wantErr: "it is not static: it has a PT_INTERP segment"},
		{name: "nothing to load", t: amd, data: good(amd, func(e *testExe) { e.progs[0].Type = elf.PT_NOTE }), wantErr: "it has no loadable segment"},
		{name: "more file bytes than memory", t: amd, data: good(amd, func(e *testExe) { e.progs[0].Memsz = 128 }), wantErr: "more bytes in the file (256) than in memory (128)"},
		{name: "an offset the kernel cannot map at that address", t: amd, data: good(amd, func(e *testExe) {
			e.progs[0].Off, e.progs[0].Filesz = 1, 255
		}), wantErr: "offset 0x1 and address 0x400000 differ modulo the page size"},
		{name: "a segment past the end of amd64 user space", t: amd, data: good(amd, func(e *testExe) {
			e.progs[0].Vaddr, e.progs[0].Memsz = 0x7ffffffff000, 8192
		}), wantErr: "a loadable segment at 0x7ffffffff000 of 8192 bytes ends past 0x7ffffffff000, the end of user space"},
		{name: "a segment past the end of 386 user space", t: x86, data: good(x86, func(e *testExe) {
			e.progs[0].Vaddr = 0xbfffff80
		}), wantErr: "ends past 0xc0000000, the end of user space"},
		{name: "a segment below vm.mmap_min_addr", t: x86, data: good(x86, func(e *testExe) {
			e.entry, e.progs[0].Vaddr = 0x1080, 0x1000
		}), wantErr: "a loadable segment at 0x1000 starts below 0x10000"},
		{name: "a segment that maps from past the end of the file", t: amd, data: good(amd, func(e *testExe) {
			e.progs = append(e.progs, elf.ProgHeader{Type: elf.PT_LOAD, Flags: elf.PF_R, Off: 8192, Vaddr: 0x402000, Filesz: 16, Memsz: 16})
		}), wantErr: "a loadable segment at 0x402000 maps the file from byte 8192, past the end of the 256-byte file"},
		{name: "zeros after file bytes in a page that is not writable", t: amd, data: good(amd, func(e *testExe) {
			e.progs[0].Memsz = 1 << 20
		}), wantErr: "Linux before 6.7 cannot zero the rest of the page at 0x400000, which is not writable"},
		{name: "zeros to write in a page past the end of the file", t: x86, data: good(x86, func(e *testExe) {
			e.progs[0].Flags |= elf.PF_W
			e.progs[0].Filesz, e.progs[0].Memsz = 8200, 1<<20
		}), wantErr: "the page at 0x402000 that Linux zeroes first is past the end of the 256-byte file"},
		{name: "no entry point", t: amd, data: good(amd, func(e *testExe) { e.entry = 0 }), wantErr: "it has no entry point: is _start defined"},
		{name: "entry past the segment", t: amd, data: good(amd, func(e *testExe) { e.entry = 0x400100 }), wantErr: "its entry point 0x400100 is not in an executable loadable segment"},
		{name: "entry in a segment that is not executable", t: amd, data: good(amd, func(e *testExe) { e.progs[0].Flags = elf.PF_R | elf.PF_W }), wantErr: "is not in an executable loadable segment"},
		{name: "entry in an amd64 segment that is only readable", t: amd, data: good(amd, func(e *testExe) { e.progs[0].Flags = elf.PF_R }), wantErr: "is not in an executable loadable segment"},
		{name: "PT_GNU_STACK keeps readable 386 memory from being executable", t: x86, data: good(x86, func(e *testExe) {
			e.progs[0].Flags = elf.PF_R
			e.progs = append(e.progs, gnuStack)
		}), wantErr: "is not in an executable loadable segment"},
		{name: "Linux does not make write-only 386 memory executable", t: x86, data: good(x86, func(e *testExe) { e.progs[0].Flags = elf.PF_W }), wantErr: "is not in an executable loadable segment"},
		{name: "entry in a segment's page past the end of the file", t: amd, data: good(amd, func(e *testExe) {
			e.entry, e.progs[0].Filesz, e.progs[0].Memsz = 0x401000, 8192, 8192
		}), wantErr: "its entry point 0x401000 is past the end of the 256-byte file"},
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

// TestTeensyIsNotForDebugELF shows why the check reads headers itself: Go's debug/elf
// refuses the teensy files that Linux runs.
func TestTeensyIsNotForDebugELF(t *testing.T) {
	for _, h := range []string{teensy386Hex, teensyAMD64Hex} {
		if _, err := elf.NewFile(bytes.NewReader(mustHex(t, h))); err == nil {
			t.Errorf("debug/elf reads %s...; the check could use it", h[:16])
		}
	}
}

// TestTeensySources builds apps/teensy from its GAS sources and from the NASM ones in
// testdata, and checks that both give the same bytes.
func TestTeensySources(t *testing.T) {
	z := realZig(t)
	needNASM(t)
	root := examplesRoot(t)
	testdata, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	srcs := map[string]string{"amd64": "x86_64", "386": "i386"}
	for _, p := range []manifest.Platform{linuxAMD64, linux386} {
		t.Run(p.Arch, func(t *testing.T) {
			dir := t.TempDir()
			build := func(name, root, src string) []byte {
				spec := appSpec("teensy", p, root, manifest.Fields{Lang: "asm", Src: []string{src}, Output: "flat", Shrink: []string{}})
				bin := filepath.Join(dir, name)
				if err := Asm(fixedZig(z)).Build(t.Context(), spec, bin); err != nil {
					t.Fatal(err)
				}
				data, err := os.ReadFile(bin)
				if err != nil {
					t.Fatal(err)
				}
				return data
			}
			gas := build("gas", root, "apps/teensy/"+srcs[p.Arch]+".S")
			nasm := build("nasm", testdata, "nasm-teensy/"+srcs[p.Arch]+".asm")
			if !bytes.Equal(gas, nasm) {
				t.Errorf("the GAS and NASM sources differ:\nGAS  %x\nNASM %x", gas, nasm)
			}
		})
	}
}
