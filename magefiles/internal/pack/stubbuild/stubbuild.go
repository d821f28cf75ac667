// Package stubbuild rebuilds the packer's start-up stubs from their C and assembly
// sources with the pinned zig. It is a developer tool, run as `go tool mage stubs`, whose
// output is committed: the pack package embeds the stubs and never builds them, so it
// does not depend on the toolchain.
package stubbuild

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/minimalbuild/minimal/magefiles/internal/files"
	"github.com/minimalbuild/minimal/magefiles/internal/toolchain"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// stubTarget is how one stub is built.
type stubTarget struct {
	arch  string   // GOARCH, in the file name stub_<arch>.bin
	zig   []string // -target and -mcpu for zig cc
	start string   // the entry and system call glue
}

var stubTargets = []stubTarget{
	{arch: "amd64", zig: []string{"-target", "x86_64-linux-musl"}, start: "start_x86_64.S"},
	// i686 keeps the 386 stub free of SSE, like the oldest CPUs Go's
	// GO386=softfloat and gcc -m32 programs still run on.
	{arch: "386", zig: []string{"-target", "x86-linux-musl", "-mcpu=i686"}, start: "start_i386.S"},
}

// Variants are the stubs built for every architecture, named as in FileName: the plain
// stub, and "pc", which also undoes the pc-table filters and on 386 decodes the most
// frequent bits in place, faster and larger; it is used only for the programs whose
// streams need it (Go programs), so that the others do not carry its code.
var Variants = []Variant{{}, {Name: "pc", Defines: []string{"-DPC_TABLES", "-DLZ_INLINE_HOT_BITS"}}}

// Variant is one build of the stub's sources.
type Variant struct {
	Name    string   // in the file name; empty for the plain stub
	Defines []string // preprocessor flags
}

// stubFlags are the zig cc flags for every stub: small code without the C
// library, position-independent, no stack protector (there is no thread
// pointer yet), no vector code, no unwind tables, build ID or paths, so that
// the bytes depend only on the sources and the zig version.
var stubFlags = []string{
	"-Os", "-fno-lto", "-ffreestanding", "-nostdlib", "-static", "-no-pie", "-fPIE",
	"-fvisibility=hidden", "-fno-stack-protector", "-fno-asynchronous-unwind-tables",
	"-fno-unwind-tables", "-fno-vectorize", "-fno-slp-vectorize", "-g0",
	"-Wl,--build-id=none",
}

// stubBases are two load addresses the stub is linked at: the bytes must
// be the same at both, which proves the stub position-independent.
var stubBases = []uint64{0x10000, 0x230000}

// Dir is the directory, relative to the repository's root, that holds the stubs'
// sources and the stub_<arch>.bin files the pack package embeds.
const Dir = "magefiles/internal/pack/stub"

// Rebuild resolves the pinned zig (manifest.DefaultZig) as a build does and rebuilds the
// stubs in root's Dir with Build.
func Rebuild(ctx context.Context, root string) error {
	zig, err := toolchain.Zig(ctx, manifest.DefaultZig)
	if err != nil {
		return err
	}
	return Build(ctx, zig, filepath.Join(root, filepath.FromSlash(Dir)))
}

// Build compiles every variant of the stub of every architecture from the sources in dir
// with zig and writes their bytes beside them under FileName (stub_amd64.bin,
// stub_amd64_pc.bin, ...), the files the pack package embeds. It links each stub at two addresses and fails unless the bytes are
// the same, so a stub that is not position-independent is never written.
func Build(ctx context.Context, zig *toolchain.ZigTool, dir string) error {
	bins, err := Stubs(ctx, zig, dir)
	if err != nil {
		return err
	}
	for name, b := range bins {
		if err := files.WriteAtomic(filepath.Join(dir, name), b, 0o644); err != nil {
			return fmt.Errorf("writing the stub: %w", err)
		}
	}
	return nil
}

// FileName is the name of the file that holds the stub for arch, a GOARCH, in the
// variant of that name (see Variants).
func FileName(arch, variant string) string {
	if variant != "" {
		arch += "_" + variant
	}
	return "stub_" + arch + ".bin"
}

