package publish_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// startRegistry starts go-containerregistry's in-process registry behind
// wrap (nil for none), with every request counted, and returns its host.
func startRegistry(t testing.TB, wrap func(http.Handler) http.Handler) (string, *counter) {
	t.Helper()
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	c := &counter{next: h}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), c
}

// counter is a handler that counts the requests it passes on.
type counter struct {
	next http.Handler

	mu        sync.Mutex
	requests  int
	uploads   int      // requests that start, send or commit a blob upload
	committed []string // digests of blob uploads committed, by a PUT or a single POST
	manifests []string // tags and digests manifests were put to
}

// uploadID matches the upload session part of a blob upload URL.
var uploadID = regexp.MustCompile(`/blobs/uploads/[^/]+$`)

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.requests++
	if strings.Contains(r.URL.Path, "/blobs/") && r.Method != http.MethodHead && r.Method != http.MethodGet {
		c.uploads++
		if d := r.URL.Query().Get("digest"); d != "" && r.Method != http.MethodPatch {
			c.committed = append(c.committed, d)
		}
	}
	if strings.Contains(r.URL.Path, "/manifests/") && r.Method == http.MethodPut {
		c.manifests = append(c.manifests, r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:])
	}
	c.mu.Unlock()
	c.next.ServeHTTP(w, r)
}

// counts is what a counter saw since its last reset.
type counts struct {
	Requests  int
	Uploads   int
	Committed []string
	Manifests []string
}

// take returns the counts, sorted, and starts counting afresh.
func (c *counter) take() counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	got := counts{c.requests, c.uploads, c.committed, c.manifests}
	slices.Sort(got.Committed)
	slices.Sort(got.Manifests)
	c.requests, c.uploads, c.committed, c.manifests = 0, 0, nil, nil
	return got
}

// fault is what the fault injector does to a request.
type fault int

const (
	pass       fault = iota
	status500        // answer 500 with a registry error body
	status503        // answer 503 without a body
	status429        // answer 429 Too Many Requests
	drop             // close the connection without reading the request
	reset            // reset the connection (RST) without reading the request
	dropAnswer       // handle the request, then close the connection instead of answering
	numFaults
)

func (f fault) String() string {
	return [...]string{"pass", "500", "503", "429", "drop", "reset", "drop-answer"}[f]
}

// faults is a handler that fails some requests as decide says. decide gets
// the request and how many requests with the same method and path (upload
// sessions counted as one path, blob commits told apart by digest) came
// before it.
type faults struct {
	next   http.Handler
	decide func(r *http.Request, n int) fault

	mu       sync.Mutex
	off      bool
	seen     map[string]int
	injected map[fault]int
}

func newFaults(decide func(r *http.Request, n int) fault) *faults {
	return &faults{decide: decide, seen: map[string]int{}, injected: map[fault]int{}}
}

// wrap puts f in front of next; it is startRegistry's wrap.
func (f *faults) wrap(next http.Handler) http.Handler {
	f.next = next
	return f
}

// enable turns fault injection on or off.
func (f *faults) enable(on bool) {
	f.mu.Lock()
	f.off = !on
	f.mu.Unlock()
}

func requestKey(r *http.Request) string {
	return r.Method + " " + uploadID.ReplaceAllString(r.URL.Path, "/blobs/uploads/*") + " " + r.URL.Query().Get("digest")
}

func (f *faults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := requestKey(r)
	f.mu.Lock()
	what := pass
	if !f.off {
		n := f.seen[key]
		f.seen[key]++
		what = f.decide(r, n)
		f.injected[what]++
	}
	f.mu.Unlock()

	switch what {
	case pass:
		f.next.ServeHTTP(w, r)
	case status500:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `{"errors":[{"code":"UNKNOWN","message":"injected fault"}]}`)
	case status503:
		w.WriteHeader(http.StatusServiceUnavailable)
	case status429:
		w.WriteHeader(http.StatusTooManyRequests)
	case drop, reset:
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		if tc, ok := conn.(*net.TCPConn); ok && what == reset {
			tc.SetLinger(0)
		}
		conn.Close()
	case dropAnswer:
		f.next.ServeHTTP(httptest.NewRecorder(), r)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		conn.Close()
	}
}

// count returns how many requests got each fault.
func (f *faults) count() map[fault]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[fault]int{}
	for k, v := range f.injected {
		out[k] = v
	}
	return out
}

