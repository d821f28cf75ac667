package pipeline

import (
	"bytes"
	"context"
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
	"github.com/minimalbuild/minimal/magefiles/internal/verify"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// Names of action outputs in the cache.
const (
	outBin    = "bin"
	outDeps   = "deps"
	outSteps  = "steps.json"
	outImage  = "image.json"
	outLayerN = "layer-"
)

// actions runs the cached actions of a build.
type actions struct {
	o       *options
	cache   *cache.Cache
	tool    string
	inputs  []toolchain.Inputs // of each spec, by index
	work    string
	created time.Time
	prog    *progress.Progress
}

// built is one app built for one platform.
type built struct {
	spec          manifest.Spec
	bin           cache.Output // the final executable
	steps         []report.Step
	image         v1.Image
	content, pull int64 // the image's sizes, as oci.Sizes measures them
}

// shrunk is the shrink action's result.
type shrunk struct {
	bin   cache.Output
	steps []report.Step
}

// imageMeta is the image action's small output: its layers and sizes.
type imageMeta struct {
	Layers  []oci.LayerInfo `json:"layers"`
	Content int64           `json:"content"`
	Pull    int64           `json:"pull"`

	paths []string // where the cache keeps each layer
}

// buildOne runs the compile, shrink and image actions of spec i.
func (a *actions) buildOne(ctx context.Context, i int, s manifest.Spec) (_ *built, err error) {
	task := a.prog.Start(s.App, s.Platform.String(), "compile")
	var ran [3]bool // by each action
	defer func() {
		switch {
		case err != nil:
			task.Done(err)
		case slices.Contains(ran[:], true):
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
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	compiled, ranCompile, err := do(ctx, a.cache, a.compile(i, s, dir))
	ran[0] = ranCompile
	if err != nil {
		return nil, err
	}
	task.Step("shrink")
	sh, ranShrink, err := do(ctx, a.cache, a.shrink(s, compiled, dir))
	ran[1] = ranShrink
	if err != nil {
		return nil, err
	}
	task.Step("image")
	app := appImage(s, t, a.created)
	meta, ranImage, err := do(ctx, a.cache, a.image(s, app, sh.bin))
	ran[2] = ranImage
	if err != nil {
		return nil, err
	}
	layers, err := storedLayers(meta)
	if err != nil {
		return nil, err
	}
	img, err := app.Image(layers)
	if err != nil {
		return nil, fmt.Errorf("assembling image: %w", err)
	}
	return &built{spec: s, bin: sh.bin, steps: sh.steps, image: img, content: meta.Content, pull: meta.Pull}, nil
}

// compile is the action that builds spec i's executable with its language's toolchain.
// Its key is what the toolchain reported as inputs, plus the content of the files the
// last build of the same inputs discovered it read (the headers a C source includes),
// which are recorded under the inputs' key.
func (a *actions) compile(i int, s manifest.Spec, dir string) action[cache.Output] {
	var inputs cache.Key
	var discovered []string
	return action[cache.Output]{
		key: func(ctx context.Context) (cache.Key, bool, error) {
			var err error
			if inputs, err = inputsKey(a.tool, a.inputs[i]); err != nil {
				return cache.Key{}, false, err
			}
			outs, err := a.cache.Get(inputs)
			if errors.Is(err, cache.ErrMiss) {
				return cache.Key{}, false, nil // never built
			}
			if err != nil {
				return cache.Key{}, false, err
			}
			var names []string
			if d := string(outs[outDeps]); d != "" {
				names = strings.Split(d, "\n")
			}
			key, err := compileKey(s, inputs, names)
			if errors.Is(err, fs.ErrNotExist) {
				return cache.Key{}, false, nil // a file is gone: build, and let the compiler say
			}
			return key, err == nil, err
		},
		run: func(ctx context.Context) (map[string][]byte, error) {
			b, ok := a.o.builders[s.Lang]
			if !ok {
				return nil, fmt.Errorf("no toolchain for lang %q", s.Lang)
			}
			exe := filepath.Join(dir, s.App)
			if err := b.Build(ctx, s, exe); err != nil {
				return nil, err
			}
			bin, err := os.ReadFile(exe)
			if err != nil {
				return nil, fmt.Errorf("reading built binary: %w", err)
			}
			found, err := b.Discovered(ctx, s)
			if err != nil {
				return nil, err
			}
			discovered = make([]string, len(found))
			for j, f := range found {
				discovered[j] = s.RepoPath(f)
			}
			if err := a.cache.Put(inputs, map[string][]byte{outDeps: []byte(strings.Join(discovered, "\n"))}); err != nil {
				return nil, err
			}
			return map[string][]byte{outBin: bin}, nil
		},
		storeKey: func(context.Context) (cache.Key, error) { return compileKey(s, inputs, discovered) },
		decode: func(outs map[string]cache.Output) (cache.Output, error) {
			return output(outs, outBin)
		},
	}
}

// shrink is the action that runs spec's shrink passes over the compiled executable,
// each checked by the verification policy.
func (a *actions) shrink(s manifest.Spec, compiled cache.Output, dir string) action[shrunk] {
	target := verify.Target{
		App:      s.App,
		Platform: s.Platform.String(),
		Test:     s.Test,
		Env:      smokeEnv(s),
		Passes:   s.Shrink,
		Failure:  s.ShrinkFailure,
	}
	return action[shrunk]{
		key: func(context.Context) (cache.Key, bool, error) {
			k := cache.NewKey("shrink")
			k.String("tool", a.tool)
			k.String("platform", s.Platform.String())
			k.Bytes("binary", compiled.SHA256[:])
			k.Strings("passes", s.Shrink)
			k.String("failure", s.ShrinkFailure)
			if err := jsonValue(k, "test", s.Test); err != nil {
				return cache.Key{}, false, err
			}
			k.Strings("test-env", target.Env)
			return k.Sum(), true, nil
		},
		run: func(ctx context.Context) (map[string][]byte, error) {
			bin, err := compiled.Read()
			if err != nil {
				return nil, err
			}
			out, steps, err := verify.Shrink(ctx, a.prog, target, bin, dir)
			if err != nil {
				return nil, err
			}
			js, err := json.Marshal(reportSteps(s, len(bin), steps))
			if err != nil {
				return nil, err
			}
			return map[string][]byte{outBin: out, outSteps: js}, nil
		},
		decode: func(outs map[string]cache.Output) (shrunk, error) {
			var r shrunk
			data, err := read(outs, outSteps)
			if err != nil {
				return r, err
			}
			if err := json.Unmarshal(data, &r.steps); err != nil {
				return r, fmt.Errorf("reading cached shrink steps: %w", err)
			}
			r.bin, err = output(outs, outBin)
			return r, err
		},
	}
}

// reportSteps are the sizes of a binary of n bytes after the compile and each pass.
func reportSteps(s manifest.Spec, n int, steps []verify.Step) []report.Step {
	first := report.Step{Pass: "compile", Bytes: int64(n)}
	if slices.Contains(s.Shrink, "strip") {
		first.Pass = "compile+strip"
	}
	out := []report.Step{first}
	for _, st := range steps {
		step := report.Step{Pass: st.Pass, Bytes: st.After, Skipped: st.Skipped}
		if st.Timed {
			step.StartupAddedMs = float64(st.StartupAdded.Microseconds()) / 1000
		}
		out = append(out, step)
	}
	return out
}

// image is the action that builds the layers of app's image around the final
// executable, and measures the image.
func (a *actions) image(s manifest.Spec, app oci.App, bin cache.Output) action[imageMeta] {
	return action[imageMeta]{
		key: func(context.Context) (cache.Key, bool, error) {
			k := cache.NewKey("image")
			k.String("tool", a.tool)
			k.String("app", s.App)
			k.String("platform", s.Platform.String())
			k.Bytes("binary", bin.SHA256[:])
			k.Int("created", a.created.Unix())
			img := s.Image
			img.Data, img.Files = "", nil
			if err := jsonValue(k, "config", img); err != nil {
				return cache.Key{}, false, err
			}
			if s.Image.Data != "" {
				if err := hashTree(k, s.Image.Data); err != nil {
					return cache.Key{}, false, fmt.Errorf("hashing image data: %w", err)
				}
			}
			for _, f := range s.Image.Files {
				k.String("file-to", f.To)
				fi, err := os.Stat(f.From)
				if err != nil {
					return cache.Key{}, false, fmt.Errorf("hashing image files: %w", err)
				}
				k.Int("file-mode", int64(fi.Mode()))
				if err := k.File("file", f.From); err != nil {
					return cache.Key{}, false, err
				}
			}
			return k.Sum(), true, nil
		},
		run: func(context.Context) (map[string][]byte, error) {
			data, err := bin.Read()
			if err != nil {
				return nil, err
			}
			return imageOutputs(app, data)
		},
		decode: func(outs map[string]cache.Output) (imageMeta, error) {
			var meta imageMeta
			data, err := read(outs, outImage)
			if err == nil {
				err = json.Unmarshal(data, &meta)
			}
			if err == nil && len(meta.Layers) == 0 {
				err = errors.New("cached image has no layers")
			}
			if err != nil {
				return meta, err
			}
			for j := range meta.Layers {
				o, err := output(outs, outLayerN+strconv.Itoa(j))
				if err != nil {
					return meta, err
				}
				meta.paths = append(meta.paths, o.Path)
			}
			return meta, nil
		},
	}
}

// imageOutputs builds the layers of app's image around bin and measures the image: the
// compressed layers and imageMeta, as the image action stores them.
func imageOutputs(app oci.App, bin []byte) (map[string][]byte, error) {
	layers, err := app.Layers(bin)
	if err != nil {
		return nil, err
	}
	img, err := app.Image(layers)
	if err != nil {
		return nil, fmt.Errorf("assembling image: %w", err)
	}
	var meta imageMeta
	if meta.Content, meta.Pull, err = oci.Sizes(img); err != nil {
		return nil, err
	}
	outputs := map[string][]byte{}
	for j, l := range layers {
		info, err := oci.Describe(l)
		if err != nil {
			return nil, err
		}
		meta.Layers = append(meta.Layers, info)
		rc, err := l.Compressed()
		if err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		_, err = io.Copy(&buf, rc)
		rc.Close()
		if err != nil {
			return nil, err
		}
		outputs[outLayerN+strconv.Itoa(j)] = buf.Bytes()
	}
	js, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	outputs[outImage] = js
	return outputs, nil
}

// storedLayers returns the layers the image action stored.
func storedLayers(meta imageMeta) ([]v1.Layer, error) {
	layers := make([]v1.Layer, len(meta.Layers))
	for j, info := range meta.Layers {
		path := meta.paths[j]
		layers[j] = oci.StoredLayer(info, func() (io.ReadCloser, error) { return os.Open(path) })
	}
	return layers, nil
}

// appImage is the plain description of s's image for target t.
func appImage(s manifest.Spec, t toolchain.Target, created time.Time) oci.App {
	files := make([]oci.HostFile, len(s.Image.Files))
	for i, f := range s.Image.Files {
		files[i] = oci.HostFile{From: f.From, To: f.To}
	}
	return oci.App{
		Name:        s.App,
		Platform:    v1.Platform{OS: s.Platform.OS, Architecture: t.OCIArch},
		Data:        s.Image.Data,
		Files:       files,
		Entrypoint:  s.Image.Entrypoint,
		Cmd:         s.Image.Cmd,
		Env:         s.Image.Env,
		WorkingDir:  s.Image.Workdir,
		User:        s.Image.User,
		Ports:       s.Image.Ports,
		Labels:      s.Image.Labels,
		Annotations: s.Image.Annotations,
		Created:     created,
	}
}

// smokeEnv is the environment s's binary runs with on the host, as its image would give
// it, then the smoke test's own.
func smokeEnv(s manifest.Spec) []string {
	var extra map[string]string
	if s.Test != nil {
		extra = s.Test.Env
	}
	return appImage(s, toolchain.Target{}, time.Time{}).HostEnv(extra)
}
