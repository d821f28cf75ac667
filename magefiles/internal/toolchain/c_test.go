package toolchain

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/minimalbuild/minimal/magefiles/internal/run"
	"github.com/minimalbuild/minimal/magefiles/internal/testenv"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

var (
	linuxAMD64 = manifest.Platform{OS: "linux", Arch: "amd64"}
	linux386   = manifest.Platform{OS: "linux", Arch: "386"}
)

// pinnedZig is the zig version the example manifest pins.
const pinnedZig = manifest.DefaultZig

// realZig returns the pinned zig as a build would resolve it, from minimal's default
// cache (fetching it with npm if the cache is empty), as testenv.Zig does for every
// package's tests.
var realZig = testenv.Zig(func(ctx context.Context) (*ZigTool, error) { return Zig(ctx, pinnedZig) })

// fixedZig returns a resolver that always returns z.
func fixedZig(z *ZigTool) func(context.Context) (*ZigTool, error) {
	return func(context.Context) (*ZigTool, error) { return z, nil }
}

// noZig returns a resolver that fails the test if a build asks it for zig.
func noZig(t *testing.T) func(context.Context) (*ZigTool, error) {
	return func(context.Context) (*ZigTool, error) {
		t.Error("the build resolved zig, but it needs none")
		return nil, errors.New("no zig in this test")
	}
}

// examplesRoot returns the repository root, which holds apps/.
func examplesRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "apps")); err != nil {
		t.Fatalf("no apps/ at the repository root: %v", err)
	}
	return root
}

// appSpec returns the spec of an app with root as the repository root, src made
// absolute under it, and shrink [strip] unless fields say otherwise.
func appSpec(name string, p manifest.Platform, root string, fields manifest.Fields) manifest.Spec {
	for i, s := range fields.Src {
		fields.Src[i] = filepath.Join(root, filepath.FromSlash(s))
	}
	if fields.Shrink == nil {
		fields.Shrink = []string{"strip"}
	}
	return manifest.Spec{App: name, Platform: p, Root: root, Fields: fields}
}

// runLimited runs bin under `ulimit -v 100000`, as a small container might, and
// returns its standard output.
func runLimited(t *testing.T, bin string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "sh", "-c", `ulimit -v 100000 && exec "$0"`, bin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("running %s: %v\n%s", bin, err, stderr.String())
	}
	return string(out)
}

// fileSize returns the size of the file at path.
func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Size()
}

func TestCArgs(t *testing.T) {
	amd, _ := Lookup(linuxAMD64)
	x86, _ := Lookup(linux386)
	tests := []struct {
		name string
		spec manifest.Spec
		t    Target
		want []string
	}{
		{
			name: "the strip pass adds its flags and the script that drops .comment",
			spec: manifest.Spec{Root: "/r", Fields: manifest.Fields{Shrink: []string{"strip"}}},
			t:    amd,
			want: []string{"cc", "-target", "x86_64-linux-musl", "-static",
				"-Os", "-s", "-fno-asynchronous-unwind-tables", "-fno-unwind-tables",
				"-ffunction-sections", "-fdata-sections", "-Wl,--gc-sections", "-Wl,-z,norelro",
				"-T", "/w/discard-comment.ld",
				"-ffile-prefix-map=/r=.", "/r/a.c", "/r/b.c", "-o", "/w/exe"},
		},
		{
			name: "without strip only the target, static and the prefix map are set",
			spec: manifest.Spec{Root: "/r", Fields: manifest.Fields{Shrink: []string{}}},
			t:    x86,
			want: []string{"cc", "-target", "x86-linux-musl", "-static",
				"-ffile-prefix-map=/r=.", "/r/a.c", "/r/b.c", "-o", "/w/exe"},
		},
		{
			name: "includes keep their order, defines are sorted, the app's flags come after ours so they win, ldflags after the sources",
			spec: manifest.Spec{Root: "/r", Fields: manifest.Fields{
				Include: []string{"/r/z", "/r/a"},
				Defines: map[string]string{"B": `"x y"`, "A": "1", "EMPTY": ""},
				Flags:   []string{"-O2", "-Wall"},
				Ldflags: []string{"-Wl,--gc-sections"},
			}},
			t: amd,
			want: []string{"cc", "-target", "x86_64-linux-musl", "-static",
				"-ffile-prefix-map=/r=.", "-I/r/z", "-I/r/a", "-DA=1", `-DB="x y"`, "-DEMPTY",
				"-O2", "-Wall", "/r/a.c", "/r/b.c", "-Wl,--gc-sections", "-o", "/w/exe"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := cArgs(tt.spec, tt.t, []string{"/r/a.c", "/r/b.c"}, "/w", "/w/exe")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("cArgs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSourceFiles(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"b.c", "a.c", "util.h", "README.md", "x.S", "y.asm"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub.c"), 0o755); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	tests := []struct {
		name    string
		srcs    []string
		exts    []string
		ignored []string
		want    []string
		wantErr string
	}{
		{name: "a directory is its files of the language, sorted, without subdirectories", srcs: []string{dir}, exts: cExts, ignored: cIgnored, want: []string{p("a.c"), p("b.c")}},
		{name: "listed files keep their order", srcs: []string{p("b.c"), p("a.c")}, exts: cExts, ignored: cIgnored, want: []string{p("b.c"), p("a.c")}},
		{name: "a listed header is passed over", srcs: []string{p("util.h"), p("a.c")}, exts: cExts, ignored: cIgnored, want: []string{p("a.c")}},
		{name: "assembly takes GAS and NASM sources", srcs: []string{dir}, exts: asmExts, want: []string{p("x.S"), p("y.asm")}},
		{name: "a listed file of another language is an error", srcs: []string{p("x.S")}, exts: cExts, ignored: cIgnored, wantErr: "x.S is not a .c file"},
		{name: "a directory without sources is an error", srcs: []string{empty}, exts: cExts, wantErr: "has no .c files"},
		{name: "only headers is an error", srcs: []string{p("util.h")}, exts: cExts, ignored: cIgnored, wantErr: "no .c sources"},
		{name: "a missing source is an error", srcs: []string{p("gone.c")}, exts: cExts, wantErr: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sourceFiles(tt.srcs, tt.exts, tt.ignored)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("sourceFiles (-want +got):\n%s", diff)
			}
		})
	}
}

