package cache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/minimalbuild/minimal/magefiles/internal/plainhttp"
)

// The format of a remote entry; see the package documentation.
const (
	// ArtifactType is the artifactType of every remote entry's manifest.
	ArtifactType = "application/vnd.minimal.action.v1"
	// OutputMediaType is the media type of each output blob of a remote entry.
	OutputMediaType = "application/vnd.minimal.action.output.v1"
	// KeyAnnotation is the manifest annotation that holds the entry's action key.
	KeyAnnotation = "vnd.minimal.action.key"
	// NameAnnotation is the blob annotation that holds the output's name.
	NameAnnotation = "org.opencontainers.image.title"
	// TagPrefix starts the tag of every remote entry; the action key in hexadecimal
	// follows.
	TagPrefix = "action-v1-"

	manifestMediaType = "application/vnd.oci.image.manifest.v1+json"
	emptyMediaType    = "application/vnd.oci.empty.v1+json"
)

// emptyConfig is the OCI empty descriptor's content, the config of every entry.
var (
	emptyConfig       = []byte("{}")
	emptyConfigSum    = sha256.Sum256(emptyConfig)
	emptyConfigDigest = "sha256:" + hex.EncodeToString(emptyConfigSum[:])
)

// Limits on what the remote tier reads.
const (
	maxManifest = 4 << 20
	maxOutputs  = 4096
	// allowance and allowanceRate give the time a request may take before it costs the
	// budget: allowance, plus a second per allowanceRate bytes of blob.
	allowance     = 500 * time.Millisecond
	allowanceRate = 8 << 20
	// blobsAtOnce is how many blobs of one entry are downloaded at once.
	blobsAtOnce = 4
)

// ociManifest is the part of an OCI image manifest an entry uses.
type ociManifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	ArtifactType  string            `json:"artifactType"`
	Config        descriptor        `json:"config"`
	Layers        []descriptor      `json:"layers"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Data        []byte            `json:"data,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// entryManifest returns the manifest of the entry for key with the given outputs.
func entryManifest(key Key, entries []entry) []byte {
	m := ociManifest{
		SchemaVersion: 2,
		MediaType:     manifestMediaType,
		ArtifactType:  ArtifactType,
		Config:        descriptor{MediaType: emptyMediaType, Digest: emptyConfigDigest, Size: int64(len(emptyConfig)), Data: emptyConfig},
		Layers:        make([]descriptor, len(entries)),
		Annotations:   map[string]string{KeyAnnotation: key.String()},
	}
	for i, e := range entries {
		m.Layers[i] = descriptor{
			MediaType:   OutputMediaType,
			Digest:      "sha256:" + hex.EncodeToString(e.sum[:]),
			Size:        e.size,
			Annotations: map[string]string{NameAnnotation: e.name},
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // only strings, numbers and bytes
	}
	return b
}

// parseEntryManifest checks the manifest of a remote entry against the key asked for and
// returns its outputs.
func parseEntryManifest(data []byte, key Key) ([]entry, error) {
	var m ociManifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("manifest does not parse: %w", err)
	}
	switch {
	case m.SchemaVersion != 2 || m.MediaType != manifestMediaType:
		return nil, errors.New("not an OCI image manifest")
	case m.ArtifactType != ArtifactType:
		return nil, fmt.Errorf("artifactType is %q, want %q", m.ArtifactType, ArtifactType)
	case m.Annotations[KeyAnnotation] != key.String():
		return nil, fmt.Errorf("entry is for action %q", m.Annotations[KeyAnnotation])
	case len(m.Layers) > maxOutputs:
		return nil, fmt.Errorf("entry has %d outputs, more than %d", len(m.Layers), maxOutputs)
	}
	entries := make([]entry, len(m.Layers))
	for i, l := range m.Layers {
		e := &entries[i]
		name, ok := l.Annotations[NameAnnotation]
		hexSum, okDigest := strings.CutPrefix(l.Digest, "sha256:")
		switch {
		case l.MediaType != OutputMediaType:
			return nil, fmt.Errorf("output %d has media type %q", i, l.MediaType)
		case !ok:
			return nil, fmt.Errorf("output %d has no name", i)
		case !okDigest || len(hexSum) != 2*sha256.Size:
			return nil, fmt.Errorf("output %q has digest %q, want a sha256 one", name, l.Digest)
		case l.Size < 0:
			return nil, fmt.Errorf("output %q has a negative size", name)
		case i > 0 && entries[i-1].name >= name:
			return nil, errors.New("outputs are not sorted and unique")
		}
		if _, err := hex.Decode(e.sum[:], []byte(hexSum)); err != nil || strings.ToLower(hexSum) != hexSum {
			return nil, fmt.Errorf("output %q has digest %q, want a sha256 one", name, l.Digest)
		}
		e.name, e.size = name, l.Size
	}
	return entries, nil
}

