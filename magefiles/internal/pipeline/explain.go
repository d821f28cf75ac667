package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/minimalbuild/minimal/magefiles/internal/action"
	"github.com/minimalbuild/minimal/magefiles/internal/cache"
	"github.com/minimalbuild/minimal/magefiles/internal/oci"
	"github.com/minimalbuild/minimal/magefiles/internal/progress"
	"github.com/minimalbuild/minimal/magefiles/internal/toolid"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// Explain says, for each app of m and each of its platforms, whether the next build
// runs it, and for the first action that would run, which of its inputs changed since
// its last run: a file by its path, a flag, an environment variable, a tool version,
// minimal's own executable. It builds nothing, and writes nothing outside the action
// cache.
func Explain(ctx context.Context, m *manifest.Manifest, opts ...Option) error {
	o, err := makeOptions(m, opts)
	if err != nil {
		return err
	}
	specs, err := m.Select(o.apps)
	if err != nil {
		return err
	}
	a := &actions{Runner: action.Runner{Dry: true}, o: o, prog: progress.New(io.Discard)}
	if a.created, err = oci.Created(); err != nil {
		return err
	}
	if a.Tool, err = toolid.Get(); err != nil {
		return err
	}
	if _, err := os.Stat(o.cacheDir); err != nil {
		for _, s := range specs {
			fmt.Fprintf(o.log, "%s %s: compile runs\n    no earlier compile of it recorded: there is no cache at %s\n", s.App, s.Platform, o.cacheDir)
		}
		return nil
	}
	if a.Cache, err = cache.Open(o.cacheDir); err != nil {
		return fmt.Errorf("opening the action cache: %w", err)
	}
	if a.inputs, err = compileInputs(ctx, o, specs); err != nil {
		return err
	}
	for i, s := range specs {
		var r *action.Runs
		switch _, err := a.buildOne(ctx, i, s); {
		case err == nil:
			fmt.Fprintf(o.log, "%s %s: up to date\n", s.App, s.Platform)
		case errors.As(err, &r):
			fmt.Fprintf(o.log, "%s %s: %s runs\n", s.App, s.Platform, r.Kind)
			if !r.Recorded {
				fmt.Fprintf(o.log, "    no earlier %s of it into %s is recorded in this cache\n", r.Kind, o.out)
			} else if len(r.Changes) == 0 {
				fmt.Fprintf(o.log, "    its inputs are as at its last run, whose output the cache no longer holds\n")
			}
			for _, c := range r.Changes {
				fmt.Fprintf(o.log, "    %s\n", c)
			}
		default:
			return fmt.Errorf("%s %s: %w", s.App, s.Platform, err)
		}
	}
	return nil
}
