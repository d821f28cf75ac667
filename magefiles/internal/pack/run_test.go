package pack

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// testProgram is a way to get an executable to pack and run.
type testProgram struct {
	name  string
	build func(t *testing.T) string
}

func goHello(goarch string) testProgram {
	return testProgram{"go hello " + goarch, func(t *testing.T) string { return goProgram(t, "../../../apps/hello", goarch) }}
}

func goTest(goarch string) testProgram {
	return testProgram{"go test program " + goarch, func(t *testing.T) string { return goProgram(t, "./testdata/progs/gotest", goarch) }}
}

func cHello(goarch string) testProgram {
	return testProgram{"glibc hello " + goarch, func(t *testing.T) string {
		return gccProgram(t, goarch, "../../../apps/hello-c/main.c")
	}}
}

func cHash(goarch string) testProgram {
	return testProgram{"glibc hash " + goarch, func(t *testing.T) string {
		return gccProgram(t, goarch, "testdata/progs/ctest/hash.c")
	}}
}

func asmHello(goarch string) testProgram {
	return testProgram{"asm hello " + goarch, func(t *testing.T) string {
		return gccProgram(t, goarch, "-nostdlib", asmSource(goarch))
	}}
}

// synthProgram writes bin to a file and returns a program for it.
func synthProgram(name string, bin func() []byte) testProgram {
	return testProgram{name, func(t *testing.T) string {
		return build(t, "synthetic "+name, func(out string) (string, error) {
			return "", os.WriteFile(out, bin(), 0o755)
		})
	}}
}

// TestPackedRunsLikeOriginal packs every kind of program minimal builds and
// checks that the packed one prints the same and exits the same.
func TestPackedRunsLikeOriginal(t *testing.T) {
	tests := []struct {
		prog testProgram
		args []string
		opts options
		why  string
	}{
		{goHello("amd64"), nil, quick, "the Go runtime, amd64: two streams decoded by two threads"},
		{goHello("386"), nil, quick, "the Go runtime, 386"},
		{cHello("amd64"), nil, quick, "static glibc finds its TLS template through AT_PHDR"},
		{cHello("386"), nil, quick, "static glibc, 386"},
		{cHash("amd64"), []string{"42", "x"}, quick, "the exit status passes through"},
		{asmHello("amd64"), nil, quick, "one small segment: one stream, no threads"},
		{asmHello("386"), nil, quick, "the 386 stub with one stream"},
		{synthProgram("exit7 amd64", func() []byte { return exitProgram(elfClass64, 40000) }), nil, quick,
			"code and a data segment with bss, no C runtime: exits 7"},
		{synthProgram("exit7 386", func() []byte { return exitProgram(elfClass32, 40000) }), nil, quick,
			"the same on 386"},
		{synthProgram("exit7 amd64 ET_DYN", func() []byte { return setType(exitProgram(elfClass64, 40000), etDyn) }), nil, quick,
			"a position-independent program needing no relocation is mapped where the kernel chooses"},
		{synthProgram("exit7 386 ET_DYN", func() []byte { return setType(exitProgram(elfClass32, 40000), etDyn) }), nil, quick,
			"the same on 386"},
	}
	for _, tt := range tests {
		t.Run(tt.prog.name, func(t *testing.T) {
			path := tt.prog.build(t)
			packed, info := packFile(t, path, tt.opts)
			t.Logf("%s (%s): %d -> %d bytes, %d streams", tt.prog.name, tt.why, info.Unpacked, info.Packed, len(info.Streams))
			want := run(t, path, "prog", tt.args, nil)
			got := run(t, packed, "prog", tt.args, nil)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: packed run differs (-want +got):\n%s", tt.why, diff)
			}
		})
	}
}

