package toolchain

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/minimalbuild/minimal/magefiles/internal/run"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// The extensions of assembly sources: GAS syntax, assembled by zig (.S through the C
// preprocessor first), and NASM syntax, assembled by nasm.
var (
	gasExts  = manifest.GASExts
	nasmExts = manifest.NASMExts
	asmExts  = manifest.SourceExts(manifest.LangAsm)
)

// asmStripLinkFlags are the ld.lld flags the strip pass adds to an assembly link; it
// also adds discardComment (19 bytes of "Linker: LLD" and its section header), and
// asmNMagic when that is safe. On hello-asm with zig 0.11.0, linux/amd64 and linux/386,
// they take the link from 664 / 456 bytes to 464 / 324, what GNU ld -n makes
// (408 / 324 with asmAMD64LinkFlags):
//
//   - -s: no symbol table.
//   - --no-rosegment: read-only data shares the code's segment, as GNU ld lays it out,
//     rather than a segment of its own (56 / 32 bytes when -n does not apply).
//
// On linux/amd64 it also adds asmAMD64LinkFlags. Left out: -N, which makes the one
// segment writable as well as executable.
var asmStripLinkFlags = []string{"-s", "--no-rosegment"}

// asmAMD64LinkFlags are the strip pass's further ld.lld flags for linux/amd64:
// -z nognustack leaves out the PT_GNU_STACK program header (56 bytes; hello-asm is then
// 193 bytes after sstrip, where nasm + GNU ld -n + sstrip make 201). Since Linux 5.8 an
// x86-64 program without that header gets a stack and data that are not executable, as
// with it; older kernels make them executable. A 386 program keeps the header on every
// kernel: without it Linux makes its stack, and all the memory it can read, executable.
// Its bytes are found elsewhere: a 386 result with one loadable segment is laid out
// anew by compact386, 20 bytes shorter (hello-asm is 167 bytes, where nasm + GNU ld -n
// + sstrip make 199 with the header and 167 without it).
var asmAMD64LinkFlags = []string{"-z", "nognustack"}

// asmNMagic is ld.lld's -n: sections are not page-aligned, so the ELF and program
// headers are not loaded and the file has no padding (112 / 64 bytes on hello-asm).
// It is only safe when the result has one loadable segment: with -n a writable segment
// starts in the page where the code ends, and mapping it takes execute permission
// from the end of the code. A link with -n whose result has more than one loadable
// segment is done again without it; a linux/386 one whose result has one is done
// again at a lower image base and laid out by compact386 (see compactLink).
const asmNMagic = "-n"

// asmBuilder builds assembly apps: GAS sources with zig, NASM sources with nasm, linked
// with zig's ld.lld, or taken as they are for output: flat.
type asmBuilder struct {
	zig func(ctx context.Context) (*ZigTool, error)
}

var _ Builder = (*asmBuilder)(nil)

// Asm returns the Builder for assembly apps. Each source is assembled on its own: .S
// and .s by `zig cc -c` (.S through the C preprocessor, so include and defines apply),
// .asm and .nasm by Debian's nasm on PATH (`apt-get install nasm`). For output elf the
// objects are linked by `zig ld.lld` into a static executable whose entry point is
// _start; for output flat the one source writes its own ELF headers and its assembled
// bytes are the executable, checked before they are written. zig is resolved with zig
// only when a GAS source or a link needs it. The strip pass adds asmStripLinkFlags, and
// on linux/386 lays a program with one loadable segment out with its program headers
// over its ELF header and without section headers (compact386).
//
// Flags go to every assembler run; ldflags go to ld.lld, and since they are written for
// zig cc, -Wl,a,b passes a and b and -Xlinker a passes a. zig runs in /, nasm in the
// repository root.
func Asm(zig func(ctx context.Context) (*ZigTool, error)) Builder {
	return &asmBuilder{zig: zig}
}

// Build implements Builder.
func (b *asmBuilder) Build(ctx context.Context, spec manifest.Spec, out string) error {
	if err := b.build(ctx, spec, out); err != nil {
		return fmt.Errorf("building %s for %s: %w", spec.App, spec.Platform, err)
	}
	return nil
}

