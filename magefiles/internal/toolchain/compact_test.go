package toolchain

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/minimalbuild/minimal/magefiles/internal/run"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

var update = flag.Bool("update", false, "rewrite the files under testdata/compact with the pinned zig")

// readCompactTestdata returns testdata/compact/name.
func readCompactTestdata(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "compact", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// target386 returns the linux/386 target.
func target386(t *testing.T) Target {
	t.Helper()
	x86, err := Lookup(linux386)
	if err != nil {
		t.Fatal(err)
	}
	return x86
}

// TestCompactTestdata checks that testdata/compact holds what the build makes of
// hello-asm for linux/386 with the pinned zig: the link with -n, the link again at the
// lower image base, and the result. With -update it rewrites them.
func TestCompactTestdata(t *testing.T) {
	z := realZig(t)
	root := examplesRoot(t)
	x86 := target386(t)
	spec := appSpec("hello-asm", linux386, root, manifest.Fields{Lang: "asm", Src: []string{"apps/hello-asm/i386.S"}, Output: "elf"})
	dir := t.TempDir()
	b := &asmBuilder{zig: fixedZig(z)}
	obj := filepath.Join(dir, "0-i386.S.o")
	if err := b.assemble(t.Context(), spec, x86, spec.Src[0], obj, x86.NASM); err != nil {
		t.Fatal(err)
	}
	if err := writeDiscardComment(dir, spec); err != nil {
		t.Fatal(err)
	}
	links := []struct {
		name   string
		layout layout
	}{
		{"hello-asm-386.link", layout{nmagic: true}},
		{"hello-asm-386.relink", layout{nmagic: true, imageBase: 0x400000 - 20}},
	}
	got := map[string]string{}
	for _, l := range links {
		exe := filepath.Join(dir, l.name)
		if _, err := run.Output(t.Context(), run.Cmd{
			Args: append([]string{z.Path()}, linkArgs(spec, x86, []string{obj}, dir, exe, l.layout)...),
			Dir:  zigDir,
			Env:  zigEnv(z, spec),
		}); err != nil {
			t.Fatal(err)
		}
		got[l.name] = exe
	}
	got["hello-asm-386.golden"] = filepath.Join(dir, "hello-asm")
	if err := Asm(fixedZig(z)).Build(t.Context(), spec, got["hello-asm-386.golden"]); err != nil {
		t.Fatal(err)
	}
	for name, path := range got {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join("testdata", "compact", name)
		if *update {
			if err := os.WriteFile(file, data, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if want := readCompactTestdata(t, name); !bytes.Equal(data, want) {
			t.Errorf("the build made %d bytes that differ from the %d of %s; run go test -run TestCompactTestdata -update", len(data), len(want), file)
		}
	}
}

// TestCompact386Golden lays out hello-asm as the 386 build links it, and compares the
// result with the file the build made: the size goal, the permissions of the stack
// and the loaded bytes are checked on that file.
func TestCompact386Golden(t *testing.T) {
	link := readCompactTestdata(t, "hello-asm-386.link")
	relink := readCompactTestdata(t, "hello-asm-386.relink")
	golden := readCompactTestdata(t, "hello-asm-386.golden")

	base, err := compactBase(link)
	if err != nil {
		t.Fatal(err)
	}
	if base != 0x400000-20 {
		t.Errorf("compactBase = %#x, want %#x: 116 bytes of headers become 96", base, 0x400000-20)
	}
	if _, err := compact386(link); !errors.Is(err, errNotCompact) {
		t.Errorf("compact386 of the first link: %v, want errNotCompact: its segment is at byte 116 of its page", err)
	}
	got, err := compact386(relink)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, golden) {
		t.Fatalf("compact386 made %d bytes that differ from the %d of testdata/compact/hello-asm-386.golden", len(got), len(golden))
	}
	// The goal: at most what nasm + GNU ld -n + sstrip make without PT_GNU_STACK.
	if len(got) > 168 {
		t.Errorf("hello-asm for linux/386 is %d bytes, want at most 168", len(got))
	}
	if err := checkExecutable(got, target386(t)); err != nil {
		t.Error(err)
	}

	f, err := elf.NewFile(bytes.NewReader(got))
	if err != nil {
		t.Fatalf("debug/elf cannot read the result: %v", err)
	}
	in, err := elf.NewFile(bytes.NewReader(relink))
	if err != nil {
		t.Fatal(err)
	}
	type prog struct {
		Type            elf.ProgType
		Flags           elf.ProgFlag
		Vaddr           uint64
		Filesz, Memsz   uint64
		Bytes           []byte
		EntryInSegment  bool
		StackExecutable bool
	}
	progs := func(f *elf.File) []prog {
		var ps []prog
		for _, p := range f.Progs {
			q := prog{Type: p.Type, Flags: p.Flags}
			switch p.Type {
			case elf.PT_LOAD:
				q.Vaddr, q.Filesz, q.Memsz = p.Vaddr, p.Filesz, p.Memsz
				q.Bytes = make([]byte, p.Filesz)
				if _, err := p.ReadAt(q.Bytes, 0); err != nil {
					t.Fatal(err)
				}
				q.EntryInSegment = f.Entry >= p.Vaddr && f.Entry < p.Vaddr+p.Filesz
			case elf.PT_GNU_STACK:
				q.Memsz = p.Memsz
				q.StackExecutable = p.Flags&elf.PF_X != 0
			}
			ps = append(ps, q)
		}
		return ps
	}
	want := progs(in)
	// The PT_GNU_STACK header goes first.
	want[0], want[1] = want[1], want[0]
	if diff := cmp.Diff(want, progs(f)); diff != "" {
		t.Errorf("program headers as the loader reads them (-linked +compact):\n%s", diff)
	}
	if f.Entry != in.Entry {
		t.Errorf("entry point %#x, want %#x", f.Entry, in.Entry)
	}
	for _, p := range progs(f) {
		if p.Type == elf.PT_GNU_STACK && (p.StackExecutable || p.Flags != elf.PF_R|elf.PF_W) {
			t.Errorf("PT_GNU_STACK flags %v, want PF_R+PF_W", p.Flags)
		}
	}
}

// TestCompact386Refuses checks that compact386 leaves alone what it cannot lay out.
func TestCompact386Refuses(t *testing.T) {
	relink := readCompactTestdata(t, "hello-asm-386.relink")
	le := binary.LittleEndian
	const load, stack = elf32HeaderSize, elf32HeaderSize + elf32ProgSize // as lld orders them
	tests := []struct {
		name string
		edit func(b []byte) []byte
	}{
		{"not ELF", func(b []byte) []byte { b[0] = 0; return b }},
		{"too short for its header", func(b []byte) []byte { return b[:40] }},
		{"ELF64", func(b []byte) []byte { b[elf.EI_CLASS] = byte(elf.ELFCLASS64); return b }},
		{"big-endian", func(b []byte) []byte { b[elf.EI_DATA] = byte(elf.ELFDATA2MSB); return b }},
		{"another machine", func(b []byte) []byte { le.PutUint16(b[18:], uint16(elf.EM_ARM)); return b }},
		{"position-independent", func(b []byte) []byte { le.PutUint16(b[16:], uint16(elf.ET_DYN)); return b }},
		{"e_flags in use", func(b []byte) []byte { le.PutUint32(b[36:], 1); return b }},
		{"program headers elsewhere", func(b []byte) []byte { le.PutUint32(b[28:], 56); return b }},
		{"three program headers", func(b []byte) []byte { le.PutUint16(b[44:], 3); return b }},
		{"one program header", func(b []byte) []byte { le.PutUint16(b[44:], 1); return b }},
		{"no PT_GNU_STACK", func(b []byte) []byte { le.PutUint32(b[stack:], uint32(elf.PT_NOTE)); return b }},
		{"two PT_LOAD", func(b []byte) []byte { le.PutUint32(b[stack:], uint32(elf.PT_LOAD)); return b }},
		{"PT_GNU_STACK with file bytes", func(b []byte) []byte { le.PutUint32(b[stack+16:], 4); return b }},
		{"empty segment", func(b []byte) []byte { le.PutUint32(b[load+16:], 0); return b }},
		{"segment over the headers", func(b []byte) []byte { le.PutUint32(b[load+4:], 100); return b }},
		{"segment past the end", func(b []byte) []byte { le.PutUint32(b[load+16:], 1000); le.PutUint32(b[load+20:], 1000); return b }},
		{"segment at a page offset below 96", func(b []byte) []byte { le.PutUint32(b[load+8:], 0x400050); return b }},
		{"segment where it already is", func(b []byte) []byte { le.PutUint32(b[load+8:], 0x400074); return b }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.edit(bytes.Clone(relink))
			if out, err := compact386(in); !errors.Is(err, errNotCompact) {
				t.Errorf("compact386 = %d bytes, %v; want errNotCompact", len(out), err)
			}
		})
	}
}

// TestCompact386Short lays out a segment shorter than the PT_LOAD header's p_align,
// which the segment's bytes overlap: the file still holds every program header.
func TestCompact386Short(t *testing.T) {
	in := readCompactTestdata(t, "hello-asm-386.relink")
	le := binary.LittleEndian
	le.PutUint32(in[elf32HeaderSize+16:], 2) // p_filesz
	le.PutUint32(in[elf32HeaderSize+20:], 2) // p_memsz
	out, err := compact386(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != compactLoadHeader+elf32ProgSize {
		t.Errorf("%d bytes, want %d: the end of the program headers", len(out), compactLoadHeader+elf32ProgSize)
	}
	if err := checkExecutable(out, target386(t)); err != nil {
		t.Error(err)
	}
	if !bytes.Equal(out[compactCodeOff:compactCodeOff+2], in[116:118]) {
		t.Errorf("the segment's bytes %x, want %x", out[compactCodeOff:compactCodeOff+2], in[116:118])
	}
}

// TestCompactBase checks the image base of the relink for the compact layout.
func TestCompactBase(t *testing.T) {
	le := binary.LittleEndian
	setVaddr := func(v uint32) func(b []byte) {
		return func(b []byte) { le.PutUint32(b[elf32HeaderSize+8:], v) }
	}
	tests := []struct {
		name    string
		file    string
		edit    func(b []byte)
		want    uint32
		wantErr error
	}{
		{name: "lld's default base, 20 bytes lower", file: "hello-asm-386.link", want: 0x400000 - 20},
		{name: "another base", file: "hello-asm-386.link", edit: setVaddr(0x8048074), want: 0x8048000 - 20},
		{name: "a segment whose offset and address disagree", file: "hello-asm-386.relink", wantErr: errNotCompact},
		{name: "a base too low to move the segment down", file: "hello-asm-386.link", edit: setVaddr(minMapAddr + 116), wantErr: errNotCompact},
		{name: "the page above it", file: "hello-asm-386.link", edit: setVaddr(minMapAddr + pageSize + 116), want: minMapAddr + pageSize - 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := readCompactTestdata(t, tt.file)
			if tt.edit != nil {
				tt.edit(in)
			}
			got, err := compactBase(in)
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Errorf("compactBase = %#x, %v; want %#x, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
