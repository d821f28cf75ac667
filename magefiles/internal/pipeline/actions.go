package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/minimalbuild/minimal/magefiles/internal/cache"
	"github.com/minimalbuild/minimal/magefiles/internal/oci"
	"github.com/minimalbuild/minimal/magefiles/internal/progress"
	"github.com/minimalbuild/minimal/magefiles/internal/report"
	"github.com/minimalbuild/minimal/magefiles/internal/toolchain"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// Each app and platform is built by three cached actions, each keyed by everything that
// determines its output:
//
//   - compile: the toolchain's identity, the app's build settings and the content of
//     every input file (for Go, every package go list -deps reports; for C and
//     assembly, the sources and the headers and includes the compiler reported the last
//     time they were built). Output: the executable.
//   - shrink: the compiled executable's digest, the pass list, the smoke test and
//     shrink_failure. Output: the final executable and the size of each step.
//   - image: the final executable's digest, the image settings, the content of the data
//     directory and extra files, and the creation time. Output: the compressed layers
//     and what the report needs.
//
// Every key also holds minimal's own identity (toolID). A later action is keyed by the
// digest of an earlier one's output, not by its key, so a change that compiles to the
// same bytes stops there.

// actions runs the cached actions of a build.
type actions struct {
	o       *options
	m       *manifest.Manifest
	cache   *cache.Cache
	tool    string
	goKeys  map[int]cache.Key
	work    string
	created time.Time
	prog    *progress.Progress
}

// Names of action outputs in the cache.
const (
	outBin    = "bin"
	outDeps   = "deps"
	outSteps  = "steps.json"
	outImage  = "image.json"
	outLayerN = "layer-"
)

// stored is an output found in the cache, read only when needed.
type stored struct {
	path   string
	size   int64
	sha256 [sha256.Size]byte
}

func (s stored) read() ([]byte, error) {
	b, err := os.ReadFile(s.path)
	if err != nil {
		return nil, fmt.Errorf("reading cached output: %w", err)
	}
	if sha256.Sum256(b) != s.sha256 {
		os.Remove(s.path)
		return nil, fmt.Errorf("cached output %s is corrupt and was removed; build again", s.path)
	}
	return b, nil
}

// lookup returns the outputs of key, or nil on a miss.
func (a *actions) lookup(key cache.Key) (map[string]stored, error) {
	outs, err := a.cache.Lookup(key)
	if errors.Is(err, cache.ErrMiss) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	m := make(map[string]stored, len(outs))
	for name, o := range outs {
		m[name] = stored{path: o.Path, size: o.Size, sha256: o.SHA256}
	}
	return m, nil
}

// put stores outputs under key and returns where the cache keeps them.
func (a *actions) put(key cache.Key, outputs map[string][]byte) (map[string]stored, error) {
	if err := a.cache.Put(key, outputs); err != nil {
		return nil, err
	}
	outs, err := a.lookup(key)
	if err == nil && outs == nil {
		err = cache.ErrMiss
	}
	if err != nil {
		return nil, fmt.Errorf("reading back the outputs just stored in %s: %w", a.cache.Dir(), err)
	}
	return outs, nil
}

// imageMeta is the image action's small output: its layers and sizes.
type imageMeta struct {
	Layers  []oci.LayerInfo `json:"layers"`
	Content int64           `json:"content"`
	Pull    int64           `json:"pull"`
}

