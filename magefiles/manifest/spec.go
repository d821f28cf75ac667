package manifest

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/minimalbuild/minimal/magefiles/internal/passname"
)

// App returns the app called name.
func (m *Manifest) App(name string) (*App, bool) {
	for i := range m.Apps {
		if m.Apps[i].Name == name {
			return &m.Apps[i], true
		}
	}
	return nil, false
}

// Spec returns what is needed to build app for p: the app's fields with the override in
// app.Targets[p.Arch] merged over them, the defaults that depend on the merged lang and
// output applied (output elf for asm; shrink [strip], or [] for a flat binary, when
// unset), and the paths made absolute under m.Root. It fails if p is not one of the
// app's platforms, or if the merged settings cannot be built (no src, no lang, output on
// an app that is not asm). Nothing in the result shares memory with app.
func (m *Manifest) Spec(app *App, p Platform) (Spec, error) {
	if !slices.Contains(app.Platforms, p) {
		return Spec{}, fmt.Errorf("app %q is not built for %s; its platforms are %v", app.Name, p, app.Platforms)
	}
	f := merge(app.Fields, app.Targets[p.Arch])
	switch {
	case len(f.Src) == 0:
		return Spec{}, fmt.Errorf("app %q has no src for %s (%s); set src, or targets.%s.src", app.Name, p.Arch, p, p.Arch)
	case f.Lang == "":
		return Spec{}, fmt.Errorf("app %q has no lang for %s", app.Name, p)
	case !slices.Contains(langs, f.Lang):
		return Spec{}, fmt.Errorf("app %q has unknown lang %q for %s", app.Name, f.Lang, p)
	case f.Output != "" && f.Lang != LangAsm:
		return Spec{}, fmt.Errorf("app %q sets output %q for %s, but its lang is %s; output is only for asm", app.Name, f.Output, p, f.Lang)
	}
	if f.Lang == LangAsm && f.Output == "" {
		f.Output = OutputELF
	}
	if f.Shrink == nil {
		f.Shrink = []string{passname.Strip}
		if f.Output == OutputFlat {
			f.Shrink = []string{}
		}
	}
	if f.Image.User == "" {
		f.Image.User = DefaultUser
	}
	for i, s := range f.Src {
		f.Src[i] = m.abs(s)
	}
	for i, s := range f.Include {
		f.Include[i] = m.abs(s)
	}
	if f.Image.Data != "" {
		f.Image.Data = m.abs(f.Image.Data)
	}
	for i := range f.Image.Files {
		f.Image.Files[i].From = m.abs(f.Image.Files[i].From)
	}
	return Spec{App: app.Name, Platform: p, Root: m.Root, File: m.File, Zig: m.Toolchains.Zig, Fields: f}, nil
}

