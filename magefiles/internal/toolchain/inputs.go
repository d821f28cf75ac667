package toolchain

import (
	"context"
	"slices"
	"strconv"

	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// list appends a list of values: its length, then each value under the same name.
func (in *Inputs) list(name string, values []string) {
	in.value(name, strconv.Itoa(len(values)))
	for _, v := range values {
		in.value(name, v)
	}
}

// dict appends a map, sorted by key.
func (in *Inputs) dict(name string, m map[string]string) {
	keys := sortedKeys(m)
	in.value(name, strconv.Itoa(len(keys)))
	for _, k := range keys {
		in.value(name, k+"="+m[k])
	}
}

// settings appends the settings of spec that every builder's output depends on.
func (in *Inputs) settings(spec manifest.Spec) {
	in.value("lang", spec.Lang)
	in.value("platform", spec.Platform.String())
	in.list("flags", spec.Flags)
	in.list("ldflags", spec.Ldflags)
	in.dict("env", spec.Env)
	in.value("strip", strconv.FormatBool(strips(spec)))
}

// Inputs implements Builder: the pinned zig, the settings, and each source by content.
// zig is named by its pinned version, which the cache checked against a pinned checksum
// when it fetched it, so finding the inputs needs no zig at all.
func (b *cBuilder) Inputs(ctx context.Context, specs []manifest.Spec) ([]Inputs, error) {
	return eachInputs(ctx, specs, zigInputs)
}

// Inputs implements Builder: as for C, plus the version nasm reports when a source is
// NASM-syntax.
func (b *asmBuilder) Inputs(ctx context.Context, specs []manifest.Spec) ([]Inputs, error) {
	return eachInputs(ctx, specs, zigInputs)
}

// Discovered implements Builder: the headers and includes the sources read.
func (b *cBuilder) Discovered(ctx context.Context, spec manifest.Spec) ([]string, error) {
	return deps(ctx, b.zig, spec)
}

// Discovered implements Builder: the files the sources include.
func (b *asmBuilder) Discovered(ctx context.Context, spec manifest.Spec) ([]string, error) {
	return deps(ctx, b.zig, spec)
}

// eachInputs calls inputs for each spec in turn.
func eachInputs(ctx context.Context, specs []manifest.Spec, inputs func(context.Context, manifest.Spec) (Inputs, error)) ([]Inputs, error) {
	out := make([]Inputs, len(specs))
	for i, s := range specs {
		in, err := inputs(ctx, s)
		if err != nil {
			return nil, err
		}
		out[i] = in
	}
	return out, nil
}

// nasmInput names the version nasm reports among a build's inputs.
const nasmInput = "nasm"

// zigInputs are the inputs of a C or assembly build of spec, but for the files the
// sources include.
func zigInputs(ctx context.Context, spec manifest.Spec) (Inputs, error) {
	var in Inputs
	in.value("toolchain", "zig "+spec.Zig)
	in.settings(spec)
	in.value("output", spec.Output)
	in.dict("defines", spec.Defines)
	incs := make([]string, len(spec.Include))
	for i, inc := range spec.Include {
		incs[i] = spec.RepoPath(inc)
	}
	in.list("include", incs)
	srcs, err := SourceFiles(spec)
	if err != nil {
		return nil, err
	}
	for _, src := range srcs {
		in.file(spec.RepoPath(src), src)
	}
	if slices.ContainsFunc(srcs, isNASM) {
		v, err := nasmVersion(ctx, spec)
		if err != nil {
			return nil, err
		}
		in.value(nasmInput, v)
	}
	return in, nil
}