func (b *asmBuilder) build(ctx context.Context, spec manifest.Spec, out string) error {
	if spec.Lang != manifest.LangAsm {
		return fmt.Errorf("the assembly builder cannot build lang %q", spec.Lang)
	}
	t, err := Lookup(spec.Platform)
	if err != nil {
		return err
	}
	srcs, err := sourceFiles(spec.Src, asmExts, nil)
	if err != nil {
		return err
	}
	switch spec.Output {
	case manifest.OutputFlat:
		if len(srcs) != 1 {
			return fmt.Errorf("output flat takes one source file, got %d: %s", len(srcs), strings.Join(srcs, ", "))
		}
		return buildInto(out, func(dir string) (string, error) { return b.flat(ctx, spec, t, srcs[0], dir) })
	case manifest.OutputELF, "":
		return buildInto(out, func(dir string) (string, error) { return b.elf(ctx, spec, t, srcs, dir) })
	}
	return fmt.Errorf("unknown output %q: want %s or %s", spec.Output, manifest.OutputELF, manifest.OutputFlat)
}

// elf assembles srcs into objects in dir and links them; it returns the executable.
func (b *asmBuilder) elf(ctx context.Context, spec manifest.Spec, t Target, srcs []string, dir string) (string, error) {
	objs := make([]string, len(srcs))
	for i, src := range srcs {
		objs[i] = filepath.Join(dir, fmt.Sprintf("%d-%s.o", i, filepath.Base(src)))
		if err := b.assemble(ctx, spec, t, src, objs[i], t.NASM); err != nil {
			return "", err
		}
	}
	z, err := b.zig(ctx)
	if err != nil {
		return "", err
	}
	if err := writeDiscardComment(dir, spec); err != nil {
		return "", err
	}
	exe := filepath.Join(dir, "exe")
	link := func(l layout) error {
		_, err := run.Output(ctx, run.Cmd{
			Args: append([]string{z.Path()}, linkArgs(spec, t, objs, dir, exe, l)...),
			Dir:  zigDir,
			Env:  zigEnv(z, spec),
		})
		return err
	}
	if !strips(spec) {
		if err := link(layout{}); err != nil {
			return "", err
		}
		return exe, checkExecutableFile(exe, t)
	}
	if err := link(layout{nmagic: true}); err != nil {
		return "", err
	}
	n, err := loadSegments(exe)
	if err != nil {
		return "", err
	}
	if n > 1 {
		if err := link(layout{}); err != nil {
			return "", err
		}
		return exe, checkExecutableFile(exe, t)
	}
	if t.Machine == elf.EM_386 {
		if err := compactLink(exe, func(base uint32) error { return link(layout{nmagic: true, imageBase: base}) }); err != nil {
			return "", err
		}
	}
	return exe, checkExecutableFile(exe, t)
}

// compactLink lays out exe, the result of a link with -n, in the compact layout of
// compact386 when it has that shape: it links again with relink, at the image base
// compactBase says, and rewrites that result. It leaves exe as the
// first link made it when the shape is not right or when the second link does not put
// the segment where compact386 needs it (ldflags that place it themselves win).
func compactLink(exe string, relink func(imageBase uint32) error) error {
	data, err := os.ReadFile(exe)
	if err != nil {
		return err
	}
	base, err := compactBase(data)
	if errors.Is(err, errNotCompact) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := relink(base); err != nil {
		return err
	}
	moved, err := os.ReadFile(exe)
	if err != nil {
		return err
	}
	out, err := compact386(moved)
	if errors.Is(err, errNotCompact) {
		return os.WriteFile(exe, data, 0o755)
	}
	if err != nil {
		return err
	}
	return os.WriteFile(exe, out, 0o755)
}

// flat assembles src into the executable itself; it returns the executable.
func (b *asmBuilder) flat(ctx context.Context, spec manifest.Spec, t Target, src, dir string) (string, error) {
	exe := filepath.Join(dir, "exe")
	if isNASM(src) {
		if err := b.assemble(ctx, spec, t, src, exe, "bin"); err != nil {
			return "", err
		}
	} else {
		obj := filepath.Join(dir, filepath.Base(src)+".o")
		if err := b.assemble(ctx, spec, t, src, obj, ""); err != nil {
			return "", err
		}
		data, err := os.ReadFile(obj)
		if err != nil {
			return "", err
		}
		prog, err := flatBytes(data)
		if err != nil {
			return "", fmt.Errorf("output flat: %w", err)
		}
		if err := os.WriteFile(exe, prog, 0o755); err != nil {
			return "", err
		}
	}
	if err := checkExecutableFile(exe, t); err != nil {
		return "", fmt.Errorf("output flat: %w", err)
	}
	return exe, nil
}

