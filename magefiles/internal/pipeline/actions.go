package pipeline

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/minimalbuild/minimal/magefiles/internal/attest"
	"github.com/minimalbuild/minimal/magefiles/internal/cache"
	"github.com/minimalbuild/minimal/magefiles/internal/oci"
	"github.com/minimalbuild/minimal/magefiles/internal/pid1"
	"github.com/minimalbuild/minimal/magefiles/internal/progress"
	"github.com/minimalbuild/minimal/magefiles/internal/report"
	"github.com/minimalbuild/minimal/magefiles/internal/shrink"
	"github.com/minimalbuild/minimal/magefiles/internal/toolchain"
	"github.com/minimalbuild/minimal/magefiles/internal/verify"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// Names of action outputs in the cache.
const (
	outBin    = "bin"
	outSteps  = "steps.json"
	outImage  = "image.json"
	outLayerN = "layer-"

	outDescribed  = "binary.json"
	outSBOM       = "sbom.spdx.json"
	outProvenance = "provenance.intoto.json"
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
	dry     bool // explain what would run instead of running it

	ran, local, remote atomic.Int64 // actions run, and found in each tier of the cache
}

// built is one app built for one platform.
type built struct {
	spec          manifest.Spec
	bin           cache.Output // the final executable
	steps         []report.Step
	image         v1.Image
	content, pull int64      // the image's sizes, as oci.Sizes measures them
	referrers     []v1.Image // the image's SBOM and provenance
}

// shrunk is the shrink action's result.
type shrunk struct {
	bin       cache.Output
	steps     []report.Step
	described attest.Binary // the executable from the compiler to the image
}

// imaged is the image action's result: the image, and what it stored.
type imaged struct {
	image     v1.Image
	referrers []v1.Image
	oci.Stored
}

// buildOne runs the compile, shrink and image actions of spec i.
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
	name := a.o.out + "\x00" + s.App + "\x00" + s.Platform.String() + "\x00"
	compiled, r, err := do(ctx, a, name+"compile", a.compile(i, s, dir))
	if ran = r; err != nil {
		return nil, err
	}
	task.Step("shrink")
	init, err := pid1.For(s.Image, s.Platform.Arch)
	if err != nil {
		return nil, err
	}
	shrinkAct, err := a.shrink(s, compiled, dir, init)
	if err != nil {
		return nil, err
	}
	sh, r, err := do(ctx, a, name+"shrink", shrinkAct)
	if ran = ran || r; err != nil {
		return nil, err
	}
	task.Step("image")
	files, tools, err := a.builtFrom(i, s)
	if err != nil {
		return nil, err
	}
	in, err := attest.InputFor(s, sh.described, files, tools, a.created)
	if err != nil {
		return nil, err
	}
	app := oci.AppOf(s, v1.Platform{OS: s.Platform.OS, Architecture: t.OCIArch}, a.created)
	if init != nil {
		app.Init = &oci.Init{Path: pid1.Path, Binary: init}
	}
	imageAct, err := a.image(app, sh.bin, in)
	if err != nil {
		return nil, err
	}
	img, r, err := do(ctx, a, name+"image", imageAct)
	if ran = ran || r; err != nil {
		return nil, err
	}
	return &built{spec: s, bin: sh.bin, steps: sh.steps, image: img.image, content: img.Content, pull: img.Pull, referrers: img.referrers}, nil
}

// compile is the action that builds spec i's executable with its language's toolchain,
// keyed by what the toolchain reported as its inputs and by the files it discovered it
// read, such as the headers a C source includes.
func (a *actions) compile(i int, s manifest.Spec, dir string) action[cache.Output] {
	return action[cache.Output]{
		kind:   "compile",
		inputs: a.inputs[i],
		host:   s.HostPath,
		run: func(ctx context.Context) (map[string][]byte, []string, error) {
			b, ok := a.o.builders[s.Lang]
			if !ok {
				return nil, nil, fmt.Errorf("no toolchain for lang %q", s.Lang)
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, nil, err
			}
			exe := filepath.Join(dir, s.App)
			if err := b.Build(ctx, s, exe); err != nil {
				return nil, nil, err
			}
			bin, err := os.ReadFile(exe)
			if err != nil {
				return nil, nil, fmt.Errorf("reading built binary: %w", err)
			}
			found, err := b.Discovered(ctx, s)
			names := make([]string, len(found))
			for j, f := range found {
				names[j] = s.RepoPath(f)
			}
			return map[string][]byte{outBin: bin}, names, err
		},
		decode: func(outs map[string]cache.Output) (cache.Output, error) {
			return output(outs, outBin)
		},
	}
}

