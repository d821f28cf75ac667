package publish_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
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

// exampleImages returns the apps and indexes of the OCI layout that `go
// tool mage build` writes to images/oci at the top of the repository, or,
// when there is none, seven stand-ins: two-platform indexes of a shared
// data layer and a 1 MiB binary each.
func exampleImages(b *testing.B) ([]string, []v1.ImageIndex) {
	b.Helper()
	lp, err := layout.FromPath(filepath.Join("..", "..", "..", "images", "oci"))
	if err == nil {
		top, err := lp.ImageIndex()
		if err != nil {
			b.Fatal(err)
		}
		im, err := top.IndexManifest()
		if err != nil {
			b.Fatal(err)
		}
		var apps []string
		var idxs []v1.ImageIndex
		for _, d := range im.Manifests {
			app := d.Annotations["org.opencontainers.image.ref.name"]
			if !d.MediaType.IsIndex() || app == "" {
				continue
			}
			idx, err := top.ImageIndex(d.Digest)
			if err != nil {
				b.Fatal(err)
			}
			apps, idxs = append(apps, app), append(idxs, idx)
		}
		b.Logf("pushing the %d apps of images/oci", len(apps))
		return apps, idxs
	}
	b.Logf("no images/oci (%v): pushing %d stand-ins", err, len(exampleApps))
	idx, _ := benchIndex(b)
	idxs := make([]v1.ImageIndex, len(exampleApps))
	for i := range idxs {
		idxs[i] = idx
	}
	return exampleApps, idxs
}

// BenchmarkPushFaults pushes the example apps (see exampleImages) to
// Debian's docker-registry through the fault proxy, failing 0%, 10%, 30%
// and 90% of all requests with every kind of fault, with the publisher's
// default retries and real waits. Each iteration pushes at every rate in
// turn, so that the rates share the machine's load; each push goes to a
// new repository, so every blob is uploaded, and meets other faults (a
// new seed). For each rate it reports the seconds per push (s@rate), that
// time over the time without faults (x@rate), the share of pushes that
// succeeded (ok@rate), the tries after a failure (retries@rate), and the
// requests and faults.
func BenchmarkPushFaults(b *testing.B) {
	apps, idxs := exampleImages(b)
	target := registrytest.Start(b)
	rates := []float64{0, 0.1, 0.3, 0.9}
	type sums struct {
		time                            time.Duration
		ok, retries, requests, failures int64
	}
	sum := make([]sums, len(rates))
	for b.Loop() {
		for i, rate := range rates {
			seed := seeds.Add(1)
			proxy := registrytest.StartFaultProxy(b, target, registrytest.FaultConfig{Rate: rate, Seed: seed})
			p, err := publish.Registry(fmt.Sprintf("%s/bench%d", proxy.Host(), seed))
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			err = pushApps(context.Background(), p, apps, idxs)
			sum[i].time += time.Since(start)
			if err == nil {
				sum[i].ok++
			} else if rate < 0.5 {
				b.Logf("%v faults, seed %d: %v", rate, seed, err)
			}
			st := proxy.Stats()
			sum[i].retries += publish.Retries(p)
			sum[i].requests += int64(st.Requests)
			sum[i].failures += int64(st.Failed())
		}
	}
	n := float64(b.N)
	for i, rate := range rates {
		at := fmt.Sprintf("@%d%%", int(rate*100))
		b.ReportMetric(sum[i].time.Seconds()/n, "s"+at)
		if i > 0 {
			b.ReportMetric(float64(sum[i].time)/float64(sum[0].time), "x"+at)
		}
		b.ReportMetric(float64(sum[i].ok)/n, "ok"+at)
		b.ReportMetric(float64(sum[i].retries)/n, "retries"+at)
		b.ReportMetric(float64(sum[i].requests)/n, "requests"+at)
		b.ReportMetric(float64(sum[i].failures)/n, "faults"+at)
	}
}

// seeds numbers the fault proxies of benchmarks, and their repositories.
var seeds atomic.Uint64