// assemble turns src into out: with nasm in nasmFormat for a NASM source, else with
// zig cc -c.
func (b *asmBuilder) assemble(ctx context.Context, spec manifest.Spec, t Target, src, out, nasmFormat string) error {
	if isNASM(src) {
		env := asmEnv(spec)
		nasm, err := nasmPath(env)
		if err != nil {
			return err
		}
		_, err = run.Output(ctx, run.Cmd{
			Args: append([]string{nasm}, nasmArgs(spec, nasmFormat, src, out)...),
			Dir:  workDir(spec, filepath.Dir(out)),
			Env:  env,
		})
		return err
	}
	z, err := b.zig(ctx)
	if err != nil {
		return err
	}
	_, err = run.Output(ctx, run.Cmd{
		Args: append([]string{z.Path()}, gasArgs(spec, t, src, out)...),
		Dir:  zigDir,
		Env:  zigEnv(z, spec),
	})
	return err
}

// isNASM reports whether src is in NASM syntax, by its extension.
func isNASM(src string) bool { return slices.Contains(nasmExts, filepath.Ext(src)) }

// gasArgs returns the zig argv that assembles the GAS source src into the object obj.
func gasArgs(spec manifest.Spec, t Target, src, obj string) []string {
	args := []string{"cc", "-target", t.Zig, "-c"}
	args = append(args, prefixMap(spec)...)
	args = append(args, includeFlags(spec)...)
	args = append(args, defineFlags(spec)...)
	args = append(args, spec.Flags...)
	return append(args, src, "-o", obj)
}

// nasmArgs returns the nasm argv, without nasm itself, that assembles src into out in
// format (elf64, elf32, or bin). A source under the repository root is named by its
// relative path, which is what nasm records in the object.
func nasmArgs(spec manifest.Spec, format, src, out string) []string {
	args := []string{"-f", format}
	for _, dir := range spec.Include {
		args = append(args, "-I"+strings.TrimSuffix(dir, string(filepath.Separator))+string(filepath.Separator))
	}
	args = append(args, defineFlags(spec)...)
	args = append(args, spec.Flags...)
	if rel, err := filepath.Rel(spec.Root, src); spec.Root != "" && err == nil && filepath.IsLocal(rel) {
		src = rel
	}
	return append(args, "-o", out, src)
}

// layout is how ld.lld lays out an assembly link that strips.
type layout struct {
	nmagic    bool   // with asmNMagic
	imageBase uint32 // with --image-base, unless zero
}

// linkArgs returns the zig argv that links objs into out for spec on t, laid out as l
// says when spec strips. dir holds discardCommentFile.
func linkArgs(spec manifest.Spec, t Target, objs []string, dir, out string, l layout) []string {
	args := []string{"ld.lld", "-m", lldEmulation(t), "-static"}
	if strips(spec) {
		args = append(args, asmStripLinkFlags...)
		if t.Machine == elf.EM_X86_64 {
			args = append(args, asmAMD64LinkFlags...)
		}
		args = append(args, "-T", filepath.Join(dir, discardCommentFile))
		if l.nmagic {
			args = append(args, asmNMagic)
		}
		if l.imageBase != 0 {
			args = append(args, fmt.Sprintf("--image-base=%#x", l.imageBase))
		}
	}
	args = append(args, lldFlags(spec.Ldflags)...)
	args = append(args, objs...)
	return append(args, "-o", out)
}

// lldEmulation returns ld.lld's -m emulation for t.
func lldEmulation(t Target) string {
	if t.Machine == elf.EM_386 {
		return "elf_i386"
	}
	return "elf_x86_64"
}

// lldFlags turns ldflags written for zig cc into ld.lld arguments: -Wl,a,b becomes a b,
// -Xlinker a becomes a, and any other flag stays as it is.
func lldFlags(ldflags []string) []string {
	var args []string
	for i := 0; i < len(ldflags); i++ {
		switch f := ldflags[i]; {
		case strings.HasPrefix(f, "-Wl,"):
			args = append(args, strings.Split(strings.TrimPrefix(f, "-Wl,"), ",")...)
		case f == "-Xlinker" && i+1 < len(ldflags):
			i++
			args = append(args, ldflags[i])
		default:
			args = append(args, f)
		}
	}
	return args
}

// asmEnv returns the environment nasm runs with: this process's, then the app's own.
func asmEnv(spec manifest.Spec) []string {
	env := os.Environ()
	for _, k := range sortedKeys(spec.Env) {
		env = append(env, k+"="+spec.Env[k])
	}
	return env
}

// nasmPath returns the path of nasm on env's PATH, or an error that says how to
// install it.
func nasmPath(env []string) (string, error) {
	var path string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v // the last one wins, as in exec
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue
		}
		if p, err := exec.LookPath(filepath.Join(dir, "nasm")); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("nasm is not on PATH (%w): install nasm: apt-get install nasm", exec.ErrNotFound)
}

// loadSegments returns the number of PT_LOAD segments of the ELF file at path.
func loadSegments(path string) (int, error) {
	f, err := elf.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			n++
		}
	}
	return n, nil
}
