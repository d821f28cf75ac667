package publish

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/minimalbuild/minimal/magefiles/internal/plainhttp"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// RegistryOption configures Registry.
type RegistryOption func(*registryOptions) error

type registryOptions struct {
	keychain  authn.Keychain
	insecure  *bool // nil: plain HTTP for loopback registries only
	jobs      int
	transport http.RoundTripper
	attempts  int
	backoff   time.Duration
	retryTime time.Duration
	maxWait   time.Duration
	wait      func(ctx context.Context, d time.Duration) error
	progress  func(app string, complete, total int64)
	// signingKey, when set, signs what is pushed (registry_attach.go).
	signingKey  *ecdsa.PrivateKey
	signingTime time.Time
}

// Defaults of the registry publisher, set in one place by
// makeRegistryOptions.
const (
	defaultJobs      = 4
	defaultAttempts  = 10
	defaultBackoff   = 200 * time.Millisecond
	defaultRetryTime = time.Minute
	defaultMaxWait   = 5 * time.Second
)

func makeRegistryOptions(opts []RegistryOption) (*registryOptions, error) {
	o := &registryOptions{
		keychain:  authn.DefaultKeychain,
		jobs:      defaultJobs,
		transport: remote.DefaultTransport,
		attempts:  defaultAttempts,
		backoff:   defaultBackoff,
		retryTime: defaultRetryTime,
		maxWait:   defaultMaxWait,
		wait:      sleep,
	}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// WithKeychain sets where credentials for the registry come from. The
// default is authn.DefaultKeychain: the docker config file
// ($DOCKER_CONFIG/config.json, else ~/.docker/config.json) and the
// credential helpers it names, falling back to anonymous access.
func WithKeychain(k authn.Keychain) RegistryOption {
	return func(o *registryOptions) error {
		if k == nil {
			return errors.New("nil keychain")
		}
		o.keychain = k
		return nil
	}
}

// WithInsecure allows (true) or forbids (false) plain HTTP to the registry.
// The default is to allow it only for a loopback registry (127.0.0.0/8,
// ::1 or localhost), which is what a test registry or a port-forward is;
// any other registry must speak HTTPS. TLS certificates are verified
// either way.
func WithInsecure(insecure bool) RegistryOption {
	return func(o *registryOptions) error {
		o.insecure = &insecure
		return nil
	}
}

// WithJobs bounds how many requests to the registry are in flight at once,
// across every app and platform this publisher pushes, including pushes of
// several apps from concurrent Publish calls. The default is 4.
func WithJobs(n int) RegistryOption {
	return func(o *registryOptions) error {
		if n < 1 {
			return fmt.Errorf("jobs must be at least 1, got %d", n)
		}
		o.jobs = n
		return nil
	}
}

// WithTransport sets the HTTP transport requests go through. Retries
// (WithRetry), the jobs bound (WithJobs) and the plain-HTTP rule
// (WithInsecure) are wrapped around it. The default is
// remote.DefaultTransport.
func WithTransport(t http.RoundTripper) RegistryOption {
	return func(o *registryOptions) error {
		if t == nil {
			return errors.New("nil transport")
		}
		o.transport = t
		return nil
	}
}

// WithRetry sets how many times each step of an operation of a push is
// tried (attempts, at least 1), and the wait after the operation's first
// failure (backoff), which doubles after each further failure, up to 5s
// (or the backoff, if that is longer). Each wait is between half and all
// of that, at random, so that requests that failed together are not tried
// again together; a registry that answers 429 with Retry-After is given at
// least the time it asks for.
//
// An operation is uploading one blob, putting one manifest or tag, or
// checking for one; the steps of a blob upload are the check, the POST
// that starts an upload session and the request that sends the blob. A
// blob upload that fails at any step starts over, with a new session. An
// operation is tried again when the registry answers 5xx, 429 or 408, or
// the connection breaks or times out; other failures, such as refused
// credentials or a refused connection, end the push at once.
//
// The default is 10 attempts starting at 200ms.
func WithRetry(attempts int, backoff time.Duration) RegistryOption {
	return func(o *registryOptions) error {
		if attempts < 1 {
			return fmt.Errorf("retry attempts must be at least 1, got %d", attempts)
		}
		if backoff < 0 {
			return fmt.Errorf("retry backoff must not be negative, got %v", backoff)
		}
		o.attempts, o.backoff = attempts, backoff
		return nil
	}
}

// WithRetryTime bounds how long one operation of a push goes on being
// tried (see WithRetry): no wait starts that would end later than d after
// the operation's first try. The default is 1 minute.
func WithRetryTime(d time.Duration) RegistryOption {
	return func(o *registryOptions) error {
		if d <= 0 {
			return fmt.Errorf("retry time must be positive, got %v", d)
		}
		o.retryTime = d
		return nil
	}
}

// withWait replaces how the publisher waits between tries, and the
// longest wait, so that tests need not wait.
func withWait(wait func(ctx context.Context, d time.Duration) error, maxWait time.Duration) RegistryOption {
	return func(o *registryOptions) error {
		o.wait, o.maxWait = wait, maxWait
		return nil
	}
}

// WithProgress calls f as a push of app proceeds, with the bytes uploaded
// or found already in the registry (complete) out of those the push has
// found it must write so far (total), which grows as it goes. Calls for one
// app come from one goroutine at a time; calls for different apps pushed
// concurrently may overlap. The default is no progress reports.
func WithProgress(f func(app string, complete, total int64)) RegistryOption {
	return func(o *registryOptions) error {
		o.progress = f
		return nil
	}
}

// Registry returns a publisher that pushes each app's index to the
// repository <repo>/<app> of an OCI registry, with each of the app's tags
// (latest when it has none). repo is a registry host with an optional path,
// such as registry.example.com/team or 127.0.0.1:5000.
//
// A push writes every blob and every platform's manifest first, each by
// digest, then the index by digest, and only then the tags, so that a tag
// never points at an image that is not complete in the registry. A push
// that fails before the index is in place leaves the tags where they
// were. Blobs and manifests the registry
// already has are not written again: pushing an unchanged index uploads no
// blob and writes no manifest, only tags that point elsewhere.
//
// Blobs go up in as few requests as the registry takes: the blob in the
// POST itself where the registry takes that, else a POST and one PUT with
// the whole blob, else (for registries that take only chunks) a POST, a
// PATCH and a PUT. Failed steps are tried again as WithRetry says; a
// cancelled ctx stops the push at once, also in the middle of a wait.
//
// Publish may be called from many goroutines to push several apps at once.
// It returns one Result per tag, with Ref <repo>/<app>:<tag>@<digest> and
// Digest the index digest. Errors say what failed and what to do about
// it, briefly; they never hold credentials, upload session URLs or their
// tokens.
func Registry(repo string, opts ...RegistryOption) (Interface, error) {
	o, err := makeRegistryOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("registry publisher: %w", err)
	}
	repo = strings.TrimSuffix(repo, "/")
	if repo == "" {
		return nil, errors.New("registry publisher: no repository to push to")
	}
	// An app name completes the repository; check the rest with one.
	r, err := name.NewRepository(repo + "/app")
	if err == nil {
		err = checkPath(r.RepositoryStr())
	}
	if err != nil {
		return nil, fmt.Errorf("registry publisher: invalid repository %q: %w", repo, err)
	}
	host := r.RegistryStr()
	allowHTTP := plainhttp.Allow(o.insecure)
	plainHTTP := allowHTTP(plainhttp.Hostname(host))
	var nameOpts []name.Option
	if plainHTTP {
		nameOpts = append(nameOpts, name.Insecure)
	}
	t := plainhttp.Guard(o.transport, allowHTTP)
	t = &limitTransport{inner: t, slots: make(chan struct{}, o.jobs)}
	p := &registryPublisher{
		repo:      repo,
		host:      host,
		plainHTTP: plainHTTP,
		nameOpts:  nameOpts,
		opts:      o,
		transport: transport.NewUserAgent(t, "minimal"),
		// Referrers and signatures go through go-containerregistry's pusher
		// (registry_attach.go), with its own retries.
		remoteOpts: []remote.Option{
			remote.WithTransport(t),
			remote.WithAuthFromKeychain(o.keychain),
			remote.WithJobs(o.jobs),
			remote.WithUserAgent("minimal"),
			remote.WithRetryBackoff(remote.Backoff{Duration: o.backoff, Factor: 2, Jitter: 0.1, Steps: o.attempts}),
			remote.WithRetryPredicate(retryable),
		},
	}
	p.retry = &retryPolicy{
		attempts: o.attempts,
		backoff:  o.backoff,
		maxWait:  max(o.maxWait, o.backoff),
		maxTime:  o.retryTime,
		wait:     o.wait,
		retried:  func() { p.retries.Add(1) },
	}
	return p, nil
}

