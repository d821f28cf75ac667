package cache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRemoteRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte("remote"), 300_000) // larger than a write chunk
	tests := []struct {
		name    string
		outputs map[string][]byte
	}{
		{"an action without outputs", map[string][]byte{}},
		{"one empty output", map[string][]byte{"deps": nil}},
		{"several outputs", map[string][]byte{"bin": []byte("\x7fELF..."), "steps.json": []byte(`[{"pass":"strip"}]`)}},
		{"names that need quoting", map[string][]byte{"a b": []byte("1"), "line\nbreak": []byte("2"), `q"uote`: []byte("3"), "": []byte("4"), "ü": []byte("5")}},
		{"outputs that share a blob", map[string][]byte{"layer-0": []byte("same"), "layer-1": []byte("same")}},
		{"a large output", map[string][]byte{"layer-0": big}},
	}
	reg := newFaultyRegistry(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := testKey(tt.name)
			a := openMachine(t, reg.repo())
			if err := a.Put(key, tt.outputs); err != nil {
				t.Fatalf("Put: %v", err)
			}
			a.Close(context.Background())
			if s := a.Stats(); s.Uploads != 1 || s.Disabled != "" {
				t.Fatalf("machine A: %+v, want one upload", s)
			}

			b := openMachine(t, reg.repo())
			outs, src, err := b.LookupContext(context.Background(), key)
			if err != nil || src != Remote {
				t.Fatalf("machine B: LookupContext = %v, %v; want a remote hit", src, err)
			}
			if len(outs) != len(tt.outputs) {
				t.Errorf("machine B: %d outputs, want %d", len(outs), len(tt.outputs))
			}
			got, err := b.Get(key)
			if err != nil {
				t.Fatalf("machine B: Get after the remote hit: %v", err)
			}
			if diff := cmp.Diff(asStrings(tt.outputs), asStrings(got)); diff != "" {
				t.Errorf("machine B's outputs (-A's +B's):\n%s", diff)
			}
			if _, src, err := b.LookupContext(context.Background(), key); err != nil || src != Local {
				t.Errorf("machine B, second lookup: %v, %v; want a local hit", src, err)
			}
			if s := b.Stats(); s.RemoteHits != 1 || s.Puts != 0 || s.Uploads != 0 {
				t.Errorf("machine B: %+v, want one remote hit and nothing stored or uploaded", s)
			}
			if w := append(a.warnings(), b.warnings()...); len(w) != 0 {
				t.Errorf("warnings: %q", w)
			}
		})
	}
}

// TestRemoteGet checks that Get, which the record of a C source's headers is read
// with, also reaches the remote tier.
func TestRemoteGet(t *testing.T) {
	reg := newFaultyRegistry(t)
	key := testKey("deps")
	a := openMachine(t, reg.repo())
	mustPut(t, a.Cache, key, map[string][]byte{"deps": []byte("apps/c/inc/a.h\napps/c/inc/b.h")})
	a.Close(context.Background())
	b := openMachine(t, reg.repo())
	got, err := b.Get(key)
	if err != nil || string(got["deps"]) != "apps/c/inc/a.h\napps/c/inc/b.h" {
		t.Fatalf("Get on machine B = %q, %v; want the record machine A stored", got, err)
	}
	if s := b.Stats(); s.RemoteHits != 1 {
		t.Errorf("machine B: %+v, want one remote hit", s)
	}
}

