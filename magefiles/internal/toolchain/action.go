package toolchain

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/minimalbuild/minimal/magefiles/internal/action"
	"github.com/minimalbuild/minimal/magefiles/internal/cache"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// CompileKind names the compile action.
const CompileKind = "compile"

// outBin is the compile action's one output: the executable.
const outBin = "bin"

// CompileAction is the action that builds spec's executable with b in dir, keyed by in,
// what b.Inputs reported for spec, and by the files the build discovered it read, such
// as the headers a C source includes, by their paths relative to the repository. Its
// result is the executable.
func CompileAction(b Builder, spec manifest.Spec, in Inputs, dir string) action.Action[cache.Output] {
	return action.Action[cache.Output]{
		Kind:   CompileKind,
		Inputs: in,
		Host:   spec.HostPath,
		Run: func(ctx context.Context) (map[string][]byte, []string, error) {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, nil, err
			}
			exe := filepath.Join(dir, spec.App)
			if err := b.Build(ctx, spec, exe); err != nil {
				return nil, nil, err
			}
			bin, err := os.ReadFile(exe)
			if err != nil {
				return nil, nil, fmt.Errorf("reading built binary: %w", err)
			}
			found, err := b.Discovered(ctx, spec)
			names := make([]string, len(found))
			for j, f := range found {
				names[j] = spec.RepoPath(f)
			}
			return map[string][]byte{outBin: bin}, names, err
		},
		Decode: func(outs map[string]cache.Output) (cache.Output, error) {
			return action.Output(outs, outBin)
		},
	}
}

// BuiltFromDiscovered is what spec's compile read and ran, as BuiltFrom reports it,
// with the files it discovered it read named as CompileAction's Host takes them.
func BuiltFromDiscovered(spec manifest.Spec, in Inputs, names []string) ([]string, []Tool, error) {
	hosts := make([]string, len(names))
	for j, n := range names {
		hosts[j] = spec.HostPath(n)
	}
	return BuiltFrom(spec, in, hosts)
}
