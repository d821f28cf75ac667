package shrink

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/minimalbuild/minimal/magefiles/internal/testenv"
)

// run is one invocation of a test binary and what it must produce.
type run struct {
	args       []string
	exit       int
	stdout     string // a substring the output must contain
	stderr     string
	stdoutNone bool // the binary prints nothing on stdout
}

// realBinary is a binary built by the test from testdata/src or
// testdata/gohello.
type realBinary struct {
	name  string
	why   string
	tools []string // must be on PATH; debianPackages says where each comes from
	// probe, when set, reports why the toolchain cannot build the binary; installing
	// gcc-multilib is the remedy.
	probe func(ctx context.Context) error
	build func(ctx context.Context, dir string) (string, error)
	runs  []run
	goBin bool
}

var goRuns = []run{
	{stdout: "hello from Go\ncaller: main.run gohello/main.go:"},
	{args: []string{"panic"}, exit: 2, stderr: "panic: boom in 1 goroutine(s)\n\ngoroutine 1 [running]:\nmain.crash()\n\tgohello/main.go:", stdoutNone: true},
	{args: []string{"segv"}, exit: 2, stderr: "[signal SIGSEGV: segmentation violation", stdoutNone: true},
}

var cRuns = []run{
	{stdout: "hello from C\n", stderr: "0 argument(s)\n"},
	{args: []string{"7"}, exit: 7, stdout: "hello from C\n", stderr: "1 argument(s)\n"},
}

var nolibcRuns = []run{{stdout: "hello from C without libc\n"}}

var nasmRuns = []run{{stdout: "hello from nasm\n"}}

func realBinaries() []realBinary {
	nolibc := "-static -nostdlib -Os -s -fno-pie -no-pie -fno-stack-protector"
	bins := []realBinary{
		{
			name:  "go-hello-amd64",
			why:   "a Go binary with its symbol table and DWARF: sstrip must leave what the runtime reads",
			tools: []string{"go"},
			build: goBuild("amd64"),
			runs:  goRuns, goBin: true,
		},
		{
			name:  "go-hello-amd64-s-w",
			why:   "the usual Go release build: -s -w leaves only the section headers to drop",
			tools: []string{"go"},
			build: goBuild("amd64", "-ldflags=-s -w"),
			runs:  goRuns, goBin: true,
		},
		{
			name:  "go-hello-386",
			why:   "Go on ELF32",
			tools: []string{"go"},
			build: goBuild("386"),
			runs:  goRuns, goBin: true,
		},
		{
			name:  "go-hello-386-s-w",
			why:   "Go on ELF32 with -s -w",
			tools: []string{"go"},
			build: goBuild("386", "-ldflags=-s -w"),
			runs:  goRuns, goBin: true,
		},
		{
			name:  "gcc-libc-hello-amd64",
			why:   "a static glibc program with TLS, RELRO and a large bss",
			tools: []string{"gcc"},
			build: ccBuild("hello.c", "-m64 -static -Os"),
			runs:  cRuns,
		},
		{
			name:  "gcc-libc-hello-386",
			why:   "a static glibc program on ELF32",
			tools: []string{"gcc"},
			probe: multilib,
			build: ccBuild("hello.c", "-m32 -static -Os"),
			runs:  cRuns,
		},
		{
			name:  "gcc-nolibc-amd64",
			why:   "a tiny program whose last segment is writable data ending in zeros",
			tools: []string{"gcc"},
			build: ccBuild("nolibc.c", "-m64 "+nolibc),
			runs:  nolibcRuns,
		},
		{
			name:  "gcc-nolibc-386",
			why:   "the same on ELF32",
			tools: []string{"gcc"},
			build: ccBuild("nolibc.c", "-m32 "+nolibc),
			runs:  nolibcRuns,
		},
		{
			name:  "gcc-nolibc-readonly-amd64",
			why:   "a tiny program whose last segment is read-only and ends in zeros",
			tools: []string{"gcc"},
			build: ccBuild("nolibc.c", "-m64 -DREADONLY "+nolibc),
			runs:  nolibcRuns,
		},
		{
			name:  "gcc-nolibc-readonly-386",
			why:   "the same on ELF32",
			tools: []string{"gcc"},
			build: ccBuild("nolibc.c", "-m32 -DREADONLY "+nolibc),
			runs:  nolibcRuns,
		},
		{
			name:  "nasm-hello-amd64",
			why:   "a hand-written assembly program linked by ld",
			tools: []string{"nasm", "ld"},
			build: nasmBuild("hello64.asm", "elf64", "elf_x86_64"),
			runs:  nasmRuns,
		},
		{
			name:  "nasm-hello-386",
			why:   "the same on ELF32",
			tools: []string{"nasm", "ld"},
			build: nasmBuild("hello32.asm", "elf32", "elf_i386"),
			runs:  nasmRuns,
		},
		{
			name:  "nasm-hello-amd64-nmagic",
			why:   "ld -n packs text and data into one writable, executable segment",
			tools: []string{"nasm", "ld"},
			build: nasmBuild("hello64.asm", "elf64", "elf_x86_64", "-n"),
			runs:  nasmRuns,
		},
		{
			name:  "nasm-hello-386-nmagic",
			why:   "the same on ELF32",
			tools: []string{"nasm", "ld"},
			build: nasmBuild("hello32.asm", "elf32", "elf_i386", "-n"),
			runs:  nasmRuns,
		},
	}
	return bins
}

