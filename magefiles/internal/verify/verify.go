package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/minimalbuild/minimal/magefiles/internal/cache"
	"github.com/minimalbuild/minimal/magefiles/internal/shrink"
	"github.com/minimalbuild/minimal/magefiles/internal/smoke"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// Target is one app on one platform, as the checks run it.
type Target struct {
	// App and Platform name the target in warnings.
	App, Platform string
	// Test is the app's smoke test; nil for an app without one.
	Test *manifest.Test
	// Env is the environment the binary runs with, as its image would give it.
	Env []string
	// Passes are the shrink passes to run, in order.
	Passes []string
	// Failure is the app's shrink_failure: skip, fail, or "" for each pass's default.
	Failure string
	// Init, when set, is the init the app's image runs it under; its smoke tests run
	// the binary as the init's child.
	Init []byte
}

// Inputs reports everything but the binary that determines what Shrink makes of a
// binary for t: the platform, the passes, the failure policy, the smoke test and the
// environment it runs with.
func (t Target) Inputs() ([]cache.Input, error) {
	test, err := json.Marshal(t.Test)
	if err != nil {
		return nil, err
	}
	ins := []cache.Input{
		{Name: "platform", Value: t.Platform},
		{Name: "passes", Value: strconv.Itoa(len(t.Passes))},
	}
	for _, p := range t.Passes {
		ins = append(ins, cache.Input{Name: "pass", Value: p})
	}
	ins = append(ins, cache.Input{Name: "failure", Value: t.Failure}, cache.Input{Name: "test", Value: string(test)}, cache.Input{Name: "env", Value: strconv.Itoa(len(t.Env))})
	if t.Init != nil {
		ins = append(ins, cache.Digest("init", t.Init))
	}
	for _, e := range t.Env {
		ins = append(ins, cache.Input{Name: "env", Value: e})
	}
	return ins, nil
}

// Step is one pass as Shrink ran it.
type Step struct {
	shrink.Step
	// StartupAdded is how much longer the output takes to run than the input, for a
	// pass that puts a stub in front of the program; Timed says it was measured.
	StartupAdded time.Duration
	Timed        bool
}

// startWindow is how long an app without a smoke test must run, or exit, without
// crashing after a shrink pass.
const startWindow = 300 * time.Millisecond

// errAppFails marks a smoke test that fails on a shrink pass's input as well as on its
// output.
var errAppFails = errors.New("the app fails its smoke test as compiled")

// Shrink runs t's post-link shrink passes over bin, checking each result, and returns
// the final binary and each pass's step. It writes each pass's input and output into
// dir to run them, and warns on log about what it skipped.
func Shrink(ctx context.Context, log io.Writer, t Target, bin []byte, dir string) ([]byte, []Step, error) {
	if t.Test == nil && len(t.Passes) > 0 {
		fmt.Fprintf(log, "warning: %s %s: no smoke test, so %s is only checked to start without crashing; add test: to minimal.yaml\n", t.App, t.Platform, strings.Join(t.Passes, ", "))
	}
	c := &checker{t: t, dir: dir, startup: map[string]time.Duration{}}
	skip := func(pass string, err error) bool { return !errors.Is(err, errAppFails) && skippable(t, pass) }
	out, steps, err := shrink.Run(ctx, bin, t.Passes, c.check, shrink.WithSkip(skip))
	if err != nil {
		return nil, nil, fmt.Errorf("shrinking: %w", err)
	}
	result := make([]Step, len(steps))
	for i, st := range steps {
		switch {
		case st.NoGain:
			fmt.Fprintf(log, "note: %s %s: %s skipped, keeping the binary as it was: %s\n", t.App, t.Platform, st.Pass, st.Skipped)
		case st.Skipped != "":
			fmt.Fprintf(log, "warning: %s %s: %s skipped, the binary is kept as it was before it: %s\n", t.App, t.Platform, st.Pass, st.Skipped)
		}
		result[i].Step = st
		if d, ok := c.startup[st.Pass]; ok && st.Skipped == "" {
			result[i].StartupAdded, result[i].Timed = d, true
		}
	}
	return out, result, nil
}

// checker checks the output of each pass of one target.
type checker struct {
	t       Target
	dir     string
	startup map[string]time.Duration // the start-up time each stub pass adds
}

// write writes a binary to run into the checker's directory.
func (c *checker) write(name string, bin []byte) (string, error) {
	path := filepath.Join(c.dir, name)
	return path, os.WriteFile(path, bin, 0o755)
}

// run checks the binary at path: the smoke test, or, without one, that it starts.
func (c *checker) run(ctx context.Context, path string) error {
	if c.t.Test == nil {
		return smoke.Starts(ctx, smoke.Cmd{Args: []string{path}, Env: c.t.Env, Dir: c.dir}, startWindow)
	}
	init, err := writeInit(c.t.Init, c.dir)
	if err != nil {
		return err
	}
	return patiently(ctx, c.t.Test, func(test *manifest.Test) error { return Smoke(ctx, test, path, c.t.Env, c.dir, init) })
}

// signalTries is how many times a check of a program that its smoke test sends a
// signal is tried, each time waiting twice as long before the signal: on a loaded
// machine a program can start too slowly to have installed its handler by then (a
// packed one decodes itself first), and the load must not decide which passes a
// build keeps.
const signalTries = 3

