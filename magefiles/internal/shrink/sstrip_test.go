package shrink

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var classes = []elf.Class{elf.ELFCLASS64, elf.ELFCLASS32}

// TestSStripLayout strips synthetic executables and checks the size of the
// result and the sizes of the segment SStrip may trim.
func TestSStripLayout(t *testing.T) {
	type sizes struct {
		Len            int
		Filesz, Memsz  uint64 // of the last PT_LOAD
		SectionHeaders bool
	}
	tests := []struct {
		name string
		why  string
		mut  func(*fakeELF)
		// want returns the expected sizes given the unmodified layout.
		want func(f fakeELF) sizes
	}{
		{
			name: "writable data",
			why:  "the usual case: the section headers go and the zero tail of the data moves into bss",
			want: func(f fakeELF) sizes {
				d := f.segs[2]
				return sizes{Len: int(d.off + d.filesz - d.zeros), Filesz: d.filesz - d.zeros, Memsz: d.memsz}
			},
		},
		{
			name: "writable data all zero",
			why:  "one byte stays, so the first page of the segment is still mapped from the file",
			mut:  func(f *fakeELF) { f.segs[2].zeros = f.segs[2].filesz },
			want: func(f fakeELF) sizes {
				d := f.segs[2]
				return sizes{Len: int(d.off + 1), Filesz: 1, Memsz: d.memsz}
			},
		},
		{
			name: "TLS image pins the tail",
			why:  "a PT_TLS initialization image inside the data must stay in the file",
			mut: func(f *fakeELF) {
				d := f.segs[2]
				f.segs[4] = fakeSeg{typ: elf.PT_TLS, flags: elf.PF_R, off: d.off + d.filesz - 0x20, vaddr: d.vaddr + d.filesz - 0x20, filesz: 0x10, memsz: 0x30}
			},
			want: func(f fakeELF) sizes {
				d := f.segs[2]
				return sizes{Len: int(d.off + d.filesz - 0x10), Filesz: d.filesz - 0x10, Memsz: d.memsz}
			},
		},
		{
			name: "note after the last load",
			why:  "a segment the file holds past the last PT_LOAD keeps every byte before it",
			mut: func(f *fakeELF) {
				f.segs[3].off = f.shoff - 0x20
			},
			want: func(f fakeELF) sizes {
				d := f.segs[2]
				return sizes{Len: int(f.shoff - 0x20 + 0x24), Filesz: d.filesz, Memsz: d.memsz}
			},
		},
		{
			name: "read-only last segment",
			why:  "a read-only segment cannot get a bss: p_filesz and p_memsz shrink together inside the last page",
			mut: func(f *fakeELF) {
				f.segs[2].flags = elf.PF_R
				f.segs[2].memsz = f.segs[2].filesz
			},
			want: func(f fakeELF) sizes {
				d := f.segs[2]
				return sizes{Len: int(d.off + d.filesz - d.zeros), Filesz: d.filesz - d.zeros, Memsz: d.filesz - d.zeros}
			},
		},
		{
			name: "read-only last segment across pages",
			why:  "trimming a read-only segment never unmaps a page it had",
			mut: func(f *fakeELF) {
				f.segs[2].flags = elf.PF_R
				f.segs[2].filesz, f.segs[2].memsz, f.segs[2].zeros = 0x1100, 0x1100, 0x1080
				f.shoff, f.size = 0x4000, 0x4200
			},
			want: func(f fakeELF) sizes {
				// The segment starts at page offset 0xf00, so its last page
				// starts 0x100 bytes in.
				return sizes{Len: 0x2f00 + 0x101, Filesz: 0x101, Memsz: 0x101}
			},
		},
		{
			name: "bss in its own load",
			why:  "lld can end with a PT_LOAD that has no file image, even one whose offset is past the end: nothing may trim",
			mut: func(f *fakeELF) {
				d := f.segs[2]
				f.segs[2].memsz = d.filesz
				f.segs[4] = fakeSeg{typ: elf.PT_LOAD, flags: elf.PF_R | elf.PF_W, off: f.size + 0x80, vaddr: d.vaddr + 0x1180, memsz: 0x800}
			},
			want: func(f fakeELF) sizes {
				d := f.segs[2]
				return sizes{Len: int(d.off + d.filesz), Filesz: 0, Memsz: 0x800}
			},
		},
		{
			name: "writable executable last segment across pages",
			why:  "bss pages may lose PROT_EXEC, so a writable, executable segment keeps its last file page",
			mut: func(f *fakeELF) {
				f.segs[2].flags = elf.PF_R | elf.PF_W | elf.PF_X
				f.segs[2].filesz, f.segs[2].zeros = 0x1100, 0x1080
				f.shoff, f.size = 0x4000, 0x4200
			},
			want: func(f fakeELF) sizes {
				return sizes{Len: 0x2f00 + 0x101, Filesz: 0x101, Memsz: f.segs[2].memsz}
			},
		},
		{
			name: "writable executable last segment",
			why:  "inside its last file page a writable, executable segment trims like any writable one",
			mut:  func(f *fakeELF) { f.segs[2].flags = elf.PF_R | elf.PF_W | elf.PF_X },
			want: func(f fakeELF) sizes {
				d := f.segs[2]
				return sizes{Len: int(d.off + d.filesz - d.zeros), Filesz: d.filesz - d.zeros, Memsz: d.memsz}
			},
		},
		{
			name: "read-only last segment with bss",
			why:  "a read-only bss is left as the linker made it",
			mut:  func(f *fakeELF) { f.segs[2].flags = elf.PF_R | elf.PF_X },
			want: func(f fakeELF) sizes {
				d := f.segs[2]
				return sizes{Len: int(d.off + d.filesz), Filesz: d.filesz, Memsz: d.memsz}
			},
		},
		{
			name: "section headers inside a load",
			why:  "Go puts the section header table in the first page: only the header fields change",
			mut: func(f *fakeELF) {
				f.shoff, f.shnum = 0x180, 2
				f.size = 0x3080
				f.segs[2].zeros = 0
			},
			want: func(f fakeELF) sizes {
				d := f.segs[2]
				return sizes{Len: 0x3080, Filesz: d.filesz, Memsz: d.memsz}
			},
		},
		{
			name: "last in memory is not last in file",
			why:  "only the highest PT_LOAD may trim, and only when it ends the file",
			mut: func(f *fakeELF) {
				f.segs[1].off, f.segs[1].vaddr = 0x3000, f.segs[1].vaddr+0x2000
				f.segs[2].off, f.segs[2].vaddr = 0x1f00, f.segs[2].vaddr+0x2000
				f.shoff, f.size = 0x3200, 0x3400
			},
			want: func(f fakeELF) sizes {
				d := f.segs[2]
				return sizes{Len: 0x3123, Filesz: d.filesz, Memsz: d.memsz}
			},
		},
		{
			name: "static-pie without dynamic section",
			why:  "an ET_DYN with neither PT_INTERP nor PT_DYNAMIC loads like a static executable",
			mut: func(f *fakeELF) {
				f.typ = elf.ET_DYN
				for i := range f.segs {
					if f.segs[i].vaddr != 0 {
						f.segs[i].vaddr &= 0xffff
					}
				}
			},
			want: func(f fakeELF) sizes {
				d := f.segs[2]
				return sizes{Len: int(d.off + d.filesz - d.zeros), Filesz: d.filesz - d.zeros, Memsz: d.memsz}
			},
		},
	}
	for _, class := range classes {
		for _, tt := range tests {
			t.Run(class.String()+"/"+tt.name, func(t *testing.T) {
				f := staticExec(class)
				if tt.mut != nil {
					f = f.with(tt.mut)
				}
				in := f.bytes()
				orig := bytes.Clone(in)
				out, err := SStrip(in)
				if err != nil {
					t.Fatalf("SStrip: %v (%s)", err, tt.why)
				}
				if !bytes.Equal(in, orig) {
					t.Errorf("SStrip modified its input")
				}
				if err := checkOutput(in, out); err != nil {
					t.Errorf("%v (%s)", err, tt.why)
				}
				ef, err := elf.NewFile(bytes.NewReader(out))
				if err != nil {
					t.Fatal(err)
				}
				var got sizes
				got.Len = len(out)
				got.SectionHeaders = hasSectionHeaders(out) || len(ef.Sections) != 0
				for _, p := range ef.Progs {
					if p.Type == elf.PT_LOAD && p.Vaddr >= f.segs[2].vaddr {
						got.Filesz, got.Memsz = p.Filesz, p.Memsz
					}
				}
				if diff := cmp.Diff(tt.want(f), got); diff != "" {
					t.Errorf("%s: sizes mismatch (-want +got):\n%s", tt.why, diff)
				}
			})
		}
	}
}