// TestBranchFilters packs one program under each branch filter, so that
// the stub's reverse filter is checked against the packer's for each; on
// amd64 with the RIP-relative operands converted too, as Pack does there.
func TestBranchFilters(t *testing.T) {
	for _, goarch := range []string{"amd64", "386"} {
		for _, kind := range branchKinds {
			t.Run(goarch+" "+kind.String(), func(t *testing.T) {
				prog := cHello(goarch)
				if _, err := exec.LookPath("gcc"); err != nil {
					prog = goHello(goarch)
				}
				path := prog.build(t)
				packed, info := packFile(t, path, withKinds(quick, kind))
				want := kind
				if goarch == "amd64" {
					want |= branchRIP
				}
				if info.Streams[0].Filter != want.String() {
					t.Fatalf("first stream filter = %q, want %q", info.Streams[0].Filter, want)
				}
				unpacked := run(t, path, "prog", nil, nil)
				got := run(t, packed, "prog", nil, nil)
				if diff := cmp.Diff(unpacked, got); diff != "" {
					t.Errorf("packed run differs (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// bigEnv returns n variables of about size bytes in all.
func bigEnv(n, size int) []string {
	env := make([]string, n)
	for i := range env {
		v := fmt.Sprintf("VAR_%04d=", i)
		env[i] = v + strings.Repeat(string(rune('a'+i%26)), size/n-len(v))
	}
	return env
}

// manyArgs returns n arguments of different lengths.
func manyArgs(n int) []string {
	args := make([]string, n)
	for i := range args {
		args[i] = fmt.Sprintf("arg-%d-%s", i, strings.Repeat("x", i%17))
	}
	return args
}

// hashLine is what the test programs print for argv and env.
func hashLine(argv, env []string) string {
	sum := func(list []string) uint64 {
		h := fnv.New64a()
		for _, s := range list {
			h.Write([]byte(s))
			h.Write([]byte{0})
		}
		return h.Sum64()
	}
	return fmt.Sprintf("argc=%d argv=%016x envc=%d env=%016x\n", len(argv), sum(argv), len(env), sum(env))
}

// TestArgsAndEnvironment checks that a packed program gets its arguments and
// environment intact however large they are: the stub leaves the initial
// stack where the kernel put it.
func TestArgsAndEnvironment(t *testing.T) {
	env := bigEnv(1000, 256<<10)
	args := manyArgs(10000)
	cases := []struct {
		name      string
		args, env []string
	}{
		{"empty", nil, nil},
		{"1000 variables, 256 kB", nil, env},
		{"10000 arguments", args, nil},
		{"both", args, env},
	}
	for _, prog := range []testProgram{goTest("amd64"), goTest("386"), cHash("amd64"), cHash("386")} {
		t.Run(prog.name, func(t *testing.T) {
			path := prog.build(t)
			packed, _ := packFile(t, path, quick)
			for _, c := range cases {
				argv := append([]string{"prog"}, c.args...)
				if strings.HasPrefix(prog.name, "go") {
					argv = append([]string{"prog", "hash"}, c.args...)
				}
				want := result{Stdout: hashLine(argv, c.env)}
				if got := run(t, packed, argv[0], argv[1:], c.env); got != want {
					t.Errorf("%s: packed run = %+v, want %+v", c.name, got, want)
				}
				if got := run(t, path, argv[0], argv[1:], c.env); got != want {
					t.Errorf("%s: the unpacked program itself gives %+v, want %+v", c.name, got, want)
				}
			}
		})
	}
}

// TestGoRuntime runs a packed Go program that starts goroutines, makes the
// garbage collector work and takes a signal through signal.Notify.
func TestGoRuntime(t *testing.T) {
	for _, goarch := range []string{"amd64", "386"} {
		t.Run(goarch, func(t *testing.T) {
			path := goTest(goarch).build(t)
			packed, _ := packFile(t, path, quick)
			want := run(t, path, "prog", []string{"stress"}, nil)
			if want.Exit != 3 || !strings.Contains(want.Stdout, "got user defined signal 1") {
				t.Fatalf("the unpacked program does not work: %+v", want)
			}
			for range 3 {
				got := run(t, packed, "prog", []string{"stress"}, nil)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("packed run differs (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// headerOffset returns where the stub's header is in a packed file, after
// whichever stub it has.
func headerOffset(t *testing.T, packed []byte) (int, *arch) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(packed))
	if err != nil {
		t.Fatal(err)
	}
	a := amd64
	if f.Class == elf.ELFCLASS32 {
		a = i386
	}
	off := alignUp(a.ehsize+len(f.Progs)*a.phentsize, a.word)
	stub := stubs[a.name]
	if gs := goStubs[a.name]; bytes.HasPrefix(packed[off:], gs) {
		stub = gs
	}
	return off + len(stub), a
}

// TestStubFailures checks that the stub stops with a message and status
// 127 instead of running a damaged program.
func TestStubFailures(t *testing.T) {
	path := asmHello("amd64").build(t)
	packed, _ := packFile(t, path, quick)
	good, err := os.ReadFile(packed)
	if err != nil {
		t.Fatal(err)
	}
	off, a := headerOffset(t, good)
	f, err := elf.NewFile(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	stubAddr := f.Progs[0].Vaddr
	// set writes word i of the header; the first stream's words follow the
	// header's.
	set := func(b []byte, i int, v uint64) { binary.LittleEndian.PutUint64(b[off+i*a.word:], v) }
	const stream = headerWords
	tests := []struct {
		name   string
		damage func(b []byte)
		want   string
	}{
		{"a stream shorter than its data", func(b []byte) { set(b, stream+3, 6) }, "corrupt data"},
		{"lc+lp above what the stub supports", func(b []byte) { set(b, stream+4, 9) }, "corrupt data"},
		{"a stream beyond the program's memory", func(b []byte) { set(b, stream+0, 1<<20) }, "corrupt data"},
		{"a filter beyond its stream", func(b []byte) { set(b, stream+6, 1<<20) }, "corrupt data"},
		{"no streams", func(b []byte) { set(b, 6, 0) }, "corrupt data"},
		{"more streams than the stub decodes", func(b []byte) { set(b, 6, maxStreams+1) }, "corrupt data"},
		{"the program's addresses are taken, by the stub itself", func(b []byte) { set(b, 0, stubAddr) }, "cannot map memory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := bytes.Clone(good)
			tt.damage(b)
			name := filepath.Join(t.TempDir(), "damaged")
			if err := os.WriteFile(name, b, 0o755); err != nil {
				t.Fatal(err)
			}
			want := result{Stderr: "packed executable: " + tt.want + "\n", Exit: 127}
			if got := run(t, name, "prog", nil, nil); got != want {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
}

// TestDeterministic packs one program twice: the result must be the same
// bytes whatever the order the encoders finish in.
func TestDeterministic(t *testing.T) {
	bin, err := os.ReadFile(asmHello("386").build(t))
	if err != nil {
		t.Fatal(err)
	}
	a, _, err := pack(context.Background(), bin, options{code: codeProps, data: dataProps, kinds: branchKinds, workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := pack(context.Background(), bin, options{code: codeProps, data: dataProps, kinds: branchKinds, workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("two packs of one program differ")
	}
}
