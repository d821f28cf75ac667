package cache

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Option configures Open.
type Option func(*options) error

type options struct {
	log     io.Writer
	verbose bool
	remote  *remoteOptions // nil: no remote tier
}

// makeOptions sets every default, then applies opts.
func makeOptions(opts []Option) (*options, error) {
	o := &options{log: os.Stderr}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// WithLog sets where the remote tier's warnings, and with WithVerbose each of its hits,
// misses and uploads, are written. Writes are whole lines, one at a time. The default is
// standard error.
func WithLog(w io.Writer) Option {
	return func(o *options) error {
		if w == nil {
			return errors.New("nil log")
		}
		o.log = w
		return nil
	}
}

// WithVerbose logs every remote hit, miss and upload. The default is off: only warnings
// are logged.
func WithVerbose(v bool) Option {
	return func(o *options) error { o.verbose = v; return nil }
}

// WithRemote puts a remote tier behind the cache: the repository repo
// (<registry>/<repository>, such as registry.example.com/team/cache) of an OCI
// registry. A local miss looks there; a hit is checked and stored locally; Put uploads
// in the background. See the package documentation for the format and the trust model.
// The default is no remote tier.
func WithRemote(repo string, opts ...RemoteOption) Option {
	return func(o *options) error {
		if o.remote != nil {
			return errors.New("remote cache given twice")
		}
		ro, err := makeRemoteOptions(repo, opts)
		if err != nil {
			return err
		}
		o.remote = ro
		return nil
	}
}

// RemoteOption configures the remote tier of WithRemote.
type RemoteOption func(*remoteOptions) error

type remoteOptions struct {
	repo      name.Repository
	write     bool
	insecure  *bool
	keychain  authn.Keychain
	transport http.RoundTripper
	budget    time.Duration
	uploads   int
}

// Defaults of the remote tier, set in one place by makeRemoteOptions.
const (
	defaultBudget  = 2 * time.Second
	defaultUploads = 4
)

func makeRemoteOptions(repo string, opts []RemoteOption) (*remoteOptions, error) {
	o := &remoteOptions{
		write:     true,
		keychain:  authn.DefaultKeychain,
		transport: remote.DefaultTransport,
		budget:    defaultBudget,
		uploads:   defaultUploads,
	}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, fmt.Errorf("remote cache: %w", err)
		}
	}
	r, err := ParseRemote(repo)
	if err != nil {
		return nil, err
	}
	var nameOpts []name.Option
	if o.insecure != nil && *o.insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	// ParseRemote checked the name; this only adds the option.
	if o.repo, err = name.NewRepository(r.Name(), nameOpts...); err != nil {
		return nil, fmt.Errorf("remote cache %q: %w", repo, err)
	}
	return o, nil
}

// WithWrite allows (true) or forbids (false) uploads to the remote tier. A machine that
// must not write, such as the build of an untrusted change, sets false. The default is
// true.
func WithWrite(write bool) RemoteOption {
	return func(o *remoteOptions) error { o.write = write; return nil }
}

// WithInsecure allows (true) or forbids (false) plain HTTP to the registry. The default
// is to allow it only for a loopback registry (127.0.0.0/8, ::1 or localhost), as push
// does. TLS certificates are verified either way.
func WithInsecure(insecure bool) RemoteOption {
	return func(o *remoteOptions) error { o.insecure = &insecure; return nil }
}

// WithKeychain sets where credentials for the registry come from. The default is
// authn.DefaultKeychain, as for push: the docker config file and the credential helpers
// it names, falling back to anonymous access.
func WithKeychain(k authn.Keychain) RemoteOption {
	return func(o *remoteOptions) error {
		if k == nil {
			return errors.New("nil keychain")
		}
		o.keychain = k
		return nil
	}
}

