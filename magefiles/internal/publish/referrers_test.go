package publish_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/minimalbuild/minimal/magefiles/internal/attest"
	"github.com/minimalbuild/minimal/magefiles/internal/publish"
)

// withDocs returns idx with two referrers per platform image (an SBOM-like
// and a provenance-like document naming the image and version) and one of
// the index itself.
func withDocs(t *testing.T, idx v1.ImageIndex, version string) v1.ImageIndex {
	t.Helper()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	idxDesc := v1.Descriptor{MediaType: im.MediaType, Digest: digestOf(t, idx)}
	raw, err := idx.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	idxDesc.Size = int64(len(raw))
	var refs []v1.Image
	add := func(subject v1.Descriptor, at, doc string) {
		subject.Platform, subject.Annotations = nil, nil
		a, err := attest.Artifact(subject, at, []byte(doc+" of "+subject.Digest.String()+" "+version), created, nil)
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, a)
	}
	// Out of order on purpose: the layout sorts them.
	for _, d := range im.Manifests {
		add(d, attest.MediaTypeInToto, "provenance")
		add(d, attest.MediaTypeSPDX, "sbom")
	}
	add(idxDesc, "application/vnd.example.note", "note")
	return publish.WithReferrers(idx, refs...)
}

// layoutEntry is what a test checks of an index.json entry.
type layoutEntry struct {
	Name, ArtifactType string
	Subject            string // for a referrer: the name of its subject's entry
}

// layoutEntries reads the entries of the layout at dir, naming each
// referrer's subject by the entry that names it.
func layoutEntries(t *testing.T, dir string) []layoutEntry {
	t.Helper()
	im, err := v1.ParseIndexManifest(bytes.NewReader(readFile(t, filepath.Join(dir, "index.json"))))
	if err != nil {
		t.Fatal(err)
	}
	names := map[v1.Hash]string{}
	for _, d := range im.Manifests {
		if n, ok := d.Annotations[publish.RefName]; ok {
			names[d.Digest] = n
		}
	}
	var out []layoutEntry
	for _, d := range im.Manifests {
		e := layoutEntry{Name: d.Annotations[publish.RefName], ArtifactType: d.ArtifactType}
		if e.Name == "" {
			m, err := v1.ParseManifest(bytes.NewReader(readFile(t, filepath.Join(dir, "blobs", "sha256", d.Digest.Hex))))
			if err != nil {
				t.Fatal(err)
			}
			if m.Subject == nil {
				t.Fatalf("unnamed entry %s has no subject", d.Digest)
			}
			e.Subject = names[m.Subject.Digest]
		}
		out = append(out, e)
	}
	return out
}

func wantEntries(apps ...string) []layoutEntry {
	var out []layoutEntry
	for _, app := range apps {
		out = append(out,
			layoutEntry{Name: app},
			layoutEntry{ArtifactType: "application/vnd.example.note", Subject: app},
			layoutEntry{Name: app + "/386"},
			layoutEntry{ArtifactType: attest.MediaTypeSPDX, Subject: app + "/386"},
			layoutEntry{ArtifactType: attest.MediaTypeInToto, Subject: app + "/386"},
			layoutEntry{Name: app + "/amd64"},
			layoutEntry{ArtifactType: attest.MediaTypeSPDX, Subject: app + "/amd64"},
			layoutEntry{ArtifactType: attest.MediaTypeInToto, Subject: app + "/amd64"},
		)
	}
	// Referrers of one subject are sorted by artifact type.
	for i := range out {
		if i > 0 && out[i].Subject != "" && out[i].Subject == out[i-1].Subject && out[i].ArtifactType < out[i-1].ArtifactType {
			out[i], out[i-1] = out[i-1], out[i]
		}
	}
	return out
}