// fakeZigForLazy writes a zig that reports pinnedZig, or version when it is not
// empty, and appends a line to the returned file on each run.
func fakeZigForLazy(t *testing.T, version string) (zig, runs string) {
	t.Helper()
	dir := t.TempDir()
	zig, runs = filepath.Join(dir, "zig"), filepath.Join(dir, "runs")
	script := fmt.Sprintf("#!/bin/sh\necho run >> %s\necho %s\n", runs, version)
	if err := os.WriteFile(zig, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return zig, runs
}

// countRuns returns how many times the fake zig ran.
func countRuns(t *testing.T, runs string) int {
	t.Helper()
	data, err := os.ReadFile(runs)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(data), "run\n")
}

func TestLazyZigResolvesOnceForConcurrentCallers(t *testing.T) {
	zig, runs := fakeZigForLazy(t, pinnedZig)
	env := map[string]string{"ZIG": zig}
	lazy := LazyZig(pinnedZig, withCacheDir(t.TempDir()), withGetenv(func(k string) string { return env[k] }))
	if n := countRuns(t, runs); n != 0 {
		t.Fatalf("LazyZig ran zig %d times before it was called", n)
	}
	var wg sync.WaitGroup
	got := make([]*ZigTool, 8)
	for i := range got {
		wg.Go(func() {
			z, err := lazy(t.Context())
			if err != nil {
				t.Error(err)
			}
			got[i] = z
		})
	}
	wg.Wait()
	for _, z := range got {
		if z == nil || z != got[0] {
			t.Fatalf("callers got different tools: %v", got)
		}
	}
	if z, err := lazy(t.Context()); err != nil || z != got[0] {
		t.Errorf("a later call got %v, %v; want the first result", z, err)
	}
	if n := countRuns(t, runs); n != 1 {
		t.Errorf("zig ran %d times, want 1 (`zig version`, once)", n)
	}
}

func TestLazyZigSharesAFailure(t *testing.T) {
	zig, runs := fakeZigForLazy(t, "0.10.1")
	env := map[string]string{"ZIG": zig}
	opts := []ZigOption{withCacheDir(t.TempDir()), withGetenv(func(k string) string { return env[k] })}
	lazy := LazyZig(pinnedZig, opts...)
	_, err1 := lazy(t.Context())
	_, err2 := lazy(t.Context())
	if err1 == nil || !strings.Contains(err1.Error(), "is zig 0.10.1") {
		t.Fatalf("error %v, want one saying $ZIG has the wrong version", err1)
	}
	if err2 != err1 {
		t.Errorf("the second call got %v, want the first call's error", err2)
	}
	if n := countRuns(t, runs); n != 1 {
		t.Errorf("zig ran %d times, want 1: a failure is kept for the build", n)
	}
	// The next build makes a new LazyZig, which tries again.
	if _, err := LazyZig(pinnedZig, opts...)(t.Context()); err == nil {
		t.Error("a new LazyZig succeeded with the wrong zig")
	}
	if n := countRuns(t, runs); n != 2 {
		t.Errorf("zig ran %d times, want 2: a new LazyZig resolves again", n)
	}
}

