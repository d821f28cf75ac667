package shrink

import (
	"bytes"
	"debug/elf"
	"errors"
	"testing"
)

// FuzzSStrip checks that SStrip never panics or modifies its input, that
// every refusal wraps one of its error kinds, and that every result keeps
// the promises checkOutput lists. The seed corpus is in
// testdata/fuzz/FuzzSStrip; testdata/README.md says how it was made.
func FuzzSStrip(f *testing.F) {
	f.Add(overlap386(bytes.Repeat([]byte{0xcc}, 71), elf.PF_R|elf.PF_X, 71))
	f.Add(overlap386(append(bytes.Repeat([]byte{0xcc}, 40), make([]byte, 31)...), elf.PF_R|elf.PF_W, 0x1000))
	for _, class := range classes {
		f.Add(staticExec(class).bytes())
		f.Add(compactExec(class).bytes())
		f.Add(staticExec(class).with(func(f *fakeELF) {
			f.segs[2].flags = elf.PF_R
			f.segs[2].memsz = f.segs[2].filesz
		}).bytes())
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		orig := bytes.Clone(in)
		out, err := SStrip(in)
		if !bytes.Equal(in, orig) {
			t.Fatalf("SStrip modified its input")
		}
		if err != nil {
			if out != nil {
				t.Errorf("SStrip returned %d bytes with error %v", len(out), err)
			}
			if !errors.Is(err, ErrNotELF) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrMalformed) {
				t.Errorf("error %q wraps none of ErrNotELF, ErrUnsupported, ErrMalformed", err)
			}
			return
		}
		if err := checkOutput(in, out); err != nil {
			t.Fatal(err)
		}
	})
}

// compactExec returns a small static executable whose segments share file
// pages the way lld packs them, with a writable last segment ending in
// zeros.
func compactExec(class elf.Class) fakeELF {
	f := staticExec(class)
	base := f.segs[0].vaddr
	f.shoff, f.shnum = 0, 0
	f.size = 0x2c0
	f.segs = []fakeSeg{
		{typ: elf.PT_LOAD, flags: elf.PF_R, off: 0, vaddr: base, filesz: 0x180, memsz: 0x180},
		{typ: elf.PT_LOAD, flags: elf.PF_R | elf.PF_X, off: 0x180, vaddr: base + 0x1180, filesz: 0x40, memsz: 0x40},
		{typ: elf.PT_LOAD, flags: elf.PF_R | elf.PF_W, off: 0x1c0, vaddr: base + 0x21c0, filesz: 0x100, memsz: 0x200, zeros: 0xc0},
		{typ: elf.PT_TLS, flags: elf.PF_R, off: 0x1c0, vaddr: base + 0x21c0, filesz: 0x10, memsz: 0x20},
	}
	return f
}

// TestCheckOutput checks that checkOutput, the property FuzzSStrip and
// the other tests rely on, rejects outputs that break it.
func TestCheckOutput(t *testing.T) {
	for _, class := range classes {
		in := staticExec(class).bytes()
		good, err := SStrip(in)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkOutput(in, good); err != nil {
			t.Fatalf("%v: good output rejected: %v", class, err)
		}
		dataOff := staticExec(class).segs[2].off
		tests := []struct {
			name string
			why  string
			out  func() []byte
		}{
			{"input", "section headers left in place", func() []byte { return bytes.Clone(in) }},
			{"longer", "bytes past the last segment", func() []byte { return append(bytes.Clone(good), 0) }},
			{"shorter", "a segment cut", func() []byte { return bytes.Clone(good[:len(good)-1]) }},
			{"changed byte", "a loaded byte that differs", func() []byte {
				b := bytes.Clone(good)
				b[dataOff+1] ^= 1
				return b
			}},
			{"not ELF", "output that does not parse", func() []byte { return bytes.Clone(good[1:]) }},
		}
		for _, tt := range tests {
			t.Run(class.String()+"/"+tt.name, func(t *testing.T) {
				if err := checkOutput(in, tt.out()); err == nil {
					t.Errorf("checkOutput accepted output with %s", tt.why)
				}
			})
		}
	}
}
