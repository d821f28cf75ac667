package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/minimalbuild/minimal/magefiles/internal/cache"
	"github.com/minimalbuild/minimal/magefiles/internal/oci"
	"github.com/minimalbuild/minimal/magefiles/internal/progress"
	"github.com/minimalbuild/minimal/magefiles/internal/report"
	"github.com/minimalbuild/minimal/magefiles/internal/run"
	"github.com/minimalbuild/minimal/magefiles/internal/shrink"
	"github.com/minimalbuild/minimal/magefiles/internal/smoke"
	"github.com/minimalbuild/minimal/magefiles/internal/toolchain"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// built is one app built for one platform.
type built struct {
	spec          manifest.Spec
	bin           stored // the final executable, in the cache
	sizes         []report.Step
	image         v1.Image
	content, pull int64 // the image's sizes, as oci.Sizes measures them
}

// Build builds the apps of m for their platforms and publishes them into the output
// directory: binaries under bin/, one OCI image layout under oci/, docker tarballs under
// tar/, and the size report as report.json and report.svg. It returns the size report.
func Build(ctx context.Context, m *manifest.Manifest, opts ...Option) (_ *report.Report, err error) {
	o, err := makeOptions(m, opts)
	if err != nil {
		return nil, err
	}
	specs, err := selectSpecs(m, o.apps)
	if err != nil {
		return nil, err
	}
	created, err := oci.Created()
	if err != nil {
		return nil, err
	}
	c, err := cache.Open(o.cacheDir)
	if err != nil {
		return nil, fmt.Errorf("opening the action cache: %w", err)
	}
	unlock, err := lockOut(ctx, o, c.Dir())
	if err != nil {
		return nil, err
	}
	defer unlock()
	tool, err := toolID()
	if err != nil {
		return nil, err
	}
	work, err := workDir(c.Dir())
	if err != nil {
		return nil, fmt.Errorf("creating work directory: %w", err)
	}
	defer os.RemoveAll(work)

	start := time.Now()
	prog := progress.New(o.log)
	defer prog.Close()
	prog.SetTotal(len(specs))
	if o.verbose {
		ctx = run.WithLog(ctx, prog)
	}
	goKeys, err := goKeys(ctx, specs)
	if err != nil {
		return nil, err
	}
	a := &actions{o: o, m: m, cache: c, tool: tool, goKeys: goKeys, work: work, created: created, prog: prog}
	results := make([]*built, len(specs))
	err = parallel(ctx, o.jobs, len(specs), func(ctx context.Context, i int) error {
		s := specs[i]
		b, err := a.buildOne(ctx, i, s)
		if err != nil {
			return fmt.Errorf("%s %s: %w", s.App, s.Platform, err)
		}
		results[i] = b
		return nil
	})
	if err != nil {
		return nil, err
	}

	r, wrote, err := publishAll(ctx, o, m, results)
	if err != nil {
		return nil, err
	}
	prog.Close()
	if err := r.WriteTable(o.log); err != nil {
		return nil, err
	}
	what := "built"
	if wrote == 0 {
		what = "up to date:"
	}
	fmt.Fprintf(o.log, "%s %d images of %d apps in %v\n", what, len(results), len(r.Apps), time.Since(start).Round(time.Millisecond))
	return r, nil
}

// selectSpecs expands m into build specs, keeping only the named apps if any are named.
func selectSpecs(m *manifest.Manifest, names []string) ([]manifest.Spec, error) {
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
	var specs []manifest.Spec
	for _, s := range all {
		if slices.Contains(names, s.App) {
			specs = append(specs, s)
		}
	}
	return specs, nil
}

// startWindow is how long an app without a smoke test must run, or exit, without
// crashing after a shrink pass.
const startWindow = 300 * time.Millisecond

// shrinkBinary runs the post-link shrink passes of s over bin, checking each result with
// the app's smoke test.
func shrinkBinary(ctx context.Context, log io.Writer, s manifest.Spec, bin []byte, dir string) ([]byte, []report.Step, error) {
	names := s.Shrink
	// Each pass's output is written beside the build and run: with the app's smoke test,
	// or, for an app without one, only to see that it starts without crashing.
	verify := func(ctx context.Context, path string) error { return SmokeBinary(ctx, s, path) }
	if s.Test == nil {
		if len(names) > 0 {
			fmt.Fprintf(log, "warning: %s %s: no smoke test, so %s is only checked to start without crashing; add test: to minimal.yaml\n", s.App, s.Platform, strings.Join(names, ", "))
		}
		verify = func(ctx context.Context, path string) error {
			return smoke.Starts(ctx, smoke.Cmd{Args: []string{path}, Env: smokeEnv(s), Dir: dir}, startWindow)
		}
	}
	write := func(name string, bin []byte) (string, error) {
		path := filepath.Join(dir, name)
		return path, os.WriteFile(path, bin, 0o755)
	}
	startup := map[string]time.Duration{} // start-up time each stressed pass adds
	check := func(ctx context.Context, pass string, in, out []byte) error {
		after, err := write(s.App+"."+pass, out)
		if err != nil {
			return err
		}
		if err := verify(ctx, after); err != nil {
			if ctx.Err() != nil {
				return err
			}
			// A test that fails on the pass's input too is not the pass's fault, and
			// skipping the pass would not help.
			before, werr := write(s.App+".before-"+pass, in)
			if werr != nil {
				return werr
			}
			if inErr := verify(ctx, before); inErr != nil && ctx.Err() == nil {
				return fmt.Errorf("%w: the smoke test fails before %s too: %w", errAppFails, pass, inErr)
			}
			return fmt.Errorf("smoke test after %s: %w", pass, err)
		}
		if !slices.Contains(stressedPasses, pass) {
			return nil
		}
		before, err := write(s.App+".before-"+pass, in)
		if err != nil {
			return err
		}
		if err := stressCheck(ctx, s, before, after, dir); err != nil {
			return fmt.Errorf("stress test after %s: %w", pass, err)
		}
		if d, ok, err := startupAdded(ctx, s, before, after, dir); err != nil {
			return fmt.Errorf("timing the start-up after %s: %w", pass, err)
		} else if ok {
			startup[pass] = d
		}
		return nil
	}
	skip := func(pass string, err error) bool { return !errors.Is(err, errAppFails) && skippable(s, pass) }
	out, steps, err := shrink.Run(ctx, bin, names, check, shrink.WithSkip(skip))
	if err != nil {
		return nil, nil, fmt.Errorf("shrinking: %w", err)
	}
	var sizes []report.Step
	for _, st := range steps {
		switch {
		case st.NoGain:
			fmt.Fprintf(log, "note: %s %s: %s skipped, keeping the binary as it was: %s\n", s.App, s.Platform, st.Pass, st.Skipped)
		case st.Skipped != "":
			fmt.Fprintf(log, "warning: %s %s: %s skipped, the binary is kept as it was before it: %s\n", s.App, s.Platform, st.Pass, st.Skipped)
		}
		step := report.Step{Pass: st.Pass, Bytes: st.After, Skipped: st.Skipped}
		if d, ok := startup[st.Pass]; ok && st.Skipped == "" {
			step.StartupAddedMs = float64(d.Microseconds()) / 1000
		}
		sizes = append(sizes, step)
	}
	return out, sizes, nil
}

