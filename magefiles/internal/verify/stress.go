package verify

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/minimalbuild/minimal/magefiles/internal/smoke"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// The stress conditions a packed binary must survive: a start-up stub that copies or
// walks the environment and arguments breaks in them first.
const (
	stressVars    = 1000 // environment variables added
	stressEnvSize = 256 << 10
	stressArgs    = 2000 // arguments added
	stressArgSize = 100
)

// stressEnv returns env with stressVars more variables, stressEnvSize bytes in all.
func stressEnv(env []string) []string {
	out := append([]string(nil), env...)
	val := strings.Repeat("x", stressEnvSize/stressVars-len("MINIMAL_STRESS_0000="))
	for i := range stressVars {
		out = append(out, fmt.Sprintf("MINIMAL_STRESS_%04d=%s", i, val))
	}
	return out
}

// stressArgv returns stressArgs arguments of stressArgSize bytes.
func stressArgv() []string {
	args := make([]string, stressArgs)
	for i := range args {
		args[i] = fmt.Sprintf("%04d%s", i, strings.Repeat("a", stressArgSize-4))
	}
	return args
}

// stressCheck runs the binaries before (in) and after (out) a pass in the stress
// conditions, once with a large environment and once with a long argument list, and
// fails unless out does exactly what in does: the same output, exit status and signal.
// An app without a smoke test is run for startWindow and must not crash.
func stressCheck(ctx context.Context, t Target, in, out, dir string) error {
	base := t.Env
	conds := []struct {
		what string
		env  []string
		args []string
	}{
		{fmt.Sprintf("with %d more environment variables (%d kB)", stressVars, stressEnvSize>>10), stressEnv(base), nil},
		{fmt.Sprintf("with %d more arguments (%d kB)", stressArgs, stressArgs*stressArgSize>>10), base, stressArgv()},
	}
	for _, c := range conds {
		if t.Test == nil {
			if err := smoke.Starts(ctx, smoke.Cmd{Args: append([]string{out}, c.args...), Env: c.env, Dir: dir}, startWindow); err != nil {
				return fmt.Errorf("%s: %w", c.what, err)
			}
			continue
		}
		test := *t.Test
		test.Args = append(append([]string(nil), c.args...), test.Args...)
		err := patiently(ctx, &test, func(test *manifest.Test) error {
			want, err := smoke.Run(ctx, test, smoke.Cmd{Args: []string{in}, Env: c.env, Dir: dir})
			if err != nil {
				return fmt.Errorf("%s, before the pass: %w", c.what, err)
			}
			got, err := smoke.Run(ctx, test, smoke.Cmd{Args: []string{out}, Env: c.env, Dir: dir})
			if err != nil {
				return fmt.Errorf("%s: %w", c.what, err)
			}
			if d := resultDiff(want, got); d != "" {
				return fmt.Errorf("%s the result differs from the binary before the pass: %s", c.what, d)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// resultDiff says how got differs from want, or returns "".
func resultDiff(want, got smoke.Result) string {
	var diffs []string
	if want.Exit != got.Exit || want.Signal != got.Signal {
		diffs = append(diffs, fmt.Sprintf("exit %d (signal %v), want %d (signal %v)", got.Exit, got.Signal, want.Exit, want.Signal))
	}
	if !bytes.Equal(want.Stdout, got.Stdout) {
		diffs = append(diffs, fmt.Sprintf("stdout %q, want %q", clip(got.Stdout), clip(want.Stdout)))
	}
	if !bytes.Equal(want.Stderr, got.Stderr) {
		diffs = append(diffs, fmt.Sprintf("stderr %q, want %q", clip(got.Stderr), clip(want.Stderr)))
	}
	return strings.Join(diffs, "; ")
}

// clip shortens output for an error message.
func clip(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}

// startupRuns is how many times startupAdded runs each binary.
const startupRuns = 7

// startupAdded measures how much longer out takes than in to run the app's smoke test:
// the difference of the medians of startupRuns runs each, interleaved. It measures
// nothing (ok false) for an app without a test or whose test waits to send a signal.
func startupAdded(ctx context.Context, t Target, in, out, dir string) (d time.Duration, ok bool, err error) {
	if t.Test == nil || t.Test.Signal != "" {
		return 0, false, nil
	}
	times := [2][]time.Duration{}
	for range startupRuns {
		for i, bin := range []string{in, out} {
			start := time.Now()
			if _, err := smoke.Run(ctx, t.Test, smoke.Cmd{Args: []string{bin}, Env: t.Env, Dir: dir}); err != nil {
				return 0, false, err
			}
			times[i] = append(times[i], time.Since(start))
		}
	}
	for i := range times {
		slices.Sort(times[i])
	}
	return times[1][startupRuns/2] - times[0][startupRuns/2], true, nil
}
