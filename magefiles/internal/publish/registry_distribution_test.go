package publish_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/minimalbuild/minimal/magefiles/internal/publish"
	"github.com/minimalbuild/minimal/magefiles/internal/registrytest"
	"github.com/minimalbuild/minimal/magefiles/internal/testenv"
)

// uploadCounter is a transport that counts the blob upload requests
// (POST, PATCH and PUT under /blobs/) that go through it.
type uploadCounter struct {
	inner http.RoundTripper

	mu      sync.Mutex
	uploads int
}

func (u *uploadCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.Contains(r.URL.Path, "/blobs/") && r.Method != http.MethodHead && r.Method != http.MethodGet {
		u.mu.Lock()
		u.uploads++
		u.mu.Unlock()
	}
	return u.inner.RoundTrip(r)
}

func (u *uploadCounter) take() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := u.uploads
	u.uploads = 0
	return n
}

// TestRegistryDistribution pushes an index of two images to Debian's
// docker-registry, the CNCF distribution registry, and reads it back with
// skopeo, then pushes it again.
func TestRegistryDistribution(t *testing.T) {
	host := registrytest.Start(t)
	skopeo := testenv.Tool(t, "skopeo", "skopeo")

	idx := appIndex(t, "hello", "v1")
	d := digestOf(t, idx)
	tr := &uploadCounter{inner: remote.DefaultTransport}
	rs, err := newRegistry(t, host+"/team", publish.WithTransport(tr)).Publish(context.Background(), "hello", idx, []string{"v1", "latest"})
	if err != nil {
		t.Fatal(err)
	}
	want := []publish.Result{
		{Ref: host + "/team/hello:v1@" + d.String(), Digest: d},
		{Ref: host + "/team/hello:latest@" + d.String(), Digest: d},
	}
	if diff := cmp.Diff(want, rs); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	if tr.take() == 0 {
		t.Error("the first push uploaded no blob")
	}
	checkPushed(t, host+"/team/hello", idx, []string{"v1", "latest"})

	t.Run("skopeo inspect", func(t *testing.T) {
		raw := run(t, nil, skopeo, "inspect", "--tls-verify=false", "--raw", "docker://"+host+"/team/hello:v1")
		sum := sha256.Sum256(raw)
		if got := "sha256:" + hex.EncodeToString(sum[:]); got != d.String() {
			t.Errorf("skopeo inspect --raw: digest %s, want the index's %s", got, d)
		}
		for i, p := range []v1.Platform{amd64, i386} {
			img, err := idx.Image(manifestsOf(t, idx)[i])
			if err != nil {
				t.Fatal(err)
			}
			m, err := img.Manifest()
			if err != nil {
				t.Fatal(err)
			}
			var wantLayers []string
			for _, l := range m.Layers {
				wantLayers = append(wantLayers, l.Digest.String())
			}
			var got struct {
				Architecture string
				Layers       []string
			}
			out := run(t, nil, skopeo, "inspect", "--tls-verify=false", "--override-os", p.OS, "--override-arch", p.Architecture, "docker://"+host+"/team/hello:latest")
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("skopeo inspect output: %v\n%s", err, out)
			}
			if got.Architecture != p.Architecture || !cmp.Equal(got.Layers, wantLayers) {
				t.Errorf("skopeo inspect for %s: architecture %s, layers %v; want %s, %v", p, got.Architecture, got.Layers, p.Architecture, wantLayers)
			}
		}
	})

	t.Run("skopeo copy", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "oci")
		run(t, nil, skopeo, "copy", "--all", "--src-tls-verify=false", "docker://"+host+"/team/hello:v1", "oci:"+dir+":x")
		lp, err := layout.FromPath(dir)
		if err != nil {
			t.Fatal(err)
		}
		top, err := lp.ImageIndex()
		if err != nil {
			t.Fatal(err)
		}
		im, err := top.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		if len(im.Manifests) != 1 || !im.Manifests[0].MediaType.IsIndex() {
			t.Fatalf("copied layout holds %v, want one index", im.Manifests)
		}
		copied, err := top.ImageIndex(im.Manifests[0].Digest)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate.Index(copied); err != nil {
			t.Errorf("copied index: %v", err)
		}
		// skopeo writes the index anew, from the fields it knows: the
		// index holds no other, so a copy keeps its digest, and the
		// images it lists are the pushed ones.
		want, err := idx.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if got := im.Manifests[0].Digest; got != want {
			t.Errorf("copied index digest %s, want the pushed %s", got, want)
		}
		type image struct {
			Digest   v1.Hash
			Size     int64
			Platform string
		}
		images := func(ii v1.ImageIndex) []image {
			m, err := ii.IndexManifest()
			if err != nil {
				t.Fatal(err)
			}
			var out []image
			for _, d := range m.Manifests {
				out = append(out, image{d.Digest, d.Size, d.Platform.String()})
			}
			return out
		}
		if diff := cmp.Diff(images(idx), images(copied)); diff != "" {
			t.Errorf("images of the copied index (-pushed +copied):\n%s", diff)
		}
	})

	t.Run("unchanged re-push uploads nothing", func(t *testing.T) {
		if _, err := newRegistry(t, host+"/team", publish.WithTransport(tr)).Publish(context.Background(), "hello", idx, []string{"v1", "latest"}); err != nil {
			t.Fatal(err)
		}
		if n := tr.take(); n != 0 {
			t.Errorf("%d blob upload requests, want none", n)
		}
	})

}
