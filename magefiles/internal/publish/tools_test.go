package publish_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/minimalbuild/minimal/magefiles/internal/oci"
	"github.com/minimalbuild/minimal/magefiles/internal/publish"
	"github.com/minimalbuild/minimal/magefiles/internal/testenv"
)

// run runs a command and returns its standard output, failing the test with
// its standard error.
func run(t *testing.T, env []string, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.CommandContext(context.Background(), name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, stderr.Bytes())
	}
	return stdout.Bytes()
}

// TestLayoutTools publishes a real static binary for two platforms and reads
// the layout with skopeo and umoci, the tools users point at it.
func TestLayoutTools(t *testing.T) {
	skopeo := testenv.Tool(t, "skopeo", "skopeo")
	umoci := testenv.Tool(t, "umoci", "umoci")
	goTool := testenv.Tool(t, "go", "golang-go")

	tmp := t.TempDir()
	bins := map[string][]byte{}
	var imgs []v1.Image
	for _, p := range []v1.Platform{amd64, i386} {
		out := filepath.Join(tmp, "hello-"+p.Architecture)
		run(t, []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + p.Architecture}, goTool, "build", "-trimpath", "-o", out, "./testdata/hello")
		bins[p.Architecture] = readFile(t, out)
		bin, err := oci.BinaryLayer("hello", bins[p.Architecture], created)
		if err != nil {
			t.Fatal(err)
		}
		img, err := oci.Image(oci.Config{Platform: p, Entrypoint: []string{"/ko-app/hello"}, User: "65532", Created: created}, bin)
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	idx, err := oci.Index(imgs, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(tmp, "oci")
	lp := publish.Layout(dir)
	// Another app in the same layout: the tools must pick the entry by name.
	publishOne(t, lp, "other", appIndex(t, "other", "v1"))
	publishOne(t, lp, "hello", idx)

	t.Run("skopeo inspect", func(t *testing.T) {
		raw := run(t, nil, skopeo, "inspect", "--raw", "oci:"+dir+":hello")
		sum := sha256.Sum256(raw)
		if got, want := "sha256:"+hex.EncodeToString(sum[:]), digestOf(t, idx).String(); got != want {
			t.Errorf("skopeo inspect --raw: digest %s, want the index's %s", got, want)
		}
		type info struct {
			Digest       string
			Architecture string
			Os           string
			Layers       []string
		}
		inspect := func(t *testing.T, args ...string) info {
			t.Helper()
			var got info
			out := run(t, nil, skopeo, args...)
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("skopeo inspect output: %v\n%s", err, out)
			}
			return got
		}
		for i, p := range []v1.Platform{amd64, i386} {
			m, err := imgs[i].Manifest()
			if err != nil {
				t.Fatal(err)
			}
			layers := []string{m.Layers[0].Digest.String()}
			// skopeo reports the digest of the entry it was given, and
			// the config and layers of the image for its platform.
			got := inspect(t, "--override-os", p.OS, "--override-arch", p.Architecture, "inspect", "oci:"+dir+":hello")
			if diff := cmp.Diff(info{digestOf(t, idx).String(), p.Architecture, p.OS, layers}, got); diff != "" {
				t.Errorf("skopeo inspect oci:dir:hello for %s (-want +got):\n%s", p, diff)
			}
			got = inspect(t, "inspect", "oci:"+dir+":hello/"+p.Architecture)
			if diff := cmp.Diff(info{digestOf(t, imgs[i]).String(), p.Architecture, p.OS, layers}, got); diff != "" {
				t.Errorf("skopeo inspect oci:dir:hello/%s (-want +got):\n%s", p.Architecture, diff)
			}
		}
	})

	// umoci refuses an entry holding more than one image ("tag is
	// ambiguous"), so it unpacks the per-platform entries.
	for _, arch := range []string{"amd64", "386"} {
		t.Run("umoci unpack hello/"+arch, func(t *testing.T) {
			bundle := filepath.Join(t.TempDir(), "bundle")
			run(t, nil, umoci, "unpack", "--rootless", "--image", dir+":hello/"+arch, bundle)
			bin := filepath.Join(bundle, "rootfs", "ko-app", "hello")
			fi, err := os.Stat(bin)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o755 {
				t.Errorf("/ko-app/hello has mode %v, want 0755", fi.Mode())
			}
			if !bytes.Equal(readFile(t, bin), bins[arch]) {
				t.Errorf("/ko-app/hello in the bundle is not the %s binary", arch)
			}
			var spec struct {
				Process struct{ Args []string }
			}
			if err := json.Unmarshal(readFile(t, filepath.Join(bundle, "config.json")), &spec); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"/ko-app/hello"}, spec.Process.Args); diff != "" {
				t.Errorf("bundle process args (-want +got):\n%s", diff)
			}
			// Both platforms run natively on x86-64 Linux.
			if runtime.GOOS == "linux" && runtime.GOARCH == "amd64" {
				if out := run(t, nil, bin); string(out) != "hello\n" {
					t.Errorf("/ko-app/hello printed %q, want %q", out, "hello\n")
				}
			}
		})
	}
}
