package targets

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/magefile/mage/mg"

	"github.com/minimalbuild/minimal/magefiles/internal/pipeline"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// Build builds every app in minimal.yaml for every platform into images/ (binaries, an OCI layout, docker tarballs, a size report).
func Build(ctx context.Context) error {
	return build(ctx)
}

// App builds the named apps only (a comma-separated list): go tool mage app hello,greet.
func App(ctx context.Context, names string) error {
	var apps []string
	for _, n := range strings.Split(names, ",") {
		if n = strings.TrimSpace(n); n != "" {
			apps = append(apps, n)
		}
	}
	if len(apps) == 0 {
		return fmt.Errorf("app: name at least one app, e.g. go tool mage app hello")
	}
	return build(ctx, pipeline.WithApps(apps...))
}

// List prints every app in minimal.yaml with its language, platforms and sources.
func List(ctx context.Context) error {
	m, err := load()
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "APP\tLANG\tPLATFORMS\tSRC")
	for _, a := range m.Apps {
		platforms := make([]string, len(a.Platforms))
		for i, p := range a.Platforms {
			platforms[i] = p.String()
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", a.Name, a.Lang, strings.Join(platforms, ","), strings.Join(a.Src, " "))
	}
	return w.Flush()
}

// Test builds every app and runs its smoke test on its binary for every platform.
func Test(ctx context.Context) error {
	m, err := load()
	if err != nil {
		return err
	}
	return pipeline.Test(ctx, m, options()...)
}

// Clean removes everything the build wrote under images/.
func Clean() error {
	m, err := load()
	if err != nil {
		return err
	}
	return pipeline.Clean(filepath.Join(m.Root, "images"))
}

// build loads the manifest and runs the pipeline with opts.
func build(ctx context.Context, opts ...pipeline.Option) error {
	m, err := load()
	if err != nil {
		return err
	}
	_, err = pipeline.Build(ctx, m, append(options(), opts...)...)
	return err
}

// load reads minimal.yaml, or the file $MINIMAL_MANIFEST names.
func load() (*manifest.Manifest, error) {
	path := os.Getenv("MINIMAL_MANIFEST")
	if path == "" {
		path = "minimal.yaml"
	}
	m, err := manifest.Load(path)
	if err != nil {
		return nil, usageError{err}
	}
	return m, nil
}

// usageError is a bad manifest: mage exits with status 2 for it, as for a usage error.
type usageError struct{ error }

func (e usageError) Unwrap() error   { return e.error }
func (e usageError) ExitStatus() int { return 2 }

// options are the pipeline options every target shares.
func options() []pipeline.Option {
	return []pipeline.Option{pipeline.WithVerbose(mg.Verbose())}
}