// buildOne compiles, shrinks and assembles the image of spec i, from the cache where it
// can.
func (a *actions) buildOne(ctx context.Context, i int, s manifest.Spec) (_ *built, err error) {
	task := a.prog.Start(s.App, s.Platform.String(), "compile")
	ran := false
	defer func() {
		switch {
		case err != nil:
			task.Done(err)
		case ran:
			task.Done(nil)
		default:
			task.Cached()
		}
	}()
	t, err := toolchain.Lookup(s.Platform)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(a.work, s.App, t.GOARCH)

	// compile
	bin, compiled, err := a.compile(ctx, i, s, dir, &ran)
	if err != nil {
		return nil, err
	}

	// shrink
	task.Step("shrink")
	sk, err := a.shrinkKey(s, compiled.sha256)
	if err != nil {
		return nil, err
	}
	outs, err := a.lookup(sk)
	if err != nil {
		return nil, err
	}
	var final stored
	var steps []report.Step
	if outs != nil {
		final = outs[outBin]
		data, err := outs[outSteps].read()
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(data, &steps); err != nil {
			return nil, fmt.Errorf("reading cached shrink steps: %w", err)
		}
	}
	if outs == nil || final.path == "" {
		ran = true
		if bin == nil {
			if bin, err = compiled.read(); err != nil {
				return nil, err
			}
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		steps = []report.Step{{Pass: "compile", Bytes: int64(len(bin))}}
		if slices.Contains(s.Shrink, "strip") {
			steps[0].Pass = "compile+strip"
		}
		out, passSteps, err := shrinkBinary(ctx, a.prog, s, bin, dir)
		if err != nil {
			return nil, err
		}
		steps = append(steps, passSteps...)
		js, err := json.Marshal(steps)
		if err != nil {
			return nil, err
		}
		if outs, err = a.put(sk, map[string][]byte{outBin: out, outSteps: js}); err != nil {
			return nil, err
		}
		bin, final = out, outs[outBin]
	} else {
		bin = nil // the compiled bytes are not the final ones
	}

	// image
	task.Step("image")
	ik, err := a.imageKey(s, final.sha256)
	if err != nil {
		return nil, err
	}
	if outs, err = a.lookup(ik); err != nil {
		return nil, err
	}
	var meta imageMeta
	if outs != nil {
		data, err := outs[outImage].read()
		if err == nil {
			err = json.Unmarshal(data, &meta)
		}
		if err != nil || len(meta.Layers) == 0 {
			outs = nil // rebuild it
		}
	}
	if outs == nil {
		ran = true
		if bin == nil {
			if bin, err = final.read(); err != nil {
				return nil, err
			}
		}
		if outs, meta, err = a.storeImage(ik, s, t, bin); err != nil {
			return nil, err
		}
	}
	layers := make([]v1.Layer, len(meta.Layers))
	for j, info := range meta.Layers {
		blob, ok := outs[outLayerN+strconv.Itoa(j)]
		if !ok {
			return nil, fmt.Errorf("cached image of %s %s lacks layer %d; remove %s and build again", s.App, s.Platform, j, a.cache.Dir())
		}
		layers[j] = oci.StoredLayer(info, func() (io.ReadCloser, error) { return os.Open(blob.path) })
	}
	img, err := imageOf(s, t, layers, a.created)
	if err != nil {
		return nil, fmt.Errorf("assembling image: %w", err)
	}
	return &built{spec: s, bin: final, sizes: steps, image: img, content: meta.Content, pull: meta.Pull}, nil
}

// compile returns the executable of spec i, from the cache or built now: its bytes when
// it was built now, else nil, and where the cache keeps it.
func (a *actions) compile(ctx context.Context, i int, s manifest.Spec, dir string, ran *bool) ([]byte, stored, error) {
	key, depsKey, err := a.compileKey(ctx, i, s)
	if err != nil {
		return nil, stored{}, err
	}
	outs, err := a.lookup(key)
	if err != nil {
		return nil, stored{}, err
	}
	if o, ok := outs[outBin]; ok {
		return nil, o, nil
	}
	*ran = true
	b, ok := a.o.builders[s.Lang]
	if !ok {
		return nil, stored{}, fmt.Errorf("no toolchain for lang %q", s.Lang)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, stored{}, err
	}
	exe := filepath.Join(dir, s.App)
	if err := b.Build(ctx, s, exe); err != nil {
		return nil, stored{}, err
	}
	bin, err := os.ReadFile(exe)
	if err != nil {
		return nil, stored{}, fmt.Errorf("reading built binary: %w", err)
	}
	if depsKey != nil {
		// Record what the sources include, then key the output by it.
		deps, err := toolchain.Deps(ctx, a.o.zig, s)
		if err != nil {
			return nil, stored{}, err
		}
		rel := make([]string, len(deps))
		for j, d := range deps {
			rel[j] = repoRelative(s.Root, d)
		}
		if err := a.cache.Put(*depsKey, map[string][]byte{outDeps: []byte(strings.Join(rel, "\n"))}); err != nil {
			return nil, stored{}, err
		}
		if key, err = withDeps(*depsKey, s.Root, rel); err != nil {
			return nil, stored{}, err
		}
	}
	outs, err = a.put(key, map[string][]byte{outBin: bin})
	if err != nil {
		return nil, stored{}, err
	}
	return bin, outs[outBin], nil
}

// compileKey returns the key of spec i's compile. For C and assembly it also returns the
// key under which the list of headers the sources included is kept; the compile key is
// that key plus the content of those headers, as of the last build.
func (a *actions) compileKey(ctx context.Context, i int, s manifest.Spec) (cache.Key, *cache.Key, error) {
	if s.Lang == manifest.LangGo {
		k := cache.NewKey("compile")
		k.String("tool", a.tool)
		k.String("platform", s.Platform.String())
		k.Strings("flags", s.Flags)
		k.Strings("ldflags", s.Ldflags)
		k.Map("env", s.Env)
		k.Bool("strip", slices.Contains(s.Shrink, "strip"))
		gk, ok := a.goKeys[i]
		if !ok {
			return cache.Key{}, nil, fmt.Errorf("no go inputs for %s %s", s.App, s.Platform)
		}
		k.Key("inputs", gk)
		return k.Sum(), nil, nil
	}
	k, err := sourceKey(s, a.m)
	if err != nil {
		return cache.Key{}, nil, err
	}
	k.String("tool", a.tool)
	if toolchain.UsesNASM(s) {
		v, err := toolchain.NASMVersion(ctx, s)
		if err != nil {
			return cache.Key{}, nil, err
		}
		k.String("nasm", v)
	}
	depsKey := k.Sum()
	outs, err := a.cache.Get(depsKey)
	if errors.Is(err, cache.ErrMiss) {
		return cache.Key{}, &depsKey, nil // never built: the compile key is a miss too
	}
	if err != nil {
		return cache.Key{}, nil, err
	}
	var deps []string
	if d := string(outs[outDeps]); d != "" {
		deps = strings.Split(d, "\n")
	}
	key, err := withDeps(depsKey, s.Root, deps)
	if errors.Is(err, fs.ErrNotExist) {
		return cache.Key{}, &depsKey, nil // a header is gone: build, and let the compiler say
	}
	return key, &depsKey, err
}

// withDeps returns the compile key: depsKey plus the content of each dependency.
func withDeps(depsKey cache.Key, root string, deps []string) (cache.Key, error) {
	k := cache.NewKey("compile")
	k.Key("sources", depsKey)
	for _, d := range deps {
		path := d
		if !filepath.IsAbs(path) {
			path = filepath.Join(root, filepath.FromSlash(d))
		}
		if err := k.File(d, path); err != nil {
			return cache.Key{}, err
		}
	}
	return k.Sum(), nil
}

// repoRelative returns p relative to root, slash-separated, when it is inside root.
func repoRelative(root, p string) string {
	if r, err := filepath.Rel(root, p); err == nil && filepath.IsLocal(r) {
		return filepath.ToSlash(r)
	}
	return p
}

// shrinkKey is the key of the shrink action on the compiled binary with digest bin.
func (a *actions) shrinkKey(s manifest.Spec, bin [sha256.Size]byte) (cache.Key, error) {
	k := cache.NewKey("shrink")
	k.String("tool", a.tool)
	k.String("platform", s.Platform.String())
	k.Bytes("binary", bin[:])
	k.Strings("passes", s.Shrink)
	k.String("failure", s.ShrinkFailure)
	test, err := json.Marshal(s.Test)
	if err != nil {
		return cache.Key{}, err
	}
	k.Bytes("test", test)
	k.Strings("test-env", smokeEnv(s))
	return k.Sum(), nil
}

// imageKey is the key of the image action on the final binary with digest bin.
func (a *actions) imageKey(s manifest.Spec, bin [sha256.Size]byte) (cache.Key, error) {
	k := cache.NewKey("image")
	k.String("tool", a.tool)
	k.String("app", s.App)
	k.String("platform", s.Platform.String())
	k.Bytes("binary", bin[:])
	k.Int("created", a.created.Unix())
	img := s.Image
	img.Data, img.Files = "", nil
	cfg, err := json.Marshal(img)
	if err != nil {
		return cache.Key{}, err
	}
	k.Bytes("config", cfg)
	if s.Image.Data != "" {
		if err := hashTree(k, s.Image.Data); err != nil {
			return cache.Key{}, fmt.Errorf("hashing image data: %w", err)
		}
	}
	for _, f := range s.Image.Files {
		k.String("file-to", f.To)
		fi, err := os.Stat(f.From)
		if err != nil {
			return cache.Key{}, fmt.Errorf("hashing image files: %w", err)
		}
		k.Int("file-mode", int64(fi.Mode()))
		if err := k.File("file", f.From); err != nil {
			return cache.Key{}, err
		}
	}
	return k.Sum(), nil
}

// hashTree adds every file under dir to k: relative path, mode and content.
func hashTree(k *cache.KeyBuilder, dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		fi, err := os.Stat(p) // symlinks are followed, as the data layer does
		if err != nil {
			return err
		}
		k.String("path", filepath.ToSlash(rel))
		k.Int("mode", int64(fi.Mode()))
		if fi.Mode().IsRegular() {
			return k.File(rel, p)
		}
		return nil
	})
}

