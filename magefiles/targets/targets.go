package targets

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/magefile/mage/mg"

	"github.com/minimalbuild/minimal/magefiles/internal/attest"
	"github.com/minimalbuild/minimal/magefiles/internal/cache"
	"github.com/minimalbuild/minimal/magefiles/internal/oci"
	"github.com/minimalbuild/minimal/magefiles/internal/outdir"
	"github.com/minimalbuild/minimal/magefiles/internal/pipeline"
	"github.com/minimalbuild/minimal/magefiles/internal/publish"
	"github.com/minimalbuild/minimal/magefiles/internal/resolve"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// Build builds every app in minimal.yaml for every platform into images/ (binaries, an OCI layout, docker tarballs, a size report), redoing only what changed since the last build and removing what an app or platform no longer in the manifest left there.
func Build(ctx context.Context) error {
	return build(ctx)
}

// App builds the named apps only (a comma-separated list), leaving the others in images/ as they were: go tool mage app hello,greet.
func App(ctx context.Context, names string) error {
	apps, err := appList("app", names)
	if err != nil {
		return err
	}
	return build(ctx, pipeline.WithApps(apps...))
}

// Push builds every app and pushes its multi-arch index, with each of its tags, to <repo>/<app>; repo is $KO_DOCKER_REPO, else $MINIMAL_REPO, else minimal.yaml's repo.
func Push(ctx context.Context) error {
	pushed, err := push(ctx)
	printPushed(pushed)
	return err
}

// PushApp builds and pushes the named apps only (a comma-separated list): go tool mage pushApp hello,greet.
func PushApp(ctx context.Context, names string) error {
	apps, err := appList("pushApp", names)
	if err != nil {
		return err
	}
	pushed, err := push(ctx, pipeline.WithApps(apps...))
	printPushed(pushed)
	return err
}

// printPushed prints one line per app pushed: <repo>/<app>:<tag>@sha256:...
func printPushed(pushed []publish.Pushed) {
	for _, p := range pushed {
		fmt.Println(p.Ref)
	}
}

// Resolve prints the YAML files given (comma-separated) with every minimal://<app> replaced by the pushed <repo>/<app>@sha256:..., pushing those apps first.
func Resolve(ctx context.Context, files string) error {
	m, err := load()
	if err != nil {
		return err
	}
	var refs []resolve.Ref
	paths := split(files)
	if len(paths) == 0 {
		return fmt.Errorf("resolve: name at least one YAML file, e.g. go tool mage resolve deploy.yaml")
	}
	data := make([][]byte, len(paths))
	for i, path := range paths {
		if data[i], err = os.ReadFile(path); err != nil {
			return fmt.Errorf("resolve: %w", err)
		}
		r, err := resolve.Refs(bytes.NewReader(data[i]), path)
		if err != nil {
			return err
		}
		refs = append(refs, r...)
	}
	known := make([]string, len(m.Apps))
	for i, a := range m.Apps {
		known[i] = a.Name
	}
	if err := resolve.Check(refs, known); err != nil {
		return err
	}
	images := map[string]string{}
	if apps := resolve.Apps(refs); len(apps) > 0 {
		pushed, err := push(ctx, pipeline.WithApps(apps...))
		if err != nil {
			return err
		}
		for _, p := range pushed {
			images[p.App] = p.Image()
		}
	}
	for i, path := range paths {
		out, err := resolve.Resolve(ctx, bytes.NewReader(data[i]), path, func(ctx context.Context, app string) (string, error) {
			return images[app], nil
		})
		if err != nil {
			return err
		}
		if i > 0 {
			fmt.Println("---")
		}
		if _, err := os.Stdout.Write(out); err != nil {
			return err
		}
	}
	return nil
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
	m, err := loadChecked(ctx)
	if err != nil {
		return err
	}
	opts, err := options(m)
	if err != nil {
		return err
	}
	return pipeline.Test(ctx, m, opts...)
}

// Explain says, for every app and platform, whether the next build will run it and which inputs changed since the last build of it (files, flags, environment, tool versions, minimal itself); it builds and writes nothing.
func Explain(ctx context.Context) error {
	return explain(ctx)
}

// ExplainApp explains the next build of the named apps only (a comma-separated list): go tool mage explainApp hello,greet.
func ExplainApp(ctx context.Context, names string) error {
	apps, err := appList("explainApp", names)
	if err != nil {
		return err
	}
	return explain(ctx, pipeline.WithApps(apps...))
}

