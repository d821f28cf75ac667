package toolchain

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/minimalbuild/minimal/magefiles/internal/run"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// SourceFiles returns the files a C or assembly build of spec compiles, in the order
// it compiles them.
func SourceFiles(spec manifest.Spec) ([]string, error) {
	switch spec.Lang {
	case manifest.LangC:
		return sourceFiles(spec.Src, cExts, cIgnored)
	case manifest.LangAsm:
		return sourceFiles(spec.Src, asmExts, nil)
	}
	return nil, fmt.Errorf("lang %q has no source file list", spec.Lang)
}

// nasmVersion returns what `nasm -v` prints, the identity of the nasm a build of spec
// runs.
func nasmVersion(ctx context.Context, spec manifest.Spec) (string, error) {
	env := asmEnv(spec)
	nasm, err := nasmPath(env)
	if err != nil {
		return "", err
	}
	out, err := run.Output(ctx, run.Cmd{Args: []string{nasm, "-v"}, Env: env})
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// deps returns the files, other than the sources themselves and the toolchain's own
// headers, that a C or assembly build of spec reads: the headers and includes the
// compiler reports in make-style dependency lists (zig cc -MM, nasm -M), sorted and
// without duplicates. Call it after a successful build; it runs the preprocessor only.
func deps(ctx context.Context, zig func(ctx context.Context) (*ZigTool, error), spec manifest.Spec) ([]string, error) {
	srcs, err := SourceFiles(spec)
	if err != nil {
		return nil, err
	}
	t, err := Lookup(spec.Platform)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, src := range srcs {
		seen[src] = true
	}
	var deps []string
	for _, src := range srcs {
		var cmd run.Cmd
		if isNASM(src) {
			env := asmEnv(spec)
			nasm, err := nasmPath(env)
			if err != nil {
				return nil, err
			}
			format := t.NASM // as the build assembles it: bin for a flat output
			if spec.Output == manifest.OutputFlat {
				format = "bin"
			}
			args := nasmArgs(spec, format, src, os.DevNull)
			args = slices.Insert(args, 0, "-M")
			cmd = run.Cmd{Args: append([]string{nasm}, args...), Dir: workDir(spec, zigDir), Env: env}
		} else {
			z, err := zig(ctx)
			if err != nil {
				return nil, err
			}
			args := []string{"cc", "-target", t.Zig, "-MM"}
			args = append(args, includeFlags(spec)...)
			args = append(args, defineFlags(spec)...)
			args = append(args, spec.Flags...)
			cmd = run.Cmd{Args: append([]string{z.Path()}, append(args, src)...), Dir: zigDir, Env: zigEnv(z, spec)}
		}
		out, err := run.Output(ctx, cmd)
		if err != nil {
			return nil, fmt.Errorf("listing the includes of %s: %w", src, err)
		}
		for _, d := range parseMakeDeps(string(out)) {
			if !filepath.IsAbs(d) {
				d = filepath.Join(cmd.Dir, d)
			}
			d = filepath.Clean(d)
			if !seen[d] {
				seen[d] = true
				deps = append(deps, d)
			}
		}
	}
	slices.Sort(deps)
	return deps, nil
}

// parseMakeDeps returns the prerequisites of a make rule such as "a.o: a.c b.h \\\n c.h",
// which is what -M style dependency output holds. Escaped spaces stay in names.
func parseMakeDeps(s string) []string {
	s = strings.ReplaceAll(s, "\\\r\n", " ")
	s = strings.ReplaceAll(s, "\\\n", " ")
	var deps []string
	for _, line := range strings.Split(s, "\n") {
		_, rest, ok := strings.Cut(line, ": ")
		if !ok {
			if strings.HasSuffix(strings.TrimSpace(line), ":") {
				continue
			}
			rest = line
		}
		var cur strings.Builder
		flush := func() {
			if cur.Len() > 0 {
				deps = append(deps, cur.String())
				cur.Reset()
			}
		}
		for i := 0; i < len(rest); i++ {
			switch c := rest[i]; {
			case c == '\\' && i+1 < len(rest) && rest[i+1] == ' ':
				cur.WriteByte(' ')
				i++
			case c == ' ' || c == '\t':
				flush()
			default:
				cur.WriteByte(c)
			}
		}
		flush()
	}
	return deps
}
