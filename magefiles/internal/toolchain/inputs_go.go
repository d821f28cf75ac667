package toolchain

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/minimalbuild/minimal/magefiles/internal/run"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// goEnvKeys are the go environment variables that change what go build makes, beyond
// GOOS, GOARCH and CGO_ENABLED, which the build sets itself.
var goEnvKeys = []string{"GOVERSION", "GOROOT", "GOFLAGS", "GOAMD64", "GO386", "GOEXPERIMENT", "GODEBUG", "GOTOOLCHAIN"}

// goPackage is the part of `go list -json` output the inputs need.
type goPackage struct {
	ImportPath string
	Dir        string
	Standard   bool
	DepOnly    bool
	Deps       []string
	Module     *struct {
		Path    string
		Version string
		Sum     string
		Main    bool
		GoMod   string
		Replace *struct{ Path, Version, Sum string }
	}
	GoFiles, CgoFiles, SFiles, HFiles, CFiles, EmbedFiles, SysoFiles []string
	Error                                                            *struct{ Err string }
}

// goListFields are the fields asked of go list.
const goListFields = "ImportPath,Dir,Standard,DepOnly,Deps,Module,GoFiles,CgoFiles,SFiles,HFiles,CFiles,EmbedFiles,SysoFiles,Error"

// goListJobs bounds how many go list commands run at once.
const goListJobs = 2

// Inputs implements Builder: the settings, the go environment, then for each package
// the program links, its import path and either nothing more (the standard library,
// which the go version and GOROOT identify), its module's version and checksum (a
// module from the module cache), or the content of its files (the main module and
// modules replaced by directories). Specs are grouped so that go list runs once per
// platform and set of flags, for all apps at once.
func (b *goBuilder) Inputs(ctx context.Context, specs []manifest.Spec) ([]Inputs, error) {
	type group struct {
		flags, env []string
		idx        []int
	}
	groups := map[string]*group{}
	var order []string
	for i, s := range specs {
		t, err := Lookup(s.Platform)
		if err != nil {
			return nil, err
		}
		if len(s.Src) != 1 {
			return nil, fmt.Errorf("go app %s: src must be one package directory, got %d paths", s.App, len(s.Src))
		}
		env := GoEnv(s, t)
		id := strings.Join(s.Flags, "\x00") + "\x01" + strings.Join(env, "\x00")
		g, ok := groups[id]
		if !ok {
			g = &group{flags: s.Flags, env: env}
			groups[id] = g
			order = append(order, id)
		}
		g.idx = append(g.idx, i)
	}
	out := make([]Inputs, len(specs))
	errs := make([]error, len(order))
	sem := make(chan struct{}, goListJobs)
	var wg sync.WaitGroup
	for gi, id := range order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			g := groups[id]
			errs[gi] = b.groupInputs(ctx, specs, g.idx, g.flags, g.env, out)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// groupInputs fills out[i] for each i in idx, specs that share flags and environment.
func (b *goBuilder) groupInputs(ctx context.Context, specs []manifest.Spec, idx []int, flags, env []string, out []Inputs) error {
	goenv, err := b.goEnv(ctx, env)
	if err != nil {
		return err
	}
	dirs := make([]string, len(idx))
	for j, i := range idx {
		dirs[j] = specs[i].Src[0]
	}
	together, listErr := b.goList(ctx, specs[idx[0]].Root, flags, env, dirs)
	for j, i := range idx {
		pkgs := together
		if listErr != nil {
			if len(dirs) == 1 {
				return listErr
			}
			// Apps in modules of their own cannot be listed together.
			if pkgs, err = b.goList(ctx, dirs[j], flags, env, []string{"."}); err != nil {
				return err
			}
		}
		if out[i], err = goInputs(specs[i], dirs[j], goenv, pkgs); err != nil {
			return err
		}
	}
	return nil
}

// Discovered implements Builder: Inputs already names every file a Go build reads.
func (b *goBuilder) Discovered(context.Context, manifest.Spec) ([]string, error) { return nil, nil }

// goInputs lists the inputs of the program in dir, as pkgs reports its packages.
func goInputs(s manifest.Spec, dir string, goenv map[string]string, pkgs *goPackages) (Inputs, error) {
	main, ok := pkgs.byDir[filepath.Clean(dir)]
	if !ok {
		return nil, fmt.Errorf("go app %s: go list did not report the package in %s", s.App, dir)
	}
	var in Inputs
	in.settings(s)
	in.dict("goenv", goenv)
	for _, path := range append([]string{main.ImportPath}, main.Deps...) {
		p, ok := pkgs.byPath[path]
		if !ok {
			return nil, fmt.Errorf("go app %s: go list did not report dependency %s", s.App, path)
		}
		packageInputs(&in, p)
	}
	return in, nil
}

// goEnv returns the values of goEnvKeys as go sees them with env.
func (b *goBuilder) goEnv(ctx context.Context, env []string) (map[string]string, error) {
	out, err := run.Output(ctx, run.Cmd{Args: append([]string{b.goCmd, "env", "-json"}, goEnvKeys...), Env: env})
	if err != nil {
		return nil, fmt.Errorf("reading the go environment: %w", err)
	}
	vals := map[string]string{}
	if err := json.Unmarshal(out, &vals); err != nil {
		return nil, fmt.Errorf("reading the go environment: %w", err)
	}
	return vals, nil
}

// goPackages indexes go list's packages.
type goPackages struct {
	byPath map[string]*goPackage
	byDir  map[string]*goPackage
}

// goList runs one go list -deps over dirs, in root.
func (b *goBuilder) goList(ctx context.Context, root string, flags, env, dirs []string) (*goPackages, error) {
	args := []string{b.goCmd, "list", "-deps", "-json=" + goListFields}
	args = append(args, buildListFlags(flags)...)
	args = append(args, dirs...)
	out, err := run.Output(ctx, run.Cmd{Args: args, Dir: root, Env: env})
	if err != nil {
		return nil, fmt.Errorf("listing the packages of the go apps: %w", err)
	}
	pkgs := &goPackages{byPath: map[string]*goPackage{}, byDir: map[string]*goPackage{}}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		p := new(goPackage)
		if err := dec.Decode(p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("reading go list output: %w", err)
		}
		if p.Error != nil {
			return nil, fmt.Errorf("go list: package %s: %s", p.ImportPath, p.Error.Err)
		}
		pkgs.byPath[p.ImportPath] = p
		if !p.DepOnly {
			pkgs.byDir[filepath.Clean(p.Dir)] = p
		}
	}
	return pkgs, nil
}