// shareOfFaults returns a decide function under which about share of all
// distinct requests fail their first one to max tries, each with a fault
// chosen with them; seed picks which.
func shareOfFaults(seed uint64, share float64, max int) func(*http.Request, int) fault {
	return func(r *http.Request, n int) fault {
		h := fnv.New64a()
		fmt.Fprintf(h, "%d %s", seed, requestKey(r))
		x := h.Sum64()
		if float64(x%1000) >= share*1000 || n >= 1+int(x/1000%uint64(max)) {
			return pass
		}
		return 1 + fault((x/1000000+uint64(n))%uint64(numFaults-1))
	}
}

// basicAuth is a handler that lets through requests with the user's
// password; it answers others 401 with a Basic challenge. When readOnly,
// it also answers writes 403.
type basicAuth struct {
	next           http.Handler
	user, password string
	readOnly       bool
}

func (a *basicAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u, p, ok := r.BasicAuth()
	if !ok || u != a.user || p != a.password {
		w.Header().Set("WWW-Authenticate", `Basic realm="test registry"`)
		writeRegistryError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
		return
	}
	if a.readOnly && r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeRegistryError(w, http.StatusForbidden, "DENIED", "requested access to the resource is denied")
		return
	}
	a.next.ServeHTTP(w, r)
}

// bearerAuth is a handler that works as registries with a token service do:
// it answers requests without its token 401 with a Bearer challenge whose
// realm is its /token path, which hands out the token for the user's
// password.
type bearerAuth struct {
	next           http.Handler
	user, password string
}

const bearerToken = "token-for-test-user"

func (a *bearerAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/token" {
		u, p, ok := r.BasicAuth()
		if !ok || u != a.user || p != a.password {
			writeRegistryError(w, http.StatusUnauthorized, "UNAUTHORIZED", "wrong user or password")
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"token": bearerToken})
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+bearerToken {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="test"`, r.Host))
		writeRegistryError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
		return
	}
	a.next.ServeHTTP(w, r)
}

// refuse is a handler that answers requests that match with an error.
type refuse struct {
	next          http.Handler
	match         func(*http.Request) bool
	status        int
	code, message string
}

func (f *refuse) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.match(r) {
		writeRegistryError(w, f.status, f.code, f.message)
		return
	}
	f.next.ServeHTTP(w, r)
}

func writeRegistryError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": code, "message": message}}})
}

// keychain holds one set of credentials for one registry host.
type keychain struct {
	host string
	cfg  authn.AuthConfig
}

func (k keychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if r.RegistryStr() != k.host {
		return authn.Anonymous, nil
	}
	return authn.FromConfig(k.cfg), nil
}

// headDigest returns the digest ref points at in the registry, or false
// when the registry does not have it.
func headDigest(t *testing.T, ref string, opts ...remote.Option) (v1.Hash, bool) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	d, err := remote.Head(r, opts...)
	var te *transport.Error
	if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
		return v1.Hash{}, false
	}
	if err != nil {
		t.Fatalf("HEAD %s: %v", ref, err)
	}
	return d.Digest, true
}

// pullIndex reads the index ref names from the registry.
func pullIndex(t *testing.T, ref string, opts ...remote.Option) v1.ImageIndex {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(r, opts...)
	if err != nil {
		t.Fatalf("pulling %s: %v", ref, err)
	}
	return idx
}

// blobsOf lists, sorted, the layers and configs of idx's images.
func blobsOf(t *testing.T, idx v1.ImageIndex) []string {
	t.Helper()
	var out []string
	for _, m := range manifestsOf(t, idx) {
		img, err := idx.Image(m)
		if err != nil {
			t.Fatal(err)
		}
		mf, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, mf.Config.Digest.String())
		for _, l := range mf.Layers {
			out = append(out, l.Digest.String())
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// manifestsOf lists the digests of idx's images, in index order.
func manifestsOf(t *testing.T, idx v1.ImageIndex) []v1.Hash {
	t.Helper()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var out []v1.Hash
	for _, d := range im.Manifests {
		out = append(out, d.Digest)
	}
	return out
}

// without returns the elements of a not in b.
func without(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

// inFlight is a transport that records the most requests it ever had in
// flight at once.
type inFlight struct {
	inner http.RoundTripper

	mu       sync.Mutex
	now, max int
}

func (f *inFlight) RoundTrip(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	f.now++
	f.max = max(f.max, f.now)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.now--
		f.mu.Unlock()
	}()
	return f.inner.RoundTrip(r)
}