func TestLazyZigRetriesAfterACanceledCaller(t *testing.T) {
	zig, runs := fakeZigForLazy(t, pinnedZig)
	env := map[string]string{"ZIG": zig}
	lazy := LazyZig(pinnedZig, withCacheDir(t.TempDir()), withGetenv(func(k string) string { return env[k] }))
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := lazy(canceled); !errors.Is(err, context.Canceled) {
		t.Fatalf("a canceled caller got %v, want context.Canceled", err)
	}
	z, err := lazy(t.Context())
	if err != nil || z == nil {
		t.Fatalf("the next caller got %v, %v; want zig", z, err)
	}
	if n := countRuns(t, runs); n != 1 {
		t.Errorf("zig ran %d times, want 1", n)
	}
}

func TestCBuildNeedsTheRightLangAndResolvesZigLast(t *testing.T) {
	root := examplesRoot(t)
	resolveErr := errors.New("zig is broken")
	broken := func(context.Context) (*ZigTool, error) { return nil, resolveErr }
	tests := []struct {
		name    string
		spec    manifest.Spec
		zig     func(context.Context) (*ZigTool, error)
		wantErr string
		wantIs  error
	}{
		{
			name:    "an asm app is not the C builder's",
			spec:    appSpec("hello-asm", linuxAMD64, root, manifest.Fields{Lang: "asm", Src: []string{"apps/hello-asm/x86_64.S"}}),
			zig:     noZig(t),
			wantErr: `building hello-asm for linux/amd64: the C builder cannot build lang "asm"`,
		},
		{
			name:    "missing sources fail before zig is resolved",
			spec:    appSpec("gone", linux386, root, manifest.Fields{Lang: "c", Src: []string{"apps/no-such-app"}}),
			zig:     noZig(t),
			wantErr: "building gone for linux/386: reading sources",
		},
		{
			name:    "a failed resolve names the app and keeps the cause",
			spec:    appSpec("hello-c", linuxAMD64, root, manifest.Fields{Lang: "c", Src: []string{"apps/hello-c"}}),
			zig:     broken,
			wantErr: "building hello-c for linux/amd64: zig is broken",
			wantIs:  resolveErr,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "bin")
			err := C(tt.zig).Build(t.Context(), tt.spec, out)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v does not wrap %v", err, tt.wantIs)
			}
		})
	}
}

// exampleLimits are the largest sizes the examples may have after the strip pass, as
// measured with zig 0.11.0; a build that grows past them is a regression. The targets
// the flags were tuned against (zig 0.11.0, the classic size write-ups and GNU ld -n)
// are pausle 2,832 / 2,488, hello-c 4,768 / 4,164 and hello-asm 488 / 356 bytes. The
// 386 hello-asm is in the compact layout of compact386, which leaves out the section
// headers; 168 bytes is what nasm + GNU ld -n + sstrip make of it without PT_GNU_STACK.
var exampleLimits = map[string]map[string]int64{
	"pausle":    {"amd64": 2632, "386": 2316},
	"hello-c":   {"amd64": 4568, "386": 3992},
	"hello-asm": {"amd64": 408, "386": 167},
	// Headers that overlap and hold the code, read as Linux reads them; see apps/teensy.
	"teensy": {"amd64": 96, "386": 72},
}

func TestCExamples(t *testing.T) {
	z := realZig(t)
	root := examplesRoot(t)
	for _, p := range []manifest.Platform{linuxAMD64, linux386} {
		t.Run("hello-c/"+p.Arch, func(t *testing.T) {
			spec := appSpec("hello-c", p, root, manifest.Fields{Lang: "c", Src: []string{"apps/hello-c"}})
			bin := filepath.Join(t.TempDir(), "hello-c")
			if err := C(fixedZig(z)).Build(t.Context(), spec, bin); err != nil {
				t.Fatal(err)
			}
			if got, want := runLimited(t, bin), "hello from a minimal scratch container!\n"; got != want {
				t.Errorf("stdout %q, want %q", got, want)
			}
			checkSize(t, "hello-c", p, bin)
		})
		t.Run("pausle/"+p.Arch, func(t *testing.T) {
			spec := appSpec("pausle", p, root, manifest.Fields{Lang: "c", Src: []string{"apps/pausle/main.c"}})
			bin := filepath.Join(t.TempDir(), "pausle")
			if err := C(fixedZig(z)).Build(t.Context(), spec, bin); err != nil {
				t.Fatal(err)
			}
			cmd := exec.CommandContext(t.Context(), bin)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatalf("signaling pausle: %v (did it end on its own?)", err)
			}
			err := cmd.Wait()
			ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
			if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
				t.Errorf("pausle ended with %v, want killed by SIGTERM", err)
			}
			checkSize(t, "pausle", p, bin)
		})
	}
}