// explain loads the manifest and explains the next build, on standard output.
func explain(ctx context.Context, opts ...pipeline.Option) error {
	m, err := loadChecked(ctx)
	if err != nil {
		return err
	}
	return pipeline.Explain(ctx, m, append([]pipeline.Option{pipeline.WithVerbose(mg.Verbose())}, append(opts, pipeline.WithLog(os.Stdout))...)...)
}

// Clean removes everything the build wrote under images/.
func Clean() error {
	m, err := load()
	if err != nil {
		return err
	}
	return outdir.Clean(filepath.Join(m.Root, outdir.Name))
}

// Prune removes from the local action cache the outputs no build has used for $MINIMAL_CACHE_MAX_AGE (a duration such as 168h; the default is 720h, 30 days), and the temporary files of killed builds.
func Prune() error {
	return prune(os.Stdout)
}

// build loads the manifest and runs the pipeline with opts.
func build(ctx context.Context, opts ...pipeline.Option) error {
	m, err := loadChecked(ctx)
	if err != nil {
		return err
	}
	common, err := options(m)
	if err != nil {
		return err
	}
	_, err = pipeline.Build(ctx, m, append(common, opts...)...)
	return err
}

// push loads the manifest, finds the repository and pushes with opts, printing one line
// per app on standard output.
func push(ctx context.Context, opts ...pipeline.Option) ([]publish.Pushed, error) {
	m, err := loadChecked(ctx)
	if err != nil {
		return nil, err
	}
	repo, err := publish.Repo(os.Getenv, m.Repo)
	if err != nil {
		return nil, err
	}
	var ropts []publish.RegistryOption
	insecure, set, err := insecureEnv()
	if err != nil {
		return nil, err
	}
	if set {
		ropts = append(ropts, publish.WithInsecure(insecure))
	}
	key, err := attest.SigningKeyFromEnv(os.Getenv)
	if err != nil {
		return nil, usageError{err}
	}
	if key != nil {
		created, err := oci.Created()
		if err != nil {
			return nil, err
		}
		ropts = append(ropts, publish.WithSigningKey(key, created))
	}
	reg, err := publish.Registry(repo, ropts...)
	if err != nil {
		return nil, err
	}
	common, err := options(m)
	if err != nil {
		return nil, err
	}
	pushed, err := pipeline.Push(ctx, m, reg, append(common, opts...)...)
	if err != nil {
		return nil, err
	}
	return pushed, nil
}

// appList splits a comma-separated list of app names.
func appList(target, names string) ([]string, error) {
	apps := split(names)
	if len(apps) == 0 {
		return nil, fmt.Errorf("%s: name at least one app, e.g. go tool mage %s hello", target, target)
	}
	return apps, nil
}

// split splits a comma-separated list, dropping empty entries.
func split(list string) []string {
	var out []string
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
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

// loadChecked loads the manifest for a target that builds, and checks before anything
// runs that its toolchains can be had.
func loadChecked(ctx context.Context) (*manifest.Manifest, error) {
	m, err := load()
	if err != nil {
		return nil, err
	}
	return m, checkToolchains(ctx, m)
}

// usageError is a bad manifest: mage exits with status 2 for it, as for a usage error.
type usageError struct{ error }

func (e usageError) Unwrap() error   { return e.error }
func (e usageError) ExitStatus() int { return 2 }

// options are the pipeline options every target shares.
func options(m *manifest.Manifest) ([]pipeline.Option, error) {
	opts := []pipeline.Option{pipeline.WithVerbose(mg.Verbose())}
	rc, err := cache.RemoteFromEnv(os.Getenv, m.Cache.Remote)
	if err != nil {
		return nil, usageError{err}
	}
	if rc.Repo == "" {
		return opts, nil
	}
	ropts := []cache.RemoteOption{cache.WithWrite(rc.Write)}
	insecure, set, err := insecureEnv()
	if err != nil {
		return nil, err
	}
	if set {
		ropts = append(ropts, cache.WithInsecure(insecure))
	}
	return append(opts, pipeline.WithCacheOptions(cache.WithRemote(rc.Repo, ropts...))), nil
}

// insecureEnv reads $MINIMAL_INSECURE, which allows or forbids plain HTTP to registries
// other than loopback ones; set is false when it is not set.
func insecureEnv() (insecure, set bool, err error) {
	v := os.Getenv("MINIMAL_INSECURE")
	if v == "" {
		return false, false, nil
	}
	if insecure, err = strconv.ParseBool(v); err != nil {
		return false, false, usageError{fmt.Errorf("MINIMAL_INSECURE=%q: want true or false", v)}
	}
	return insecure, true, nil
}