// TestSStripRealBinaries builds real static executables, strips them, runs
// both versions natively and compares what they do.
func TestSStripRealBinaries(t *testing.T) {
	for _, bin := range realBinaries() {
		t.Run(bin.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			for _, tool := range bin.tools {
				testenv.Tool(t, tool, debianPackages[tool])
			}
			if bin.probe != nil {
				testenv.Require(t, bin.probe(ctx), "apt-get install gcc-multilib")
			}
			dir := t.TempDir()
			path, err := bin.build(ctx, dir)
			if err != nil {
				t.Fatalf("building %s: %v", bin.name, err)
			}
			in, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			out, err := SStrip(in)
			if err != nil {
				t.Fatalf("SStrip: %v (%s)", err, bin.why)
			}
			t.Logf("%s: %d -> %d bytes (-%d)", bin.name, len(in), len(out), len(in)-len(out))
			if len(out) >= len(in) {
				t.Errorf("SStrip did not shrink %s: %d -> %d bytes", bin.name, len(in), len(out))
			}
			if hasSectionHeaders(out) {
				t.Errorf("output still points at section headers")
			}
			if err := checkOutput(in, out); err != nil {
				t.Errorf("%v (%s)", err, bin.why)
			}
			stripped := filepath.Join(dir, "stripped")
			if err := os.WriteFile(stripped, out, 0o755); err != nil {
				t.Fatal(err)
			}

			for _, r := range bin.runs {
				want, err := runBinary(ctx, path, r.args)
				if err != nil {
					t.Fatal(err)
				}
				if err := r.check(want); err != nil {
					t.Fatalf("unstripped %s %q: %v", bin.name, r.args, err)
				}
				got, err := runBinary(ctx, stripped, r.args)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("stripped %s %q behaves differently (-want +got):\n%s", bin.name, r.args, diff)
				}
			}

			if bin.goBin {
				checkGoMetadata(t, path, stripped)
			}
		})
	}
}

// checkGoMetadata checks that the build information tools such as
// "go version -m" and vulnerability scanners read survives sstrip.
func checkGoMetadata(t *testing.T, orig, stripped string) {
	t.Helper()
	want, err := buildinfo.ReadFile(orig)
	if err != nil {
		t.Fatalf("reading build info of the original: %v", err)
	}
	got, err := buildinfo.ReadFile(stripped)
	if err != nil {
		t.Fatalf("reading build info of the stripped binary: %v", err)
	}
	if diff := cmp.Diff(want.String(), got.String()); diff != "" {
		t.Errorf("build info differs (-want +got):\n%s", diff)
	}
	f, err := elf.Open(stripped)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_NOTE {
			return
		}
	}
	t.Errorf("the stripped Go binary lost its PT_NOTE (Go build ID)")
}

// result is what one run of a binary did.
type result struct {
	Stdout, Stderr string
	Exit           int
	Signal         string
}

