package publish_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/minimalbuild/minimal/magefiles/internal/attest"
	"github.com/minimalbuild/minimal/magefiles/internal/oci"
	"github.com/minimalbuild/minimal/magefiles/internal/publish"
	"github.com/minimalbuild/minimal/magefiles/internal/registrytest"
	"github.com/minimalbuild/minimal/magefiles/internal/testenv"
)

// The clients that check what push attaches, installed by the test with go
// install from the Go module proxy, at these versions. go install keeps
// what it compiles in the Go build cache ($GOCACHE), so only the first run
// on a machine compiles them; BENCHMARKS.md says what that costs.
const (
	orasPackage   = "oras.land/oras/cmd/oras@v1.3.6"
	cosignPackage = "github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5"
)

// clientWithin bounds one run of oras or cosign, which talk to a registry
// on this machine only.
const clientWithin = time.Minute

// installWithin bounds one go install: a first, cold build of cosign
// compiles several hundred packages.
const installWithin = 15 * time.Minute

// goInstall builds pkg (path@version) with go install into dir and returns
// the path of the command. When go cannot fetch the module, the test is
// skipped, except under CI=true, where it fails.
func goInstall(t *testing.T, dir, pkg string) string {
	t.Helper()
	goTool := testenv.Tool(t, "go", "golang-go")
	ctx, cancel := context.WithTimeout(context.Background(), installWithin)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "install", pkg)
	// GOFLAGS of the caller (-mod=vendor, say) are for this module, not
	// for a command installed at a version.
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-buildvcs=false", "GOWORK=off")
	cmd.Dir = dir
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		if cantFetch(out) {
			testenv.Require(t, fmt.Errorf("go install %s cannot fetch modules: %v\n%s", pkg, err, out), "let go reach the Go module proxy")
		}
		t.Fatalf("go install %s: %v\n%s", pkg, err, out)
	}
	t.Logf("go install %s: %v", pkg, time.Since(start).Round(time.Millisecond))
	path, _, _ := strings.Cut(pkg, "@")
	return filepath.Join(dir, path[strings.LastIndex(path, "/")+1:])
}

// cantFetch tells whether go's output says that a module could not be
// downloaded, rather than that it failed to build.
func cantFetch(out []byte) bool {
	for _, s := range []string{"dial tcp", "no such host", "i/o timeout", "connection refused", "proxyconnect", "GOPROXY=off", "module lookup disabled", "TLS handshake timeout"} {
		if bytes.Contains(out, []byte(s)) {
			return true
		}
	}
	return false
}

// attestedIndex builds an index of app for two platforms, each image with
// the SBOM and the provenance attest makes for it.
func attestedIndex(t *testing.T, app string) v1.ImageIndex {
	t.Helper()
	var imgs, refs []v1.Image
	for _, p := range []v1.Platform{amd64, i386} {
		bin := []byte("\x7fELF " + app + " for " + p.Architecture)
		layer, err := oci.BinaryLayer(app, bin, created)
		if err != nil {
			t.Fatal(err)
		}
		img, err := oci.Image(oci.Config{Platform: p, Entrypoint: []string{oci.AppDir + "/" + app}, Created: created}, layer)
		if err != nil {
			t.Fatal(err)
		}
		in := attest.Input{
			Entry:      attest.Entry{Name: app, Platform: p.String(), Lang: "c", Src: []string{"apps/" + app + "/main.c"}, Shrink: []string{"strip"}},
			Binary:     attest.Binary{Compiled: attest.DigestOf(bin), Final: attest.DigestOf(bin)},
			BinaryPath: oci.AppDir + "/" + app,
			Sources:    []attest.File{{Path: "apps/" + app + "/main.c", SHA256: attest.DigestOf([]byte("int main(){}")).SHA256, SHA1: "0000000000000000000000000000000000000000", Size: 12}},
			Toolchains: []attest.Tool{{Name: "zig", Version: "0.11.0"}, {Name: "musl", Version: "1.2.4"}},
			Created:    created,
		}
		docs, err := attest.Referrers(img, in)
		if err != nil {
			t.Fatal(err)
		}
		imgs, refs = append(imgs, img), append(refs, docs...)
	}
	idx, err := oci.Index(imgs, nil)
	if err != nil {
		t.Fatal(err)
	}
	return publish.WithReferrers(idx, refs...)
}

