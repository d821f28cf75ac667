package cache

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

// faultyRegistry is go-containerregistry's in-memory registry behind a handler that
// counts requests and injects faults.
type faultyRegistry struct {
	srv  *httptest.Server
	host string

	// fail, when set, answers every request with this status.
	fail atomic.Int32
	// failWrites, when set, answers every POST, PUT and PATCH with this status.
	failWrites atomic.Int32
	// delay, when set, holds every request this long before answering.
	delay atomic.Int64

	mu sync.Mutex
	// corrupt maps a blob digest to the bytes served instead of the blob's own.
	corrupt map[string][]byte
	// missing lists blob digests answered with 404.
	missing map[string]bool
	// requests counts requests by "METHOD kind", kind being blobs, uploads or
	// manifests.
	requests map[string]int
	// sent counts the bytes of blob uploads received.
	sent int64
}

func newFaultyRegistry(t *testing.T) *faultyRegistry {
	t.Helper()
	r := &faultyRegistry{corrupt: map[string][]byte{}, missing: map[string]bool{}, requests: map[string]int{}}
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.count(req)
		if d := time.Duration(r.delay.Load()); d > 0 {
			select {
			case <-time.After(d):
			case <-req.Context().Done():
				return
			}
		}
		if code := int(r.fail.Load()); code != 0 {
			http.Error(w, `{"errors":[{"code":"UNKNOWN","message":"injected"}]}`, code)
			return
		}
		if code := int(r.failWrites.Load()); code != 0 && req.Method != http.MethodGet && req.Method != http.MethodHead {
			http.Error(w, `{"errors":[{"code":"DENIED","message":"injected"}]}`, code)
			return
		}
		if req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/blobs/sha256:") {
			d := req.URL.Path[strings.LastIndex(req.URL.Path, "/")+1:]
			r.mu.Lock()
			data, bad := r.corrupt[d]
			gone := r.missing[d]
			r.mu.Unlock()
			if gone {
				http.Error(w, `{"errors":[{"code":"BLOB_UNKNOWN","message":"injected"}]}`, http.StatusNotFound)
				return
			}
			if bad {
				w.Write(data)
				return
			}
		}
		inner.ServeHTTP(w, req)
	}))
	t.Cleanup(r.srv.Close)
	r.host = strings.TrimPrefix(r.srv.URL, "http://")
	return r
}

func (r *faultyRegistry) count(req *http.Request) {
	kind := "other"
	switch p := req.URL.Path; {
	case strings.Contains(p, "/blobs/uploads"):
		kind = "uploads"
	case strings.Contains(p, "/blobs/"):
		kind = "blobs"
	case strings.Contains(p, "/manifests/"):
		kind = "manifests"
	}
	var n int64
	if req.Method == http.MethodPut && kind == "uploads" && req.Body != nil {
		body, _ := io.ReadAll(req.Body)
		n = int64(len(body))
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	r.mu.Lock()
	r.requests[req.Method+" "+kind]++
	r.sent += n
	r.mu.Unlock()
}

// counts returns the request counts and the upload bytes so far.
func (r *faultyRegistry) counts() (map[string]int, int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := make(map[string]int, len(r.requests))
	for k, v := range r.requests {
		m[k] = v
	}
	return m, r.sent
}

// repo returns the address of a repository in the registry.
func (r *faultyRegistry) repo() string { return r.host + "/team/cache" }

// syncBuffer is a log that tests read while the cache writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// machine is one machine's cache with a remote tier, and its log.
type machine struct {
	*Cache
	log *syncBuffer
}

// openMachine opens a cache in a new directory with the remote tier repo. Its budget is
// a minute, so that only the tests that set their own see it run out, however busy the
// machine is.
func openMachine(t *testing.T, repo string, opts ...RemoteOption) machine {
	t.Helper()
	log := &syncBuffer{}
	opts = append([]RemoteOption{WithBudget(time.Minute)}, opts...)
	c, err := Open(t.TempDir(), WithRemote(repo, opts...), WithLog(log), WithVerbose(true))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return machine{c, log}
}

// warnings returns the lines of the log that are not verbose hit, miss or upload lines.
func (m machine) warnings() []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(m.log.String()), "\n") {
		if l == "" || strings.HasPrefix(l, "remote cache: hit ") || strings.HasPrefix(l, "remote cache: miss ") || strings.HasPrefix(l, "remote cache: uploaded ") {
			continue
		}
		out = append(out, l)
	}
	return out
}

func readBlobFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