// TestSStripUnchanged checks that a file with nothing left to remove comes
// back as an equal copy.
func TestSStripUnchanged(t *testing.T) {
	for _, class := range classes {
		t.Run(class.String(), func(t *testing.T) {
			first, err := SStrip(staticExec(class).bytes())
			if err != nil {
				t.Fatal(err)
			}
			second, err := SStrip(first)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(first, second) {
				t.Fatalf("second SStrip changed the file from %d to %d bytes", len(first), len(second))
			}
			second[len(second)-1] ^= 0xff
			if bytes.Equal(first, second) {
				t.Errorf("SStrip returned its input, not a copy")
			}
		})
	}
}

// TestSStripRefuses checks each refusal: its kind and its message.
func TestSStripRefuses(t *testing.T) {
	tests := []struct {
		name    string
		why     string
		class   elf.Class // zero: both classes
		in      func(f fakeELF) []byte
		wantErr error
		wantMsg string
	}{
		{
			name:    "empty",
			why:     "zero bytes are not an ELF file",
			in:      func(fakeELF) []byte { return nil },
			wantErr: ErrNotELF, wantMsg: "no \\x7fELF magic",
		},
		{
			name:    "script",
			why:     "a shell script is not an ELF file",
			in:      func(fakeELF) []byte { return []byte("#!/bin/sh\necho hello\n") },
			wantErr: ErrNotELF, wantMsg: "no \\x7fELF magic",
		},
		{
			name:    "magic only",
			why:     "a file cut inside e_ident",
			in:      func(f fakeELF) []byte { return f.bytes()[:10] },
			wantErr: ErrMalformed, wantMsg: "truncated ELF identification",
		},
		{
			name:    "header cut",
			why:     "a file cut inside the ELF header",
			in:      func(f fakeELF) []byte { return f.bytes()[:40] },
			wantErr: ErrMalformed, wantMsg: "truncated ELF header",
		},
		{
			name:    "big-endian",
			why:     "x86 is little-endian; a big-endian file is for another machine",
			in:      func(f fakeELF) []byte { f.data = elf.ELFDATA2MSB; return f.bytes() },
			wantErr: ErrUnsupported, wantMsg: "big-endian",
		},
		{
			name:    "bad data encoding",
			why:     "EI_DATA must be one of the two encodings",
			in:      func(f fakeELF) []byte { f.data = 7; return f.bytes() },
			wantErr: ErrMalformed, wantMsg: "invalid data encoding 7",
		},
		{
			name:    "bad class",
			why:     "EI_CLASS must be 32 or 64 bits",
			in:      func(f fakeELF) []byte { b := f.bytes(); b[elf.EI_CLASS] = 3; return b },
			wantErr: ErrMalformed, wantMsg: "invalid class 3",
		},
		{
			name:    "ident version",
			why:     "only EV_CURRENT exists",
			in:      func(f fakeELF) []byte { b := f.bytes(); b[elf.EI_VERSION] = 2; return b },
			wantErr: ErrUnsupported, wantMsg: "unknown ELF identification version 2",
		},
		{
			name:    "header version",
			why:     "e_version must be EV_CURRENT too",
			in:      func(f fakeELF) []byte { f.version = 9; return f.bytes() },
			wantErr: ErrUnsupported, wantMsg: "unknown ELF version 9",
		},
		{
			name:    "relocatable",
			why:     "an object file is not an executable",
			in:      func(f fakeELF) []byte { f.typ = elf.ET_REL; return f.bytes() },
			wantErr: ErrUnsupported, wantMsg: "relocatable object (ET_REL)",
		},
		{
			name:    "core",
			why:     "a core dump is not an executable",
			in:      func(f fakeELF) []byte { f.typ = elf.ET_CORE; return f.bytes() },
			wantErr: ErrUnsupported, wantMsg: "core dump (ET_CORE)",
		},
		{
			name:    "unknown type",
			why:     "ET_NONE and OS-specific types are not executables",
			in:      func(f fakeELF) []byte { f.typ = elf.ET_NONE; return f.bytes() },
			wantErr: ErrUnsupported, wantMsg: "ELF type ET_NONE",
		},
		{
			name:    "arm",
			why:     "another machine",
			in:      func(f fakeELF) []byte { f.machine = elf.EM_AARCH64; return f.bytes() },
			wantErr: ErrUnsupported, wantMsg: "machine EM_AARCH64",
		},
		{
			name:    "i386 in ELF64",
			why:     "EM_386 only comes as ELFCLASS32",
			class:   elf.ELFCLASS64,
			in:      func(f fakeELF) []byte { f.machine = elf.EM_386; return f.bytes() },
			wantErr: ErrUnsupported, wantMsg: "machine EM_386 for ELFCLASS64",
		},
		{
			name:    "x32",
			why:     "the x32 ABI is ELFCLASS32 EM_X86_64, which the pipeline never builds",
			class:   elf.ELFCLASS32,
			in:      func(f fakeELF) []byte { f.machine = elf.EM_X86_64; return f.bytes() },
			wantErr: ErrUnsupported, wantMsg: "x32 ABI",
		},
		{
			name: "interpreter",
			why:  "a dynamically linked executable needs its loader and libraries",
			in: func(f fakeELF) []byte {
				f.segs[4] = fakeSeg{typ: elf.PT_INTERP, flags: elf.PF_R, off: 0x1a0, vaddr: f.segs[0].vaddr + 0x1a0, filesz: 0x1c, memsz: 0x1c}
				return f.bytes()
			},
			wantErr: ErrUnsupported, wantMsg: "dynamically linked executable (program header 4 is PT_INTERP)",
		},
		{
			name: "dynamic section",
			why:  "PT_DYNAMIC marks a dynamic or self-relocating executable",
			in: func(f fakeELF) []byte {
				f.segs[4] = fakeSeg{typ: elf.PT_DYNAMIC, flags: elf.PF_R | elf.PF_W, off: 0x2f00, vaddr: f.segs[2].vaddr, filesz: 0x40, memsz: 0x40}
				return f.bytes()
			},
			wantErr: ErrUnsupported, wantMsg: "program header 4 is PT_DYNAMIC",
		},
		{
			name: "static-pie with dynamic section",
			why:  "gcc -static-pie output has PT_DYNAMIC and is refused like any other",
			in: func(f fakeELF) []byte {
				f.typ = elf.ET_DYN
				f.segs[4] = fakeSeg{typ: elf.PT_DYNAMIC, flags: elf.PF_R | elf.PF_W, off: 0x2f00, vaddr: f.segs[2].vaddr, filesz: 0x40, memsz: 0x40}
				return f.bytes()
			},
			wantErr: ErrUnsupported, wantMsg: "PT_DYNAMIC",
		},
		{
			name:    "ehsize",
			why:     "e_ehsize must match the class",
			in:      func(f fakeELF) []byte { f.ehsize = 60; return f.bytes() },
			wantErr: ErrMalformed, wantMsg: "e_ehsize is 60",
		},
		{
			name:    "no program headers",
			why:     "without program headers nothing is loaded",
			in:      func(f fakeELF) []byte { b := f.bytes(); clearPhnum(b, f.class); return b },
			wantErr: ErrMalformed, wantMsg: "no program header table",
		},
		{
			name:    "PN_XNUM",
			why:     "extended program header numbering keeps the count in section header 0, which SStrip drops",
			in:      func(f fakeELF) []byte { f.phnum = 0xffff; return f.bytes() },
			wantErr: ErrUnsupported, wantMsg: "PN_XNUM",
		},
		{
			name:    "phentsize",
			why:     "the kernel only loads program headers of the native size",
			in:      func(f fakeELF) []byte { f.phentsize = 40; return f.bytes() },
			wantErr: ErrMalformed, wantMsg: "e_phentsize is 40",
		},
		{
			name: "phdrs over e_shnum",
			why:  "clearing the section header fields would change the first program header",
			in: func(f fakeELF) []byte {
				f.phoff = map[elf.Class]uint64{elf.ELFCLASS32: 48, elf.ELFCLASS64: 60}[f.class]
				return f.bytes()
			},
			wantErr: ErrUnsupported, wantMsg: "program header table at offset",
		},
		{
			name:    "phdrs past the end",
			why:     "a program header table beyond the end of the file",
			in:      func(f fakeELF) []byte { f.phoff = f.size - 10; return f.bytes() },
			wantErr: ErrMalformed, wantMsg: "program header table",
		},
		{
			name:    "huge phoff",
			why:     "offsets near the top of the range must not wrap",
			class:   elf.ELFCLASS64,
			in:      func(f fakeELF) []byte { f.phoff = 1<<64 - 8; return f.bytes() },
			wantErr: ErrMalformed, wantMsg: "extends past the end of the file",
		},
		{
			name:    "section headers cut",
			why:     "a section header table past the end means the file was cut short",
			in:      func(f fakeELF) []byte { return f.bytes()[:f.shoff+10] },
			wantErr: ErrMalformed, wantMsg: "section header table (offset",
		},
		{
			name:    "sections at offset 0",
			why:     "e_shnum without e_shoff is nonsense",
			in:      func(f fakeELF) []byte { f.shoff = 0; return f.bytes() },
			wantErr: ErrMalformed, wantMsg: "6 section headers at offset 0",
		},
		{
			name:    "shentsize",
			why:     "section headers of the wrong size",
			in:      func(f fakeELF) []byte { f.shentsize = 12; return f.bytes() },
			wantErr: ErrMalformed, wantMsg: "e_shentsize is 12",
		},
		{
			name:    "load past the end",
			why:     "a file cut inside the data segment",
			in:      func(f fakeELF) []byte { f.shoff, f.shnum = 0, 0; return f.bytes()[:0x3000] },
			wantErr: ErrMalformed, wantMsg: "segment 2 (PT_LOAD, offset 12032, 384 bytes) extends past the end of the file",
		},
		{
			name:    "filesz over memsz",
			why:     "the kernel refuses a load whose file image is larger than its memory image",
			in:      func(f fakeELF) []byte { f.segs[1].memsz = 0x100; return f.bytes() },
			wantErr: ErrMalformed, wantMsg: "PT_LOAD segment 1 has p_filesz 291 > p_memsz 256",
		},
		{
			name: "address wrap",
			why:  "a memory image past the top of the address space",
			in: func(f fakeELF) []byte {
				f.segs[2].memsz = 1<<32 - 0x1000
				if f.class == elf.ELFCLASS64 {
					f.segs[2].memsz = 1<<64 - 0x1000
				}
				return f.bytes()
			},
			wantErr: ErrMalformed, wantMsg: "wraps around the address space",
		},
		{
			name:    "page offsets differ",
			why:     "mmap cannot map a file offset to a different page offset",
			in:      func(f fakeELF) []byte { f.segs[1].vaddr += 0x10; return f.bytes() },
			wantErr: ErrMalformed, wantMsg: "on different page offsets",
		},
		{
			name:    "loads overlap",
			why:     "two loads cannot share memory",
			in:      func(f fakeELF) []byte { f.segs[1].memsz = 0x3000; return f.bytes() },
			wantErr: ErrMalformed, wantMsg: "PT_LOAD segments 1 and 2 overlap in memory",
		},
		{
			name:    "loads out of order",
			why:     "the ELF specification orders PT_LOAD by address; the kernel relies on it for ET_DYN",
			in:      func(f fakeELF) []byte { f.segs[1], f.segs[2] = f.segs[2], f.segs[1]; return f.bytes() },
			wantErr: ErrMalformed, wantMsg: "PT_LOAD segments 1 and 2 overlap in memory or are not in ascending order",
		},
		{
			name:    "empty load out of order",
			why:     "an empty PT_LOAD still counts for the kernel's bss bookkeeping, so it must be in order too",
			in:      func(f fakeELF) []byte { f.segs[4] = fakeSeg{typ: elf.PT_LOAD, flags: elf.PF_R}; return f.bytes() },
			wantErr: ErrMalformed, wantMsg: "PT_LOAD segments 2 and 4 overlap in memory or are not in ascending order",
		},
		{
			name: "no loads",
			why:  "an executable with nothing to load",
			in: func(f fakeELF) []byte {
				for i := range f.segs {
					if f.segs[i].typ == elf.PT_LOAD {
						f.segs[i].typ = elf.PT_NULL
					}
				}
				return f.bytes()
			},
			wantErr: ErrMalformed, wantMsg: "no PT_LOAD segment",
		},
	}
	for _, tt := range tests {
		for _, class := range classes {
			if tt.class != 0 && tt.class != class {
				continue
			}
			t.Run(class.String()+"/"+tt.name, func(t *testing.T) {
				in := tt.in(staticExec(class))
				out, err := SStrip(in)
				if err == nil {
					t.Fatalf("SStrip succeeded with %d bytes, want an error (%s)", len(out), tt.why)
				}
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("error %q is not %v (%s)", err, tt.wantErr, tt.why)
				}
				if !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("error %q does not contain %q (%s)", err, tt.wantMsg, tt.why)
				}
			})
		}
	}
}