// buildListFlags keeps the go build flags that change which files go list reports.
func buildListFlags(flags []string) []string {
	var out []string
	for i := 0; i < len(flags); i++ {
		f := flags[i]
		switch {
		case strings.HasPrefix(f, "-tags=") || strings.HasPrefix(f, "--tags="):
			out = append(out, f)
		case f == "-tags" || f == "--tags":
			if i+1 < len(flags) {
				out = append(out, f, flags[i+1])
				i++
			}
		}
	}
	return out
}

// packageInputs appends one package of a Go program.
func packageInputs(in *Inputs, p *goPackage) {
	in.value("package", p.ImportPath)
	switch {
	case p.Standard:
		return // the go version and GOROOT in goenv identify it
	case p.Module != nil && !p.Module.Main && p.Module.Replace == nil && p.Module.Version != "":
		in.value("module", p.Module.Path+"@"+p.Module.Version+" "+p.Module.Sum)
		return
	case p.Module != nil && p.Module.Replace != nil && p.Module.Replace.Version != "":
		in.value("module", p.Module.Replace.Path+"@"+p.Module.Replace.Version+" "+p.Module.Replace.Sum)
		return
	}
	if p.Module != nil && p.Module.GoMod != "" {
		in.file(p.ImportPath+" go.mod", p.Module.GoMod)
	}
	var files []string
	for _, list := range [][]string{p.GoFiles, p.CgoFiles, p.SFiles, p.HFiles, p.CFiles, p.EmbedFiles, p.SysoFiles} {
		files = append(files, list...)
	}
	slices.Sort(files)
	for _, f := range files {
		in.file(p.ImportPath+"/"+f, filepath.Join(p.Dir, f))
	}
}
