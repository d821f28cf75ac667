package shrink

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"testing"
)

func TestPackNoGain(t *testing.T) {
	// A 256-byte program: the packer's stub alone is larger.
	exe := staticExec(elf.ELFCLASS64).with(func(f *fakeELF) {
		f.shoff, f.shnum, f.size = 0, 0, 0x100
		f.segs = []fakeSeg{{typ: elf.PT_LOAD, flags: elf.PF_R | elf.PF_X, off: 0, vaddr: 0x400000, filesz: 0x100, memsz: 0x100}}
	}).bytes()
	_, err := Apply(context.Background(), "pack", exe)
	if !errors.Is(err, ErrNoGain) {
		t.Fatalf("Apply(pack) on a %d-byte program: error = %v, want one wrapping ErrNoGain", len(exe), err)
	}
	out, steps, err := Run(t.Context(), exe, []string{"pack"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, exe) || len(steps) != 1 || !steps[0].NoGain || steps[0].Skipped == "" || steps[0].After != steps[0].Before {
		t.Errorf("Run kept %d bytes with steps %+v; want the input kept and the pass marked skipped", len(out), steps)
	}
}
