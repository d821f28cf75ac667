package pack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// okSegs are the program headers of a small valid amd64 program.
func okSegs() []testSeg {
	return []testSeg{
		{typ: ptLoad, flags: pfR | pfX, off: 0, vaddr: 0x400000, filesz: 0x300, memsz: 0x300, align: 0x1000},
	}
}

// TestPackRefuses checks that Pack turns down what it cannot pack, with
// the sentinel a caller tells apart.
func TestPackRefuses(t *testing.T) {
	valid := synthetic(elfClass64, emAMD64, etExec, 0x400200, okSegs(), 0x300, 0x200, exitCode[elfClass64])
	with := func(segs ...testSeg) []byte {
		return synthetic(elfClass64, emAMD64, etExec, 0x400200, append(okSegs(), segs...), 0x3000, 0, nil)
	}
	tests := []struct {
		name string
		bin  []byte
		want error
	}{
		{"empty input", nil, ErrUnsupported},
		{"not an ELF file", []byte("#!/bin/sh\necho hello\n"), ErrUnsupported},
		{"truncated ELF header", valid[:40], ErrMalformed},
		{"truncated identification", valid[:10], ErrMalformed},
		{"ELF class 3", func() []byte { b := clone(valid); b[4] = 3; return b }(), ErrMalformed},
		{"big-endian", func() []byte { b := clone(valid); b[5] = 2; return b }(), ErrUnsupported},
		{"ELF version 0", func() []byte { b := clone(valid); b[20] = 0; return b }(), ErrMalformed},
		{"32-bit ARM", synthetic(elfClass32, 40, etExec, 0x10000, nil, 0x100, 0, nil), ErrUnsupported},
		{"64-bit ARM", synthetic(elfClass64, 183, etExec, 0x400000, okSegs(), 0x300, 0, nil), ErrUnsupported},
		{"x32: ELF32 for x86-64", synthetic(elfClass32, emAMD64, etExec, 0x400000, nil, 0x100, 0, nil), ErrUnsupported},
		{"i386 code in an ELF64 file", synthetic(elfClass64, em386, etExec, 0x400000, okSegs(), 0x300, 0, nil), ErrUnsupported},
		{"relocatable object", synthetic(elfClass64, emAMD64, 1, 0, okSegs(), 0x300, 0, nil), ErrUnsupported},
		{"core dump", synthetic(elfClass64, emAMD64, 4, 0, okSegs(), 0x300, 0, nil), ErrUnsupported},
		{"dynamically linked: PT_INTERP", with(testSeg{typ: ptInterp, off: 0x200, filesz: 28}), ErrUnsupported},
		{"static PIE: PT_DYNAMIC", with(testSeg{typ: ptDynamic, off: 0x200, filesz: 0x100}), ErrUnsupported},
		{"no program headers", synthetic(elfClass64, emAMD64, etExec, 0x400000, nil, 0x100, 0, nil), ErrMalformed},
		{"no PT_LOAD", synthetic(elfClass64, emAMD64, etExec, 0x400000, []testSeg{{typ: ptGNUStack, flags: pfR | pfW}}, 0x100, 0, nil), ErrMalformed},
		{"program headers past the end", valid[:100], ErrMalformed},
		{"extended program header numbering", func() []byte { b := clone(valid); b[56], b[57] = 0xff, 0xff; return b }(), ErrUnsupported},
		{"wrong program header size", func() []byte { b := clone(valid); b[54] = 32; return b }(), ErrMalformed},
		{"p_filesz above p_memsz", with(testSeg{typ: ptLoad, flags: pfR, off: 0x1000, vaddr: 0x401000, filesz: 0x200, memsz: 0x100}), ErrMalformed},
		{"segment past the end of the file", with(testSeg{typ: ptLoad, flags: pfR, off: 0x2000, vaddr: 0x402000, filesz: 0x2000, memsz: 0x2000}), ErrMalformed},
		{"p_vaddr and p_offset differ modulo the page size", with(testSeg{typ: ptLoad, flags: pfR, off: 0x1000, vaddr: 0x401100, filesz: 0x100, memsz: 0x100}), ErrMalformed},
		{"segments out of order", with(testSeg{typ: ptLoad, flags: pfR, off: 0x1000, vaddr: 0x300000, filesz: 0x100, memsz: 0x100}), ErrMalformed},
		{"overlapping segments", with(testSeg{typ: ptLoad, flags: pfR, off: 0x1000, vaddr: 0x400000, filesz: 0x100, memsz: 0x100}), ErrMalformed},
		{"a segment beyond the address space", with(testSeg{typ: ptLoad, flags: pfR, off: 0x1000, vaddr: 1 << 47, filesz: 0x100, memsz: 0x100}), ErrUnsupported},
		{"386 segment above 3 GiB", synthetic(elfClass32, em386, etExec, 0xc0000000, []testSeg{{typ: ptLoad, flags: pfR | pfX, vaddr: 0xc0000000, filesz: 0x100, memsz: 0x100}}, 0x100, 0, nil), ErrUnsupported},
		{"segments in more places than the stub has threads", func() []byte {
			var segs []testSeg
			for i := range maxStreams + 1 {
				segs = append(segs, testSeg{typ: ptLoad, flags: pfR, off: uint64(i) * 0x1000, vaddr: 0x400000 + uint64(i)*0x100000, filesz: 0x1000, memsz: 0x1000})
			}
			return synthetic(elfClass64, emAMD64, etExec, 0x400000, segs, (maxStreams+1)*0x1000, 0, nil)
		}(), ErrUnsupported},
		{"segments loading the file over and over", func() []byte {
			var segs []testSeg
			for i := range 200 {
				segs = append(segs, testSeg{typ: ptLoad, flags: pfR, vaddr: 0x400000 + uint64(i)*0x2000, filesz: 0x1000, memsz: 0x1000})
			}
			return synthetic(elfClass64, emAMD64, etExec, 0x400000, segs, 0x1000, 0, nil)
		}(), ErrUnsupported},
		{"a program header table the kernel refuses", func() []byte {
			segs := okSegs()
			for len(segs)*amd64.phentsize <= maxPhdrs {
				segs = append(segs, testSeg{typ: ptGNUStack, flags: pfR | pfW})
			}
			return synthetic(elfClass64, emAMD64, etExec, 0x400200, segs, 0x300+len(segs)*amd64.phentsize, 0, nil)
		}(), ErrMalformed},
		{"a read-only segment with memory past its file bytes", with(testSeg{typ: ptLoad, flags: pfR | pfX, off: 0x1000, vaddr: 0x401000, filesz: 0x100, memsz: 0x3000}), ErrUnsupported},
		{"a segment of bss alone in the previous segment's last page", with(testSeg{typ: ptLoad, flags: pfR | pfW, off: 0x800, vaddr: 0x400800, memsz: 0x3000}), ErrUnsupported},
		{"segments far apart", with(testSeg{typ: ptLoad, flags: pfR | pfW, off: 0x1000, vaddr: 0x400000 + 1<<30 + 0x1000, filesz: 0x100, memsz: 0x100}), ErrUnsupported},
		{"too small to gain: the stub is larger", valid, ErrNoGain},
		{"nothing but bss", synthetic(elfClass64, emAMD64, etExec, 0x400000, []testSeg{{typ: ptLoad, flags: pfR | pfW, vaddr: 0x400000, memsz: 0x10000}}, 0x100, 0, nil), ErrNoGain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := Pack(context.Background(), tt.bin)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Pack: error %v, want one wrapping %v", err, tt.want)
			}
			if out != nil {
				t.Errorf("Pack returned %d bytes with its error", len(out))
			}
		})
	}
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// TestPackRefusesRealBinaries checks the refusals on what gcc makes: a
// dynamically linked program and a static PIE, which relocates itself
// through its dynamic section.
func TestPackRefusesRealBinaries(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc is not installed (apt-get install gcc)")
	}
	for _, tt := range []struct {
		name  string
		flags []string
	}{
		{"dynamic", nil},
		{"static-pie", []string{"-static-pie"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "hello")
			args := append(append([]string{"-O2", "-o", out}, tt.flags...), "../../../apps/hello-c/main.c")
			if msg, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
				t.Skipf("gcc %v cannot build here: %v\n%s", tt.flags, err, msg)
			}
			bin, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := Pack(context.Background(), bin); !errors.Is(err, ErrUnsupported) {
				t.Errorf("Pack: error %v, want one wrapping ErrUnsupported", err)
			}
		})
	}
}