// artifacts collects every (artifactType, digest) pair in a JSON document,
// at any depth, as "type digest": what oras discover lists, whatever the
// shape of its output.
func artifacts(t *testing.T, raw []byte) []string {
	t.Helper()
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%v:\n%s", err, raw)
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			at, ok1 := v["artifactType"].(string)
			d, ok2 := v["digest"].(string)
			if ok1 && ok2 {
				out = append(out, at+" "+d)
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(doc)
	slices.Sort(out)
	return out
}

// TestAttachedWithRealClients pushes an index with its SBOMs and
// provenances to Debian's docker-registry, which has no referrers API,
// signed, and writes it to an OCI layout; then oras discover must list the
// documents of each image, in the registry and in the layout, and cosign
// verify must accept the signatures with the public key and refuse them
// with another.
func TestAttachedWithRealClients(t *testing.T) {
	host := registrytest.Start(t)
	bin := t.TempDir()
	oras := goInstall(t, bin, orasPackage)
	cosign := goInstall(t, bin, cosignPackage)

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	writeKey := func(name string, k *ecdsa.PrivateKey) string {
		der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(tmp, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	pub := writeKey("pub.pem", key)
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherPub := writeKey("other.pem", otherKey)

	idx := attestedIndex(t, "hello")
	layoutDir := filepath.Join(tmp, "oci")
	dest := publish.Multi(publish.Layout(layoutDir), newRegistry(t, host+"/team", publish.WithSigningKey(key, created)))
	if _, err := dest.Publish(context.Background(), "hello", idx, []string{"v1"}); err != nil {
		t.Fatal(err)
	}
	repo := host + "/team/hello"
	// The clients keep nothing in the user's home directory.
	env := []string{"HOME=" + tmp, "DOCKER_CONFIG=" + filepath.Join(tmp, "docker"), "TUF_ROOT=" + filepath.Join(tmp, "tuf"), "SIGSTORE_NO_CACHE=true"}

	want := map[v1.Hash][]string{}
	for _, r := range publish.ReferrersOf(idx) {
		m, err := r.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		want[m.Subject.Digest] = append(want[m.Subject.Digest], m.ArtifactType+" "+digestOf(t, r).String())
	}
	for i, d := range manifestsOf(t, idx) {
		slices.Sort(want[d])
		if len(want[d]) != 2 {
			t.Fatalf("image %s has %d documents, want 2", d, len(want[d]))
		}
		arch := []string{"amd64", "386"}[i]
		t.Run("oras discover registry "+arch, func(t *testing.T) {
			out := runWithin(t, env, oras, "discover", "--plain-http", "--format", "json", repo+"@"+d.String())
			if diff := cmp.Diff(want[d], artifacts(t, out)); diff != "" {
				t.Errorf("oras discover (-want +got):\n%s", diff)
			}
		})
		t.Run("oras discover layout "+arch, func(t *testing.T) {
			out := runWithin(t, env, oras, "discover", "--oci-layout", "--format", "json", layoutDir+":hello/"+arch)
			if diff := cmp.Diff(want[d], artifacts(t, out)); diff != "" {
				t.Errorf("oras discover --oci-layout (-want +got):\n%s", diff)
			}
		})
	}

	verify := func(keyPath, ref string) ([]byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), clientWithin)
		defer cancel()
		cmd := exec.CommandContext(ctx, cosign, "verify", "--key", keyPath, "--insecure-ignore-tlog=true", "--allow-http-registry", "--output", "json", ref)
		cmd.Env = append(os.Environ(), env...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return out, &toolError{err, stderr.String()}
		}
		return out, nil
	}
	for _, ref := range []string{repo + ":v1", repo + "@" + manifestsOf(t, idx)[0].String(), repo + "@" + manifestsOf(t, idx)[1].String()} {
		t.Run("cosign verify "+ref[len(repo):], func(t *testing.T) {
			out, err := verify(pub, ref)
			if err != nil {
				t.Fatalf("cosign verify --key: %v", err)
			}
			var sigs []struct {
				Critical struct {
					Image struct {
						DockerManifestDigest string `json:"docker-manifest-digest"`
					}
				}
			}
			if err := json.Unmarshal(out, &sigs); err != nil || len(sigs) != 1 {
				t.Fatalf("cosign verify output: %v\n%s", err, out)
			}
			if d := sigs[0].Critical.Image.DockerManifestDigest; !strings.HasPrefix(ref, repo+":") && !strings.HasSuffix(ref, d) {
				t.Errorf("cosign verified %s for %s", d, ref)
			}
			if _, err := verify(otherPub, ref); err == nil {
				t.Error("cosign verify accepted the signature with another key")
			}
		})
	}
}

// runWithin runs a command for at most clientWithin and returns its
// standard output, failing the test with its standard error.
func runWithin(t *testing.T, env []string, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientWithin)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, stderr.Bytes())
	}
	return stdout.Bytes()
}

// toolError is a failed command with its standard error.
type toolError struct {
	err    error
	stderr string
}

func (e *toolError) Error() string { return e.err.Error() + "\n" + e.stderr }
