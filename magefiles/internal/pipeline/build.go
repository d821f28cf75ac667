package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/minimalbuild/minimal/magefiles/internal/action"
	"github.com/minimalbuild/minimal/magefiles/internal/cache"
	"github.com/minimalbuild/minimal/magefiles/internal/oci"
	"github.com/minimalbuild/minimal/magefiles/internal/outdir"
	"github.com/minimalbuild/minimal/magefiles/internal/progress"
	"github.com/minimalbuild/minimal/magefiles/internal/report"
	"github.com/minimalbuild/minimal/magefiles/internal/run"
	"github.com/minimalbuild/minimal/magefiles/internal/toolchain"
	"github.com/minimalbuild/minimal/magefiles/internal/toolid"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// Build builds the apps of m for their platforms and publishes them into the output
// directory: binaries under bin/, one OCI image layout under oci/, docker tarballs under
// tar/, and the size report as report.json and report.svg. It returns the size report.
// Without WithApps it builds every app, and removes from the output directory what an
// earlier build published for an app or platform that m no longer has.
func Build(ctx context.Context, m *manifest.Manifest, opts ...Option) (_ *report.Report, err error) {
	o, err := makeOptions(m, opts)
	if err != nil {
		return nil, err
	}
	specs, err := m.Select(o.apps)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	prog := progress.New(o.log)
	defer prog.Close()
	a, done, err := begin(ctx, o, prog)
	if err != nil {
		return nil, err
	}
	defer done()
	prog.SetTotal(len(specs))
	if o.verbose {
		ctx = run.WithLog(ctx, prog)
	}
	if a.inputs, err = compileInputs(ctx, o, specs); err != nil {
		return nil, err
	}
	results := make([]*built, len(specs))
	err = parallel(ctx, inFlight(o.jobs, a.Cache), len(specs), func(ctx context.Context, i int) error {
		b, err := a.buildOne(ctx, i, specs[i])
		if err != nil {
			return fmt.Errorf("%s %s: %w", specs[i].App, specs[i].Platform, err)
		}
		results[i] = b
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := overBudget(results); err != nil {
		return nil, err
	}
	// Once every action has succeeded, an interrupt no longer stops the build from
	// writing images/: stopping between two apps, or between an app's layout entry and
	// its tarballs, would leave images/ part old and part new. Publishing writes local
	// files only, and takes a second or less.
	r, wrote, err := outdir.Publish(context.WithoutCancel(ctx), o.out, publishApps(m, results), len(o.apps) == 0, o.published)
	if err != nil {
		return nil, err
	}
	a.Cache.Close(ctx) // the uploads to a remote tier finish first
	prog.Close()
	if err := r.WriteTable(o.log); err != nil {
		return nil, err
	}
	what := "built"
	if wrote == 0 {
		what = "up to date:"
	}
	fmt.Fprintf(o.log, "%s %d images of %d apps in %v; actions: %s\n", what, len(results), len(r.Apps), time.Since(start).Round(time.Millisecond), a.Counts())
	return r, nil
}

// begin opens the action cache, takes the output directory's lock and makes a work
// directory. done releases them, and waits for the cache's uploads unless ctx is done.
func begin(ctx context.Context, o *options, prog *progress.Progress) (_ *actions, done func(), err error) {
	created, err := oci.Created()
	if err != nil {
		return nil, nil, err
	}
	tool, err := toolid.Get()
	if err != nil {
		return nil, nil, err
	}
	copts := append([]cache.Option{cache.WithLog(prog), cache.WithVerbose(o.verbose)}, o.cacheOpts...)
	c, err := cache.Open(o.cacheDir, copts...)
	if err != nil {
		return nil, nil, fmt.Errorf("opening the action cache: %w", err)
	}
	unlock, err := outdir.Lock(ctx, o.out, filepath.Join(c.Dir(), "locks"), prog)
	if err != nil {
		c.Close(ctx)
		return nil, nil, err
	}
	work, err := outdir.WorkDir(c.Dir())
	if err != nil {
		c.Close(ctx)
		unlock()
		return nil, nil, err
	}
	done = func() {
		c.Close(ctx)
		os.RemoveAll(work)
		unlock()
	}
	return &actions{Runner: action.Runner{Cache: c, Tool: tool, Slots: make(chan struct{}, o.jobs)}, o: o, work: work, created: created, prog: prog}, done, nil
}

// remoteInFlight is how many builds may wait on a remote cache at once, when jobs is
// fewer: a lookup waits on the network, and only running an action needs one of the
// jobs.
const remoteInFlight = 16

// inFlight is how many builds run at once with jobs and c: jobs, or remoteInFlight when
// c has a remote tier, each action run still taking one of the jobs.
func inFlight(jobs int, c *cache.Cache) int {
	if c.Remote() == "" {
		return jobs
	}
	return max(jobs, remoteInFlight)
}

// compileInputs asks each language's builder for the compile inputs of its specs, the
// languages in parallel, and returns them by spec index.
func compileInputs(ctx context.Context, o *options, specs []manifest.Spec) ([]toolchain.Inputs, error) {
	byLang := map[string][]int{}
	var langs []string
	for i, s := range specs {
		if _, ok := byLang[s.Lang]; !ok {
			langs = append(langs, s.Lang)
		}
		byLang[s.Lang] = append(byLang[s.Lang], i)
	}
	inputs := make([]toolchain.Inputs, len(specs))
	err := parallel(ctx, len(langs), len(langs), func(ctx context.Context, li int) error {
		b, ok := o.builders[langs[li]]
		if !ok {
			return fmt.Errorf("no toolchain for lang %q", langs[li])
		}
		idx := byLang[langs[li]]
		group := make([]manifest.Spec, len(idx))
		for j, i := range idx {
			group[j] = specs[i]
		}
		in, err := b.Inputs(ctx, group)
		if err != nil {
			return err
		}
		for j, i := range idx {
			inputs[i] = in[j]
		}
		return nil
	})
	return inputs, err
}

// overBudget returns an error for each image over its budget, before anything is
// published.
func overBudget(results []*built) error {
	var errs []error
	for _, b := range results {
		if err := report.Check(b.spec, b.Content, b.Pull); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// publishApps groups the built images by app, in manifest order, for publishing.
func publishApps(m *manifest.Manifest, results []*built) []outdir.App {
	var apps []outdir.App
	for _, a := range m.Apps {
		app := outdir.App{Name: a.Name, Tags: a.Tags, Annotations: a.Image.Annotations}
		for _, b := range results {
			if b.spec.App != a.Name {
				continue
			}
			app.Platforms = append(app.Platforms, outdir.Platform{
				Platform:  b.spec.Platform,
				Image:     b.Image,
				Binary:    outdir.Binary{Size: b.bin.Size, SHA256: b.bin.SHA256, Read: b.bin.Read},
				Steps:     b.steps,
				Content:   b.Content,
				Pull:      b.Pull,
				Budget:    report.BudgetOf(b.spec.Budget, b.Content, b.Pull),
				Referrers: b.Referrers,
			})
		}
		if len(app.Platforms) > 0 {
			apps = append(apps, app)
		}
	}
	return apps
}

// parallel runs fn for 0..n-1 with at most jobs at once. The first failure cancels the
// others; every failure is returned, and a job that only saw the cancellation is not.
func parallel(parent context.Context, jobs, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	sem := make(chan struct{}, max(jobs, 1))
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