// checkSize fails the test if the example app's binary is larger than its limit.
func checkSize(t *testing.T, app string, p manifest.Platform, bin string) {
	t.Helper()
	size := fileSize(t, bin)
	t.Logf("%s %s: %d bytes", app, p, size)
	if limit := exampleLimits[app][p.Arch]; size > limit {
		t.Errorf("%s for %s is %d bytes, more than its limit of %d", app, p, size, limit)
	}
}

func TestCBuildErrors(t *testing.T) {
	z := realZig(t)
	root, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	spec := manifest.Spec{App: "broken", Platform: linux386, Root: root, Fields: manifest.Fields{
		Lang: "c", Src: []string{filepath.Join(root, "bad", "syntax.c")}, Shrink: []string{"strip"},
	}}
	dir := t.TempDir()
	out := filepath.Join(dir, "broken")
	err = C(fixedZig(z)).Build(t.Context(), spec, out)
	if err == nil {
		t.Fatal("a C syntax error built")
	}
	for _, want := range []string{"building broken for linux/386", "syntax.c", "error: expected ';'"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	var re *run.Error
	var ee *exec.ExitError
	if !errors.As(err, &re) || !errors.As(err, &ee) {
		t.Errorf("error %v does not keep the *run.Error and *exec.ExitError", err)
	}
	if diff := cmp.Diff([]string(nil), dirNames(t, dir)); diff != "" {
		t.Errorf("a failed build left files beside its output (-want +got):\n%s", diff)
	}
}

// dirNames returns the names in dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestBuildsAreReproducibleAcrossDirectories(t *testing.T) {
	z := realZig(t)
	root := examplesRoot(t)
	testdata, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	// Two copies of a repository, at different depths and with different names.
	copies := []string{filepath.Join(t.TempDir(), "repo"), filepath.Join(t.TempDir(), "a", "much", "longer", "checkout")}
	for _, c := range copies {
		testenv.CopyTree(t, filepath.Join(c, "apps"), filepath.Join(root, "apps"), nil)
		testenv.CopyTree(t, filepath.Join(c, "file-macro"), filepath.Join(testdata, "file-macro"), nil)
	}
	tests := []struct {
		name    string
		builder Builder
		fields  manifest.Fields
		stdout  string // what the binary prints, if it is checked
	}{
		{name: "C, stripped", builder: C(fixedZig(z)), fields: manifest.Fields{Lang: "c", Src: []string{"apps/hello-c"}}},
		{name: "C with __FILE__, stripped", builder: C(fixedZig(z)), fields: manifest.Fields{Lang: "c", Src: []string{"file-macro"}}, stdout: "file-macro/main.c\n"},
		{name: "C with debug information", builder: C(fixedZig(z)), fields: manifest.Fields{Lang: "c", Src: []string{"file-macro"}, Shrink: []string{}}, stdout: "file-macro/main.c\n"},
		{name: "asm, stripped", builder: Asm(fixedZig(z)), fields: manifest.Fields{Lang: "asm", Src: []string{"apps/hello-asm/x86_64.S"}, Output: "elf"}},
		{name: "asm with symbols and debug information", builder: Asm(fixedZig(z)), fields: manifest.Fields{Lang: "asm", Src: []string{"apps/hello-asm/x86_64.S"}, Output: "elf", Shrink: []string{}}},
		{name: "flat", builder: Asm(fixedZig(z)), fields: manifest.Fields{Lang: "asm", Src: []string{"apps/teensy/x86_64.S"}, Output: "flat", Shrink: []string{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var bins [][]byte
			for i, c := range copies {
				f := tt.fields
				f.Src = append([]string(nil), f.Src...)
				spec := appSpec("app", linuxAMD64, c, f)
				bin := filepath.Join(t.TempDir(), fmt.Sprintf("out%d", i))
				if err := tt.builder.Build(t.Context(), spec, bin); err != nil {
					t.Fatal(err)
				}
				if tt.stdout != "" {
					if got := runLimited(t, bin); got != tt.stdout {
						t.Errorf("it printed %q, want %q", got, tt.stdout)
					}
				}
				data, err := os.ReadFile(bin)
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range copies {
					if bytes.Contains(data, []byte(c)) {
						t.Errorf("the binary holds the path %s", c)
					}
				}
				bins = append(bins, data)
			}
			if !bytes.Equal(bins[0], bins[1]) {
				t.Errorf("the copies built different bytes (%d and %d bytes)", len(bins[0]), len(bins[1]))
			}
		})
	}
}
