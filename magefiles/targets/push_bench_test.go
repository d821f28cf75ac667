package targets_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/minimalbuild/minimal/magefiles/internal/pipeline"
	"github.com/minimalbuild/minimal/magefiles/internal/publish"
	"github.com/minimalbuild/minimal/magefiles/internal/registrytest"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// counting counts the requests a push sends, and the blob uploads among them.
type counting struct {
	requests, uploads atomic.Int64
	next              http.RoundTripper
}

func (c *counting) RoundTrip(r *http.Request) (*http.Response, error) {
	c.requests.Add(1)
	if strings.Contains(r.URL.Path, "/blobs/uploads/") {
		c.uploads.Add(1)
	}
	return c.next.RoundTrip(r)
}

// fresh numbers the repositories a first push goes to, so that none is reused when the
// benchmark function runs more than once.
var fresh atomic.Int64

// BenchmarkPushExamples pushes every example app of this repository (built once, from a
// copy) to Debian's docker-registry: "first" pushes into a new repository each time,
// "unchanged" pushes the same images again. Run it with
//
//	go test -run '^$' -bench BenchmarkPushExamples -count 5 ./magefiles/targets/
func BenchmarkPushExamples(b *testing.B) {
	need(b, "docker-registry")
	dir := copyRepo(b, repoRoot(b))
	m, err := manifest.Load(filepath.Join(dir, "minimal.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := pipeline.Build(ctx, m, pipeline.WithLog(io.Discard)); err != nil {
		b.Fatal(err)
	}
	host := registrytest.Start(b)
	push := func(b *testing.B, repo string) *counting {
		c := &counting{next: http.DefaultTransport}
		reg, err := publish.Registry(repo, publish.WithTransport(c))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := pipeline.PushBuilt(ctx, m, reg, pipeline.WithLog(io.Discard)); err != nil {
			b.Fatal(err)
		}
		return c
	}
	report := func(b *testing.B, requests, uploads int64) {
		b.ReportMetric(float64(requests)/float64(b.N), "requests/op")
		b.ReportMetric(float64(uploads)/float64(b.N), "blob-uploads/op")
	}
	b.Run("first", func(b *testing.B) {
		var requests, uploads int64
		for b.Loop() {
			c := push(b, fmt.Sprintf("%s/first%d", host, fresh.Add(1)))
			requests, uploads = requests+c.requests.Load(), uploads+c.uploads.Load()
		}
		report(b, requests, uploads)
	})
	b.Run("unchanged", func(b *testing.B) {
		push(b, host+"/unchanged")
		var requests, uploads int64
		for b.Loop() {
			c := push(b, host+"/unchanged")
			requests, uploads = requests+c.requests.Load(), uploads+c.uploads.Load()
		}
		report(b, requests, uploads)
	})
}
