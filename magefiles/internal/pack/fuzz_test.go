package pack

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the committed seed corpus under testdata/fuzz")

// fuzzSeeds are the inputs committed under testdata/fuzz/FuzzPack, by
// file name.
func fuzzSeeds() map[string][]byte {
	small64, small32 := exitProgram(elfClass64, 6000), exitProgram(elfClass32, 6000)
	dynamic := clone(small64)
	// Turn PT_GNU_STACK, the third program header, into PT_DYNAMIC.
	copy(dynamic[64+2*56:], []byte{byte(ptDynamic), 0, 0, 0})
	shared := synthetic(elfClass64, emAMD64, etExec, 0x400200, []testSeg{
		{typ: ptLoad, flags: pfR | pfX, off: 0, vaddr: 0x400000, filesz: 0x1800, memsz: 0x1800},
		{typ: ptLoad, flags: pfR | pfW, off: 0x1800, vaddr: 0x401800, filesz: 0x800, memsz: 0x3000},
	}, 0x2000, 0x200, exitCode[elfClass64])
	for i := 0x300; i < len(shared); i++ {
		shared[i] = byte(i / 64)
	}
	return map[string][]byte{
		"amd64-exit":        small64,
		"386-exit":          small32,
		"amd64-exit-et-dyn": setType(small64, etDyn),
		"amd64-truncated":   small64[:100],
		"amd64-dynamic":     dynamic,
		"amd64-shared-page": shared,
		"elf-magic-only":    []byte("\x7fELF"),
	}
}

// TestFuzzSeeds keeps the committed seed corpus equal to fuzzSeeds; -update
// rewrites it.
func TestFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzPack")
	for name, bin := range fuzzSeeds() {
		want := []byte("go test fuzz v1\n[]byte(" + strconv.Quote(string(bin)) + ")\n")
		path := filepath.Join(dir, name)
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v; run go test -run TestFuzzSeeds -update", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from fuzzSeeds; run go test -run TestFuzzSeeds -update", path)
		}
	}
}

// FuzzPack checks that the packer never panics, fails only with its
// sentinels, and returns a smaller ELF file when it succeeds. It packs with
// the quick options, whose search still ranks three branch filters with
// estimates: Pack's full search takes longer per input than the fuzzing
// engine waits under coverage instrumentation on a busy machine.
func FuzzPack(f *testing.F) {
	f.Fuzz(func(t *testing.T, bin []byte) {
		in := clone(bin)
		out, info, err := pack(context.Background(), bin, quick)
		if !bytes.Equal(in, bin) {
			t.Fatal("Pack modified its input")
		}
		if err != nil {
			if !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNoGain) {
				t.Fatalf("error %v wraps none of the sentinels", err)
			}
			return
		}
		if len(out) >= len(bin) || info.Packed != len(out) || info.Unpacked != len(bin) {
			t.Fatalf("packed %d bytes into %d (Info says %d into %d)", len(bin), len(out), info.Unpacked, info.Packed)
		}
		f, err := elf.NewFile(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("the packed file is not ELF: %v", err)
		}
		if got := fmt.Sprint(f.Type); got != "ET_EXEC" {
			t.Errorf("the packed file is %s, want ET_EXEC", got)
		}
	})
}