func (r run) check(res result) error {
	var problems []string
	if res.Exit != r.exit || res.Signal != "" {
		problems = append(problems, fmt.Sprintf("exit %d %s, want %d", res.Exit, res.Signal, r.exit))
	}
	if !strings.Contains(res.Stdout, r.stdout) {
		problems = append(problems, fmt.Sprintf("stdout %q lacks %q", res.Stdout, r.stdout))
	}
	if r.stdoutNone && res.Stdout != "" {
		problems = append(problems, fmt.Sprintf("unexpected stdout %q", res.Stdout))
	}
	if !strings.Contains(res.Stderr, r.stderr) {
		problems = append(problems, fmt.Sprintf("stderr %q lacks %q", res.Stderr, r.stderr))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// runBinary runs path with args and returns what it printed and how it
// ended. Only a failure to start it is an error.
func runBinary(ctx context.Context, path string, args []string) (result, error) {
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{Stdout: stdout.String(), Stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		res.Exit = exit.ExitCode()
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.Signal = ws.Signal().String()
		}
	default:
		return result{}, err
	}
	return res, nil
}

// debianPackages are the Debian packages of the tools the binaries are built with.
var debianPackages = map[string]string{"go": "golang-go", "gcc": "gcc"}

// multilib reports why gcc -m32 cannot link a static C program against
// libc, or "" when it can.
func multilib(ctx context.Context) error {
	out, err := exec.CommandContext(ctx, "gcc", "-m32", "-print-file-name=libc.a").Output()
	if err != nil {
		return fmt.Errorf("gcc -m32 does not work: %w", err)
	}
	if !filepath.IsAbs(strings.TrimSpace(string(out))) {
		return errors.New("gcc -m32 finds no 32-bit libc.a")
	}
	return nil
}

// goBuild builds testdata/gohello for linux/goarch the way the toolchain
// package does.
func goBuild(goarch string, flags ...string) func(ctx context.Context, dir string) (string, error) {
	return func(ctx context.Context, dir string) (string, error) {
		src, err := os.ReadFile(filepath.Join("testdata", "gohello", "main.go"))
		if err != nil {
			return "", err
		}
		mod := filepath.Join(dir, "gohello")
		if err := os.MkdirAll(mod, 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(mod, "main.go"), src, 0o644); err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(mod, "go.mod"), []byte("module gohello\n\ngo 1.26\n"), 0o644); err != nil {
			return "", err
		}
		bin := filepath.Join(dir, "hello")
		args := append([]string{"build", "-trimpath", "-o", bin}, flags...)
		cmd := exec.CommandContext(ctx, "go", append(args, ".")...)
		cmd.Dir = mod
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch, "GOTOOLCHAIN=local", "GOWORK=off", "GOFLAGS=")
		return bin, command(cmd)
	}
}

// ccBuild compiles testdata/src/file with gcc and the given flags.
func ccBuild(file, flags string) func(ctx context.Context, dir string) (string, error) {
	return func(ctx context.Context, dir string) (string, error) {
		bin := filepath.Join(dir, "hello")
		args := append(strings.Fields(flags), filepath.Join("testdata", "src", file), "-o", bin)
		return bin, command(exec.CommandContext(ctx, "gcc", args...))
	}
}

// nasmBuild assembles testdata/src/file with nasm and links it with ld.
func nasmBuild(file, format, emulation string, ldflags ...string) func(ctx context.Context, dir string) (string, error) {
	return func(ctx context.Context, dir string) (string, error) {
		obj, bin := filepath.Join(dir, "hello.o"), filepath.Join(dir, "hello")
		if err := command(exec.CommandContext(ctx, "nasm", "-f", format, filepath.Join("testdata", "src", file), "-o", obj)); err != nil {
			return "", err
		}
		args := append([]string{"-m", emulation, "-s"}, ldflags...)
		return bin, command(exec.CommandContext(ctx, "ld", append(args, obj, "-o", bin)...))
	}
}

// command runs cmd and puts its output in the error when it fails.
func command(cmd *exec.Cmd) error {
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("running %s: %w\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return nil
}