// errDamaged marks an entry that the registry served but that fails a check.
var errDamaged = errors.New("damaged entry")

// tier is the remote tier of a cache: one repository of an OCI registry.
type tier struct {
	o       *remoteOptions
	log     *logger
	verbose bool
	c       *Cache

	// ctx is cancelled when the tier is turned off or its uploads are abandoned; every
	// request runs under it.
	ctx    context.Context
	cancel context.CancelFunc

	// budget is what is left, in nanoseconds, of the time requests may cost beyond
	// their allowance.
	budget  atomic.Int64
	readOff atomic.Bool
	// writeOff is set when uploads are off: on a failure, or when the registry refuses
	// writes while it still serves reads.
	writeOff atomic.Bool
	offOnce  sync.Once

	clientOnce sync.Once
	client     *http.Client
	clientErr  error

	// present holds the digests of blobs known to be in the repository; inflight maps
	// the digest of each blob being uploaded to its *blobUpload.
	present  sync.Map
	inflight sync.Map

	mu        sync.Mutex
	closed    bool
	pending   int
	uploads   sync.WaitGroup
	slots     chan struct{}
	disabled  string
	abandoned int

	stats stats
}

// stats are the tier's counters.
type stats struct {
	puts, putBytes                         atomic.Int64
	hits, misses, damaged, uploads         atomic.Int64
	uploadedBytes, presentBytes, downBytes atomic.Int64
}

func newTier(c *Cache, o *remoteOptions, log *logger, verbose bool) *tier {
	t := &tier{o: o, log: log, verbose: verbose, c: c, slots: make(chan struct{}, o.uploads)}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.budget.Store(int64(o.budget))
	if !o.write {
		t.writeOff.Store(true)
	}
	return t
}

// off turns the tier off for the rest of the build, saying why once.
func (t *tier) off(what string, err error) {
	t.offOnce.Do(func() {
		t.readOff.Store(true)
		t.writeOff.Store(true)
		msg := fmt.Sprintf("%s: %v", what, err)
		var te *transport.Error
		if errors.As(err, &te) {
			msg += fmt.Sprintf(" (HTTP %d)", te.StatusCode)
			if te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden {
				msg += fmt.Sprintf("; check the credentials for %s (docker login %[1]s)", t.o.repo.RegistryStr())
			}
		}
		t.mu.Lock()
		t.disabled = msg
		t.mu.Unlock()
		t.cancel()
		t.log.printf("remote cache %s: %s; building without it from now on", t.o.repo, msg)
	})
}

// connect finds the registry and authenticates to it, the first time it is called.
func (t *tier) connect(ctx context.Context) error {
	t.clientOnce.Do(func() {
		t.clientErr = t.request(ctx, 0, func(ctx context.Context) error {
			auth, err := authn.Resolve(ctx, t.o.keychain, t.o.repo)
			if err != nil {
				return fmt.Errorf("finding credentials: %w", err)
			}
			scopes := []string{t.o.repo.Scope(transport.PullScope)}
			if t.o.write {
				scopes = []string{t.o.repo.Scope(transport.PushScope)}
			}
			guarded := plainhttp.Guard(t.o.transport, plainhttp.Allow(t.o.insecure))
			rt, err := transport.NewWithContext(ctx, t.o.repo.Registry, auth, guarded, scopes)
			if err != nil {
				return err
			}
			t.client = &http.Client{Transport: rt}
			return nil
		})
	})
	return t.clientErr
}

