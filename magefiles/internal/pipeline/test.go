package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/minimalbuild/minimal/magefiles/internal/outdir"
	"github.com/minimalbuild/minimal/magefiles/internal/verify"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// Test builds the apps of m and runs each app's smoke test on its binary for every
// platform it is built for. Every failure is reported; apps without a test are listed as
// untested.
func Test(ctx context.Context, m *manifest.Manifest, opts ...Option) error {
	o, err := makeOptions(m, opts)
	if err != nil {
		return err
	}
	if _, err := Build(ctx, m, opts...); err != nil {
		return err
	}
	specs, err := selectSpecs(m, o.apps)
	if err != nil {
		return err
	}
	var failed []error
	passed := 0
	for _, s := range specs {
		if s.Test == nil {
			fmt.Fprintf(o.log, "SKIP  %-20s %-12s no test: in minimal.yaml\n", s.App, s.Platform)
			continue
		}
		t0 := time.Now()
		if err := smokeBinary(ctx, s, outdir.BinaryPath(o.out, s.App, s.Platform)); err != nil {
			fmt.Fprintf(o.log, "FAIL  %-20s %-12s %v\n", s.App, s.Platform, err)
			failed = append(failed, fmt.Errorf("%s %s: %w", s.App, s.Platform, err))
			continue
		}
		passed++
		fmt.Fprintf(o.log, "ok    %-20s %-12s %v\n", s.App, s.Platform, time.Since(t0).Round(time.Millisecond))
	}
	fmt.Fprintf(o.log, "%d passed, %d failed\n", passed, len(failed))
	return errors.Join(failed...)
}

// smokeBinary runs spec's smoke test on the binary at bin, in an empty working
// directory, with the environment the image would give it.
func smokeBinary(ctx context.Context, s manifest.Spec, bin string) error {
	dir, err := os.MkdirTemp("", "minimal-smoke-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	return verify.Smoke(ctx, s.Test, bin, smokeEnv(s), dir)
}