// patiently runs check with test, and again with longer waits before the signal while
// it fails and the test sends one.
func patiently(ctx context.Context, test *manifest.Test, check func(*manifest.Test) error) error {
	err := check(test)
	for try := 1; err != nil && try < signalTries && test.Signal != "" && ctx.Err() == nil; try++ {
		longer := *test
		longer.After = test.After << try
		err = check(&longer)
	}
	return err
}

// check implements shrink.Check.
func (c *checker) check(ctx context.Context, pass string, in, out []byte) error {
	after, err := c.write(c.t.App+"."+pass, out)
	if err != nil {
		return err
	}
	if err := c.run(ctx, after); err != nil {
		if ctx.Err() != nil {
			return err
		}
		// A test that fails on the pass's input too is not the pass's fault, and
		// skipping the pass would not help.
		before, werr := c.write(c.t.App+".before-"+pass, in)
		if werr != nil {
			return werr
		}
		if inErr := c.run(ctx, before); inErr != nil && ctx.Err() == nil {
			return fmt.Errorf("%w: the smoke test fails before %s too: %w", errAppFails, pass, inErr)
		}
		return fmt.Errorf("smoke test after %s: %w", pass, err)
	}
	p, err := shrink.Lookup(pass)
	if err != nil || !p.Stub {
		return err
	}
	before, err := c.write(c.t.App+".before-"+pass, in)
	if err != nil {
		return err
	}
	if err := stressCheck(ctx, c.t, before, after, c.dir); err != nil {
		return fmt.Errorf("stress test after %s: %w", pass, err)
	}
	if d, ok, err := startupAdded(ctx, c.t, before, after, c.dir); err != nil {
		return fmt.Errorf("timing the start-up after %s: %w", pass, err)
	} else if ok {
		c.startup[pass] = d
	}
	return nil
}

// skippable reports whether a failure of pass, or of the check of its output, keeps
// the binary from before the pass instead of failing the build: the app's
// shrink_failure, or else the pass's own default.
func skippable(t Target, pass string) bool {
	switch t.Failure {
	case manifest.ShrinkSkip:
		return true
	case manifest.ShrinkFail:
		return false
	}
	p, err := shrink.Lookup(pass)
	return err == nil && p.SkipByDefault
}

// Smoke runs test on the binary at bin with env, in dir, and checks the result. With
// an init (the path of an init process; "" for none) the binary runs as the init's
// child, as in its image: a signal that ended the binary is then the init's exit status
// 128+N, which counts as that signal.
func Smoke(ctx context.Context, test *manifest.Test, bin string, env []string, dir, init string) error {
	args := []string{bin}
	if init != "" {
		args = []string{init, bin}
	}
	res, err := smoke.Run(ctx, test, smoke.Cmd{Args: args, Env: env, Dir: dir})
	if err != nil {
		return err
	}
	if sig, ok := manifest.Signal(test.Signal); init != "" && ok && res.Signal == 0 && res.Exit == 128+int(sig) {
		res.Exit, res.Signal = -1, sig
	}
	return smoke.Check(test, res)
}

// writeInit writes the init to dir, to run binaries under it; "" when there is none.
func writeInit(init []byte, dir string) (string, error) {
	if init == nil {
		return "", nil
	}
	path := filepath.Join(dir, "init")
	return path, os.WriteFile(path, init, 0o755)
}

// Binary is one built binary whose smoke test Binaries runs.
type Binary struct {
	// App and Platform name it in the report.
	App, Platform string
	// Path is the binary; Env the environment it runs with.
	Path string
	Env  []string
	// Test is the app's smoke test; nil for an app without one, which is listed as
	// untested.
	Test *manifest.Test
	// Init, when set, is the init the binary runs under, as in its image.
	Init []byte
}

// Binaries runs the smoke test of each binary, each in an empty working directory,
// and writes a line per binary and a summary to log. It returns every failure.
func Binaries(ctx context.Context, log io.Writer, bins []Binary) error {
	var failed []error
	passed := 0
	for _, b := range bins {
		if b.Test == nil {
			fmt.Fprintf(log, "SKIP  %-20s %-12s no test: in minimal.yaml\n", b.App, b.Platform)
			continue
		}
		t0 := time.Now()
		if err := smokeIn(ctx, b); err != nil {
			fmt.Fprintf(log, "FAIL  %-20s %-12s %v\n", b.App, b.Platform, err)
			failed = append(failed, fmt.Errorf("%s %s: %w", b.App, b.Platform, err))
			continue
		}
		passed++
		fmt.Fprintf(log, "ok    %-20s %-12s %v\n", b.App, b.Platform, time.Since(t0).Round(time.Millisecond))
	}
	fmt.Fprintf(log, "%d passed, %d failed\n", passed, len(failed))
	return errors.Join(failed...)
}

// smokeIn runs b's smoke test in a new empty directory.
func smokeIn(ctx context.Context, b Binary) error {
	dir, err := os.MkdirTemp("", "minimal-smoke-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	init, err := writeInit(b.Init, dir)
	if err != nil {
		return err
	}
	return Smoke(ctx, b.Test, b.Path, b.Env, dir, init)
}
