package toolchain

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/minimalbuild/minimal/magefiles/internal/passname"
	"github.com/minimalbuild/minimal/magefiles/internal/run"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// cStripFlags are the zig cc flags the strip pass adds to a C build. Each one is kept
// because it makes the examples smaller, or keeps them small when an app's own flags
// change the optimization level; measured with zig 0.11.0 on pausle and hello-c, the
// bytes each flag saves on linux/amd64 and linux/386:
//
//   - -Os: optimize for size (1,560 / 1,740 bytes on pausle). -Oz gives the same bytes.
//   - -s: no symbol table and no debug information (about 140 KB / 100 KB).
//   - -fno-asynchronous-unwind-tables, -fno-unwind-tables: no .eh_frame; C needs no
//     unwinding (272 / 204 bytes; both are needed, either one alone saves nothing).
//   - -Wl,-z,norelro: no RELRO padding (104 / 64 bytes). musl's static startup never
//     applies PT_GNU_RELRO, so nothing is lost at run time.
//   - -ffunction-sections, -fdata-sections, -Wl,--gc-sections: zig already drops unused
//     functions at -Os, so they cost nothing there, but an app whose flags pick -O0
//     keeps its unused functions without them (a hello with one unused function:
//     25,944 against 9,128 bytes on linux/amd64).
//
// The strip pass also discards the .comment section (discardComment), 200 / 172 bytes.
//
// Measured and left out, because they change nothing or fail to link under zig cc:
// -fno-stack-protector and -Wl,--build-id=none (zig already builds without either),
// -fomit-frame-pointer, -fno-ident, -fno-plt, -flto, -Wl,--hash-style=gnu,
// -Wl,--no-eh-frame-hdr, -Wl,-z,max-page-size (lld does not pad the file), and
// -Wl,-n, -Wl,-N, -Wl,-z,noseparate-code, -Wl,--no-rosegment, which zig cc refuses.
var cStripFlags = []string{
	"-Os", "-s",
	"-fno-asynchronous-unwind-tables", "-fno-unwind-tables",
	"-ffunction-sections", "-fdata-sections", "-Wl,--gc-sections",
	"-Wl,-z,norelro",
}

// discardComment is a linker script that drops the .comment section, where the
// compiler and linker write their names and versions, and changes nothing else: INSERT
// keeps lld's default layout.
const discardComment = "SECTIONS { /DISCARD/ : { *(.comment) } } INSERT AFTER .text;\n"

// discardCommentFile is the name of discardComment in a build's work directory.
const discardCommentFile = "discard-comment.ld"

