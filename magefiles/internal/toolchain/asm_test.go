package toolchain

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/minimalbuild/minimal/magefiles/internal/run"
	"github.com/minimalbuild/minimal/magefiles/internal/testenv"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

func TestLinkArgs(t *testing.T) {
	amd, _ := Lookup(linuxAMD64)
	x86, _ := Lookup(linux386)
	objs := []string{"/w/0-a.S.o", "/w/1-b.asm.o"}
	tests := []struct {
		name   string
		spec   manifest.Spec
		t      Target
		layout layout
		want   []string
	}{
		{
			name: "strip with -n: the smallest layout, for a result with one segment",
			spec: manifest.Spec{Fields: manifest.Fields{Shrink: []string{"strip"}}}, t: amd, layout: layout{nmagic: true},
			want: []string{"ld.lld", "-m", "elf_x86_64", "-static", "-s", "--no-rosegment", "-z", "nognustack", "-T", "/w/discard-comment.ld", "-n", "/w/0-a.S.o", "/w/1-b.asm.o", "-o", "/w/exe"},
		},
		{
			name: "strip without -n: the relink of a result with a writable segment",
			spec: manifest.Spec{Fields: manifest.Fields{Shrink: []string{"strip"}}}, t: x86,
			want: []string{"ld.lld", "-m", "elf_i386", "-static", "-s", "--no-rosegment", "-T", "/w/discard-comment.ld", "/w/0-a.S.o", "/w/1-b.asm.o", "-o", "/w/exe"},
		},
		{
			name: "strip with -n at a lower image base: the relink for the compact 386 layout",
			spec: manifest.Spec{Fields: manifest.Fields{Shrink: []string{"strip"}}}, t: x86, layout: layout{nmagic: true, imageBase: 0x3fffec},
			want: []string{"ld.lld", "-m", "elf_i386", "-static", "-s", "--no-rosegment", "-T", "/w/discard-comment.ld", "-n", "--image-base=0x3fffec", "/w/0-a.S.o", "/w/1-b.asm.o", "-o", "/w/exe"},
		},
		{
			name: "no strip: lld's defaults, and the layout means nothing",
			spec: manifest.Spec{Fields: manifest.Fields{Shrink: []string{}}}, t: amd, layout: layout{nmagic: true, imageBase: 0x3fffec},
			want: []string{"ld.lld", "-m", "elf_x86_64", "-static", "/w/0-a.S.o", "/w/1-b.asm.o", "-o", "/w/exe"},
		},
		{
			name: "ldflags written for zig cc reach lld after ours, so they win",
			spec: manifest.Spec{Fields: manifest.Fields{Ldflags: []string{"-Wl,-z,relro", "-Xlinker", "--entry=main", "--gc-sections"}}}, t: amd,
			want: []string{"ld.lld", "-m", "elf_x86_64", "-static", "-z", "relro", "--entry=main", "--gc-sections", "/w/0-a.S.o", "/w/1-b.asm.o", "-o", "/w/exe"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, linkArgs(tt.spec, tt.t, objs, "/w", "/w/exe", tt.layout)); diff != "" {
				t.Errorf("linkArgs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAssemblerArgs(t *testing.T) {
	x86, _ := Lookup(linux386)
	spec := manifest.Spec{Root: "/r", Fields: manifest.Fields{
		Include: []string{"/r/inc", "/r/more/"},
		Defines: map[string]string{"N": "3", "DEBUG": ""},
		Flags:   []string{"-Wall"},
	}}
	t.Run("GAS goes through zig cc -c with the preprocessor's flags", func(t *testing.T) {
		want := []string{"cc", "-target", "x86-linux-musl", "-c", "-ffile-prefix-map=/r=.", "-I/r/inc", "-I/r/more/", "-DDEBUG", "-DN=3", "-Wall", "/r/a/i386.S", "-o", "/w/0-i386.S.o"}
		if diff := cmp.Diff(want, gasArgs(spec, x86, "/r/a/i386.S", "/w/0-i386.S.o")); diff != "" {
			t.Errorf("gasArgs (-want +got):\n%s", diff)
		}
	})
	t.Run("nasm gets include dirs ending in a slash and the source relative to the root", func(t *testing.T) {
		want := []string{"-f", "elf32", "-I/r/inc/", "-I/r/more/", "-DDEBUG", "-DN=3", "-Wall", "-o", "/w/0-i386.asm.o", "a/i386.asm"}
		if diff := cmp.Diff(want, nasmArgs(spec, x86.NASM, "/r/a/i386.asm", "/w/0-i386.asm.o")); diff != "" {
			t.Errorf("nasmArgs (-want +got):\n%s", diff)
		}
	})
	t.Run("nasm keeps a source outside the root absolute", func(t *testing.T) {
		got := nasmArgs(spec, "bin", "/elsewhere/t.asm", "/w/exe")
		if diff := cmp.Diff([]string{"-o", "/w/exe", "/elsewhere/t.asm"}, got[len(got)-3:]); diff != "" {
			t.Errorf("nasmArgs tail (-want +got):\n%s", diff)
		}
	})
}

func TestLLDFlags(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{name: "-Wl, splits at commas", in: []string{"-Wl,-z,max-page-size=4096"}, want: []string{"-z", "max-page-size=4096"}},
		{name: "-Xlinker passes its argument", in: []string{"-Xlinker", "-Map=m"}, want: []string{"-Map=m"}},
		{name: "a trailing -Xlinker stays, for lld to reject", in: []string{"-Xlinker"}, want: []string{"-Xlinker"}},
		{name: "plain linker flags pass unchanged", in: []string{"--gc-sections", "-s"}, want: []string{"--gc-sections", "-s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, lldFlags(tt.in)); diff != "" {
				t.Errorf("lldFlags (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAsmBuildErrorsWithoutZig(t *testing.T) {
	root := examplesRoot(t)
	testdata, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	noNASM := t.TempDir() // a PATH without nasm
	tests := []struct {
		name    string
		spec    manifest.Spec
		wantErr []string
		wantIs  error
	}{
		{
			name:    "nasm missing from PATH says how to install it",
			spec:    appSpec("nasm-hello", linuxAMD64, testdata, manifest.Fields{Lang: "asm", Src: []string{"nasm-hello/x86_64.asm"}, Output: "elf", Env: map[string]string{"PATH": noNASM}}),
			wantErr: []string{"building nasm-hello for linux/amd64", "install nasm: apt-get install nasm"},
			wantIs:  exec.ErrNotFound,
		},
		{
			name:    "a flat program is one source",
			spec:    appSpec("teensy", linux386, root, manifest.Fields{Lang: "asm", Src: []string{"apps/teensy"}, Output: "flat"}),
			wantErr: []string{"building teensy for linux/386: output flat takes one source file, got 2"},
		},
		{
			name:    "a C app is not the assembly builder's",
			spec:    appSpec("hello-c", linux386, root, manifest.Fields{Lang: "c", Src: []string{"apps/hello-c"}}),
			wantErr: []string{`building hello-c for linux/386: the assembly builder cannot build lang "c"`},
		},
		{
			name:    "an unsupported platform names the supported ones",
			spec:    appSpec("hello-asm", manifest.Platform{OS: "linux", Arch: "arm64"}, root, manifest.Fields{Lang: "asm", Src: []string{"apps/hello-asm/x86_64.S"}}),
			wantErr: []string{"building hello-asm for linux/arm64: unsupported platform"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "bin")
			err := Asm(noZig(t)).Build(t.Context(), tt.spec, out)
			if err == nil {
				t.Fatal("the build succeeded")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v does not wrap %v", err, tt.wantIs)
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a failed build wrote its output: %v", err)
			}
		})
	}
}

func TestAsmExamples(t *testing.T) {
	z := realZig(t)
	root := examplesRoot(t)
	tests := []struct {
		app    string
		output string
		src    map[string]string // per arch
		stdout string
	}{
		{app: "hello-asm", output: "elf", src: map[string]string{"amd64": "apps/hello-asm/x86_64.S", "386": "apps/hello-asm/i386.S"}, stdout: "hello from a minimal scratch container!\n"},
		{app: "teensy", output: "flat", src: map[string]string{"amd64": "apps/teensy/x86_64.S", "386": "apps/teensy/i386.S"}, stdout: "Hi minimal scratch! ELF\n"},
	}
	for _, tt := range tests {
		for _, p := range []manifest.Platform{linuxAMD64, linux386} {
			t.Run(tt.app+"/"+p.Arch, func(t *testing.T) {
				// The strip default: [strip] for elf, [] for flat.
				shrink := []string{"strip"}
				if tt.output == "flat" {
					shrink = []string{}
				}
				spec := appSpec(tt.app, p, root, manifest.Fields{Lang: "asm", Src: []string{tt.src[p.Arch]}, Output: tt.output, Shrink: shrink})
				bin := filepath.Join(t.TempDir(), tt.app)
				if err := Asm(fixedZig(z)).Build(t.Context(), spec, bin); err != nil {
					t.Fatal(err)
				}
				if got := runLimited(t, bin); got != tt.stdout {
					t.Errorf("stdout %q, want %q", got, tt.stdout)
				}
				checkSize(t, tt.app, p, bin)
				if tt.output == "elf" {
					checkStackHeader(t, p, bin)
				}
			})
		}
	}
}

// checkStackHeader checks that the program at bin has a PT_GNU_STACK header without
// PF_X on linux/386, where Linux would otherwise make its stack and all the memory it
// can read executable, and none on linux/amd64, where the strip pass leaves it out.
func checkStackHeader(t *testing.T, p manifest.Platform, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stack []elf.ProgFlag
	for _, ph := range f.Progs {
		if ph.Type == elf.PT_GNU_STACK {
			stack = append(stack, ph.Flags)
		}
	}
	switch {
	case p.Arch == "386" && (len(stack) != 1 || stack[0] != elf.PF_R|elf.PF_W):
		t.Errorf("386 PT_GNU_STACK headers %v, want one with PF_R+PF_W", stack)
	case p.Arch == "amd64" && len(stack) != 0:
		t.Errorf("amd64 PT_GNU_STACK headers %v, want none", stack)
	}
}

// TestAsmCompactLayout builds hello-asm for linux/386 with the strip pass: it comes out
// in the compact layout, its program headers over its ELF header, unless ldflags
// place the segment themselves, when the link made with -n is kept. Both run.
func TestAsmCompactLayout(t *testing.T) {
	z := realZig(t)
	root := examplesRoot(t)
	tests := []struct {
		name      string
		ldflags   []string
		wantPhoff uint64
		wantSize  int
	}{
		{name: "compact", wantPhoff: compactPhoff, wantSize: 167},
		// 52 + 2 × 32 bytes of headers, 71 of code, then the section names and headers.
		{name: "ldflags that set the image base win", ldflags: []string{"-Wl,--image-base=0x8048000"}, wantPhoff: elf32HeaderSize, wantSize: 324},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := appSpec("hello-asm", linux386, root, manifest.Fields{Lang: "asm", Src: []string{"apps/hello-asm/i386.S"}, Output: "elf", Ldflags: tt.ldflags})
			bin := filepath.Join(t.TempDir(), "hello-asm")
			if err := Asm(fixedZig(z)).Build(t.Context(), spec, bin); err != nil {
				t.Fatal(err)
			}
			if got, want := runLimited(t, bin), "hello from a minimal scratch container!\n"; got != want {
				t.Errorf("stdout %q, want %q", got, want)
			}
			data, err := os.ReadFile(bin)
			if err != nil {
				t.Fatal(err)
			}
			phoff := uint64(binary.LittleEndian.Uint32(data[28:])) // checked to be an ELF32 executable
			if phoff != tt.wantPhoff || len(data) != tt.wantSize {
				t.Errorf("e_phoff %d and %d bytes, want %d and %d", phoff, len(data), tt.wantPhoff, tt.wantSize)
			}
			checkStackHeader(t, linux386, bin)
		})
	}
}

// asmWithData is a GAS program for linux/amd64 that writes to its data segment: with
// -n that segment would share a page with the code and take its execute permission.
const asmWithData = `	.globl _start
	.text
_start:
	incl	counter(%rip)
	mov	$1, %eax
	mov	$1, %edi
	lea	msg(%rip), %rsi
	mov	$len, %edx
	syscall
	mov	counter(%rip), %edi
	mov	$60, %eax
	syscall
	.data
msg:	.ascii "data\n"
	.set len, . - msg
counter: .long 41
	.section .note.GNU-stack, "", @progbits
`

func TestAsmWithWritableDataRunsAfterStrip(t *testing.T) {
	z := realZig(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "data.S")
	if err := os.WriteFile(src, []byte(asmWithData), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := manifest.Spec{App: "data", Platform: linuxAMD64, Fields: manifest.Fields{Lang: "asm", Src: []string{src}, Output: "elf", Shrink: []string{"strip"}}}
	bin := filepath.Join(dir, "data")
	if err := Asm(fixedZig(z)).Build(t.Context(), spec, bin); err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var loads []string
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			loads = append(loads, p.Flags.String())
			if p.Align < pageSize {
				t.Errorf("segment %v is aligned to %d bytes, want pages", p.Flags, p.Align)
			}
		}
	}
	if diff := cmp.Diff([]string{"PF_X+PF_R", "PF_W+PF_R"}, loads); diff != "" {
		t.Errorf("loadable segments (-want +got):\n%s", diff)
	}
	cmd := exec.CommandContext(t.Context(), bin)
	out, err := cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 42 || string(out) != "data\n" {
		t.Errorf("it printed %q and ended with %v, want \"data\\n\" and exit status 42", out, err)
	}
}

func TestAsmBuildErrors(t *testing.T) {
	z := realZig(t)
	root := examplesRoot(t)
	testdata, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		spec    manifest.Spec
		wantErr []string
		tool    bool // the error is the assembler's, with its exit status
	}{
		{
			name:    "amd64 source built for 386 gives the assembler's error",
			spec:    appSpec("hello-asm", linux386, root, manifest.Fields{Lang: "asm", Src: []string{"apps/hello-asm/x86_64.S"}, Output: "elf"}),
			wantErr: []string{"building hello-asm for linux/386", "x86_64.S", "error: register %rip is only available in 64-bit mode"},
			tool:    true,
		},
		{
			name:    "flat bytes that are not ELF",
			spec:    appSpec("bad", linuxAMD64, testdata, manifest.Fields{Lang: "asm", Src: []string{"bad/flat-not-elf.S"}, Output: "flat"}),
			wantErr: []string{"building bad for linux/amd64: output flat: the result is not an executable for linux/amd64: not an ELF file: bad magic number"},
		},
		{
			name:    "a flat program that needs a linker",
			spec:    appSpec("bad", linuxAMD64, testdata, manifest.Fields{Lang: "asm", Src: []string{"bad/flat-relocs.S"}, Output: "flat"}),
			wantErr: []string{"building bad for linux/amd64: output flat: .text has relocations (.rela.text)"},
		},
		{
			name:    "a flat program in two sections",
			spec:    appSpec("bad", linux386, testdata, manifest.Fields{Lang: "asm", Src: []string{"bad/flat-two-sections.S"}, Output: "flat"}),
			wantErr: []string{"output flat: a flat program is one section, but the assembled object has .text, .data"},
		},
		{
			name:    "a flat ELF header with nothing to load",
			spec:    appSpec("bad", linuxAMD64, testdata, manifest.Fields{Lang: "asm", Src: []string{"bad/flat-no-load.S"}, Output: "flat"}),
			wantErr: []string{"output flat: the result is not an executable for linux/amd64: it has no loadable segment"},
		},
		{
			name:    "the 386 teensy assembled for amd64 breaks its own layout checks",
			spec:    appSpec("teensy", linuxAMD64, root, manifest.Fields{Lang: "asm", Src: []string{"apps/teensy/i386.S"}, Output: "flat"}),
			wantErr: []string{"building teensy for linux/amd64", "error: invalid .org offset '24'"},
			tool:    true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			err := Asm(fixedZig(z)).Build(t.Context(), tt.spec, filepath.Join(dir, "bin"))
			if err == nil {
				t.Fatal("the build succeeded")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			var re *run.Error
			if got := errors.As(err, &re); got != tt.tool {
				t.Errorf("error %v: carries a *run.Error = %v, want %v", err, got, tt.tool)
			}
			if names := dirNames(t, dir); len(names) != 0 {
				t.Errorf("a failed build left %v beside its output", names)
			}
		})
	}
}

// needNASM skips the test when nasm is not installed, except under CI=true.
func needNASM(t *testing.T) {
	t.Helper()
	testenv.Tool(t, "nasm", "nasm")
}

func TestNASM(t *testing.T) {
	needNASM(t)
	testdata, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	srcs := map[string]string{"amd64": "x86_64.asm", "386": "i386.asm"}
	for _, p := range []manifest.Platform{linuxAMD64, linux386} {
		t.Run("flat/"+p.Arch, func(t *testing.T) {
			// nasm -f bin needs no zig.
			spec := appSpec("nasm-teensy", p, testdata, manifest.Fields{Lang: "asm", Src: []string{"nasm-teensy/" + srcs[p.Arch]}, Output: "flat", Shrink: []string{}})
			bin := filepath.Join(t.TempDir(), "nasm-teensy")
			if err := Asm(noZig(t)).Build(t.Context(), spec, bin); err != nil {
				t.Fatal(err)
			}
			if got, want := runLimited(t, bin), "Hi minimal scratch! ELF\n"; got != want {
				t.Errorf("stdout %q, want %q", got, want)
			}
			checkSize(t, "teensy", p, bin)
		})
		t.Run("elf/"+p.Arch, func(t *testing.T) {
			z := realZig(t)
			spec := appSpec("nasm-hello", p, testdata, manifest.Fields{Lang: "asm", Src: []string{"nasm-hello/" + srcs[p.Arch]}, Output: "elf"})
			bin := filepath.Join(t.TempDir(), "nasm-hello")
			if err := Asm(fixedZig(z)).Build(t.Context(), spec, bin); err != nil {
				t.Fatal(err)
			}
			if got, want := runLimited(t, bin), "hello from a minimal scratch container!\n"; got != want {
				t.Errorf("stdout %q, want %q", got, want)
			}
		})
		t.Run("wrong platform/"+p.Arch, func(t *testing.T) {
			// The other platform's source: nasm's bits directive, not the platform,
			// decides what it assembles, so only the check finds the mistake.
			other := map[string]string{"amd64": "i386.asm", "386": "x86_64.asm"}[p.Arch]
			spec := appSpec("nasm-teensy", p, testdata, manifest.Fields{Lang: "asm", Src: []string{"nasm-teensy/" + other}, Output: "flat", Shrink: []string{}})
			err := Asm(noZig(t)).Build(t.Context(), spec, filepath.Join(t.TempDir(), "bin"))
			want := "output flat: the result is not an executable for " + p.String() + ": it is "
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("error %v, want one containing %q", err, want)
			}
		})
	}
}

// pauseAsm are GAS programs that wait in pause() until a signal ends them, so that a test
// can read their memory map.
var pauseAsm = map[string]string{
	"amd64": "\t.globl _start\n\t.text\n_start:\n\tmov $34, %eax\n\tsyscall\n\tjmp _start\n\t.section .note.GNU-stack, \"\", @progbits\n",
	"386":   "\t.globl _start\n\t.text\n_start:\n\tmov $29, %eax\n\tint $0x80\n\tjmp _start\n\t.section .note.GNU-stack, \"\", @progbits\n",
}

// TestAsmStackNotExecutable builds a program with the strip pass for each platform and
// reads its memory map as Linux made it: only the code may be executable, never the
// stack, whether the program has a PT_GNU_STACK header (386) or not (amd64, where Linux
// 5.8 and later need none).
func TestAsmStackNotExecutable(t *testing.T) {
	z := realZig(t)
	var uts syscall.Utsname
	if err := syscall.Uname(&uts); err != nil {
		t.Fatal(err)
	}
	var release []byte
	for _, c := range uts.Release {
		if c == 0 {
			break
		}
		release = append(release, byte(c))
	}
	var major, minor int
	fmt.Sscanf(string(release), "%d.%d", &major, &minor)
	for _, p := range []manifest.Platform{linuxAMD64, linux386} {
		t.Run(p.Arch, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "pause.S")
			if err := os.WriteFile(src, []byte(pauseAsm[p.Arch]), 0o644); err != nil {
				t.Fatal(err)
			}
			spec := manifest.Spec{App: "pause", Platform: p, Fields: manifest.Fields{Lang: "asm", Src: []string{src}, Output: "elf", Shrink: []string{"strip"}}}
			bin := filepath.Join(dir, "pause")
			if err := Asm(fixedZig(z)).Build(t.Context(), spec, bin); err != nil {
				t.Fatal(err)
			}
			f, err := elf.Open(bin)
			if err != nil {
				t.Fatal(err)
			}
			var stack []elf.ProgFlag
			for _, ph := range f.Progs {
				if ph.Type == elf.PT_GNU_STACK {
					stack = append(stack, ph.Flags)
				}
			}
			f.Close()
			switch {
			case p.Arch == "386" && (len(stack) != 1 || stack[0]&elf.PF_X != 0):
				t.Errorf("386 PT_GNU_STACK headers %v, want one without PF_X", stack)
			case p.Arch == "amd64" && len(stack) != 0:
				t.Errorf("amd64 PT_GNU_STACK headers %v, want none", stack)
			}
			// On 386 the memory map below is that of the compact layout.
			if data, err := os.ReadFile(bin); err != nil {
				t.Fatal(err)
			} else if p.Arch == "386" && binary.LittleEndian.Uint32(data[28:]) != compactPhoff {
				t.Errorf("386 e_phoff %d, want %d: the compact layout", binary.LittleEndian.Uint32(data[28:]), compactPhoff)
			}
			if p.Arch == "amd64" && (major < 5 || major == 5 && minor < 8) {
				t.Skipf("Linux %s gives an x86-64 program without PT_GNU_STACK an executable stack; 5.8 and later do not", release)
			}
			cmd := exec.CommandContext(t.Context(), bin)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Wait()
			defer cmd.Process.Kill()
			var maps []byte
			// The map is complete once the program runs its own code; read until the
			// stack shows.
			for i := 0; i < 100 && !bytes.Contains(maps, []byte("[stack]")); i++ {
				time.Sleep(10 * time.Millisecond)
				maps, _ = os.ReadFile(fmt.Sprintf("/proc/%d/maps", cmd.Process.Pid))
			}
			executable := 0
			for _, line := range strings.Split(strings.TrimSpace(string(maps)), "\n") {
				f := strings.Fields(line)
				if len(f) < 2 || f[1][2] != 'x' {
					continue
				}
				name := ""
				if len(f) >= 6 {
					name = f[5]
				}
				switch name {
				case bin:
					executable++
				case "[vdso]", "[vsyscall]":
				default:
					t.Errorf("executable mapping that is not the program's code: %s", line)
				}
			}
			if executable != 1 || !bytes.Contains(maps, []byte("[stack]")) {
				t.Errorf("want the code as the one executable mapping of the program, and a stack; map:\n%s", maps)
			}
		})
	}
}