// Specs returns the spec of every app for each of its platforms, in app order and then
// platform order.
func (m *Manifest) Specs() ([]Spec, error) {
	var specs []Spec
	var errs []error
	for i := range m.Apps {
		app := &m.Apps[i]
		for _, p := range app.Platforms {
			s, err := m.Spec(app, p)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			specs = append(specs, s)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return specs, nil
}

// abs makes the repository path p an absolute host path.
func (m *Manifest) abs(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(m.Root, filepath.FromSlash(p))
}

// merge returns over merged over base, as doc.go describes: a set scalar or list in
// over replaces base's; maps merge key by key; Image merges field by field; Test is
// replaced as a whole. Nil stays distinct from empty. The result shares no memory with
// either argument.
func merge(base, over Fields) Fields {
	return Fields{
		Lang:          pick(base.Lang, over.Lang),
		Src:           pickList(base.Src, over.Src),
		Include:       pickList(base.Include, over.Include),
		Defines:       mergeMap(base.Defines, over.Defines),
		Flags:         pickList(base.Flags, over.Flags),
		Ldflags:       pickList(base.Ldflags, over.Ldflags),
		Env:           mergeMap(base.Env, over.Env),
		Output:        pick(base.Output, over.Output),
		Shrink:        pickList(base.Shrink, over.Shrink),
		ShrinkFailure: pick(base.ShrinkFailure, over.ShrinkFailure),
		Image:         mergeImage(base.Image, over.Image),
		Tags:          pickList(base.Tags, over.Tags),
		Test:          cloneTest(pickPtr(base.Test, over.Test)),
		Budget:        mergeBudget(base.Budget, over.Budget),
	}
}

// mergeBudget merges over's sizes over base's, each on its own; nil if both are nil.
func mergeBudget(base, over *Budget) *Budget {
	if base == nil && over == nil {
		return nil
	}
	var out Budget
	for _, b := range []*Budget{base, over} {
		if b == nil {
			continue
		}
		if b.Content.Bytes != 0 {
			out.Content = b.Content
		}
		if b.Pull.Bytes != 0 {
			out.Pull = b.Pull
		}
	}
	return &out
}

func mergeImage(base, over Image) Image {
	return Image{
		Entrypoint:  pickList(base.Entrypoint, over.Entrypoint),
		Cmd:         pickList(base.Cmd, over.Cmd),
		Env:         mergeMap(base.Env, over.Env),
		Workdir:     pick(base.Workdir, over.Workdir),
		User:        pick(base.User, over.User),
		Ports:       pickList(base.Ports, over.Ports),
		Labels:      mergeMap(base.Labels, over.Labels),
		Annotations: mergeMap(base.Annotations, over.Annotations),
		Data:        pick(base.Data, over.Data),
		Files:       pickList(base.Files, over.Files),
		Init:        clonePtr(pickPtr(base.Init, over.Init)),
	}
}

func pick(base, over string) string {
	if over != "" {
		return over
	}
	return base
}

// pickList returns a copy of over if it is set (non-nil), else of base.
func pickList[T any](base, over []T) []T {
	if over != nil {
		return slices.Clone(over)
	}
	return slices.Clone(base)
}

// clonePtr returns a pointer to a copy of *p, or nil.
func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func pickPtr[T any](base, over *T) *T {
	if over != nil {
		return over
	}
	return base
}

// mergeMap returns base's entries overwritten by over's; nil if both are nil.
func mergeMap(base, over map[string]string) map[string]string {
	if base == nil && over == nil {
		return nil
	}
	out := make(map[string]string, len(base)+len(over))
	maps.Copy(out, base)
	maps.Copy(out, over)
	return out
}

func cloneTest(t *Test) *Test {
	if t == nil {
		return nil
	}
	c := *t
	c.Args = slices.Clone(t.Args)
	c.Env = maps.Clone(t.Env)
	for _, s := range []**string{&c.Stdout, &c.StdoutContains, &c.Stderr, &c.StderrContains} {
		if *s != nil {
			v := **s
			*s = &v
		}
	}
	return &c
}

// unset returns a copy of f without the values that set sets: a set scalar, list or
// test removes f's; a set map removes f's entries for the same keys.
func unset(f, set Fields) Fields {
	out := merge(Fields{}, f)
	if set.Lang != "" {
		out.Lang = ""
	}
	if set.Output != "" {
		out.Output = ""
	}
	if set.ShrinkFailure != "" {
		out.ShrinkFailure = ""
	}
	if set.Image.Init != nil {
		out.Image.Init = nil
	}
	for _, l := range []struct{ f, set *[]string }{
		{&out.Src, &set.Src}, {&out.Include, &set.Include}, {&out.Flags, &set.Flags},
		{&out.Ldflags, &set.Ldflags}, {&out.Shrink, &set.Shrink}, {&out.Tags, &set.Tags},
		{&out.Image.Entrypoint, &set.Image.Entrypoint}, {&out.Image.Cmd, &set.Image.Cmd},
		{&out.Image.Ports, &set.Image.Ports},
	} {
		if *l.set != nil {
			*l.f = nil
		}
	}
	for _, m := range []struct{ f, set map[string]string }{
		{out.Defines, set.Defines}, {out.Env, set.Env}, {out.Image.Env, set.Image.Env},
		{out.Image.Labels, set.Image.Labels}, {out.Image.Annotations, set.Image.Annotations},
	} {
		for k := range m.set {
			delete(m.f, k)
		}
	}
	if set.Image.Workdir != "" {
		out.Image.Workdir = ""
	}
	if set.Image.User != "" {
		out.Image.User = ""
	}
	if set.Image.Data != "" {
		out.Image.Data = ""
	}
	if set.Image.Files != nil {
		out.Image.Files = nil
	}
	if set.Test != nil {
		out.Test = nil
	}
	if set.Budget != nil && out.Budget != nil {
		if set.Budget.Content.Bytes != 0 {
			out.Budget.Content = Size{}
		}
		if set.Budget.Pull.Bytes != 0 {
			out.Budget.Pull = Size{}
		}
		if *out.Budget == (Budget{}) {
			out.Budget = nil
		}
	}
	return out
}

// RepoPath names the host path p as keys and records do: slash-separated and relative
// to the repository root when p is inside it, else p itself. So the same checkout in
// another directory names its files the same way.
func (s Spec) RepoPath(p string) string {
	if r, err := filepath.Rel(s.Root, p); err == nil && filepath.IsLocal(r) {
		return filepath.ToSlash(r)
	}
	return p
}

// HostPath is the inverse of RepoPath: the host path of a name RepoPath gave.
func (s Spec) HostPath(name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(s.Root, filepath.FromSlash(name))
}

// Select returns the specs of the named apps, or of every app when none is named, as
// Specs orders them. An unknown name is an error that lists the apps there are.
func (m *Manifest) Select(names []string) ([]Spec, error) {
	for _, n := range names {
		if _, ok := m.App(n); !ok {
			known := make([]string, len(m.Apps))
			for i, a := range m.Apps {
				known[i] = a.Name
			}
			return nil, fmt.Errorf("%s: no app named %q; apps are: %s", m.File, n, strings.Join(known, ", "))
		}
	}
	all, err := m.Specs()
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return all, nil
	}
	var specs []Spec
	for _, s := range all {
		if slices.Contains(names, s.App) {
			specs = append(specs, s)
		}
	}
	return specs, nil
}