// LazyZig returns a function that resolves zig version with Zig on its first call and
// returns the same result to every later and concurrent call, so that a build that
// has no C or assembly app never looks for zig. A resolve that failed because its
// caller's context ended is not kept: the next call tries again.
func LazyZig(version string, opts ...ZigOption) func(ctx context.Context) (*ZigTool, error) {
	type result struct {
		done  chan struct{}
		z     *ZigTool
		err   error
		retry bool // the resolve was cut short by its caller's context
	}
	var (
		mu  sync.Mutex
		cur *result
	)
	return func(ctx context.Context) (*ZigTool, error) {
		for {
			mu.Lock()
			r, first := cur, cur == nil
			if first {
				r = &result{done: make(chan struct{})}
				cur = r
			}
			mu.Unlock()
			if first {
				r.z, r.err = Zig(ctx, version, opts...)
				if r.err != nil && ctx.Err() != nil {
					r.retry = true
					mu.Lock()
					cur = nil
					mu.Unlock()
				}
				close(r.done)
				return r.z, r.err
			}
			select {
			case <-r.done:
				if r.retry {
					continue
				}
				return r.z, r.err
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
}

// cBuilder builds C apps with zig cc.
type cBuilder struct {
	zig func(ctx context.Context) (*ZigTool, error)
}

var _ Builder = (*cBuilder)(nil)

// C returns the Builder for C apps: one `zig cc -target <triple> -static` that compiles
// every .c file of the app and links them against musl. zig is resolved with zig
// when the first app is built. The strip pass adds cStripFlags. zig runs in /, so a
// path in flags or ldflags must be absolute; include directories are.
func C(zig func(ctx context.Context) (*ZigTool, error)) Builder {
	return &cBuilder{zig: zig}
}

// Build implements Builder.
func (b *cBuilder) Build(ctx context.Context, spec manifest.Spec, out string) error {
	if err := b.build(ctx, spec, out); err != nil {
		return fmt.Errorf("building %s for %s: %w", spec.App, spec.Platform, err)
	}
	return nil
}

func (b *cBuilder) build(ctx context.Context, spec manifest.Spec, out string) error {
	if spec.Lang != manifest.LangC {
		return fmt.Errorf("the C builder cannot build lang %q", spec.Lang)
	}
	t, err := Lookup(spec.Platform)
	if err != nil {
		return err
	}
	srcs, err := sourceFiles(spec.Src, cExts, cIgnored)
	if err != nil {
		return err
	}
	z, err := b.zig(ctx)
	if err != nil {
		return err
	}
	return buildInto(out, func(dir string) (string, error) {
		exe := filepath.Join(dir, "exe")
		if err := writeDiscardComment(dir, spec); err != nil {
			return "", err
		}
		args := cArgs(spec, t, srcs, dir, exe)
		if _, err := run.Output(ctx, run.Cmd{
			Args: append([]string{z.Path()}, args...),
			Dir:  zigDir,
			Env:  zigEnv(z, spec),
		}); err != nil {
			return "", err
		}
		return exe, checkExecutableFile(exe, t)
	})
}

// cExts are the extensions of the files the C builder compiles; cIgnored, of the files
// in a C app's sources it passes over.
var (
	cExts    = manifest.CExts
	cIgnored = manifest.HeaderExts
)

// cArgs returns the zig argv that compiles and links srcs into out for spec on t. dir
// is the build's work directory, which holds discardCommentFile.
func cArgs(spec manifest.Spec, t Target, srcs []string, dir, out string) []string {
	args := []string{"cc", "-target", t.Zig, "-static"}
	if strips(spec) {
		args = append(args, cStripFlags...)
		args = append(args, "-T", filepath.Join(dir, discardCommentFile))
	}
	args = append(args, prefixMap(spec)...)
	args = append(args, includeFlags(spec)...)
	args = append(args, defineFlags(spec)...)
	args = append(args, spec.Flags...)
	args = append(args, srcs...)
	args = append(args, spec.Ldflags...)
	return append(args, "-o", out)
}

// strips reports whether spec's shrink passes include strip, which the zig builders
// apply at compile and link time.
func strips(spec manifest.Spec) bool { return slices.Contains(spec.Shrink, passname.Strip) }

// writeDiscardComment writes the discardComment script into dir when spec strips.
func writeDiscardComment(dir string, spec manifest.Spec) error {
	if !strips(spec) {
		return nil
	}
	return os.WriteFile(filepath.Join(dir, discardCommentFile), []byte(discardComment), 0o644)
}

// prefixMap returns the flag that writes paths under the repository root as relative
// ones into debug information and __FILE__, so that a copy of the repository elsewhere
// builds the same bytes.
func prefixMap(spec manifest.Spec) []string {
	if spec.Root == "" {
		return nil
	}
	return []string{"-ffile-prefix-map=" + spec.Root + "=."}
}

// includeFlags returns -I flags for spec's include directories, in order.
func includeFlags(spec manifest.Spec) []string {
	var flags []string
	for _, dir := range spec.Include {
		flags = append(flags, "-I"+dir)
	}
	return flags
}

// defineFlags returns -D flags for spec's defines, sorted by name: -DNAME=VALUE, or
// -DNAME for an empty value.
func defineFlags(spec manifest.Spec) []string {
	var flags []string
	for _, k := range sortedKeys(spec.Defines) {
		if v := spec.Defines[k]; v != "" {
			flags = append(flags, "-D"+k+"="+v)
		} else {
			flags = append(flags, "-D"+k)
		}
	}
	return flags
}

// zigEnv returns the environment zig runs with for spec: this process's, then zig's
// cache variables, then the app's own env.
func zigEnv(z *ZigTool, spec manifest.Spec) []string {
	env := append(os.Environ(), z.Env()...)
	for _, k := range sortedKeys(spec.Env) {
		env = append(env, k+"="+spec.Env[k])
	}
	return env
}

// zigDir is the directory zig runs in. zig compiles musl and its other libraries on
// first use and caches them, and the compiler records its working directory in their
// debug information; a fixed one keeps an unstripped build from carrying the path of
// whichever checkout filled the cache. The paths zig is given are absolute.
const zigDir = "/"

// workDir returns the directory nasm runs in: the repository root, so that nasm
// records sources by their paths relative to it, or the build's work directory when
// the spec has no root.
func workDir(spec manifest.Spec, dir string) string {
	if spec.Root != "" {
		return spec.Root
	}
	return dir
}

// sourceFiles expands srcs, absolute files and directories, into the files to build: a
// directory stands for its files whose extension is one of exts, sorted by name; a
// file must have one of exts, or one of ignored, in which case it is passed over.
func sourceFiles(srcs, exts, ignored []string) ([]string, error) {
	var files []string
	for _, src := range srcs {
		info, err := os.Stat(src)
		if err != nil {
			return nil, fmt.Errorf("reading sources: %w", err)
		}
		if !info.IsDir() {
			switch ext := filepath.Ext(src); {
			case slices.Contains(exts, ext):
				files = append(files, src)
			case slices.Contains(ignored, ext):
			default:
				return nil, fmt.Errorf("source %s is not a %s file", src, strings.Join(exts, ", "))
			}
			continue
		}
		entries, err := os.ReadDir(src)
		if err != nil {
			return nil, fmt.Errorf("reading sources: %w", err)
		}
		var found []string
		for _, e := range entries {
			if !e.IsDir() && slices.Contains(exts, filepath.Ext(e.Name())) {
				found = append(found, filepath.Join(src, e.Name()))
			}
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("source directory %s has no %s files", src, strings.Join(exts, ", "))
		}
		files = append(files, found...)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no %s sources", strings.Join(exts, ", "))
	}
	return files, nil
}

// buildInto runs build in a new work directory beside out and moves the executable it
// returns to out, mode 0755. Whatever happens, the work directory is removed and out
// is either the new executable or untouched.
func buildInto(out string, build func(dir string) (exe string, err error)) error {
	dir, err := os.MkdirTemp(filepath.Dir(out), "."+filepath.Base(out)+".build-")
	if err != nil {
		return fmt.Errorf("creating the work directory: %w", err)
	}
	defer os.RemoveAll(dir)
	exe, err := build(dir)
	if err != nil {
		return err
	}
	if err := os.Chmod(exe, 0o755); err != nil {
		return err
	}
	return os.Rename(exe, out)
}
