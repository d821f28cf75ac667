package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/minimalbuild/minimal/magefiles/internal/smoke"
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
		if err := SmokeBinary(ctx, s, BinaryPath(o.out, s)); err != nil {
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

// SmokeBinary runs spec's smoke test on the binary at bin, in an empty working directory,
// with the environment the image would give it: the image's env, KO_DATA_PATH pointing at
// the app's data directory, then the test's own env.
func SmokeBinary(ctx context.Context, s manifest.Spec, bin string) error {
	dir, err := os.MkdirTemp("", "minimal-smoke-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	res, err := smoke.Run(ctx, s.Test, smoke.Cmd{Args: []string{bin}, Env: smokeEnv(s), Dir: dir})
	if err != nil {
		return err
	}
	return smoke.Check(s.Test, res)
}

// smokeEnv is the environment the image would give the app: the image's env,
// KO_DATA_PATH pointing at the app's data directory, then the test's own env.
func smokeEnv(s manifest.Spec) []string {
	env := map[string]string{}
	for k, v := range s.Image.Env {
		env[k] = v
	}
	if s.Image.Data != "" {
		env["KO_DATA_PATH"] = s.Image.Data
	}
	if s.Test != nil {
		for k, v := range s.Test.Env {
			env[k] = v
		}
	}
	return envList(env)
}

// BinaryPath is where Build puts the binary of spec under out: bin/<os>_<arch>/<app>.
func BinaryPath(out string, s manifest.Spec) string {
	return filepath.Join(out, "bin", s.Platform.OS+"_"+s.Platform.Arch, s.App)
}

// Clean removes everything under out except a .gitkeep file.
func Clean(out string) error {
	entries, err := os.ReadDir(out)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cleaning: %w", err)
	}
	for _, e := range entries {
		if e.Name() == ".gitkeep" {
			continue
		}
		if err := os.RemoveAll(filepath.Join(out, e.Name())); err != nil {
			return fmt.Errorf("cleaning: %w", err)
		}
	}
	return nil
}
