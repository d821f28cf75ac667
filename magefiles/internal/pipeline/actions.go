package pipeline

import (
	"context"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/minimalbuild/minimal/magefiles/internal/action"
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

// actions runs the cached actions of a build.
type actions struct {
	action.Runner
	o       *options
	inputs  []toolchain.Inputs // of each spec, by index
	work    string
	created time.Time
	prog    *progress.Progress
}

// built is one app built for one platform.
type built struct {
	spec  manifest.Spec
	bin   cache.Output // the final executable
	steps []report.Step
	attest.Imaged
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
	compiled, r, err := action.Do(ctx, &a.Runner, name+"compile", toolchain.CompileAction(a.o.builders[s.Lang], s, a.inputs[i], dir))
	if ran = r; err != nil {
		return nil, err
	}
	task.Step("shrink")
	init, err := pid1.For(s.Image, s.Platform.Arch)
	if err != nil {
		return nil, err
	}
	target := verify.Target{App: s.App, Platform: s.Platform.String(), Test: s.Test, Env: smokeEnv(s), Passes: s.Shrink, Failure: s.ShrinkFailure, Init: init}
	shrinkAct, err := target.Action(a.prog, compiled, dir)
	if err != nil {
		return nil, err
	}
	sh, r, err := action.Do(ctx, &a.Runner, name+"shrink", shrinkAct)
	if ran = ran || r; err != nil {
		return nil, err
	}
	task.Step("image")
	imageAct, err := a.image(i, s, t, init, a.Discovered(name+"compile"), compiled, sh)
	if err != nil {
		return nil, err
	}
	img, r, err := action.Do(ctx, &a.Runner, name+"image", imageAct)
	if ran = ran || r; err != nil {
		return nil, err
	}
	return &built{spec: s, bin: sh.Bin, steps: report.ShrinkSteps(s.Shrink, compiled.Size, sh.Steps), Imaged: img}, nil
}

// image returns the image action of spec i, with its init when it has one, around the
// shrink action's result sh of compiled, whose compile discovered it read the files
// named found.
func (a *actions) image(i int, s manifest.Spec, t toolchain.Target, init []byte, found []string, compiled cache.Output, sh verify.Shrunk) (action.Action[attest.Imaged], error) {
	files, tools, err := toolchain.BuiltFromDiscovered(s, a.inputs[i], found)
	if err != nil {
		return action.Action[attest.Imaged]{}, err
	}
	in, err := attest.InputFor(s, attest.Binary{}, files, tools, a.created)
	if err != nil {
		return action.Action[attest.Imaged]{}, err
	}
	app := oci.AppOf(s, v1.Platform{OS: s.Platform.OS, Architecture: t.OCIArch}, a.created)
	if init != nil {
		app.Init = &oci.Init{Path: pid1.Path, Binary: init}
	}
	passes := make([]shrink.Step, len(sh.Steps))
	for j, st := range sh.Steps {
		passes[j] = st.Step
	}
	return attest.ImageAction(app, compiled, sh.Bin, passes, in)
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