// TestLayoutReferrers checks that referrers go into the layout after their
// subjects, in an order that does not depend on the order of publishing,
// that republishing an app replaces them, and that LayoutReferrers finds
// them again for a push.
func TestLayoutReferrers(t *testing.T) {
	hello1, hello2, world := withDocs(t, appIndex(t, "hello", "v1"), "v1"), withDocs(t, appIndex(t, "hello", "v2"), "v2"), withDocs(t, appIndex(t, "world", "v1"), "v1")
	write := func(steps ...string) string {
		dir := filepath.Join(t.TempDir(), "oci")
		lp := publish.Layout(dir)
		idxs := map[string]v1.ImageIndex{"hello1": hello1, "hello2": hello2, "world": world}
		for _, s := range steps {
			publishOne(t, lp, strings.TrimRight(s, "12"), idxs[s])
		}
		return dir
	}
	a := write("hello1", "world", "hello2")
	if diff := cmp.Diff(wantEntries("hello", "world"), layoutEntries(t, a)); diff != "" {
		t.Errorf("index.json entries (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(reachable(t, a), blobFiles(t, a)); diff != "" {
		t.Errorf("blob files differ from the blobs the layout refers to (-referenced +present):\n%s", diff)
	}
	for _, r := range publish.ReferrersOf(hello1) {
		if slices.Contains(blobFiles(t, a), digestOf(t, r).String()) {
			t.Errorf("referrer %s of the replaced hello is still there", digestOf(t, r))
		}
	}
	b := write("world", "hello2")
	if ia, ib := readFile(t, filepath.Join(a, "index.json")), readFile(t, filepath.Join(b, "index.json")); !bytes.Equal(ia, ib) {
		t.Errorf("index.json depends on the order of publishing:\n%s\n---\n%s", ia, ib)
	}

	// Read back the way push reads what the build left.
	lp, err := layout.FromPath(a)
	if err != nil {
		t.Fatal(err)
	}
	fromLayout, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	back, err := fromLayout.ImageIndex(digestOf(t, hello2))
	if err != nil {
		t.Fatal(err)
	}
	back, err = publish.LayoutReferrers(a, back)
	if err != nil {
		t.Fatal(err)
	}
	var want, got []string
	for _, r := range publish.ReferrersOf(hello2) {
		want = append(want, digestOf(t, r).String())
	}
	for _, r := range publish.ReferrersOf(back) {
		got = append(got, digestOf(t, r).String())
		if _, err := r.Layers(); err != nil {
			t.Error(err)
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("LayoutReferrers (-want +got):\n%s", diff)
	}
	if digestOf(t, back) != digestOf(t, hello2) {
		t.Error("attaching referrers changed the index digest")
	}
}

func TestReferrersRefused(t *testing.T) {
	hello, world := appIndex(t, "hello", "v1"), appIndex(t, "world", "v1")
	stray := publish.ReferrersOf(withDocs(t, world, "v1"))[0]
	noSubject := appIndex(t, "other", "v1")
	plain, err := noSubject.Image(manifestsOf(t, noSubject)[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		idx  v1.ImageIndex
		want string
	}{
		{"a referrer of another index", publish.WithReferrers(hello, stray), "which is not in the index"},
		{"an image that refers to nothing", publish.WithReferrers(hello, plain), "has no subject"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "oci")
			if _, err := publish.Layout(dir).Publish(context.Background(), "hello", tc.idx, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("layout: error %v, want one containing %q", err, tc.want)
			}
			host := referrersRegistry(t, true, nil)
			if _, err := newRegistry(t, host+"/team").Publish(context.Background(), "hello", tc.idx, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("registry: error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// manifestPuts counts the manifests a registry is sent.
type manifestPuts struct {
	next http.Handler
	mu   sync.Mutex
	refs []string
}

func (m *manifestPuts) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
		m.mu.Lock()
		m.refs = append(m.refs, r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:])
		m.mu.Unlock()
	}
	m.next.ServeHTTP(w, r)
}

func (m *manifestPuts) take() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.refs
	m.refs = nil
	slices.Sort(out)
	return out
}

// referrersRegistry starts go-containerregistry's in-process registry, with
// or without the referrers API, and returns its host. When puts is not
// nil, it counts the manifests put.
func referrersRegistry(t *testing.T, api bool, puts *manifestPuts) string {
	t.Helper()
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(api))
	if puts != nil {
		puts.next = h
		h = puts
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestRegistryReferrers pushes an index with referrers to a registry with
// the referrers API and to one without, where the referrers go under the
// fallback tag, and checks that go-containerregistry's client lists them
// for each subject.
func TestRegistryReferrers(t *testing.T) {
	for _, api := range []bool{true, false} {
		label := "referrers API"
		if !api {
			label = "tag fallback"
		}
		t.Run(label, func(t *testing.T) {
			puts := &manifestPuts{}
			host := referrersRegistry(t, api, puts)
			repo := host + "/team/hello"
			idx := withDocs(t, appIndex(t, "hello", "v1"), "v1")
			p := newRegistry(t, host+"/team")
			if _, err := p.Publish(context.Background(), "hello", idx, []string{"v1"}); err != nil {
				t.Fatal(err)
			}
			checkReferrersListed(t, repo, idx, !api)
			for _, s := range append(manifestsOf(t, idx), digestOf(t, idx)) {
				tag := strings.Replace(s.String(), ":", "-", 1)
				_, ok := headDigest(t, repo+":"+tag)
				if ok == api {
					t.Errorf("fallback tag %s present: %v; want it only without the referrers API", tag, ok)
				}
			}
			first := puts.take()
			if !slices.Contains(first, "v1") || len(first) < 1+3+len(publish.ReferrersOf(idx)) {
				t.Errorf("manifests put: %v; want the images, the index, the referrers and the tag", first)
			}

			// Pushed again, nothing changes and nothing is written.
			if _, err := p.Publish(context.Background(), "hello", idx, []string{"v1"}); err != nil {
				t.Fatal(err)
			}
			if got := puts.take(); len(got) != 0 {
				t.Errorf("pushing the same index again put manifests %v", got)
			}
			if api {
				return
			}
			// A push that stopped after a referrer's manifest but before
			// the fallback tag: the next push notices and writes it.
			amd64 := manifestsOf(t, idx)[0]
			tag, err := name.NewTag(repo + ":" + strings.Replace(amd64.String(), ":", "-", 1))
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Delete(tag); err != nil {
				t.Fatal(err)
			}
			if _, err := p.Publish(context.Background(), "hello", idx, []string{"v1"}); err != nil {
				t.Fatal(err)
			}
			checkReferrersListed(t, repo, idx, !api)
		})
	}
}

// checkReferrersListed checks that the registry lists each referrer of idx
// for its subject, and, with types, with its artifact type.
// go-containerregistry's in-process registry reports a referrer's config
// media type as its artifact type, which is what an artifact without an
// artifactType field has, so its listing is checked without types.
func checkReferrersListed(t *testing.T, repo string, idx v1.ImageIndex, types bool) {
	t.Helper()
	want := map[v1.Hash][]string{}
	for _, r := range publish.ReferrersOf(idx) {
		m, err := r.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		at := m.ArtifactType
		if !types {
			at = "-"
		}
		want[m.Subject.Digest] = append(want[m.Subject.Digest], at+" "+digestOf(t, r).String())
	}
	for subject, w := range want {
		d, err := name.NewDigest(repo + "@" + subject.String())
		if err != nil {
			t.Fatal(err)
		}
		listed, err := remote.Referrers(d)
		if err != nil {
			t.Fatal(err)
		}
		im, err := listed.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range im.Manifests {
			at := m.ArtifactType
			if !types {
				at = "-"
			}
			got = append(got, at+" "+m.Digest.String())
		}
		slices.Sort(w)
		slices.Sort(got)
		if diff := cmp.Diff(w, got); diff != "" {
			t.Errorf("referrers of %s (-want +got):\n%s", subject, diff)
		}
	}
}

// TestRegistrySigning pushes with a signing key and checks each signature
// the way cosign does: the payload names the manifest's digest, and the
// signature over it verifies with the public key.
func TestRegistrySigning(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	puts := &manifestPuts{}
	host := referrersRegistry(t, false, puts)
	repo := host + "/team/hello"
	idx := appIndex(t, "hello", "v1")
	push := func(k *ecdsa.PrivateKey) {
		t.Helper()
		p := newRegistry(t, host+"/team", publish.WithSigningKey(k, created))
		if _, err := p.Publish(context.Background(), "hello", idx, nil); err != nil {
			t.Fatal(err)
		}
	}
	push(key)
	signed := append([]v1.Hash{digestOf(t, idx)}, manifestsOf(t, idx)...)
	checkSigned(t, repo, signed, &key.PublicKey)
	puts.take()

	push(key)
	if got := puts.take(); len(got) != 0 {
		t.Errorf("signing the same images again put manifests %v; signatures are deterministic", got)
	}

	// A second key adds its signature and keeps the first.
	push(other)
	checkSigned(t, repo, signed, &key.PublicKey, &other.PublicKey)
}

// checkSigned checks that each manifest of digests in repo has one
// signature per key, in order, under its .sig tag.
func checkSigned(t *testing.T, repo string, digests []v1.Hash, keys ...*ecdsa.PublicKey) {
	t.Helper()
	for _, d := range digests {
		tag, err := name.NewTag(repo + ":" + attest.SignatureTag(d))
		if err != nil {
			t.Fatal(err)
		}
		img, err := remote.Image(tag)
		if err != nil {
			t.Fatalf("signature of %s: %v", d, err)
		}
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Layers) != len(keys) {
			t.Fatalf("signature image of %s has %d layers, want %d", d, len(m.Layers), len(keys))
		}
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range layers {
			rc, err := l.Compressed()
			if err != nil {
				t.Fatal(err)
			}
			payload, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			var p struct {
				Critical struct {
					Identity struct {
						DockerReference string `json:"docker-reference"`
					}
					Image struct {
						DockerManifestDigest string `json:"docker-manifest-digest"`
					}
					Type string
				}
			}
			if err := json.Unmarshal(payload, &p); err != nil {
				t.Fatal(err)
			}
			if p.Critical.Image.DockerManifestDigest != d.String() || p.Critical.Identity.DockerReference != repo || p.Critical.Type != "cosign container image signature" {
				t.Errorf("payload of the signature of %s: %s", d, payload)
			}
			if mt := m.Layers[i].MediaType; mt != attest.MediaTypeSimpleSigning {
				t.Errorf("signature layer media type %s", mt)
			}
			sig, err := base64.StdEncoding.DecodeString(m.Layers[i].Annotations[attest.AnnotationSignature])
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(payload)
			if !ecdsa.VerifyASN1(keys[i], sum[:], sig) {
				t.Errorf("signature %d of %s does not verify with its key", i, d)
			}
		}
	}
}