type registryPublisher struct {
	repo string
	host string
	// plainHTTP is whether plain HTTP to host is allowed.
	plainHTTP bool
	nameOpts  []name.Option
	opts      *registryOptions
	// transport carries every request, before authentication.
	transport http.RoundTripper
	retry     *retryPolicy
	// uploadMode is how the registry takes blobs, once known: one of
	// the mode constants.
	uploadMode atomic.Int32
	// retries counts the tries after a failure, of every push.
	retries atomic.Int64
	// remoteOpts push referrers and signatures.
	remoteOpts []remote.Option
}

var _ Interface = (*registryPublisher)(nil)

// Publish implements Interface.
func (p *registryPublisher) Publish(ctx context.Context, app string, idx v1.ImageIndex, tags []string) ([]Result, error) {
	if err := checkApp(app); err != nil {
		return nil, fmt.Errorf("pushing to %s: %w", p.repo, err)
	}
	dest := p.repo + "/" + app
	repo, err := name.NewRepository(dest, p.nameOpts...)
	if err == nil {
		err = checkPath(repo.RepositoryStr())
	}
	if err != nil {
		return nil, fmt.Errorf("pushing %s: invalid repository %q: %w", app, dest, err)
	}
	tags = tagList(tags)
	refs := make([]name.Tag, len(tags))
	for i, tag := range tags {
		if refs[i], err = name.NewTag(dest+":"+tag, p.nameOpts...); err != nil {
			return nil, fmt.Errorf("pushing %s: invalid tag %q: %w", app, tag, err)
		}
	}
	d, err := idx.Digest()
	if err != nil {
		return nil, fmt.Errorf("pushing %s: reading index: %w", app, err)
	}
	if err := p.push(ctx, app, repo, refs, idx); err != nil {
		return nil, p.explain(ctx, app, repo, err)
	}
	rs := make([]Result, len(tags))
	for i, tag := range tags {
		rs[i] = Result{Ref: dest + ":" + tag + "@" + d.String(), Digest: d}
	}
	return rs, nil
}

