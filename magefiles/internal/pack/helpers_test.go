package pack

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/minimalbuild/minimal/magefiles/internal/lzma"
)

// quick are pack options for tests that check behaviour rather than size:
// one set of LZMA parameters and every branch filter, so that a test packs
// in a few seconds.
var quick = options{
	code:    []lzma.Props{{LC: 3, PB: 0}},
	data:    []lzma.Props{{LC: 3, PB: 2}},
	kinds:   branchKinds,
	workers: runtime.GOMAXPROCS(0),
}

// withKinds returns o trying only the given branch filters.
func withKinds(o options, kinds ...branchKind) options {
	o.kinds = kinds
	return o
}

var (
	fixtureDir     string
	fixtureDirOnce sync.Once
	fixtures       sync.Map // key → *fixture
)

// fixture is a program built once for every test that needs it.
type fixture struct {
	once sync.Once
	path string
	skip string // why the program cannot be built here
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

// build returns the path of the program that mk writes to its argument,
// building it once per test binary. mk returns a reason to skip, or an
// error.
func build(t testing.TB, key string, mk func(out string) (skip string, err error)) string {
	t.Helper()
	fixtureDirOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pack-test-")
		if err != nil {
			panic(err)
		}
		fixtureDir = dir
	})
	v, _ := fixtures.LoadOrStore(key, new(fixture))
	f := v.(*fixture)
	f.once.Do(func() {
		f.path = filepath.Join(fixtureDir, strings.NewReplacer("/", "_", " ", "_").Replace(key))
		f.skip, f.err = mk(f.path)
	})
	if f.err != nil {
		t.Fatalf("building %s: %v", key, f.err)
	}
	if f.skip != "" {
		t.Skip(f.skip)
	}
	return f.path
}

// goProgram builds a Go package the way minimal builds Go apps.
func goProgram(t testing.TB, pkg, goarch string) string {
	return build(t, "go "+pkg+" "+goarch, func(out string) (string, error) {
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
		if msg, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("%v\n%s", err, msg)
		}
		return "", nil
	})
}

// gccProgram builds C or assembly sources with gcc: static, and 32-bit for
// 386. It skips when gcc or its 32-bit libraries are missing.
func gccProgram(t testing.TB, goarch string, args ...string) string {
	return build(t, "gcc "+goarch+" "+strings.Join(args, " "), func(out string) (string, error) {
		if _, err := exec.LookPath("gcc"); err != nil {
			return "gcc is not installed (apt-get install gcc gcc-multilib)", nil
		}
		flags := []string{"-static", "-O2", "-o", out}
		if goarch == "386" {
			flags = append(flags, "-m32")
		}
		cmd := exec.Command("gcc", append(flags, args...)...)
		if msg, err := cmd.CombinedOutput(); err != nil {
			if goarch == "386" {
				return fmt.Sprintf("gcc -m32 fails; is gcc-multilib installed? %v\n%s", err, msg), nil
			}
			return "", fmt.Errorf("%v\n%s", err, msg)
		}
		return "", nil
	})
}

// asmSource is the hello-asm example app's source for goarch.
func asmSource(goarch string) string {
	if goarch == "386" {
		return "../../../apps/hello-asm/i386.S"
	}
	return "../../../apps/hello-asm/x86_64.S"
}

// packFile packs the program at path into a file of the same name in a new
// directory, and returns that file's path and the Info.
func packFile(t testing.TB, path string, o options) (string, Info) {
	t.Helper()
	bin, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out, info, err := pack(context.Background(), bin, o)
	if err != nil {
		t.Fatalf("packing %s: %v", filepath.Base(path), err)
	}
	packed := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := os.WriteFile(packed, out, 0o755); err != nil {
		t.Fatal(err)
	}
	return packed, info
}

// result is what a program did.
type result struct {
	Stdout, Stderr string
	Exit           int    // exit status, or -1 if a signal ended it
	Signal         string // the signal that ended it
}

// run runs path with argv[0] set to argv0 and env as its whole environment.
func run(t testing.TB, path, argv0 string, args, env []string) result {
	t.Helper()
	cmd := exec.Command(path)
	cmd.Args = append([]string{argv0}, args...)
	cmd.Env = env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{Stdout: stdout.String(), Stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.Exit = exit.ExitCode()
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.Signal = ws.Signal().String()
		}
	default:
		t.Fatalf("running %s: %v", path, err)
	}
	return r
}

// testSeg is a program header of a synthetic ELF file.
type testSeg struct {
	typ, flags                       uint32
	off, vaddr, filesz, memsz, align uint64
}

// synthetic returns an ELF file of the given class, machine and type with
// the program headers right after the ELF header, size bytes long (at least
// the headers), with fill copied to offset fillAt.
func synthetic(class byte, machine, typ uint16, entry uint64, segs []testSeg, size int, fillAt int, fill []byte) []byte {
	a := amd64
	if class == elfClass32 {
		a = i386
	}
	w := &writer{size: a.word}
	w.bytes([]byte{0x7f, 'E', 'L', 'F', class, elfData2LSB, 1, 0})
	w.bytes(make([]byte, 8))
	w.u16(typ)
	w.u16(machine)
	w.u32(1)
	w.word(entry)
	w.word(uint64(a.ehsize))
	w.word(0)
	w.u32(0)
	w.u16(uint16(a.ehsize))
	w.u16(uint16(a.phentsize))
	w.u16(uint16(len(segs)))
	w.u16(0)
	w.u16(0)
	w.u16(0)
	for _, s := range segs {
		w.phdr(s.typ, s.flags, s.off, s.vaddr, s.filesz, s.memsz, s.align)
	}
	b := w.b
	if len(b) < size {
		b = append(b, make([]byte, size-len(b))...)
	}
	copy(b[fillAt:], fill)
	return b
}

// exitCode is machine code that exits with status 7.
var exitCode = map[byte][]byte{
	elfClass64: {0xb8, 0x3c, 0, 0, 0, 0xbf, 7, 0, 0, 0, 0x0f, 0x05}, // mov $60,%eax; mov $7,%edi; syscall
	elfClass32: {0xb8, 1, 0, 0, 0, 0xbb, 7, 0, 0, 0, 0xcd, 0x80},    // mov $1,%eax; mov $7,%ebx; int $0x80
}

// exitProgram is a synthetic static executable that exits with status 7:
// a code segment holding the ELF header and the code, and a writable data
// segment of pad bytes of a repeating pattern and some bss.
func exitProgram(class byte, pad int) []byte {
	machine := uint16(emAMD64)
	if class == elfClass32 {
		machine = em386
	}
	const base, codeAt = 0x400000, 0x200
	data := uint64(0x1000)
	segs := []testSeg{
		{typ: ptLoad, flags: pfR | pfX, off: 0, vaddr: base, filesz: codeAt + 12, memsz: codeAt + 12, align: 0x1000},
		{typ: ptLoad, flags: pfR | pfW, off: data, vaddr: base + 0x10000 + data, filesz: uint64(pad), memsz: uint64(pad) + 0x3000, align: 0x1000},
		{typ: ptGNUStack, flags: pfR | pfW},
	}
	b := synthetic(class, machine, etExec, base+codeAt, segs, int(data)+pad, codeAt, exitCode[class])
	for i := range pad {
		b[int(data)+i] = byte(i * 7 / 13)
	}
	return b
}

// setType returns a copy of an ELF file with another e_type.
func setType(bin []byte, typ uint16) []byte {
	b := bytes.Clone(bin)
	binary.LittleEndian.PutUint16(b[16:], typ)
	return b
}