// storeImage builds the layers of the image of s around bin, measures the image, and
// stores both under key.
func (a *actions) storeImage(key cache.Key, s manifest.Spec, t toolchain.Target, bin []byte) (map[string]stored, imageMeta, error) {
	layers, err := imageLayers(s, bin, a.created)
	if err != nil {
		return nil, imageMeta{}, err
	}
	img, err := imageOf(s, t, layers, a.created)
	if err != nil {
		return nil, imageMeta{}, fmt.Errorf("assembling image: %w", err)
	}
	var meta imageMeta
	if meta.Content, meta.Pull, err = oci.Sizes(img); err != nil {
		return nil, imageMeta{}, err
	}
	outputs := map[string][]byte{}
	for j, l := range layers {
		info, err := oci.Describe(l)
		if err != nil {
			return nil, imageMeta{}, err
		}
		meta.Layers = append(meta.Layers, info)
		rc, err := l.Compressed()
		if err != nil {
			return nil, imageMeta{}, err
		}
		var buf bytes.Buffer
		_, err = io.Copy(&buf, rc)
		rc.Close()
		if err != nil {
			return nil, imageMeta{}, err
		}
		outputs[outLayerN+strconv.Itoa(j)] = buf.Bytes()
	}
	js, err := json.Marshal(meta)
	if err != nil {
		return nil, imageMeta{}, err
	}
	outputs[outImage] = js
	outs, err := a.put(key, outputs)
	if err != nil {
		return nil, imageMeta{}, err
	}
	return outs, meta, nil
}
