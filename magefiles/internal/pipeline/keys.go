package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/minimalbuild/minimal/magefiles/internal/cache"
	"github.com/minimalbuild/minimal/magefiles/internal/run"
	"github.com/minimalbuild/minimal/magefiles/internal/toolchain"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// keyVersion changes when the meaning of a key changes without minimal's executable
// changing, which never happens in a release; it is part of every key.
const keyVersion = "minimal-actions-1"

// toolID identifies the running minimal: the SHA-256 of its own executable, which holds
// every pass, layer writer and compiler flag table. A changed minimal rebuilds
// everything, and the same minimal, built reproducibly from the same source, keeps its
// cache.
var toolID = sync.OnceValues(func() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding minimal's own executable: %w", err)
	}
	f, err := os.Open(exe)
	if err != nil {
		return "", fmt.Errorf("hashing minimal's own executable: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing minimal's own executable: %w", err)
	}
	return fmt.Sprintf("%x", h.Sum(nil)), nil
})

// goEnvKeys are the go environment variables that change what go build makes, beyond
// GOOS, GOARCH and CGO_ENABLED, which the build sets itself.
var goEnvKeys = []string{"GOVERSION", "GOROOT", "GOFLAGS", "GOAMD64", "GO386", "GOEXPERIMENT", "GODEBUG", "GOTOOLCHAIN"}

// goPackage is the part of `go list -json` output a key needs.
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

// goKeys computes the input part of the compile key of every Go spec: the go
// environment, then for each package the program links, its import path and either
// the go version (standard library), its module's version and checksum (a module
// from the module cache), or the content of its files (the main module and modules
// replaced by directories). Specs are grouped so that go list runs once per platform
// and set of flags, for all apps at once.
func goKeys(ctx context.Context, specs []manifest.Spec) (map[int]cache.Key, error) {
	type group struct {
		args []string
		env  []string
		idx  []int
	}
	groups := map[string]*group{}
	var order []string
	for i, s := range specs {
		if s.Lang != manifest.LangGo {
			continue
		}
		t, err := toolchain.Lookup(s.Platform)
		if err != nil {
			return nil, err
		}
		if len(s.Src) != 1 {
			return nil, fmt.Errorf("go app %s: src must be one package directory, got %d paths", s.App, len(s.Src))
		}
		env := toolchain.GoEnv(s, t)
		id := strings.Join(s.Flags, "\x00") + "\x01" + strings.Join(env, "\x00")
		g, ok := groups[id]
		if !ok {
			g = &group{args: s.Flags, env: env}
			groups[id] = g
			order = append(order, id)
		}
		g.idx = append(g.idx, i)
	}
	keys := map[int]cache.Key{}
	var mu sync.Mutex
	err := parallel(ctx, 2, len(order), func(ctx context.Context, gi int) error {
		g := groups[order[gi]]
		goenv, err := goEnv(ctx, g.env)
		if err != nil {
			return err
		}
		dirs := make([]string, len(g.idx))
		for j, i := range g.idx {
			dirs[j] = specs[i].Src[0]
		}
		together, listErr := goList(ctx, specs[g.idx[0]].Root, g.args, g.env, dirs)
		for j, i := range g.idx {
			pkgs := together
			if listErr != nil {
				if len(dirs) == 1 {
					return listErr
				}
				// Apps in modules of their own cannot be listed together.
				if pkgs, err = goList(ctx, dirs[j], g.args, g.env, []string{"."}); err != nil {
					return err
				}
			}
			k, err := goInputKey(specs[i], dirs[j], goenv, pkgs)
			if err != nil {
				return err
			}
			mu.Lock()
			keys[i] = k
			mu.Unlock()
		}
		return nil
	})
	return keys, err
}

// goInputKey hashes the packages of the program in dir, as pkgs lists them.
func goInputKey(s manifest.Spec, dir string, goenv map[string]string, pkgs *goPackages) (cache.Key, error) {
	main, ok := pkgs.byDir[filepath.Clean(dir)]
	if !ok {
		return cache.Key{}, fmt.Errorf("go app %s: go list did not report the package in %s", s.App, dir)
	}
	k := cache.NewKey("go-inputs")
	k.Map("goenv", goenv)
	for _, path := range append([]string{main.ImportPath}, main.Deps...) {
		p, ok := pkgs.byPath[path]
		if !ok {
			return cache.Key{}, fmt.Errorf("go app %s: go list did not report dependency %s", s.App, path)
		}
		if err := hashPackage(k, p); err != nil {
			return cache.Key{}, fmt.Errorf("go app %s: %w", s.App, err)
		}
	}
	return k.Sum(), nil
}

// goEnv returns the values of goEnvKeys as go sees them with env.
func goEnv(ctx context.Context, env []string) (map[string]string, error) {
	out, err := run.Output(ctx, run.Cmd{Args: append([]string{"go", "env", "-json"}, goEnvKeys...), Env: env})
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
func goList(ctx context.Context, root string, flags, env, dirs []string) (*goPackages, error) {
	args := []string{"go", "list", "-deps", "-json=" + goListFields}
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

// hashPackage adds one package of a Go program to k.
func hashPackage(k *cache.KeyBuilder, p *goPackage) error {
	k.String("package", p.ImportPath)
	switch {
	case p.Standard:
		return nil // the go version and GOROOT in goenv identify it
	case p.Module != nil && !p.Module.Main && p.Module.Replace == nil && p.Module.Version != "":
		k.String("module", p.Module.Path+"@"+p.Module.Version+" "+p.Module.Sum)
		return nil
	case p.Module != nil && p.Module.Replace != nil && p.Module.Replace.Version != "":
		k.String("module", p.Module.Replace.Path+"@"+p.Module.Replace.Version+" "+p.Module.Replace.Sum)
		return nil
	}
	if p.Module != nil && p.Module.GoMod != "" {
		if err := k.File("go.mod", p.Module.GoMod); err != nil {
			return err
		}
	}
	var files []string
	for _, list := range [][]string{p.GoFiles, p.CgoFiles, p.SFiles, p.HFiles, p.CFiles, p.EmbedFiles, p.SysoFiles} {
		files = append(files, list...)
	}
	slices.Sort(files)
	for _, f := range files {
		if err := k.File(f, filepath.Join(p.Dir, f)); err != nil {
			return err
		}
	}
	return nil
}

// sourceKey starts the key of a C or assembly compile: everything but the headers.
// Paths are hashed relative to the repository, so the same commit gives the same key in
// any directory.
func sourceKey(s manifest.Spec, m *manifest.Manifest) (*cache.KeyBuilder, error) {
	k := cache.NewKey("c-asm-sources")
	// The pinned version identifies zig: the cache checked it against a pinned checksum
	// when it was fetched.
	k.String("toolchain", "zig "+m.Toolchains.Zig)
	k.String("lang", s.Lang)
	k.String("platform", s.Platform.String())
	k.String("output", s.Output)
	k.Strings("flags", s.Flags)
	k.Strings("ldflags", s.Ldflags)
	k.Map("defines", s.Defines)
	k.Map("env", s.Env)
	k.Bool("strip", slices.Contains(s.Shrink, "strip"))
	var incs []string
	for _, inc := range s.Include {
		incs = append(incs, repoRelative(s.Root, inc))
	}
	k.Strings("include", incs)
	srcs, err := toolchain.SourceFiles(s)
	if err != nil {
		return nil, err
	}
	for _, src := range srcs {
		if err := k.File(repoRelative(s.Root, src), src); err != nil {
			return nil, err
		}
	}
	return k, nil
}