// stressedPasses are the passes whose output must also run like their input in a large
// environment and with a long argument list: those that put code of their own in front
// of the program.
var stressedPasses = []string{"pack"}

// errAppFails marks a smoke test that fails on a shrink pass's input as well as on its
// output.
var errAppFails = errors.New("the app fails its smoke test as compiled")

// skippable reports whether a failure of pass, or of the smoke test on its output,
// keeps the binary from before the pass instead of failing the build: the app's
// shrink_failure, or by default only for pack.
func skippable(s manifest.Spec, pass string) bool {
	switch s.ShrinkFailure {
	case manifest.ShrinkSkip:
		return true
	case manifest.ShrinkFail:
		return false
	}
	return pass == "pack"
}

// imageLayers builds the layers of the image of one app for one platform: data, extra
// files, then the binary, each in its own layer.
func imageLayers(s manifest.Spec, bin []byte, created time.Time) ([]v1.Layer, error) {
	var layers []v1.Layer
	if s.Image.Data != "" {
		l, err := oci.DirLayer(s.Image.Data, oci.DataDir, created)
		if err != nil {
			return nil, fmt.Errorf("data layer: %w", err)
		}
		layers = append(layers, l)
	}
	if len(s.Image.Files) > 0 {
		files := make([]oci.HostFile, len(s.Image.Files))
		for i, f := range s.Image.Files {
			files[i] = oci.HostFile{From: f.From, To: f.To}
		}
		l, err := oci.HostFilesLayer(files, created)
		if err != nil {
			return nil, fmt.Errorf("files layer: %w", err)
		}
		layers = append(layers, l)
	}
	l, err := oci.BinaryLayer(s.App, bin, created)
	if err != nil {
		return nil, fmt.Errorf("binary layer: %w", err)
	}
	return append(layers, l), nil
}

// imageOf builds the image of one app for one platform on scratch from its layers, as
// imageLayers made them.
func imageOf(s manifest.Spec, t toolchain.Target, layers []v1.Layer, created time.Time) (v1.Image, error) {
	env := map[string]string{}
	if s.Image.Data != "" {
		env["KO_DATA_PATH"] = oci.DataDir
	}
	for k, v := range s.Image.Env {
		env[k] = v
	}
	entrypoint := s.Image.Entrypoint
	if len(entrypoint) == 0 {
		entrypoint = []string{path.Join(oci.AppDir, s.App)}
	}
	user := s.Image.User
	if user == "" {
		user = "65532"
	}
	return oci.Image(oci.Config{
		Platform:     v1.Platform{OS: s.Platform.OS, Architecture: t.OCIArch},
		Entrypoint:   entrypoint,
		Cmd:          s.Image.Cmd,
		Env:          envList(env),
		WorkingDir:   s.Image.Workdir,
		User:         user,
		ExposedPorts: ports(s.Image.Ports),
		Labels:       s.Image.Labels,
		Annotations:  s.Image.Annotations,
		Created:      created,
	}, layers...)
}

// envList renders an environment map as sorted KEY=value entries.
func envList(env map[string]string) []string {
	list := make([]string, 0, len(env))
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	slices.Sort(list)
	return list
}

// ports normalizes "8080" to "8080/tcp".
func ports(ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		if !strings.Contains(p, "/") {
			p += "/tcp"
		}
		out[i] = p
	}
	return out
}

// parallel runs fn for 0..n-1 with at most jobs at once. The first failure cancels the
// others; every failure is returned, and a job that only saw the cancellation is not.
func parallel(parent context.Context, jobs, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	sem := make(chan struct{}, jobs)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(ctx, i); err != nil {
				errs[i] = err
				cancel()
			}
		}()
	}
	wg.Wait()
	var failed []error
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			failed = append(failed, err)
		}
	}
	if len(failed) > 0 {
		return errors.Join(failed...)
	}
	return parent.Err()
}

// writeFile writes data to a temporary file beside name and renames it into place.
func writeFile(name string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return os.Rename(f.Name(), name)
}