// shrink is the action that runs spec's shrink passes over the compiled executable,
// each checked by the verification policy.
func (a *actions) shrink(s manifest.Spec, compiled cache.Output, dir string, init []byte) (action[shrunk], error) {
	target := verify.Target{
		App:      s.App,
		Platform: s.Platform.String(),
		Test:     s.Test,
		Env:      smokeEnv(s),
		Passes:   s.Shrink,
		Failure:  s.ShrinkFailure,
		Init:     init,
	}
	ins, err := target.Inputs()
	if err != nil {
		return action[shrunk]{}, err
	}
	return action[shrunk]{
		kind:   "shrink",
		inputs: append(ins, digestInput(compiled)),
		run: func(ctx context.Context) (map[string][]byte, []string, error) {
			bin, err := compiled.Read()
			if err != nil {
				return nil, nil, err
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, nil, err
			}
			out, steps, err := verify.Shrink(ctx, a.prog, target, bin, dir)
			if err != nil {
				return nil, nil, err
			}
			passes := make([]shrink.Step, len(steps))
			for j, st := range steps {
				passes[j] = st.Step
			}
			described, err := attest.Describe(ctx, bin, passes, out)
			if err != nil {
				return nil, nil, fmt.Errorf("describing the executable: %w", err)
			}
			js, err := json.Marshal(report.ShrinkSteps(s.Shrink, int64(len(bin)), steps))
			if err != nil {
				return nil, nil, err
			}
			desc, err := json.Marshal(described)
			return map[string][]byte{outBin: out, outSteps: js, outDescribed: desc}, nil, err
		},
		decode: func(outs map[string]cache.Output) (r shrunk, err error) {
			if err = readJSON(outs, outSteps, &r.steps); err == nil {
				err = readJSON(outs, outDescribed, &r.described)
			}
			if err == nil {
				r.bin, err = output(outs, outBin)
			}
			return r, err
		},
	}, nil
}

// digestInput is the input of an action that reads the output of an earlier one: its
// digest.
func digestInput(o cache.Output) cache.Input {
	return cache.Input{Name: "binary", Value: hex.EncodeToString(o.SHA256[:])}
}

// image is the action that builds the layers of app's image around the final
// executable, and measures the image.
func (a *actions) image(app oci.App, bin cache.Output, in attest.Input) (action[imaged], error) {
	ins, err := app.Inputs()
	if err != nil {
		return action[imaged]{}, err
	}
	described, err := json.Marshal(in)
	if err != nil {
		return action[imaged]{}, err
	}
	return action[imaged]{
		kind:   "image",
		inputs: append(ins, digestInput(bin), cache.Input{Name: "attestation", Value: string(described)}),
		run: func(context.Context) (map[string][]byte, []string, error) {
			data, err := bin.Read()
			if err != nil {
				return nil, nil, err
			}
			st, blobs, err := app.Store(data)
			if err != nil {
				return nil, nil, err
			}
			outputs := map[string][]byte{}
			for j, b := range blobs {
				outputs[outLayerN+strconv.Itoa(j)] = b
			}
			img, err := app.Restore(st, func(j int) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(blobs[j])), nil })
			if err != nil {
				return nil, nil, err
			}
			if outputs[outSBOM], outputs[outProvenance], err = attest.Documents(img, in); err != nil {
				return nil, nil, err
			}
			outputs[outImage], err = json.Marshal(st)
			return outputs, nil, err
		},
		decode: func(outs map[string]cache.Output) (imaged, error) { return decodeImage(app, in, outs) },
	}, nil
}

// decodeImage puts the image action's result together from its stored outputs.
func decodeImage(app oci.App, in attest.Input, outs map[string]cache.Output) (r imaged, err error) {
	if err := readJSON(outs, outImage, &r.Stored); err != nil {
		return r, err
	}
	paths := make([]string, len(r.Layers))
	for j := range paths {
		o, err := output(outs, outLayerN+strconv.Itoa(j))
		if err != nil {
			return r, err
		}
		paths[j] = o.Path
	}
	if r.image, err = app.Restore(r.Stored, func(j int) (io.ReadCloser, error) { return os.Open(paths[j]) }); err != nil {
		return r, err
	}
	sbom, err := read(outs, outSBOM)
	if err != nil {
		return r, err
	}
	prov, err := read(outs, outProvenance)
	if err != nil {
		return r, err
	}
	r.referrers, err = attest.Attach(r.image, sbom, prov, in.Created)
	return r, err
}

// smokeEnv is the environment s's binary runs with on the host, as its image would give
// it, then the smoke test's own.
func smokeEnv(s manifest.Spec) []string {
	var extra map[string]string
	if s.Test != nil {
		extra = s.Test.Env
	}
	return oci.AppOf(s, v1.Platform{}, time.Time{}).HostEnv(extra)
}