// TestRemoteEntryFormat checks the entry in the registry: an OCI manifest with the
// artifactType, the key annotation, and one blob per output named by its title.
func TestRemoteEntryFormat(t *testing.T) {
	reg := newFaultyRegistry(t)
	key := testKey("format")
	a := openMachine(t, reg.repo())
	mustPut(t, a.Cache, key, map[string][]byte{"bin": []byte("binary"), "steps.json": []byte("[]")})
	a.Close(context.Background())

	resp, err := http.Get("http://" + reg.host + "/v2/team/cache/manifests/" + TagPrefix + key.String())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m struct {
		MediaType    string `json:"mediaType"`
		ArtifactType string `json:"artifactType"`
		Config       struct {
			MediaType string `json:"mediaType"`
		} `json:"config"`
		Layers []struct {
			MediaType   string            `json:"mediaType"`
			Digest      string            `json:"digest"`
			Size        int64             `json:"size"`
			Annotations map[string]string `json:"annotations"`
		} `json:"layers"`
		Annotations map[string]string `json:"annotations"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return "sha256:" + hex.EncodeToString(h[:]) }
	type layer struct{ MediaType, Digest, Name string }
	var layers []layer
	for _, l := range m.Layers {
		layers = append(layers, layer{l.MediaType, l.Digest, l.Annotations[NameAnnotation]})
	}
	want := []layer{{OutputMediaType, sum("binary"), "bin"}, {OutputMediaType, sum("[]"), "steps.json"}}
	if diff := cmp.Diff(want, layers); diff != "" {
		t.Errorf("layers (-want +got):\n%s", diff)
	}
	if m.MediaType != manifestMediaType || m.ArtifactType != ArtifactType || m.Config.MediaType != emptyMediaType || m.Annotations[KeyAnnotation] != key.String() {
		t.Errorf("manifest: mediaType %q, artifactType %q, config %q, annotations %v", m.MediaType, m.ArtifactType, m.Config.MediaType, m.Annotations)
	}
}

// TestRemoteNoRepeatedUploads checks that a blob the registry has is not sent again:
// within one entry, across entries, and from another machine.
func TestRemoteNoRepeatedUploads(t *testing.T) {
	reg := newFaultyRegistry(t)
	layer := bytes.Repeat([]byte("L"), 10_000)
	a := openMachine(t, reg.repo())
	mustPut(t, a.Cache, testKey("image amd64"), map[string][]byte{"layer-0": layer, "layer-1": layer, "image.json": []byte("{1}")})
	a.Close(context.Background())
	_, sentA := reg.counts()

	// Another machine builds another action with the same layer.
	b := openMachine(t, reg.repo())
	mustPut(t, b.Cache, testKey("image 386"), map[string][]byte{"layer-0": layer, "image.json": []byte("{2}")})
	b.Close(context.Background())
	reqs, sentAB := reg.counts()

	// A's blobs: the layer once, image.json and the empty config.
	if want := int64(len(layer) + 3 + 2); sentA != want {
		t.Errorf("machine A sent %d blob bytes, want %d", sentA, want)
	}
	if got, want := sentAB-sentA, int64(3); got != want {
		t.Errorf("machine B sent %d blob bytes, want %d (only its own image.json)", got, want)
	}
	if s := b.Stats(); s.UploadedBytes != 3 || s.PresentBytes != int64(len(layer)+2) {
		t.Errorf("machine B: %+v, want 3 bytes uploaded and the layer and config found present", s)
	}
	if reqs["PUT uploads"] != 4 {
		t.Errorf("%d blob uploads in all, want 4: %v", reqs["PUT uploads"], reqs)
	}
}

func TestRemoteMiss(t *testing.T) {
	reg := newFaultyRegistry(t)
	m := openMachine(t, reg.repo())
	key := testKey("never built")
	if _, _, err := m.LookupContext(context.Background(), key); !errors.Is(err, ErrMiss) {
		t.Fatalf("LookupContext = %v, want ErrMiss", err)
	}
	if s := m.Stats(); s.RemoteMisses != 1 || s.Disabled != "" {
		t.Errorf("%+v, want one remote miss and the tier still on", s)
	}
	if !strings.Contains(m.log.String(), "remote cache: miss "+key.String()) {
		t.Errorf("verbose log lacks the miss:\n%s", m.log)
	}
	if w := m.warnings(); len(w) != 0 {
		t.Errorf("warnings: %q", w)
	}
}

// TestRemoteDamaged checks that an entry that fails a check is ignored with a
// warning, leaves the tier on, and is repaired by the next upload.
func TestRemoteDamaged(t *testing.T) {
	outputs := map[string][]byte{"bin": []byte("the binary"), "steps.json": []byte("[]")}
	binDigest := func() string { h := sha256.Sum256(outputs["bin"]); return "sha256:" + hex.EncodeToString(h[:]) }()
	tests := []struct {
		name string
		// damage changes the registry after machine A's upload of key.
		damage func(t *testing.T, reg *faultyRegistry, key Key)
		want   string
	}{
		{"a blob that does not match its digest", func(t *testing.T, reg *faultyRegistry, key Key) {
			reg.mu.Lock()
			defer reg.mu.Unlock()
			reg.corrupt[binDigest] = []byte("the binarZ")
		}, "does not match its digest"},
		{"a blob longer than its manifest says", func(t *testing.T, reg *faultyRegistry, key Key) {
			reg.mu.Lock()
			defer reg.mu.Unlock()
			reg.corrupt[binDigest] = []byte("the binary and more")
		}, "longer than its manifest says"},
		{"a blob the registry lost", func(t *testing.T, reg *faultyRegistry, key Key) {
			reg.mu.Lock()
			defer reg.mu.Unlock()
			reg.missing[binDigest] = true
		}, "BLOB_UNKNOWN"},
		{"an entry for another action under the key's tag", func(t *testing.T, reg *faultyRegistry, key Key) {
			putManifest(t, reg, key, entryManifest(testKey("another action"), nil))
		}, "entry is for action"},
		{"another artifactType", func(t *testing.T, reg *faultyRegistry, key Key) {
			m := strings.Replace(string(entryManifest(key, nil)), ArtifactType, "application/vnd.example.other", 1)
			putManifest(t, reg, key, []byte(m))
		}, "artifactType"},
		{"an output without a name", func(t *testing.T, reg *faultyRegistry, key Key) {
			m := strings.Replace(string(entryManifest(key, []entry{{name: "bin", sum: sha256.Sum256([]byte("x")), size: 1}})), NameAnnotation, "other", 1)
			putManifest(t, reg, key, []byte(m))
		}, "has no name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := newFaultyRegistry(t)
			key := testKey(tt.name)
			a := openMachine(t, reg.repo())
			mustPut(t, a.Cache, key, outputs)
			mustPut(t, a.Cache, testKey("good"), map[string][]byte{"bin": []byte("good")})
			a.Close(context.Background())
			tt.damage(t, reg, key)

			b := openMachine(t, reg.repo())
			if _, _, err := b.LookupContext(context.Background(), key); !errors.Is(err, ErrMiss) {
				t.Fatalf("LookupContext of the damaged entry = %v, want ErrMiss", err)
			}
			w := b.warnings()
			if len(w) != 1 || !strings.Contains(w[0], "ignoring the entry for action "+key.String()) || !strings.Contains(w[0], tt.want) {
				t.Errorf("warnings %q, want one about the entry saying %q", w, tt.want)
			}
			if _, err := b.Cache.lookupLocal(key); !errors.Is(err, ErrMiss) {
				t.Errorf("the damaged entry reached the local cache: %v", err)
			}
			if _, src, err := b.LookupContext(context.Background(), testKey("good")); err != nil || src != Remote {
				t.Errorf("another entry after the damaged one: %v, %v; want a remote hit", src, err)
			}
			if s := b.Stats(); s.Damaged != 1 || s.Disabled != "" {
				t.Errorf("%+v, want one damaged entry and the tier still on", s)
			}

			// B runs the action and uploads it; only a lost or corrupt blob can stay
			// damaged, as the registry says it has it.
			mustPut(t, b.Cache, key, outputs)
			b.Close(context.Background())
			reg.mu.Lock()
			clear(reg.corrupt)
			clear(reg.missing)
			reg.mu.Unlock()
			c := openMachine(t, reg.repo())
			got, err := c.Get(key)
			if err != nil {
				t.Fatalf("after B's upload: %v", err)
			}
			if diff := cmp.Diff(asStrings(outputs), asStrings(got)); diff != "" {
				t.Errorf("after B's upload (-want +got):\n%s", diff)
			}
		})
	}
}

// putManifest writes a manifest under key's tag, as another writer might.
func putManifest(t *testing.T, reg *faultyRegistry, key Key, m []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, "http://"+reg.host+"/v2/team/cache/manifests/"+TagPrefix+key.String(), bytes.NewReader(m))
	req.Header.Set("Content-Type", manifestMediaType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("writing a manifest: %s", resp.Status)
	}
}

// TestRemoteFaults checks that a failing, slow or stopped registry costs about the
// budget at most, is reported once, turns the tier off, and never fails a lookup or a
// Put.
func TestRemoteFaults(t *testing.T) {
	const budget = 300 * time.Millisecond
	tests := []struct {
		name string
		// fault breaks the registry after machine A's upload of a first entry.
		fault func(reg *faultyRegistry)
		want  string
	}{
		{"500s", func(reg *faultyRegistry) { reg.fail.Store(http.StatusInternalServerError) }, "HTTP 500"},
		{"refused credentials", func(reg *faultyRegistry) { reg.fail.Store(http.StatusUnauthorized) }, "check the credentials"},
		{"a registry that does not answer", func(reg *faultyRegistry) { reg.delay.Store(int64(time.Minute)) }, "no answer within"},
		{"a registry stopped mid-way", func(reg *faultyRegistry) {
			reg.srv.CloseClientConnections()
			reg.srv.Listener.Close()
		}, "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := newFaultyRegistry(t)
			a := openMachine(t, reg.repo(), WithBudget(budget))
			first := testKey("first")
			mustPut(t, a.Cache, first, map[string][]byte{"bin": []byte("first")})
			a.Close(context.Background())

			b := openMachine(t, reg.repo(), WithBudget(budget))
			if _, src, err := b.LookupContext(context.Background(), first); err != nil || src != Remote {
				t.Fatalf("before the fault: %v, %v; want a remote hit", src, err)
			}
			tt.fault(reg)
			start := time.Now()
			var wg sync.WaitGroup
			for i := range 20 {
				wg.Go(func() {
					key := testKey("after " + string(rune('a'+i)))
					if _, _, err := b.LookupContext(context.Background(), key); !errors.Is(err, ErrMiss) {
						t.Errorf("lookup %d: %v, want ErrMiss", i, err)
					}
					if err := b.Put(key, map[string][]byte{"bin": {byte(i)}}); err != nil {
						t.Errorf("Put %d: %v", i, err)
					}
				})
			}
			wg.Wait()
			b.Close(context.Background())
			// The bound is the budget and one request's allowance; the margin is for a
			// busy machine.
			if d := time.Since(start); d > 10*budget+allowance {
				t.Errorf("the faulty registry cost %v, want about %v at most", d, budget+allowance)
			}
			w := b.warnings()
			if len(w) != 1 || !strings.Contains(w[0], "building without it") || !strings.Contains(w[0], tt.want) {
				t.Errorf("warnings %q, want one saying %q", w, tt.want)
			}
			if s := b.Stats(); s.Disabled == "" || s.Uploads != 0 {
				t.Errorf("%+v, want the tier off and nothing uploaded", s)
			}
			// Every Put still reached the local cache.
			for i := range 20 {
				if _, err := b.Cache.lookupLocal(testKey("after " + string(rune('a'+i)))); err != nil {
					t.Errorf("entry %d: %v", i, err)
				}
			}
		})
	}
}

// TestRemoteSlowAnswers checks the budget against a registry that answers every
// request, but each later than allowed: the time beyond the allowance adds up until
// the tier is turned off.
func TestRemoteSlowAnswers(t *testing.T) {
	const budget = 300 * time.Millisecond
	reg := newFaultyRegistry(t)
	reg.delay.Store(int64(allowance + 50*time.Millisecond))
	m := openMachine(t, reg.repo(), WithBudget(budget))
	for i := range 10 {
		m.LookupContext(context.Background(), testKey("slow "+string(rune('a'+i))))
	}
	// Each request costs 50ms of the budget of 300ms: a few lookups reach the registry,
	// and then none.
	if reqs, _ := reg.counts(); reqs["GET manifests"] >= 10 {
		t.Errorf("%d of 10 lookups reached the registry; the budget should have turned the tier off after a few", reqs["GET manifests"])
	}
	s := m.Stats()
	if !strings.Contains(s.Disabled, "more than allowed") && !strings.Contains(s.Disabled, "no answer within") {
		t.Errorf("%+v, want the tier off for slow answers", s)
	}
	if len(m.warnings()) != 1 {
		t.Errorf("warnings %q, want one", m.warnings())
	}
}

func TestRemoteReadOnly(t *testing.T) {
	reg := newFaultyRegistry(t)
	a := openMachine(t, reg.repo())
	mustPut(t, a.Cache, testKey("built by A"), map[string][]byte{"bin": []byte("A")})
	a.Close(context.Background())
	before, _ := reg.counts()

	b := openMachine(t, reg.repo(), WithWrite(false))
	mustPut(t, b.Cache, testKey("built by B"), map[string][]byte{"bin": []byte("B")})
	if _, src, err := b.LookupContext(context.Background(), testKey("built by A")); err != nil || src != Remote {
		t.Errorf("read-only lookup: %v, %v; want a remote hit", src, err)
	}
	b.Close(context.Background())
	after, _ := reg.counts()
	for _, k := range []string{"POST uploads", "PUT uploads", "PUT manifests", "HEAD blobs"} {
		if after[k] != before[k] {
			t.Errorf("a read-only machine sent %d %s requests", after[k]-before[k], k)
		}
	}
}

// TestRemoteRefusedWrites checks that a registry that serves reads but refuses writes
// turns uploads off and leaves lookups on.
func TestRemoteRefusedWrites(t *testing.T) {
	reg := newFaultyRegistry(t)
	a := openMachine(t, reg.repo())
	mustPut(t, a.Cache, testKey("built by A"), map[string][]byte{"bin": []byte("A")})
	a.Close(context.Background())

	reg.failWrites.Store(http.StatusForbidden)
	b := openMachine(t, reg.repo())
	mustPut(t, b.Cache, testKey("built by B"), map[string][]byte{"bin": []byte("B")})
	b.remote.uploads.Wait()
	if _, src, err := b.LookupContext(context.Background(), testKey("built by A")); err != nil || src != Remote {
		t.Errorf("lookup after a refused upload: %v, %v; want a remote hit", src, err)
	}
	w := b.warnings()
	if len(w) != 1 || !strings.Contains(w[0], "uploads refused") {
		t.Errorf("warnings %q, want one saying uploads were refused", w)
	}
}

// TestRemoteAbandon checks that Close with an ended context abandons the uploads under
// way, says so, and returns at once.
func TestRemoteAbandon(t *testing.T) {
	reg := newFaultyRegistry(t)
	reg.delay.Store(int64(time.Minute))
	m := openMachine(t, reg.repo(), WithBudget(time.Minute))
	for i := range 3 {
		mustPut(t, m.Cache, testKey("upload "+string(rune('a'+i))), map[string][]byte{"bin": {byte(i)}})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	m.Close(ctx)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Close took %v with an ended context", d)
	}
	s := m.Stats()
	if s.Abandoned != 3 || s.Uploads != 0 {
		t.Errorf("%+v, want 3 uploads abandoned", s)
	}
	w := m.warnings()
	if len(w) != 1 || !strings.Contains(w[0], "3 uploads abandoned") {
		t.Errorf("warnings %q, want one saying 3 uploads were abandoned", w)
	}
	mustPut(t, m.Cache, testKey("after Close"), map[string][]byte{"bin": []byte("x")})
	if s := m.Stats(); s.Abandoned != 3 {
		t.Errorf("a Put after Close started an upload: %+v", s)
	}
}

// TestRemoteTwoWriters checks that two machines uploading the same key at once leave
// an entry that passes every check, whichever wins.
func TestRemoteTwoWriters(t *testing.T) {
	reg := newFaultyRegistry(t)
	key := testKey("raced")
	versions := []map[string][]byte{
		{"bin": bytes.Repeat([]byte("1"), 50_000), "steps.json": []byte("one")},
		{"bin": bytes.Repeat([]byte("2"), 60_000), "steps.json": []byte("two")},
	}
	for range 5 {
		var wg sync.WaitGroup
		for _, v := range versions {
			wg.Go(func() {
				m := openMachine(t, reg.repo())
				mustPut(t, m.Cache, key, v)
				m.Close(context.Background())
			})
		}
		wg.Wait()
		c := openMachine(t, reg.repo())
		got, err := c.Get(key)
		if err != nil {
			t.Fatalf("after two writers: %v", err)
		}
		if !cmp.Equal(asStrings(got), asStrings(versions[0])) && !cmp.Equal(asStrings(got), asStrings(versions[1])) {
			t.Fatalf("after two writers, an entry that is neither: %q", got["steps.json"])
		}
	}
}

// TestRemotePlainHTTP checks that the plain-HTTP rule of push applies: a loopback
// registry is reached over plain HTTP unless that is turned off.
func TestRemotePlainHTTP(t *testing.T) {
	reg := newFaultyRegistry(t)
	m := openMachine(t, reg.repo(), WithInsecure(false))
	m.LookupContext(context.Background(), testKey("x"))
	if w := m.warnings(); len(w) != 1 || !strings.Contains(w[0], "plain HTTP") {
		t.Errorf("warnings %q, want one saying plain HTTP is not allowed", w)
	}
}

func TestParseRemote(t *testing.T) {
	tests := []struct {
		repo    string
		wantErr string
	}{
		{"registry.example.com/team/cache", ""},
		{"127.0.0.1:5000/cache", ""},
		{"localhost/cache", ""},
		{"registry.example.com/team/cache/", ""},
		{"", "no repository given"},
		{"team/cache", "want <registry>/<repository>"},
		{"registry.example.com", "want <registry>/<repository>"},
		{"registry.example.com/Team", "repository can only contain"},
		{"http://127.0.0.1:5000/cache", "without http://, such as 127.0.0.1:5000/cache"},
		{"https://registry.example.com/team/cache", "without https://"},
	}
	for _, tt := range tests {
		_, err := ParseRemote(tt.repo)
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("ParseRemote(%q) = %v, want error containing %q", tt.repo, err, tt.wantErr)
		}
	}
}

func TestRemoteFromEnv(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		manifest string
		want     RemoteConfig
		wantErr  string
	}{
		{"none", nil, "", RemoteConfig{Write: true}, ""},
		{"the manifest's", nil, "registry.example.com/m", RemoteConfig{Repo: "registry.example.com/m", Write: true}, ""},
		{"the environment wins", map[string]string{"MINIMAL_REMOTE_CACHE": "127.0.0.1:5000/e"}, "registry.example.com/m", RemoteConfig{Repo: "127.0.0.1:5000/e", Write: true}, ""},
		{"read-only", map[string]string{"MINIMAL_REMOTE_CACHE_WRITE": "false"}, "registry.example.com/m", RemoteConfig{Repo: "registry.example.com/m"}, ""},
		{"a bad repository", map[string]string{"MINIMAL_REMOTE_CACHE": "cache"}, "", RemoteConfig{}, "MINIMAL_REMOTE_CACHE: "},
		{"a bad switch", map[string]string{"MINIMAL_REMOTE_CACHE_WRITE": "no way"}, "", RemoteConfig{}, `MINIMAL_REMOTE_CACHE_WRITE="no way": want true or false`},
	}
	for _, tt := range tests {
		got, err := RemoteFromEnv(func(k string) string { return tt.env[k] }, tt.manifest)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
}

// TestRemoteTwoLevelKey follows the way a C compile is keyed, as ccache's direct mode
// does (DiscoveredKey): the key of the declared inputs names a record of the headers
// the sources included last time, and the compile key adds the content of those
// headers. Machine B, with its own checkout and an empty cache, finds both levels in
// the remote tier, so it needs no preprocessor to learn the headers, and runs nothing.
func TestRemoteTwoLevelKey(t *testing.T) {
	reg := newFaultyRegistry(t)
	checkout := func(header string) func(string) string {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "greeting.h"), []byte(header), 0o644); err != nil {
			t.Fatal(err)
		}
		return func(name string) string { return filepath.Join(dir, name) }
	}
	inputs := testKey("compile hello-c linux/amd64: main.c")

	// Machine A builds: the preprocessor reports greeting.h.
	a := openMachine(t, reg.repo())
	hostA := checkout(`#define GREETING "hi"`)
	if _, _, ok, err := a.DiscoveredKey(inputs, hostA); ok || err != nil {
		t.Fatalf("machine A, empty cache: DiscoveredKey = %v, %v; want no record", ok, err)
	}
	keyA, err := a.RecordDiscovered(inputs, []string{"greeting.h"}, hostA)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, a.Cache, keyA, map[string][]byte{"bin": []byte("ELF built with hi")})
	a.Close(context.Background())

	// Machine B, same sources: both levels come from the remote tier.
	b := openMachine(t, reg.repo())
	keyB, names, ok, err := b.DiscoveredKey(inputs, checkout(`#define GREETING "hi"`))
	if err != nil || !ok || keyB != keyA || len(names) != 1 {
		t.Fatalf("machine B: DiscoveredKey = %v, %q, %v, %v; want machine A's key", keyB, names, ok, err)
	}
	if _, src, err := b.LookupContext(context.Background(), keyB); err != nil || src != Remote {
		t.Fatalf("machine B's compile: %v, %v; want a remote hit", src, err)
	}
	if s := b.Stats(); s.RemoteHits != 2 || s.Puts != 0 {
		t.Errorf("machine B: %+v, want two remote hits and nothing run", s)
	}

	// Machine C changed the header: the record still comes from the remote tier, and
	// the compile key differs, so C builds.
	c := openMachine(t, reg.repo())
	keyC, _, ok, err := c.DiscoveredKey(inputs, checkout(`#define GREETING "hello"`))
	if err != nil || !ok || keyC == keyA {
		t.Fatalf("machine C: DiscoveredKey = %v, %v; want a key that differs from machine A's", ok, err)
	}
	if _, _, err := c.LookupContext(context.Background(), keyC); !errors.Is(err, ErrMiss) {
		t.Errorf("machine C's compile with a changed header: %v, want ErrMiss", err)
	}
}

// TestRemoteRemember checks that what a run saw stays on its machine: Remember uploads
// nothing, and Recall on another machine finds nothing.
func TestRemoteRemember(t *testing.T) {
	reg := newFaultyRegistry(t)
	a := openMachine(t, reg.repo())
	if err := a.Remember("compile hello linux/amd64", []Seen{{Name: "GOAMD64", Value: "v1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Recall("compile hello linux/amd64"); err != nil {
		t.Errorf("Recall on the same machine: %v", err)
	}
	a.Close(context.Background())
	if s := a.Stats(); s.Uploads != 0 {
		t.Errorf("Remember uploaded: %+v", s)
	}
	b := openMachine(t, reg.repo())
	if _, err := b.Recall("compile hello linux/amd64"); !errors.Is(err, ErrMiss) {
		t.Errorf("Recall on another machine: %v, want ErrMiss", err)
	}
	if reqs, _ := reg.counts(); reqs["GET manifests"] != 0 || reqs["PUT manifests"] != 0 {
		t.Errorf("Remember and Recall reached the registry: %v", reqs)
	}
}