// request runs f, one request to the registry with its body read, under a deadline of
// its allowance (for a blob of size bytes) plus what is left of the budget. The time it
// takes beyond its allowance is taken from the budget; when none is left, the tier is
// turned off.
func (t *tier) request(ctx context.Context, size int64, f func(ctx context.Context) error) error {
	allowed := allowance + time.Duration(size)*time.Second/allowanceRate
	left := time.Duration(t.budget.Load())
	if left <= 0 {
		return errors.New("time budget spent")
	}
	rctx, cancel := context.WithTimeout(ctx, allowed+left)
	defer cancel()
	stop := context.AfterFunc(t.ctx, cancel)
	defer stop()
	start := time.Now()
	err := f(rctx)
	if over := time.Since(start) - allowed; over > 0 {
		if t.budget.Add(-int64(over)) <= 0 && err == nil {
			err = fmt.Errorf("answers took over %v more than allowed", t.o.budget)
		}
	}
	if err != nil && rctx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
		err = fmt.Errorf("no answer within %v: %w", (allowed + left).Round(time.Millisecond), err)
	}
	return err
}

// url returns the address of a path under the repository. The transport picks the
// scheme the registry answered with when it was first asked.
func (t *tier) url(path string) string {
	return "https://" + t.o.repo.RegistryStr() + "/v2/" + t.o.repo.RepositoryStr() + "/" + path
}

// do sends one request and checks that the answer has one of the codes. connect must
// have succeeded.
func (t *tier) do(ctx context.Context, method, u string, body []byte, header http.Header, codes ...int) (*http.Response, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return nil, err
	}
	if err := transport.CheckError(resp, codes...); err != nil {
		resp.Body.Close()
		return nil, err
	}
	return resp, nil
}

// isNotFound reports whether err is the registry saying it has no such thing.
func isNotFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}

// isRefused reports whether err is the registry refusing an upload while it may still
// serve reads: refused credentials or a repository that takes no writes.
func isRefused(err error) bool {
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	switch te.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusMethodNotAllowed:
		return true
	}
	return false
}

// fetch looks key up in the registry and, when it holds an entry that passes every
// check, stores the entry in the local cache and reports true. A miss, a damaged entry
// and a failure all report false; a failure also turns the tier off.
func (t *tier) fetch(ctx context.Context, key Key) bool {
	if t.readOff.Load() || t.ctx.Err() != nil {
		return false
	}
	outputs, err := t.download(ctx, key)
	switch {
	case err == nil:
	case errors.Is(err, ErrMiss):
		t.stats.misses.Add(1)
		if t.verbose {
			t.log.printf("remote cache: miss %s", key)
		}
		return false
	case errors.Is(err, errDamaged):
		t.stats.damaged.Add(1)
		t.log.printf("remote cache %s: ignoring the entry for action %s: %v; building it here", t.o.repo, key, err)
		return false
	case ctx.Err() != nil || t.ctx.Err() != nil:
		return false // the build ended, or the tier is off or closed already
	default:
		t.off("looking up an action", err)
		return false
	}
	if _, err := t.c.putLocal(key, outputs); err != nil {
		t.log.printf("remote cache: storing action %s in %s: %v", key, t.c.dir, err)
		return false
	}
	t.stats.hits.Add(1)
	if t.verbose {
		var n int64
		for _, b := range outputs {
			n += int64(len(b))
		}
		t.log.printf("remote cache: hit %s (%d outputs, %d bytes)", key, len(outputs), n)
	}
	return true
}

// download returns the outputs of key's entry, each checked against its digest. Its
// error wraps ErrMiss when there is no entry and errDamaged when the entry fails a
// check.
func (t *tier) download(ctx context.Context, key Key) (map[string][]byte, error) {
	if err := t.connect(ctx); err != nil {
		return nil, err
	}
	var manifest []byte
	err := t.request(ctx, 0, func(ctx context.Context) error {
		resp, err := t.do(ctx, http.MethodGet, t.url("manifests/"+TagPrefix+key.String()),
			nil, http.Header{"Accept": {manifestMediaType}}, http.StatusOK)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		manifest, err = readLimited(resp.Body, maxManifest)
		return err
	})
	if isNotFound(err) {
		return nil, ErrMiss
	}
	if err != nil {
		return nil, err
	}
	entries, err := parseEntryManifest(manifest, key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errDamaged, err)
	}
	blobs, err := t.blobs(ctx, entries)
	if err != nil {
		return nil, err
	}
	outputs := make(map[string][]byte, len(entries))
	for _, e := range entries {
		data := blobs[e.sum]
		if int64(len(data)) != e.size {
			return nil, fmt.Errorf("%w: output %q has %d bytes where its manifest says %d", errDamaged, e.name, len(data), e.size)
		}
		outputs[e.name] = data
	}
	return outputs, nil
}

