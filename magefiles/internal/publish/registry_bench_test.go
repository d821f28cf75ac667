package publish_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/minimalbuild/minimal/magefiles/internal/oci"
	"github.com/minimalbuild/minimal/magefiles/internal/publish"
	"github.com/minimalbuild/minimal/magefiles/internal/registrytest"
)

// benchIndex is an index like a real app's: two platforms, each a
// shared data layer and a 1 MiB binary that compresses about as well as
// a stripped static executable.
func benchIndex(b *testing.B) (v1.ImageIndex, int64) {
	b.Helper()
	data, err := oci.Layer([]oci.File{{Path: "/var/run/ko/index.html", Mode: 0o644, Data: []byte(strings.Repeat("<p>static</p>\n", 1000))}}, created)
	if err != nil {
		b.Fatal(err)
	}
	var imgs []v1.Image
	var size int64
	for i, p := range []v1.Platform{amd64, i386} {
		r := rand.New(rand.NewPCG(1, uint64(i)))
		bin := make([]byte, 1<<20)
		for j := range bin {
			bin[j] = byte(r.IntN(16)) // half the entropy of random bytes
		}
		l, err := oci.BinaryLayer("bench", bin, created)
		if err != nil {
			b.Fatal(err)
		}
		img, err := oci.Image(oci.Config{Platform: p, Entrypoint: []string{"/ko-app/bench"}, Created: created}, data, l)
		if err != nil {
			b.Fatal(err)
		}
		m, err := img.Manifest()
		if err != nil {
			b.Fatal(err)
		}
		for _, l := range m.Layers {
			size += l.Size
		}
		imgs = append(imgs, img)
	}
	idx, err := oci.Index(imgs, nil)
	if err != nil {
		b.Fatal(err)
	}
	return idx, size
}

// requestCounter is a transport that counts requests, and among them blob
// uploads (POST, PATCH and PUT under /blobs/).
type requestCounter struct {
	inner http.RoundTripper

	mu                sync.Mutex
	requests, uploads int
}

func (c *requestCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.requests++
	if strings.Contains(r.URL.Path, "/blobs/") && r.Method != http.MethodHead && r.Method != http.MethodGet {
		c.uploads++
	}
	c.mu.Unlock()
	return c.inner.RoundTrip(r)
}

// report reports the requests per push of n pushes.
func (c *requestCounter) report(b *testing.B, n int) {
	b.ReportMetric(float64(c.requests)/float64(n), "requests/op")
	b.ReportMetric(float64(c.uploads)/float64(n), "blob-uploads/op")
}

// BenchmarkPush pushes a two-platform index of 1 MiB binaries, first to a
// registry that has none of it, then again unchanged, as a new run of
// push would, to go-containerregistry's in-process registry and to
// Debian's docker-registry on 127.0.0.1. Request counts are the client's,
// the ping included.
func BenchmarkPush(b *testing.B) {
	idx, size := benchIndex(b)
	push := func(b *testing.B, c *requestCounter, repo, app string) {
		p, err := publish.Registry(repo, publish.WithTransport(c))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.Publish(context.Background(), app, idx, []string{"latest"}); err != nil {
			b.Fatal(err)
		}
	}

	b.Run("in-process/first", func(b *testing.B) {
		c := &requestCounter{inner: remote.DefaultTransport}
		b.SetBytes(size)
		for range b.N {
			// The in-process registry shares blobs between
			// repositories: each push gets an empty registry.
			b.StopTimer()
			srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
			b.StartTimer()
			push(b, c, strings.TrimPrefix(srv.URL, "http://")+"/team", "bench")
			b.StopTimer()
			srv.Close()
			b.StartTimer()
		}
		b.StopTimer()
		c.report(b, b.N)
	})
	b.Run("in-process/unchanged", func(b *testing.B) {
		host, _ := startRegistry(b, nil)
		unchanged(b, push, host)
	})
	b.Run("docker-registry/first", func(b *testing.B) {
		host := registrytest.Start(b)
		c := &requestCounter{inner: remote.DefaultTransport}
		b.SetBytes(size)
		b.ResetTimer()
		for i := range b.N {
			// docker-registry keeps blobs per repository: pushing to
			// a new one uploads everything.
			push(b, c, host+"/team", fmt.Sprint("bench-", i))
		}
		b.StopTimer()
		c.report(b, b.N)
	})
	b.Run("docker-registry/unchanged", func(b *testing.B) {
		unchanged(b, push, registrytest.Start(b))
	})
}

// unchanged measures pushing the same index to host again and again, each
// time with a new publisher.
func unchanged(b *testing.B, push func(*testing.B, *requestCounter, string, string), host string) {
	push(b, &requestCounter{inner: remote.DefaultTransport}, host+"/team", "bench")
	c := &requestCounter{inner: remote.DefaultTransport}
	b.ResetTimer()
	for range b.N {
		push(b, c, host+"/team", "bench")
	}
	b.StopTimer()
	c.report(b, b.N)
}
