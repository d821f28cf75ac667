package toolchain

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/minimalbuild/minimal/magefiles/internal/passname"
	"github.com/minimalbuild/minimal/magefiles/internal/run"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// goBuilder builds Go packages with the go command on PATH.
type goBuilder struct {
	goCmd string
}

var _ Builder = (*goBuilder)(nil)

// Go returns the Builder for Go apps: the go command on PATH, CGO_ENABLED=0, GOOS=linux,
// the platform's GOARCH, -trimpath, and no VCS stamping so that a copy of the repository
// elsewhere builds the same bytes. The strip pass adds -ldflags=-s -w.
func Go() Builder { return &goBuilder{goCmd: "go"} }

// GoArgs returns the go build argv for spec, writing to out.
func GoArgs(spec manifest.Spec, out string) ([]string, error) {
	if len(spec.Src) != 1 {
		return nil, fmt.Errorf("go app %s: src must be one package directory, got %d paths", spec.App, len(spec.Src))
	}
	args := []string{"build", "-trimpath", "-buildvcs=false", "-o", out}
	args = append(args, spec.Flags...)
	ld := slices.Clone(spec.Ldflags)
	if slices.Contains(spec.Shrink, passname.Strip) {
		ld = append(ld, "-s", "-w")
	}
	if len(ld) > 0 {
		args = append(args, "-ldflags="+strings.Join(ld, " "))
	}
	return append(args, "."), nil
}

// GoEnv returns the environment go build runs with for spec on target t: the current
// environment, then the app's own env, then the cross-compilation settings, which win
// (the manifest refuses an env that sets them otherwise).
func GoEnv(spec manifest.Spec, t Target) []string {
	env := os.Environ()
	for _, k := range sortedKeys(spec.Env) {
		env = append(env, k+"="+spec.Env[k])
	}
	for _, k := range sortedKeys(manifest.ReservedBuildEnv) {
		v := manifest.ReservedBuildEnv[k]
		if k == "GOARCH" {
			v = t.GOARCH
		}
		env = append(env, k+"="+v)
	}
	return env
}

// Build implements Builder.
func (b *goBuilder) Build(ctx context.Context, spec manifest.Spec, out string) error {
	t, err := Lookup(spec.Platform)
	if err != nil {
		return err
	}
	tmp := out + ".tmp"
	args, err := GoArgs(spec, tmp)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if _, err := run.Output(ctx, run.Cmd{
		Args: append([]string{b.goCmd}, args...),
		Dir:  spec.Src[0],
		Env:  GoEnv(spec, t),
	}); err != nil {
		return fmt.Errorf("building %s for %s: %w", spec.App, spec.Platform, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("building %s for %s: %w", spec.App, spec.Platform, err)
	}
	return nil
}

// sortedKeys returns m's keys in order, so that environments and flags are deterministic.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