// WithTransport sets the HTTP transport requests go through; the plain-HTTP rule is
// wrapped around it. The default is go-containerregistry's remote.DefaultTransport.
func WithTransport(t http.RoundTripper) RemoteOption {
	return func(o *remoteOptions) error {
		if t == nil {
			return errors.New("nil transport")
		}
		o.transport = t
		return nil
	}
}

// WithBudget sets how much time a slow, failing or unreachable registry may cost the
// build in all: the time its requests take beyond what they are allowed (half a second
// each, plus a second per 8 MiB of blob) adds up against it, and the remote tier is
// turned off when it runs out, or at the first failure. The default is 2 seconds.
func WithBudget(d time.Duration) RemoteOption {
	return func(o *remoteOptions) error {
		if d <= 0 {
			return fmt.Errorf("budget must be positive, got %v", d)
		}
		o.budget = d
		return nil
	}
}

// WithUploads bounds how many entries are uploaded at once. The default is 4.
func WithUploads(n int) RemoteOption {
	return func(o *remoteOptions) error {
		if n < 1 {
			return fmt.Errorf("uploads must be at least 1, got %d", n)
		}
		o.uploads = n
		return nil
	}
}

// ParseRemote checks a remote cache's repository, <registry>/<repository>, and returns
// it. The registry must be given: a bare repository path is an error, so that no cache
// goes to a registry nobody named.
func ParseRemote(repo string) (name.Repository, error) {
	repo = strings.TrimSuffix(strings.TrimSpace(repo), "/")
	if repo == "" {
		return name.Repository{}, errors.New("remote cache: no repository given; want <registry>/<repository>")
	}
	if scheme, rest, ok := strings.Cut(repo, "://"); ok {
		return name.Repository{}, fmt.Errorf("remote cache %q: want <registry>/<repository> without %s://, such as %s; plain HTTP is spoken to loopback registries, and to others with MINIMAL_INSECURE=true", repo, scheme, rest)
	}
	host, path, ok := strings.Cut(repo, "/")
	if !ok || path == "" || !strings.ContainsAny(host, ".:") && host != "localhost" {
		return name.Repository{}, fmt.Errorf("remote cache %q: want <registry>/<repository>, such as registry.example.com/team/cache", repo)
	}
	r, err := name.NewRepository(repo, name.StrictValidation)
	if err != nil {
		return name.Repository{}, fmt.Errorf("remote cache %q: %w", repo, err)
	}
	return r, nil
}

// RemoteConfig is the remote tier as the environment and the manifest configure it.
type RemoteConfig struct {
	// Repo is the repository, <registry>/<repository>; empty means no remote tier.
	Repo string
	// Write is whether this machine uploads what it builds.
	Write bool
}

// RemoteFromEnv returns the remote tier's configuration: the repository from
// $MINIMAL_REMOTE_CACHE, else manifestRemote (cache: remote: in minimal.yaml); uploads
// on unless $MINIMAL_REMOTE_CACHE_WRITE is false. getenv looks up a variable, as
// os.Getenv does. A value that does not parse is an error naming the variable.
func RemoteFromEnv(getenv func(string) string, manifestRemote string) (RemoteConfig, error) {
	c := RemoteConfig{Repo: strings.TrimSpace(getenv("MINIMAL_REMOTE_CACHE")), Write: true}
	if c.Repo != "" {
		if _, err := ParseRemote(c.Repo); err != nil {
			return RemoteConfig{}, fmt.Errorf("MINIMAL_REMOTE_CACHE: %w", err)
		}
	} else {
		c.Repo = strings.TrimSpace(manifestRemote)
	}
	if v := strings.TrimSpace(getenv("MINIMAL_REMOTE_CACHE_WRITE")); v != "" {
		w, err := strconv.ParseBool(v)
		if err != nil {
			return RemoteConfig{}, fmt.Errorf("MINIMAL_REMOTE_CACHE_WRITE=%q: want true or false", v)
		}
		c.Write = w
	}
	return c, nil
}