// blobs downloads the blobs that entries name, each once, several at a time, and returns
// them by digest.
func (t *tier) blobs(ctx context.Context, entries []entry) (map[[sha256.Size]byte][]byte, error) {
	var mu sync.Mutex
	blobs := make(map[[sha256.Size]byte][]byte)
	var errs []error
	var wg sync.WaitGroup
	sem := make(chan struct{}, blobsAtOnce)
	asked := make(map[[sha256.Size]byte]bool)
	for _, e := range entries {
		if asked[e.sum] {
			continue
		}
		asked[e.sum] = true
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			data, err := t.blob(ctx, e)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("output %q: %w", e.name, err))
			}
			blobs[e.sum] = data
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return blobs, nil
}

// blob downloads the blob e names and checks its size and digest.
func (t *tier) blob(ctx context.Context, e entry) ([]byte, error) {
	d := "sha256:" + hex.EncodeToString(e.sum[:])
	var data []byte
	err := t.request(ctx, e.size, func(ctx context.Context) error {
		resp, err := t.do(ctx, http.MethodGet, t.url("blobs/"+d), nil, nil, http.StatusOK)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		data, err = readLimited(resp.Body, e.size)
		return err
	})
	switch {
	case errors.Is(err, errTooLong), isNotFound(err):
		return nil, fmt.Errorf("%w: blob %s: %w", errDamaged, d, err)
	case err != nil:
		return nil, err
	}
	t.stats.downBytes.Add(int64(len(data)))
	if int64(len(data)) != e.size || sha256.Sum256(data) != e.sum {
		return nil, fmt.Errorf("%w: blob %s does not match its digest", errDamaged, d)
	}
	t.present.Store(e.sum, true)
	return data, nil
}

var errTooLong = errors.New("longer than its manifest says")

// readLimited reads r to its end, failing with errTooLong past limit bytes.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, errTooLong
	}
	return data, nil
}

