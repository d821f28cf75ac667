package publish

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
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
	progress  func(app string, complete, total int64)
	// signingKey, when set, signs what is pushed (registry_attach.go).
	signingKey  *ecdsa.PrivateKey
	signingTime time.Time
}

// Defaults of the registry publisher, set in one place by
// makeRegistryOptions.
const (
	defaultJobs     = 4
	defaultAttempts = 5
	defaultBackoff  = 200 * time.Millisecond
)

func makeRegistryOptions(opts []RegistryOption) (*registryOptions, error) {
	o := &registryOptions{
		keychain:  authn.DefaultKeychain,
		jobs:      defaultJobs,
		transport: remote.DefaultTransport,
		attempts:  defaultAttempts,
		backoff:   defaultBackoff,
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

// WithRetry sets how often an operation is tried (attempts, at least 1) and
// the wait after the first failure (backoff), which doubles after each
// further failure. An operation is retried when the registry answers 5xx,
// 429 or 408, or the connection is reset or closed early; other failures,
// such as refused credentials or a refused connection, are not retried.
// The default is 5 attempts starting at 200ms (200ms, 400ms, 800ms, 1.6s).
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
// never points at an image that is not complete in the registry. A failed
// push leaves the tags where they were. Blobs and manifests the registry
// already has are not written again: pushing an unchanged index uploads no
// blob and writes no manifest, only tags that point elsewhere.
//
// Publish may be called from many goroutines to push several apps at once.
// It returns one Result per tag, with Ref <repo>/<app>:<tag>@<digest> and
// Digest the index digest. Errors say what failed and what to do about
// it; they never hold credentials.
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
	allowHTTP := func(h string) bool { return isLoopback(h) }
	if o.insecure != nil {
		insecure := *o.insecure
		allowHTTP = func(string) bool { return insecure }
	}
	plainHTTP := allowHTTP(hostname(host))
	var nameOpts []name.Option
	if plainHTTP {
		nameOpts = append(nameOpts, name.Insecure)
	}
	var t http.RoundTripper = &schemeGuard{inner: o.transport, allowHTTP: allowHTTP}
	t = &limitTransport{inner: t, slots: make(chan struct{}, o.jobs)}
	return &registryPublisher{
		repo:      repo,
		host:      host,
		plainHTTP: plainHTTP,
		nameOpts:  nameOpts,
		opts:      o,
		remoteOpts: []remote.Option{
			remote.WithTransport(t),
			remote.WithAuthFromKeychain(o.keychain),
			remote.WithJobs(o.jobs),
			remote.WithUserAgent("minimal"),
			remote.WithRetryBackoff(remote.Backoff{Duration: o.backoff, Factor: 2, Jitter: 0.1, Steps: o.attempts}),
			remote.WithRetryPredicate(retryable),
			remote.WithRetryStatusCodes(retryStatusCodes...),
		},
	}, nil
}

type registryPublisher struct {
	repo string
	host string
	// plainHTTP is whether plain HTTP to host is allowed.
	plainHTTP  bool
	nameOpts   []name.Option
	opts       *registryOptions
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
	if err := p.push(ctx, app, repo.Digest(d.String()), refs, idx); err != nil {
		return nil, p.explain(ctx, app, repo, err)
	}
	rs := make([]Result, len(tags))
	for i, tag := range tags {
		rs[i] = Result{Ref: dest + ":" + tag + "@" + d.String(), Digest: d}
	}
	return rs, nil
}

// push writes idx by digest (its blobs and manifests first), then each tag.
func (p *registryPublisher) push(ctx context.Context, app string, byDigest name.Digest, tags []name.Tag, idx v1.ImageIndex) error {
	opts := p.remoteOpts
	if p.opts.progress != nil {
		updates := make(chan v1.Update, 16)
		var wg sync.WaitGroup
		wg.Go(func() {
			for u := range updates {
				p.opts.progress(app, u.Complete, u.Total)
			}
		})
		// Every update is sent before the Push calls below return.
		defer wg.Wait()
		defer close(updates)
		opts = append(slices.Clip(opts), remote.WithProgress(updates))
	}
	// One pusher per call: it remembers what it has written, so the tags
	// below neither check nor write the index's contents again.
	pusher, err := remote.NewPusher(opts...)
	if err != nil {
		return err
	}
	if err := pusher.Push(ctx, byDigest, idx); err != nil {
		return err
	}
	// Referrers and signatures, before any tag moves (registry_attach.go).
	if err := p.pushAttached(ctx, byDigest.Context(), idx); err != nil {
		return err
	}
	for _, tag := range tags {
		// Writes the tag unless it already points at idx.
		if err := pusher.Push(ctx, tag, idx); err != nil {
			return fmt.Errorf("tagging %s: %w", tag.TagStr(), err)
		}
	}
	return nil
}

// pathComponent is the form the OCI distribution spec gives each component
// of a repository path. go-containerregistry accepts more, which registries
// then refuse, some with a bare 404.
var pathComponent = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$`)

// checkPath checks a repository path, without its registry host.
func checkPath(path string) error {
	for c := range strings.SplitSeq(path, "/") {
		if !pathComponent.MatchString(c) {
			return fmt.Errorf("%q is not a valid repository path component: registries take lowercase letters and digits, joined by single '.', '_' or '__', or by dashes", c)
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