// doneAfter is a context whose Err reports context.Canceled from its n+1th
// call on, from any goroutine: a stop partway through that does not depend
// on timing.
type doneAfter struct {
	context.Context
	n atomic.Int64
}

func (c *doneAfter) Err() error {
	if c.n.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

// TestPackCancelled checks that Pack stops with the context's error when the
// context is done before it starts, during its estimates and during its
// encodes (the Go hello amd64 looks at its context about 40 times while
// estimating and about 70 times while encoding).
func TestPackCancelled(t *testing.T) {
	bin, err := os.ReadFile(goProgram(t, "../../../apps/hello", "amd64"))
	if err != nil {
		t.Fatal(err)
	}
	for _, checks := range []int64{0, 20, 80} {
		t.Run(fmt.Sprint(checks), func(t *testing.T) {
			ctx := &doneAfter{Context: context.Background()}
			ctx.n.Store(checks)
			out, _, err := Pack(ctx, bin)
			if !errors.Is(err, context.Canceled) || out != nil {
				t.Errorf("Pack: %d bytes, error %v; want none and context.Canceled", len(out), err)
			}
		})
	}
}

// TestParsePhdr checks that the program headers are where the kernel says
// they are (AT_PHDR): in the last segment whose file bytes hold their start.
func TestParsePhdr(t *testing.T) {
	tests := []struct {
		name string
		segs []testSeg
		want uint64
	}{
		{"in the first segment", okSegs(), 0x400000 + 64},
		{"two segments map the headers: the last one counts", append(okSegs(),
			testSeg{typ: ptLoad, flags: pfR, off: 0, vaddr: 0x410000, filesz: 0x300, memsz: 0x300}), 0x410000 + 64},
		{"in no segment", []testSeg{{typ: ptLoad, flags: pfR | pfX, off: 0x1000, vaddr: 0x401000, filesz: 0x100, memsz: 0x100}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parse(synthetic(elfClass64, emAMD64, etExec, 0x400200, tt.segs, 0x3000, 0, nil))
			if err != nil {
				t.Fatal(err)
			}
			if p.phdr != tt.want {
				t.Errorf("program headers at %#x, want %#x", p.phdr, tt.want)
			}
		})
	}
}