// clearPhnum sets e_phnum to zero.
func clearPhnum(b []byte, c elf.Class) {
	if c == elf.ELFCLASS32 {
		b[44], b[45] = 0, 0
		return
	}
	b[56], b[57] = 0, 0
}

// TestSStripOverlap strips executables whose program header table lies over the ELF
// header, as the build lays out a 386 assembly program, and checks what SStrip
// promises (checkOutput) and the size of the result.
func TestSStripOverlap(t *testing.T) {
	code := bytes.Repeat([]byte{0xcc}, 71)
	data := append(bytes.Repeat([]byte{0xcc}, 40), make([]byte, 31)...)
	tests := []struct {
		name    string
		why     string
		in      []byte
		wantLen int
	}{
		{
			name: "compact 386 code", why: "nothing to drop: the code ends the file",
			in: overlap386(code, elf.PF_R|elf.PF_X, 71), wantLen: 96 + 71,
		},
		{
			name: "compact 386 data ending in zeros", why: "the zeros of a writable segment go to its bss",
			in: overlap386(data, elf.PF_R|elf.PF_W, 0x1000), wantLen: 96 + 40,
		},
		{
			name: "compact 386 data of zeros", why: "the PT_LOAD header's p_align is the first 4 bytes of the segment, and stays",
			in: overlap386(make([]byte, 71), elf.PF_R|elf.PF_W, 0x1000), wantLen: 100,
		},
		{
			name: "compact 386 with bytes after it", why: "bytes no header describes go",
			in: append(overlap386(code, elf.PF_R|elf.PF_X, 71), "trailing section names"...), wantLen: 96 + 71,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := SStrip(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if err := checkOutput(tt.in, out); err != nil {
				t.Errorf("%v (%s)", err, tt.why)
			}
			if len(out) != tt.wantLen {
				t.Errorf("%d bytes, want %d (%s)", len(out), tt.wantLen, tt.why)
			}
		})
	}
}

