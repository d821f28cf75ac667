package publish_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/minimalbuild/minimal/magefiles/internal/oci"
	"github.com/minimalbuild/minimal/magefiles/internal/publish"
	"github.com/minimalbuild/minimal/magefiles/internal/registrytest"
)

// exampleApps are the example monorepo's apps.
var exampleApps = []string{"hello", "greet", "churn", "pausle", "hello-c", "hello-asm", "teensy"}

// waits records the waits a publisher asks for and waits a thousandth of
// each, so that tests of retries take milliseconds where a real push
// would take seconds.
type waits struct {
	mu  sync.Mutex
	all []time.Duration
}

func (w *waits) option() publish.RegistryOption {
	return publish.WithWait(func(ctx context.Context, d time.Duration) error {
		w.mu.Lock()
		w.all = append(w.all, d)
		w.mu.Unlock()
		t := time.NewTimer(d / 1000)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}, 5*time.Second)
}

func (w *waits) longest() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slicesMax(w.all)
}

func slicesMax(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

// pushApps pushes each of apps' index with tags v1 and latest, all at
// once as push does, and returns the first error; the first error cancels
// the other pushes.
func pushApps(ctx context.Context, p publish.Interface, apps []string, idxs []v1.ImageIndex) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(apps))
	var wg sync.WaitGroup
	for i, app := range apps {
		wg.Go(func() {
			if _, errs[i] = p.Publish(ctx, app, idxs[i], []string{"v1", "latest"}); errs[i] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return errors.Join(errs...)
}

// appIndexes builds an index for each app at version.
func appIndexes(t *testing.T, apps []string, version string) []v1.ImageIndex {
	out := make([]v1.ImageIndex, len(apps))
	for i, app := range apps {
		out[i] = appIndex(t, app, version)
	}
	return out
}

// TestRegistryPushThroughFaults pushes seven apps' two-platform indexes to
// Debian's docker-registry through a proxy that fails 30% of all requests
// with every kind of fault, and checks, by pulling back, that every tag
// names the complete index.
func TestRegistryPushThroughFaults(t *testing.T) {
	target := registrytest.Start(t)
	seen := map[registrytest.Fault]int{}
	for seed := uint64(1); seed <= 2; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			proxy := registrytest.StartFaultProxy(t, target, registrytest.FaultConfig{Rate: 0.3, Seed: seed, SlowDelay: 20 * time.Millisecond})
			repo := fmt.Sprintf("seed%d", seed)
			var w waits
			p := newRegistry(t, proxy.Host()+"/"+repo, w.option())
			idxs := appIndexes(t, exampleApps, "v1")
			if err := pushApps(context.Background(), p, exampleApps, idxs); err != nil {
				t.Fatalf("push through 30%% faults: %v", err)
			}
			st := proxy.Stats()
			t.Logf("%d requests, %d failed %v, %d retries, longest wait %v", st.Requests, st.Failed(), st.Faults, publish.Retries(p), w.longest())
			if st.Failed()*5 < st.Requests {
				t.Errorf("%d of %d requests failed; want about 30%%", st.Failed(), st.Requests)
			}
			if st.Faults[registrytest.TooManyRequests] > 0 && w.longest() < time.Second {
				t.Errorf("longest wait %v after 429s with Retry-After: 1, want at least 1s", w.longest())
			}
			for i, app := range exampleApps {
				checkPushed(t, target+"/"+repo+"/"+app, idxs[i], []string{"v1", "latest"})
			}
			for k, n := range st.Faults {
				seen[k] += n
			}
		})
	}
	for _, f := range registrytest.AllFaults {
		if seen[f] == 0 {
			t.Errorf("no request met fault %v", f)
		}
	}
}

// TestRegistryPushFailsCleanly pushes new versions of seven apps over
// complete earlier ones through a proxy that fails 90% of all requests.
// The push must fail, with a short error that holds no upload session,
// and leave every tag at a complete index, the old or the new.
func TestRegistryPushFailsCleanly(t *testing.T) {
	target := registrytest.Start(t)
	for seed := uint64(1); seed <= 2; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			proxy := registrytest.StartFaultProxy(t, target, registrytest.FaultConfig{Seed: seed, SlowDelay: 20 * time.Millisecond})
			repo := fmt.Sprintf("seed%d", seed)
			var w waits
			p := newRegistry(t, proxy.Host()+"/"+repo, w.option())
			old := appIndexes(t, exampleApps, "v1")
			if err := pushApps(context.Background(), p, exampleApps, old); err != nil {
				t.Fatal(err)
			}
			proxy.SetRate(0.9)
			idxs := appIndexes(t, exampleApps, "v2")
			err := pushApps(context.Background(), p, exampleApps, idxs)
			proxy.SetRate(0)
			if err == nil {
				t.Fatal("push through 90% faults succeeded")
			}
			t.Log(err)
			checkErrorText(t, err)
			st := proxy.Stats()
			t.Logf("%d requests, %d failed %v, %d retries", st.Requests, st.Failed(), st.Faults, publish.Retries(p))
			for i, app := range exampleApps {
				ref := target + "/" + repo + "/" + app
				for _, tag := range []string{"v1", "latest"} {
					d, ok := headDigest(t, ref+":"+tag)
					switch {
					case !ok:
						t.Errorf("%s:%s is gone", ref, tag)
					case d == digestOf(t, idxs[i]):
						checkPushed(t, ref, idxs[i], []string{tag})
					default:
						checkPushed(t, ref, old[i], []string{tag})
					}
				}
			}
		})
	}
}

