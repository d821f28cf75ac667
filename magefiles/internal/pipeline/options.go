package pipeline

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"

	"github.com/minimalbuild/minimal/magefiles/internal/cache"
	"github.com/minimalbuild/minimal/magefiles/internal/outdir"
	"github.com/minimalbuild/minimal/magefiles/internal/toolchain"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// Option configures Build and Test.
type Option func(*options) error

type options struct {
	out       string
	jobs      int
	log       io.Writer
	verbose   bool
	apps      []string
	builders  map[string]toolchain.Builder
	cacheDir  string
	cacheOpts []cache.Option
	// published is called after each app is written to the layout.
	published func(app string)
}

// makeOptions sets every default, then applies opts.
func makeOptions(m *manifest.Manifest, opts []Option) (*options, error) {
	o := &options{
		out:  filepath.Join(m.Root, outdir.Name),
		jobs: runtime.NumCPU(),
		log:  os.Stderr,

		builders: map[string]toolchain.Builder{},
	}
	if s := os.Getenv("MINIMAL_JOBS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("MINIMAL_JOBS=%q: want a whole number of at least 1", s)
		}
		o.jobs = n
	}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	if o.cacheDir == "" {
		dir, err := CacheDir()
		if err != nil {
			return nil, err
		}
		o.cacheDir = dir
	}
	for lang, b := range toolchain.Builders(m.Toolchains.Zig, toolchain.WithZigLog(o.log)) {
		if o.builders[lang] == nil {
			o.builders[lang] = b
		}
	}
	return o, nil
}

// WithOut sets the output directory. The default is images/ under the repository root.
func WithOut(dir string) Option {
	return func(o *options) error { o.out = dir; return nil }
}

// WithJobs bounds how many actions (compile, shrink, image) run at once. The default is
// $MINIMAL_JOBS, else the number of CPUs. With a remote cache, more builds than that
// look up their actions at once.
func WithJobs(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("jobs must be at least 1, got %d", n)
		}
		o.jobs = n
		return nil
	}
}

// WithLog sets where progress lines go. The default is standard error.
func WithLog(w io.Writer) Option {
	return func(o *options) error { o.log = w; return nil }
}

// WithVerbose logs every command run. The default is off.
func WithVerbose(v bool) Option {
	return func(o *options) error { o.verbose = v; return nil }
}

// WithApps limits the build to the named apps. The default is every app.
func WithApps(names ...string) Option {
	return func(o *options) error { o.apps = append(o.apps, names...); return nil }
}

// WithCache sets the action cache's directory. The default is actions/ under the
// toolchain cache ($MINIMAL_CACHE, else $XDG_CACHE_HOME/minimal).
func WithCache(dir string) Option {
	return func(o *options) error { o.cacheDir = dir; return nil }
}

// WithCacheOptions passes opts to the action cache, such as cache.WithRemote for a
// remote tier. The default is a local cache only.
func WithCacheOptions(opts ...cache.Option) Option {
	return func(o *options) error { o.cacheOpts = append(o.cacheOpts, opts...); return nil }
}

// withBuilder replaces the builder for a language; tests use it to run without toolchains.
func withBuilder(lang string, b toolchain.Builder) Option {
	return func(o *options) error { o.builders[lang] = b; return nil }
}

// withPublished calls f after each app is written to the layout; tests use it to stop a
// build there.
func withPublished(f func(app string)) Option {
	return func(o *options) error { o.published = f; return nil }
}

// CacheDir is the action cache's directory when WithCache does not name one: actions/
// under the toolchain cache ($MINIMAL_CACHE, else $XDG_CACHE_HOME/minimal).
func CacheDir() (string, error) {
	dir, err := toolchain.CacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "actions"), nil
}