// upload uploads the entry for key in the background, unless uploads are off.
func (t *tier) upload(key Key, entries []entry) {
	if t.writeOff.Load() {
		return
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	t.pending++
	t.uploads.Add(1)
	t.mu.Unlock()
	go func() {
		defer t.uploads.Done()
		defer func() {
			t.mu.Lock()
			t.pending--
			t.mu.Unlock()
		}()
		select {
		case t.slots <- struct{}{}:
		case <-t.ctx.Done():
			return
		}
		defer func() { <-t.slots }()
		if t.writeOff.Load() {
			return
		}
		sent, err := t.write(key, entries)
		switch {
		case err == nil:
			t.stats.uploads.Add(1)
			if t.verbose {
				t.log.printf("remote cache: uploaded %s (%d new bytes)", key, sent)
			}
		case t.ctx.Err() != nil:
			// abandoned, or off already
		case errors.Is(err, errLocal):
			t.log.printf("remote cache: not uploading action %s: %v", key, err)
		case isRefused(err):
			if !t.writeOff.Swap(true) {
				var te *transport.Error
				errors.As(err, &te)
				t.log.printf("remote cache %s: uploads refused: %v (HTTP %d); reading only from now on", t.o.repo, err, te.StatusCode)
			}
		default:
			t.off("uploading an action", err)
		}
	}()
}

// errLocal marks an upload that failed on this machine's side, which says nothing
// about the registry.
var errLocal = errors.New("reading the local cache")

// write uploads every blob of the entry the registry lacks, then the entry's manifest,
// and returns the bytes sent.
func (t *tier) write(key Key, entries []entry) (int64, error) {
	ctx := t.ctx
	if err := t.connect(ctx); err != nil {
		return 0, err
	}
	var sent int64
	blobs := append([]entry{{sum: emptyConfigSum, size: int64(len(emptyConfig))}}, entries...)
	for i, e := range blobs {
		if _, ok := t.present.Load(e.sum); ok {
			continue
		}
		// One upload of a blob at a time: another entry's may be under way.
		u := &blobUpload{done: make(chan struct{})}
		if v, loaded := t.inflight.LoadOrStore(e.sum, u); loaded {
			other := v.(*blobUpload)
			select {
			case <-other.done:
			case <-ctx.Done():
				return sent, ctx.Err()
			}
			if other.err != nil {
				return sent, other.err
			}
			continue
		}
		n, err := t.writeBlob(ctx, e, i == 0)
		if err == nil {
			t.present.Store(e.sum, true)
		}
		u.err = err
		close(u.done)
		t.inflight.Delete(e.sum)
		if err != nil {
			return sent, err
		}
		sent += n
	}
	manifest := entryManifest(key, entries)
	err := t.request(ctx, 0, func(ctx context.Context) error {
		resp, err := t.do(ctx, http.MethodPut, t.url("manifests/"+TagPrefix+key.String()), manifest,
			http.Header{"Content-Type": {manifestMediaType}}, http.StatusCreated, http.StatusOK, http.StatusAccepted)
		if err == nil {
			resp.Body.Close()
		}
		return err
	})
	return sent, err
}

// writeBlob uploads the blob e names unless the registry has it, and returns the bytes
// sent.
func (t *tier) writeBlob(ctx context.Context, e entry, config bool) (int64, error) {
	d := "sha256:" + hex.EncodeToString(e.sum[:])
	var exists bool
	err := t.request(ctx, 0, func(ctx context.Context) error {
		resp, err := t.do(ctx, http.MethodHead, t.url("blobs/"+d), nil, nil, http.StatusOK)
		if err != nil {
			return err
		}
		resp.Body.Close()
		exists = resp.ContentLength < 0 || resp.ContentLength == e.size
		return nil
	})
	switch {
	case err == nil && exists:
		t.stats.presentBytes.Add(e.size)
		return 0, nil
	case err != nil && !isNotFound(err):
		return 0, err
	}
	var data []byte
	if config {
		data = emptyConfig
	} else {
		if data, err = readBlobAt(t.c.blobPath(e.sum), e.size, e.sum); err != nil {
			return 0, fmt.Errorf("%w: %w", errLocal, err)
		}
	}
	var location string
	err = t.request(ctx, 0, func(ctx context.Context) error {
		resp, err := t.do(ctx, http.MethodPost, t.url("blobs/uploads/"), nil, nil, http.StatusAccepted)
		if err != nil {
			return err
		}
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil {
			return fmt.Errorf("starting an upload: %w", err)
		}
		q := loc.Query()
		q.Set("digest", d)
		loc.RawQuery = q.Encode()
		location = loc.String()
		return nil
	})
	if err != nil {
		return 0, err
	}
	err = t.request(ctx, e.size, func(ctx context.Context) error {
		resp, err := t.do(ctx, http.MethodPut, location, data,
			http.Header{"Content-Type": {"application/octet-stream"}}, http.StatusCreated)
		if err == nil {
			resp.Body.Close()
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	t.stats.uploadedBytes.Add(e.size)
	return e.size, nil
}

// blobUpload is one upload of a blob, which the uploads of other entries with the
// same blob wait for.
type blobUpload struct {
	done chan struct{}
	err  error // set before done is closed
}

// wait waits for the uploads under way, or abandons them when ctx ends first, and then
// takes no more.
func (t *tier) wait(ctx context.Context) {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	done := make(chan struct{})
	go func() { t.uploads.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		t.mu.Lock()
		n := t.pending
		t.abandoned += n
		t.mu.Unlock()
		t.cancel()
		<-done
		if n > 0 {
			t.log.printf("remote cache %s: %d uploads abandoned (%v); the next build uploads them", t.o.repo, n, context.Cause(ctx))
		}
	}
	t.cancel()
}

// logger writes whole lines to a writer, one at a time.
type logger struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *logger) printf(format string, args ...any) {
	line := fmt.Sprintf(format, args...) + "\n"
	l.mu.Lock()
	defer l.mu.Unlock()
	io.WriteString(l.w, line)
}