// uploadSession matches an upload session, as a distribution registry
// hands them out: a UUID in the path, or the _state token.
var uploadSession = regexp.MustCompile(`(?i)_state|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// checkErrorText checks that err and every error it wraps hold no upload
// session, and that err's own text is one short line.
func checkErrorText(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	if strings.Contains(msg, "\n") || len(msg) > 400 {
		t.Errorf("error is not one short line (%d bytes): %q", len(msg), msg)
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if m := uploadSession.FindString(e.Error()); m != "" {
			t.Errorf("error %T in the chain holds the upload session %q: %q", e, m, e)
		}
	}
}

// TestRegistryPushCancelled cancels a push, as Ctrl-C does, while it
// waits to try again and while it waits for a slow answer; the push must
// return within a second, and write no tag.
func TestRegistryPushCancelled(t *testing.T) {
	target := registrytest.Start(t)
	tests := []struct {
		name string
		cfg  registrytest.FaultConfig
	}{
		{"in the middle of a backoff", registrytest.FaultConfig{Rate: 1, Faults: []registrytest.Fault{registrytest.Unavailable}}},
		{"in the middle of a Retry-After", registrytest.FaultConfig{Rate: 1, Faults: []registrytest.Fault{registrytest.TooManyRequests}, RetryAfter: 30}},
		{"waiting for an answer", registrytest.FaultConfig{Rate: 1, Faults: []registrytest.Fault{registrytest.Slow}, SlowDelay: time.Minute}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proxy := registrytest.StartFaultProxy(t, target, tt.cfg)
			repo := fmt.Sprintf("cancel%d", i)
			// Real waits, long ones.
			p := newRegistry(t, proxy.Host()+"/"+repo, publish.WithRetry(10, 10*time.Second))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := p.Publish(ctx, "hello", appIndex(t, "hello", "v1"), nil)
				done <- err
			}()
			// Cancel once the first request has met its fault, and a
			// little later, while the push waits.
			deadline := time.Now().Add(10 * time.Second)
			for proxy.Stats().Failed() == 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			time.Sleep(100 * time.Millisecond)
			cancelled := time.Now()
			cancel()
			select {
			case err := <-done:
				took := time.Since(cancelled)
				t.Logf("returned %v after the cancel: %v", took.Round(time.Millisecond), err)
				if took > time.Second {
					t.Errorf("push returned %v after the cancel, want within 1s", took)
				}
				if !errors.Is(err, context.Canceled) {
					t.Errorf("error %v, want context.Canceled", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("push still running 5s after the cancel")
			}
			if _, ok := headDigest(t, target+"/"+repo+"/hello:latest"); ok {
				t.Error("a cancelled push wrote the tag")
			}
		})
	}
}

// sessionLog is a transport that records, for each upload session, whether
// a request to it failed, and whether a request went to it after that.
type sessionLog struct {
	inner http.RoundTripper

	mu       sync.Mutex
	failed   map[string]bool
	reused   []string
	requests map[string]int // by method, blob requests only
}

// sessionPath matches the upload session of a blob upload URL.
var sessionPath = regexp.MustCompile(`/blobs/uploads/([^/?]+)`)

func (l *sessionLog) RoundTrip(r *http.Request) (*http.Response, error) {
	id := ""
	if m := sessionPath.FindStringSubmatch(r.URL.Path); m != nil {
		id = m[1]
	}
	l.mu.Lock()
	if l.failed == nil {
		l.failed, l.requests = map[string]bool{}, map[string]int{}
	}
	if l.failed[id] {
		l.reused = append(l.reused, r.Method+" "+id)
	}
	if strings.Contains(r.URL.Path, "/blobs/") {
		l.requests[r.Method]++
	}
	l.mu.Unlock()
	resp, err := l.inner.RoundTrip(r)
	if id != "" && (err != nil || resp.StatusCode >= 300) {
		l.mu.Lock()
		l.failed[id] = true
		l.mu.Unlock()
	}
	return resp, err
}

func (l *sessionLog) take() (map[string]int, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, u := l.requests, l.reused
	l.requests, l.reused = map[string]int{}, nil
	return r, u
}

// TestRegistryUploadRestarts fails half of all blob upload requests to
// docker-registry, with every kind of fault, and checks that no upload
// session is used again after a request to it failed: the upload starts
// over.
func TestRegistryUploadRestarts(t *testing.T) {
	target := registrytest.Start(t)
	proxy := registrytest.StartFaultProxy(t, target, registrytest.FaultConfig{
		Rate: 0.5, Seed: 7, SlowDelay: 10 * time.Millisecond,
		Match: func(r *http.Request) bool { return strings.Contains(r.URL.Path, "/blobs/uploads/") },
	})
	log := &sessionLog{inner: remote.DefaultTransport}
	var w waits
	p := newRegistry(t, proxy.Host()+"/team", w.option(), publish.WithTransport(log), publish.WithRetry(20, 200*time.Millisecond))
	idxs := appIndexes(t, exampleApps[:3], "v1")
	if err := pushApps(context.Background(), p, exampleApps[:3], idxs); err != nil {
		t.Fatal(err)
	}
	requests, reused := log.take()
	st := proxy.Stats()
	t.Logf("blob requests %v; faults %v", requests, st.Faults)
	if st.Failed() == 0 {
		t.Fatal("no upload request failed")
	}
	if len(reused) > 0 {
		t.Errorf("requests to upload sessions after a request to them failed: %v", reused)
	}
	for i, app := range exampleApps[:3] {
		checkPushed(t, target+"/team/"+app, idxs[i], []string{"v1", "latest"})
	}
}

// chunksOnly is a registry front that takes blobs only in chunks: it
// ignores a digest on the POST that starts an upload, as docker-registry
// does, and refuses a PUT that carries the blob.
type chunksOnly struct{ next http.Handler }

func (c chunksOnly) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.Contains(r.URL.Path, "/blobs/uploads/") {
		switch {
		case r.Method == http.MethodPost && r.URL.Query().Has("digest"):
			io.Copy(io.Discard, r.Body)
			r.URL.RawQuery = ""
		case r.Method == http.MethodPut && r.ContentLength != 0:
			writeRegistryError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "send the blob in PATCH requests")
			return
		}
	}
	c.next.ServeHTTP(w, r)
}

// TestRegistryUploadModes checks that blobs go up in as few requests as
// each registry takes: one POST where the registry takes the blob in it
// (go-containerregistry's registry), a POST and a PUT where it does not
// (docker-registry), and a POST, a PATCH and a PUT where it takes only
// chunks.
func TestRegistryUploadModes(t *testing.T) {
	inProcess := func(t testing.TB) string {
		host, _ := startRegistry(t, nil)
		return host
	}
	chunked := func(t testing.TB) string {
		host, _ := startRegistry(t, func(h http.Handler) http.Handler { return chunksOnly{h} })
		return host
	}
	tests := []struct {
		name string
		host func(t testing.TB) string
		// want is the requests per blob, by method, after the first
		// blob: that one may be sent once more to find out.
		want map[string]int
	}{
		{"single POST", inProcess, map[string]int{"HEAD": 1, "POST": 1}},
		{"POST and PUT", registrytest.Start, map[string]int{"HEAD": 1, "POST": 1, "PUT": 1}},
		{"chunks", chunked, map[string]int{"HEAD": 1, "POST": 1, "PATCH": 1, "PUT": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host := tt.host(t)
			log := &sessionLog{inner: remote.DefaultTransport}
			p := newRegistry(t, host+"/team", fast, publish.WithTransport(log))
			// The first push finds out how the registry takes blobs.
			first := appIndex(t, "first", "v1")
			if _, err := p.Publish(context.Background(), "first", first, nil); err != nil {
				t.Fatal(err)
			}
			log.take()
			idx := appIndex(t, "second", "v1")
			if _, err := p.Publish(context.Background(), "second", idx, nil); err != nil {
				t.Fatal(err)
			}
			got, _ := log.take()
			// docker-registry keeps blobs per repository: the second
			// app uploads every blob; the in-process registry shares
			// them, so only the new ones.
			n := len(blobsOf(t, idx))
			if tt.name != "POST and PUT" {
				n = len(without(blobsOf(t, idx), blobsOf(t, first)))
			}
			want := map[string]int{}
			for m, k := range tt.want {
				want[m] = k * n
			}
			if tt.name != "POST and PUT" {
				// Blobs the registry has are only checked.
				want["HEAD"] = len(blobsOf(t, idx))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("blob requests for %d new blobs (-want +got):\n%s", n, diff)
			}
			checkPushed(t, host+"/team/second", idx, []string{"latest"})
		})
	}
}

// TestRegistryRetryLimits checks that a registry that keeps failing is
// given up on once an operation has been tried for the retry time, however
// many attempts are left, and that a 429's Retry-After is waited for.
func TestRegistryRetryLimits(t *testing.T) {
	t.Run("retry time", func(t *testing.T) {
		f := newFaults(func(*http.Request, int) fault { return status503 })
		host, _ := startRegistry(t, f.wrap)
		p := newRegistry(t, host+"/team", publish.WithRetry(1000, 20*time.Millisecond), publish.WithRetryTime(500*time.Millisecond))
		start := time.Now()
		_, err := p.Publish(context.Background(), "hello", appIndex(t, "hello", "v1"), nil)
		took := time.Since(start)
		t.Log(err)
		if err == nil || !regexp.MustCompile(`kept failing, \d+ attempts in \d+ms: .*503 Service Unavailable`).MatchString(err.Error()) {
			t.Errorf("error %v, want one that says the registry kept failing, how often and for how long", err)
		}
		// No wait starts that would end after the retry time.
		if took < 200*time.Millisecond || took > 1500*time.Millisecond {
			t.Errorf("gave up after %v, want a little under 0.5s", took)
		}
	})
	t.Run("Retry-After", func(t *testing.T) {
		f := newFaults(func(r *http.Request, n int) fault {
			if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/manifests/latest") && n < 2 {
				return status429
			}
			return pass
		})
		host, _ := startRegistry(t, func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "3")
				f.wrap(h).ServeHTTP(w, r)
			})
		})
		var w waits
		p := newRegistry(t, host+"/team", w.option())
		idx := appIndex(t, "hello", "v1")
		if _, err := p.Publish(context.Background(), "hello", idx, nil); err != nil {
			t.Fatal(err)
		}
		if w.longest() < 3*time.Second || len(w.all) != 2 {
			t.Errorf("waits %v, want two of at least 3s", w.all)
		}
		checkPushed(t, host+"/team/hello", idx, []string{"latest"})
	})
}

// TestRegistryBrokenBlob pushes an image whose binary layer cannot be read
// whole: the push fails at once, saying so, without retries.
func TestRegistryBrokenBlob(t *testing.T) {
	host, _ := startRegistry(t, nil)
	var w waits
	p := newRegistry(t, host+"/team", w.option())
	bin, err := oci.BinaryLayer("hello", []byte(strings.Repeat("ELF hello ", 20000)), created)
	if err != nil {
		t.Fatal(err)
	}
	img, err := oci.Image(oci.Config{Platform: amd64, Entrypoint: []string{"/ko-app/hello"}, Created: created}, brokenLayer{Layer: bin})
	if err != nil {
		t.Fatal(err)
	}
	idx, err := oci.Index([]v1.Image{img}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Publish(context.Background(), "hello", idx, nil)
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "reading the blob") {
		t.Errorf("error %v, want one that says the blob could not be read", err)
	}
	if n := publish.Retries(p); n != 0 {
		t.Errorf("%d retries, want none", n)
	}
}

// TestRegistryAnswerLost drops the connection after the registry has
// acted on a request, the first time each kind of write is sent: trying
// again must be harmless, and a blob committed already is found, not
// uploaded again.
func TestRegistryAnswerLost(t *testing.T) {
	idx := appIndex(t, "hello", "v1")
	img, err := idx.Image(manifestsOf(t, idx)[0])
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	binary := m.Layers[len(m.Layers)-1].Digest.String()
	tests := []struct {
		name  string
		match func(*http.Request) bool
	}{
		{"a blob's commit", func(r *http.Request) bool { return r.URL.Query().Get("digest") == binary }},
		{"an image's manifest", func(r *http.Request) bool {
			return r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/manifests/"+manifestsOf(t, idx)[0].String())
		}},
		{"the index", func(r *http.Request) bool {
			return r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/manifests/"+digestOf(t, idx).String())
		}},
		{"the tag", func(r *http.Request) bool {
			return r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/manifests/latest")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFaults(func(r *http.Request, n int) fault {
				if n == 0 && tt.match(r) {
					return dropAnswer
				}
				return pass
			})
			host, c := startRegistry(t, f.wrap)
			var w waits
			p := newRegistry(t, host+"/team", w.option())
			if _, err := p.Publish(context.Background(), "hello", idx, nil); err != nil {
				t.Fatal(err)
			}
			if f.count()[dropAnswer] != 1 {
				t.Fatalf("faults %v, want one answer lost", f.count())
			}
			if n := publish.Retries(p); n != 1 {
				t.Errorf("%d retries, want 1", n)
			}
			if got := c.take().Committed; !cmp.Equal(got, blobsOf(t, idx)) {
				t.Errorf("blobs committed %v, want each once: %v", got, blobsOf(t, idx))
			}
			checkPushed(t, host+"/team/hello", idx, []string{"latest"})
		})
	}
}