// Stubs compiles every variant of the stub of every architecture from the sources in
// dir with zig and returns them by FileName, writing nothing in dir.
func Stubs(ctx context.Context, zig *toolchain.ZigTool, dir string) (map[string][]byte, error) {
	tmp, err := os.MkdirTemp("", "minimal-stub-")
	if err != nil {
		return nil, fmt.Errorf("building the stubs: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.CopyFS(tmp, os.DirFS(dir)); err != nil {
		return nil, fmt.Errorf("building the stubs: %w", err)
	}
	script, err := os.ReadFile(filepath.Join(tmp, "stub.ld"))
	if err != nil {
		return nil, fmt.Errorf("building the stubs: %w", err)
	}

	bins := map[string][]byte{}
	for _, t := range stubTargets {
		for _, v := range Variants {
			b, err := stub(ctx, zig, tmp, string(script), t, v)
			if err != nil {
				return nil, fmt.Errorf("building the %s stub: %w", strings.TrimSuffix(t.arch+" "+v.Name, " "), err)
			}
			bins[FileName(t.arch, v.Name)] = b
		}
	}
	return bins, nil
}

// stub compiles one variant of the stub of one architecture in tmp, a copy of the
// sources, at every one of stubBases, and returns its bytes if they are the same at
// all of them.
func stub(ctx context.Context, zig *toolchain.ZigTool, tmp, script string, t stubTarget, v Variant) ([]byte, error) {
	var first []byte
	for _, base := range stubBases {
		ld := fmt.Sprintf("stub-%#x.ld", base)
		text := strings.ReplaceAll(script, "STUB_BASE", fmt.Sprintf("%#x", base))
		if err := os.WriteFile(filepath.Join(tmp, ld), []byte(text), 0o644); err != nil {
			return nil, err
		}
		out := fmt.Sprintf("stub-%s-%s-%#x", t.arch, v.Name, base)
		args := append([]string{"cc"}, t.zig...)
		args = append(args, stubFlags...)
		args = append(args, v.Defines...)
		args = append(args, "-ffile-prefix-map="+tmp+"=.", "-Wl,-T,"+ld, "-o", out, t.start, "stub.c")
		cmd := zig.Command(ctx, args...)
		cmd.Dir = tmp
		if msg, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("zig %s: %w\n%s", strings.Join(args, " "), err, msg)
		}
		b, err := stubImage(filepath.Join(tmp, out), base)
		if err != nil {
			return nil, err
		}
		if first == nil {
			first = b
		} else if !bytes.Equal(first, b) {
			return nil, errors.New("its bytes depend on its address: it is not position-independent")
		}
	}
	return first, nil
}

// stubImage returns the bytes of a linked stub from its entry point, which
// must be the start of its only PT_LOAD segment, to stub_end.
func stubImage(name string, base uint64) ([]byte, error) {
	f, err := elf.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var load *elf.Prog
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			if load != nil {
				return nil, errors.New("the stub has more than one PT_LOAD segment")
			}
			load = p
		}
	}
	if load == nil || load.Vaddr != base || f.Entry != base {
		return nil, fmt.Errorf("the stub does not start with _start at %#x", base)
	}
	if load.Flags&elf.PF_W != 0 || load.Filesz != load.Memsz {
		return nil, errors.New("the stub has writable data")
	}
	// The stub must not load addresses from a global offset table: the
	// table is not part of the image. 386 code computes the table's
	// address to reach its data, which is fine; only the reserved entries
	// may exist.
	for _, s := range f.Sections {
		if (s.Name == ".got" && s.Size > 0) || (s.Name == ".got.plt" && s.Size > 3*uint64(f.Class)*4) {
			return nil, fmt.Errorf("the stub uses its global offset table (%s, %d bytes)", s.Name, s.Size)
		}
	}
	syms, err := f.Symbols()
	if err != nil {
		return nil, err
	}
	end := uint64(0)
	for _, s := range syms {
		if s.Name == "stub_end" {
			end = s.Value
		}
	}
	if end <= base || end-base > load.Filesz {
		return nil, errors.New("the stub has no stub_end inside its segment")
	}
	b := make([]byte, end-base)
	if _, err := load.ReadAt(b, 0); err != nil {
		return nil, err
	}
	return b, nil
}