// TestSStripOverlapRefuses checks that SStrip refuses a program header table over
// section header fields it would have to change.
func TestSStripOverlapRefuses(t *testing.T) {
	in := overlap386(bytes.Repeat([]byte{0xcc}, 71), elf.PF_R|elf.PF_X, 71)
	// A section header table after the code, which e_shoff, e_shnum and e_shstrndx
	// name: the last two are the PT_GNU_STACK header's p_paddr.
	shoff := len(in)
	in = append(in, make([]byte, 2*40)...)
	le := binary.LittleEndian
	le.PutUint32(in[32:], uint32(shoff))
	le.PutUint16(in[46:], 40)
	le.PutUint16(in[48:], 2)
	le.PutUint16(in[50:], 1)
	out, err := SStrip(in)
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "lies over e_shnum") {
		t.Errorf("SStrip = %d bytes, %v; want ErrUnsupported naming e_shnum", len(out), err)
	}
}

// TestSizesInHeader checks when the p_filesz and p_memsz of a program header lie in
// the ELF header, where SStrip leaves them.
func TestSizesInHeader(t *testing.T) {
	tests := []struct {
		class elf.Class
		phoff uint64
		index int
		want  bool
	}{
		{elf.ELFCLASS32, 52, 0, false},
		{elf.ELFCLASS32, 36, 0, false}, // p_filesz at 52, just after the header
		{elf.ELFCLASS32, 35, 0, true},
		{elf.ELFCLASS32, 4, 1, false},
		{elf.ELFCLASS32, 0, 1, true}, // p_filesz at 48
		{elf.ELFCLASS32, 0, 0, true},
		{elf.ELFCLASS64, 64, 0, false},
		{elf.ELFCLASS64, 32, 0, false}, // p_filesz at 64
		{elf.ELFCLASS64, 31, 0, true},
		{elf.ELFCLASS64, 8, 1, false},
	}
	for _, tt := range tests {
		ehsize, phentsize, _ := sizes(tt.class)
		h := header{class: tt.class, phoff: tt.phoff, ehsize: ehsize, phentsize: phentsize}
		if got := sizesInHeader(h, tt.index); got != tt.want {
			t.Errorf("%v, e_phoff %d, header %d: sizesInHeader = %v, want %v", tt.class, tt.phoff, tt.index, got, tt.want)
		}
	}
}
