package publish

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// How blobs are uploaded. Every registry takes a monolithic upload: a POST
// that starts an upload session, then one PUT with the whole blob that
// commits it. Some also take the whole blob in the POST itself (the
// distribution spec's single POST), which saves a request; a few take only
// chunks, a PATCH with the blob and an empty PUT.
const (
	modeUnknown    int32 = iota // single POST not tried yet
	modeSinglePost              // the registry takes a single POST
	modePostPut                 // POST, then PUT with the blob
	modeChunked                 // POST, PATCH with the blob, empty PUT
)

// probeSize is the largest blob with which a single POST is tried on a
// registry not known to take it: one that does not, answers by starting an
// upload session, and the blob is sent again.
const probeSize = 64 << 10

// manifestTypes are the manifest media types a HEAD of a manifest
// accepts.
var manifestTypes = strings.Join([]string{
	string(types.OCIImageIndex), string(types.OCIManifestSchema1),
	string(types.DockerManifestList), string(types.DockerManifestSchema2),
}, ", ")

// pushSession is the push of one app's index to its repository.
type pushSession struct {
	p      *registryPublisher
	repo   name.Repository
	client *http.Client
	prog   *progress
	// uploads bounds the blob uploads of this push under way at once.
	uploads chan struct{}

	mu    sync.Mutex
	blobs map[v1.Hash]*blobResult
}

// blobResult is the result of one blob's upload, shared by every image of
// the push that has the blob.
type blobResult struct {
	done chan struct{}
	err  error
}