// checkPath checks a repository path, without its registry host.
func checkPath(path string) error {
	for c := range strings.SplitSeq(path, "/") {
		if !manifest.ValidRepoComponent(c) {
			return fmt.Errorf("%q is not a valid repository path component: registries take %s", c, manifest.RepoComponentRule)
		}
	}
	return nil
}

// tagList returns tags without repeats, in their order, or latest when
// there are none.
func tagList(tags []string) []string {
	var out []string
	for _, t := range tags {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		out = []string{defaultTag}
	}
	return out
}

// Repo returns the repository push sends images to: $KO_DOCKER_REPO, else
// $MINIMAL_REPO, else manifestRepo, the repo: of minimal.yaml. getenv
// looks up a variable, as os.Getenv does. It is an error when all three
// are empty.
//
// ko takes KO_DOCKER_REPO=ko.local (or kind.local) to mean a local docker
// daemon (or kind cluster) rather than a registry; that is an error here,
// since push only writes to registries.
func Repo(getenv func(string) string, manifestRepo string) (string, error) {
	for _, v := range []string{"KO_DOCKER_REPO", "MINIMAL_REPO"} {
		r := strings.TrimSpace(getenv(v))
		if r == "" {
			continue
		}
		if host, _, _ := strings.Cut(r, "/"); host == "ko.local" || host == "kind.local" {
			return "", fmt.Errorf("%s=%s names a docker daemon or kind cluster, which ko loads images into; push writes only to registries: set %s to a registry repository, or unset it", v, r, v)
		}
		return r, nil
	}
	if r := strings.TrimSpace(manifestRepo); r != "" {
		return r, nil
	}
	return "", errors.New("no repository to push to: set KO_DOCKER_REPO or MINIMAL_REPO, or repo: in minimal.yaml (for example repo: registry.example.com/team)")
}