// push writes idx by digest (its blobs and manifests first), then each tag.
func (p *registryPublisher) push(ctx context.Context, app string, repo name.Repository, tags []name.Tag, idx v1.ImageIndex) error {
	client, err := p.connect(ctx, repo)
	if err != nil {
		return err
	}
	s := &pushSession{
		p:       p,
		repo:    repo,
		client:  client,
		uploads: make(chan struct{}, p.opts.jobs),
		blobs:   map[v1.Hash]*blobResult{},
	}
	if f := p.opts.progress; f != nil {
		s.prog = &progress{report: func(complete, total int64) { f(app, complete, total) }}
	}
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	raw, err := idx.RawManifest()
	if err != nil {
		return err
	}
	mt, err := idx.MediaType()
	if err != nil {
		return err
	}
	if err := s.pushIndex(ctx, idx); err != nil {
		return err
	}
	// Referrers and signatures, before any tag moves (registry_attach.go).
	if err := p.pushAttached(ctx, repo, idx); err != nil {
		return err
	}
	for _, tag := range tags {
		// Writes the tag unless it already points at idx.
		what := "tagging " + tag.TagStr()
		has, err := s.hasManifest(ctx, what, tag.TagStr(), d)
		if err == nil && !has {
			err = s.putManifest(ctx, what, tag.TagStr(), raw, mt)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// connect returns a client for repo that authenticates as the keychain
// says, after pinging the registry (and, where it has a token service,
// getting a token).
func (p *registryPublisher) connect(ctx context.Context, repo name.Repository) (*http.Client, error) {
	auth, err := authn.Resolve(ctx, p.opts.keychain, repo)
	if err != nil {
		return nil, fmt.Errorf("looking up credentials: %w", err)
	}
	op := p.retry.operation()
	for {
		t, err := transport.NewWithContext(ctx, repo.Registry, auth, p.transport, []string{repo.Scope(transport.PushScope)})
		if err == nil {
			return &http.Client{Transport: t, CheckRedirect: checkRedirect}, nil
		}
		// Over plain HTTP, the ping tries HTTPS too; the registry's
		// answer that it is failing for now says more than that.
		var te *transport.Error
		if errors.As(err, &te) && retryable(te) {
			err = &statusError{te: te}
		} else {
			err = redactError(err)
		}
		err = &requestError{what: "connecting", method: http.MethodGet, err: err}
		if err := op.failed(ctx, err); err != nil {
			return nil, err
		}
	}
}

// pushIndex writes idx's images (and indexes), then idx, by digest,
// unless the registry has idx already.
func (s *pushSession) pushIndex(ctx context.Context, idx v1.ImageIndex) error {
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	what := "index " + shortDigest(d)
	if has, err := s.hasManifest(ctx, "checking "+what, d.String(), d); err != nil || has {
		return err
	}
	children, err := partial.Manifests(idx)
	if err != nil {
		return err
	}
	g, gctx := newGroup(ctx)
	for _, child := range children {
		switch c := child.(type) {
		case v1.ImageIndex:
			g.Go(func() error { return s.pushIndex(gctx, c) })
		case v1.Image:
			g.Go(func() error { return s.pushImage(gctx, c) })
		default:
			return fmt.Errorf("%s holds a %T, which is neither an image nor an index", what, child)
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return s.putDescribed(ctx, "putting "+what, idx)
}

// pushImage writes img's blobs, then img, by digest, unless the registry
// has img already.
func (s *pushSession) pushImage(ctx context.Context, img v1.Image) error {
	d, err := img.Digest()
	if err != nil {
		return err
	}
	what := "image " + shortDigest(d)
	if has, err := s.hasManifest(ctx, "checking "+what, d.String(), d); err != nil || has {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	cfg, err := partial.ConfigLayer(img)
	if err != nil {
		return err
	}
	g, gctx := newGroup(ctx)
	for _, l := range append(layers, cfg) {
		mt, err := l.MediaType()
		if err != nil {
			return err
		}
		if !mt.IsDistributable() {
			continue
		}
		g.Go(func() error { return s.blob(gctx, l) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return s.putDescribed(ctx, "putting "+what, img)
}

// putDescribed puts the manifest of m by its digest.
func (s *pushSession) putDescribed(ctx context.Context, what string, m interface {
	partial.Describable
	RawManifest() ([]byte, error)
}) error {
	d, err := m.Digest()
	if err != nil {
		return err
	}
	raw, err := m.RawManifest()
	if err != nil {
		return err
	}
	mt, err := m.MediaType()
	if err != nil {
		return err
	}
	return s.putManifest(ctx, what, d.String(), raw, mt)
}

// blob uploads l once per push, however many images have it.
func (s *pushSession) blob(ctx context.Context, l v1.Layer) error {
	d, err := l.Digest()
	if err != nil {
		return err
	}
	s.mu.Lock()
	r, ok := s.blobs[d]
	if !ok {
		r = &blobResult{done: make(chan struct{})}
		s.blobs[d] = r
	}
	s.mu.Unlock()
	if ok {
		select {
		case <-r.done:
			return r.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	defer close(r.done)
	select {
	case s.uploads <- struct{}{}:
	case <-ctx.Done():
		r.err = ctx.Err()
		return r.err
	}
	defer func() { <-s.uploads }()
	r.err = s.uploadBlob(ctx, l, d)
	return r.err
}

// uploadBlob uploads l, whose digest is d, unless the registry has it.
// A failure at any step starts the upload over with a new session: the
// registry may have acted on a request whose answer was lost, and an
// upload session is not something to reuse after that. The check comes
// first each time, so a blob committed before its answer was lost is
// found, not uploaded again.
func (s *pushSession) uploadBlob(ctx context.Context, l v1.Layer, d v1.Hash) error {
	size, err := l.Size()
	if err != nil {
		return err
	}
	s.prog.addTotal(size)
	// sent is the most of the blob any try has sent; progress counts it
	// once, however often it is sent.
	var sent atomic.Int64
	b := &blobUpload{s: s, layer: l, digest: d, size: size, what: "uploading blob " + shortDigest(d), sent: &sent}
	op := s.p.retry.operation()
	check := true
	for {
		err := b.try(ctx, check)
		if err == nil {
			s.prog.addComplete(size - sent.Swap(size))
			return nil
		}
		if errors.Is(err, errModeChanged) {
			continue
		}
		if err := op.failed(ctx, err); err != nil {
			return err
		}
		// A POST without the blob commits nothing; any other step may
		// have.
		var re *requestError
		check = !errors.As(err, &re) || re.method != http.MethodPost || re.withBlob
	}
}

// errModeChanged says a try found that the registry does not take the
// upload mode it used; the next try uses another.
var errModeChanged = errors.New("upload mode changed")

// blobUpload is the upload of one blob.
type blobUpload struct {
	s      *pushSession
	layer  v1.Layer
	digest v1.Hash
	size   int64
	what   string
	sent   *atomic.Int64
}

// try makes one try at the upload, checking first whether the registry
// has the blob when check is true.
func (b *blobUpload) try(ctx context.Context, check bool) error {
	s := b.s
	blobs := s.url("/blobs/")
	if check {
		resp, err := s.do(ctx, b.what, http.MethodHead, blobs+b.digest.String(), nil, nil, http.StatusOK, http.StatusNotFound)
		if err != nil {
			return err
		}
		if resp.StatusCode == http.StatusOK {
			return nil
		}
	}
	mode := s.p.uploadMode.Load()
	start := blobs + "uploads/"
	var resp *http.Response
	var err error
	if mode == modeSinglePost || (mode == modeUnknown && b.size <= probeSize) {
		resp, err = s.do(ctx, b.what, http.MethodPost, start+"?digest="+url.QueryEscape(b.digest.String()), b.body, nil,
			http.StatusCreated, http.StatusAccepted, http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusUnsupportedMediaType, http.StatusNotImplemented)
		if err != nil {
			return err
		}
		switch resp.StatusCode {
		case http.StatusCreated:
			s.p.uploadMode.CompareAndSwap(modeUnknown, modeSinglePost)
			return nil
		case http.StatusAccepted:
			// The registry took the POST as the start of a session
			// and put the blob aside; send it in the session.
			s.p.uploadMode.CompareAndSwap(modeUnknown, modePostPut)
			if mode == modeSinglePost {
				mode = modePostPut
			}
		default:
			// A registry that does not take the blob in the POST
			// may refuse it outright.
			if mode == modeUnknown {
				s.p.uploadMode.CompareAndSwap(modeUnknown, modePostPut)
				return errModeChanged
			}
			return &requestError{what: b.what, method: http.MethodPost, withBlob: true, err: s.statusError(resp)}
		}
	} else {
		resp, err = s.do(ctx, b.what, http.MethodPost, start, nil, nil, http.StatusAccepted)
		if err != nil {
			return err
		}
	}
	loc, err := location(resp)
	if err != nil {
		return &requestError{what: b.what, method: http.MethodPost, err: err}
	}
	if mode == modeChunked {
		resp, err := s.do(ctx, b.what, http.MethodPatch, loc.String(), b.body, nil, http.StatusAccepted, http.StatusNoContent)
		if err != nil {
			return err
		}
		if loc, err = location(resp); err != nil {
			return &requestError{what: b.what, method: http.MethodPatch, err: err}
		}
		_, err = s.do(ctx, b.what, http.MethodPut, withDigest(loc, b.digest), nil, nil, http.StatusCreated)
		return err
	}
	resp, err = s.do(ctx, b.what, http.MethodPut, withDigest(loc, b.digest), b.body, nil,
		http.StatusCreated, http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusLengthRequired, http.StatusUnsupportedMediaType, http.StatusRequestedRangeNotSatisfiable, http.StatusNotImplemented)
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusCreated {
		return nil
	}
	// The registry refused the blob in the PUT. Unless it says the
	// blob is wrong, it takes only chunked uploads.
	serr := s.statusError(resp)
	if hasCode(serr, transport.DigestInvalidErrorCode, transport.SizeInvalidErrorCode) {
		return &requestError{what: b.what, method: http.MethodPut, withBlob: true, err: serr}
	}
	s.p.uploadMode.Store(modeChunked)
	return errModeChanged
}

// body opens the blob for a request, counting what is read of it as
// progress.
func (b *blobUpload) body() (io.ReadCloser, int64, error) {
	rc, err := b.layer.Compressed()
	if err != nil {
		return nil, 0, err
	}
	return &progressReader{ReadCloser: rc, prog: b.s.prog, best: b.sent}, b.size, nil
}

// progressReader counts what is read of a blob into the push's progress,
// beyond what an earlier try has already counted.
type progressReader struct {
	io.ReadCloser
	prog *progress
	best *atomic.Int64
	n    int64
}

func (r *progressReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = &blobReadError{err}
	}
	r.n += int64(n)
	for {
		best := r.best.Load()
		if r.n <= best {
			break
		}
		if r.best.CompareAndSwap(best, r.n) {
			r.prog.addComplete(r.n - best)
			break
		}
	}
	return n, err
}

// blobReadError is a failure to read a blob for its upload: a problem
// here, not of the connection, and not worth trying again.
type blobReadError struct{ err error }

func (e *blobReadError) Error() string { return "reading the blob: " + e.err.Error() }
func (e *blobReadError) Unwrap() error { return e.err }

// hasManifest reports whether ref (a tag or digest) is in the registry and
// names the manifest with digest d.
func (s *pushSession) hasManifest(ctx context.Context, what, ref string, d v1.Hash) (bool, error) {
	op := s.p.retry.operation()
	for {
		resp, err := s.do(ctx, what, http.MethodHead, s.url("/manifests/"+ref), nil, http.Header{"Accept": {manifestTypes}},
			http.StatusOK, http.StatusNotFound, http.StatusForbidden)
		if err == nil {
			// Some registries answer 403 where they mean 404.
			got := resp.Header.Get("Docker-Content-Digest")
			return resp.StatusCode == http.StatusOK && (got == d.String() || got == "" && ref == d.String()), nil
		}
		if err := op.failed(ctx, err); err != nil {
			return false, err
		}
	}
}

// putManifest puts raw, a manifest of type mt, to ref. Putting the same
// manifest again changes nothing, so a put whose answer was lost is simply
// tried again.
func (s *pushSession) putManifest(ctx context.Context, what, ref string, raw []byte, mt types.MediaType) error {
	s.prog.addTotal(int64(len(raw)))
	body := func() (io.ReadCloser, int64, error) {
		return io.NopCloser(bytes.NewReader(raw)), int64(len(raw)), nil
	}
	op := s.p.retry.operation()
	for {
		_, err := s.do(ctx, what, http.MethodPut, s.url("/manifests/"+ref), body, http.Header{"Content-Type": {string(mt)}},
			http.StatusOK, http.StatusCreated, http.StatusAccepted)
		if err == nil {
			s.prog.addComplete(int64(len(raw)))
			return nil
		}
		if err := op.failed(ctx, err); err != nil {
			return err
		}
	}
}

// url returns the URL of path under the repository's API.
func (s *pushSession) url(path string) string {
	u := url.URL{Scheme: s.repo.Scheme(), Host: s.repo.RegistryStr(), Path: "/v2/" + s.repo.RepositoryStr() + path}
	return u.String()
}

// do sends one request and returns its answer, its body read and closed,
// when its status is one of want. Otherwise it returns a *requestError
// that says what the request was for and why it failed, with no upload
// session or credential in it. body, when not nil, opens the body
// afresh for each time the request is sent.
func (s *pushSession) do(ctx context.Context, what, method, target string, body func() (io.ReadCloser, int64, error), header http.Header, want ...int) (*http.Response, error) {
	fail := func(err error) error {
		return &requestError{what: what, method: method, withBlob: body != nil && strings.Contains(target, "/blobs/"), err: err}
	}
	req, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		return nil, fail(redactError(err))
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil {
		rc, n, err := body()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, &blobReadError{err})
		}
		req.Body, req.ContentLength = rc, n
		req.GetBody = func() (io.ReadCloser, error) {
			rc, _, err := body()
			return rc, err
		}
		if req.Header.Get("Content-Type") == "" {
			req.Header.Set("Content-Type", "application/octet-stream")
		}
	}
	resp, err := s.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fail(redactError(err))
	}
	defer resp.Body.Close()
	for _, code := range want {
		if resp.StatusCode == code {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			return resp, nil
		}
	}
	return nil, fail(s.statusError(resp))
}

// statusError reads an answer that is not the one wanted into an error.
func (s *pushSession) statusError(resp *http.Response) *statusError {
	err := transport.CheckError(resp)
	var te *transport.Error
	if !errors.As(err, &te) {
		te = &transport.Error{StatusCode: resp.StatusCode}
	}
	if resp.Request != nil {
		r := *resp.Request
		r.URL, _ = url.Parse(redactURL(r.URL))
		r.Header, r.Body, r.GetBody = nil, nil, nil
		te.Request = &r
	}
	return &statusError{te: te, retryAfter: parseRetryAfter(resp.Header, time.Now())}
}

// location returns where a blob upload goes on: the Location of resp,
// resolved against its request's URL.
func location(resp *http.Response) (*url.URL, error) {
	loc := resp.Header.Get("Location")
	if loc == "" {
		return nil, errors.New("the registry gave no location to upload to")
	}
	u, err := resp.Request.URL.Parse(loc)
	if err != nil {
		return nil, errors.New("the registry gave an upload location that is not a URL")
	}
	if err := checkHost(resp.Request.URL, u); err != nil {
		return nil, err
	}
	return u, nil
}

// withDigest returns loc with the digest parameter that commits an
// upload.
func withDigest(loc *url.URL, d v1.Hash) string {
	u := *loc
	q := u.Query()
	q.Set("digest", d.String())
	u.RawQuery = q.Encode()
	return u.String()
}

// shortDigest returns d shortened for messages, as in sha256:0123456789ab.
func shortDigest(d v1.Hash) string {
	return d.Algorithm + ":" + d.Hex[:min(12, len(d.Hex))]
}

// progress adds up a push's progress and reports it, one report at a
// time. A nil *progress reports nothing.
type progress struct {
	report func(complete, total int64)

	mu              sync.Mutex
	complete, total int64
}

func (p *progress) addTotal(n int64) { p.add(0, n) }

func (p *progress) addComplete(n int64) { p.add(n, 0) }

func (p *progress) add(complete, total int64) {
	if p == nil || complete == 0 && total == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.complete += complete
	p.total += total
	p.report(p.complete, p.total)
}

// group runs functions at once and returns the first error of any; that
// error ends the context the others run under.
type group struct {
	wg     sync.WaitGroup
	cancel context.CancelFunc
	once   sync.Once
	err    error
}

func newGroup(ctx context.Context) (*group, context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	return &group{cancel: cancel}, ctx
}

// Go runs f in a new goroutine.
func (g *group) Go(f func() error) {
	g.wg.Go(func() {
		if err := f(); err != nil {
			g.once.Do(func() {
				g.err = err
				g.cancel()
			})
		}
	})
}

// Wait waits for every function and returns the first error.
func (g *group) Wait() error {
	g.wg.Wait()
	g.cancel()
	return g.err
}
