package publish_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/minimalbuild/minimal/magefiles/internal/oci"
	"github.com/minimalbuild/minimal/magefiles/internal/publish"
)

// fast makes retries quick, so that tests of failures do not wait.
var fast = publish.WithRetry(3, time.Millisecond)

func newRegistry(t testing.TB, repo string, opts ...publish.RegistryOption) publish.Interface {
	t.Helper()
	p, err := publish.Registry(repo, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// platformIndex builds app's index with one image per version: the first
// for linux/amd64, the second for linux/386.
func platformIndex(t testing.TB, app string, versions ...string) v1.ImageIndex {
	t.Helper()
	var imgs []v1.Image
	for i, p := range []v1.Platform{amd64, i386}[:len(versions)] {
		bin, err := oci.BinaryLayer(app, []byte("ELF "+app+" "+versions[i]+" "+p.Architecture), created)
		if err != nil {
			t.Fatal(err)
		}
		img, err := oci.Image(oci.Config{Platform: p, Entrypoint: []string{"/ko-app/" + app}, Created: created}, bin)
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	idx, err := oci.Index(imgs, nil)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// checkPushed checks that each of tags of repo points at idx, which is
// complete in the registry: every manifest, config and layer is there and
// matches its digest.
func checkPushed(t *testing.T, repo string, idx v1.ImageIndex, tags []string, opts ...remote.Option) {
	t.Helper()
	want := digestOf(t, idx)
	for _, tag := range tags {
		ref := repo + ":" + tag
		if got, ok := headDigest(t, ref, opts...); !ok || got != want {
			t.Errorf("%s points at %v (present %v), want %s", ref, got, ok, want)
			continue
		}
		pulled := pullIndex(t, ref, opts...)
		if err := validate.Index(pulled); err != nil {
			t.Errorf("%s: validate.Index: %v", ref, err)
		}
		checkOCITypes(t, pulled)
	}
}

func TestRegistryPush(t *testing.T) {
	host, c := startRegistry(t, nil)
	p := newRegistry(t, host+"/team/", fast)
	tests := []struct {
		name     string
		app      string
		tags     []string
		wantTags []string
	}{
		{"no tags means latest", "hello", nil, []string{"latest"}},
		{"each tag once, in order", "web", []string{"v1", "latest", "v1"}, []string{"v1", "latest"}},
		{"a second app in the same repo", "proxy", []string{"edge"}, []string{"edge"}},
	}
	// pushedBlobs are the blobs pushed so far.
	var pushedBlobs []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idx := appIndex(t, tt.app, "v1")
			c.take()
			rs, err := p.Publish(context.Background(), tt.app, idx, tt.tags)
			if err != nil {
				t.Fatal(err)
			}
			d := digestOf(t, idx)
			var want []publish.Result
			for _, tag := range tt.wantTags {
				want = append(want, publish.Result{Ref: host + "/team/" + tt.app + ":" + tag + "@" + d.String(), Digest: d})
			}
			if diff := cmp.Diff(want, rs); diff != "" {
				t.Errorf("results (-want +got):\n%s", diff)
			}
			got := c.take()
			// The shared data layer was pushed with the first app: the
			// registry's blobs are shared by its repositories.
			if diff := cmp.Diff(without(blobsOf(t, idx), pushedBlobs), got.Committed); diff != "" {
				t.Errorf("blobs uploaded (-want +got):\n%s", diff)
			}
			pushedBlobs = append(pushedBlobs, blobsOf(t, idx)...)
			var wantManifests []string
			for _, m := range manifestsOf(t, idx) {
				wantManifests = append(wantManifests, m.String())
			}
			wantManifests = append(append(wantManifests, d.String()), tt.wantTags...)
			slices.Sort(wantManifests)
			if diff := cmp.Diff(wantManifests, got.Manifests); diff != "" {
				t.Errorf("manifests put (-want +got):\n%s", diff)
			}
			checkPushed(t, host+"/team/"+tt.app, idx, tt.wantTags)
		})
	}
}

func TestRegistryRepush(t *testing.T) {
	v1idx := platformIndex(t, "hello", "v1", "v1")
	tests := []struct {
		name string
		// The second push: by a new publisher or the same, of idx with tags.
		newPublisher bool
		idx          v1.ImageIndex
		tags         []string
	}{
		{"unchanged, same publisher: nothing written", false, v1idx, []string{"latest"}},
		{"unchanged, new publisher (a new run): nothing written", true, v1idx, []string{"latest"}},
		{"a new tag: only the tag written", true, v1idx, []string{"latest", "stable"}},
		{"one platform changed: only its blobs and manifest, the index and the tag", true, platformIndex(t, "hello", "v1", "v2"), []string{"latest"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host, c := startRegistry(t, nil)
			p := newRegistry(t, host, fast)
			if _, err := p.Publish(context.Background(), "hello", v1idx, []string{"latest"}); err != nil {
				t.Fatal(err)
			}
			c.take()
			if tt.newPublisher {
				p = newRegistry(t, host, fast)
			}
			if _, err := p.Publish(context.Background(), "hello", tt.idx, tt.tags); err != nil {
				t.Fatal(err)
			}
			got := c.take()
			wantBlobs := without(blobsOf(t, tt.idx), blobsOf(t, v1idx))
			if diff := cmp.Diff(wantBlobs, got.Committed); diff != "" {
				t.Errorf("blobs uploaded (-want +got):\n%s", diff)
			}
			if len(wantBlobs) == 0 && got.Uploads != 0 {
				t.Errorf("%d blob upload requests, want none", got.Uploads)
			}
			var wantManifests []string
			if d := digestOf(t, tt.idx); d != digestOf(t, v1idx) {
				wantManifests = append(wantManifests, d.String())
				var old []string
				for _, m := range manifestsOf(t, v1idx) {
					old = append(old, m.String())
				}
				for _, m := range manifestsOf(t, tt.idx) {
					wantManifests = append(wantManifests, without([]string{m.String()}, old)...)
				}
				wantManifests = append(wantManifests, tt.tags...)
			} else {
				wantManifests = without(tt.tags, []string{"latest"})
			}
			slices.Sort(wantManifests)
			if diff := cmp.Diff(wantManifests, got.Manifests); diff != "" {
				t.Errorf("manifests put (-want +got):\n%s", diff)
			}
			t.Logf("second push: %d requests", got.Requests)
			checkPushed(t, host+"/hello", tt.idx, tt.tags)
		})
	}
}

// TestRegistryFaults pushes through a registry that fails about half of all
// distinct requests one or more times, with 500s, 503s, 429s and dropped
// and reset connections; retries must still complete every push.
func TestRegistryFaults(t *testing.T) {
	seen := map[fault]int{}
	for seed := uint64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			f := newFaults(shareOfFaults(seed, 0.5, 2))
			host, c := startRegistry(t, f.wrap)
			// Each distinct request fails at most twice, so three tries
			// of each step always get through.
			p := newRegistry(t, host+"/team", publish.WithRetry(3, time.Millisecond), publish.WithJobs(3))
			apps := []string{"hello", "web"}
			idxs := make([]v1.ImageIndex, len(apps))
			errs := make([]error, len(apps))
			var wg sync.WaitGroup
			for i, app := range apps {
				idxs[i] = appIndex(t, app, "v1")
				wg.Go(func() {
					_, errs[i] = p.Publish(context.Background(), app, idxs[i], []string{"v1", "latest"})
				})
			}
			wg.Wait()
			f.enable(false)
			for i, app := range apps {
				if errs[i] != nil {
					t.Errorf("pushing %s: %v", app, errs[i])
					continue
				}
				checkPushed(t, host+"/team/"+app, idxs[i], []string{"v1", "latest"})
			}
			injected := f.count()
			requests := c.take().Requests
			t.Logf("%d requests, faults %v", requests, injected)
			if faulted := requests - injected[pass]; faulted*10 < requests {
				t.Errorf("%d of %d requests failed; want at least a tenth", faulted, requests)
			}
			for k, n := range injected {
				seen[k] += n
			}
		})
	}
	for k := pass + 1; k < numFaults; k++ {
		if seen[k] == 0 {
			t.Errorf("no request got fault %v with any seed", k)
		}
	}
}

// TestRegistryFailedPush makes one step of a push fail for good, and
// checks that the push fails with an error that says so, and that the tag
// is left where it was: absent, or at the earlier, complete index.
func TestRegistryFailedPush(t *testing.T) {
	old := platformIndex(t, "hello", "v1", "v1")
	idx := platformIndex(t, "hello", "v2", "v2")
	second := manifestsOf(t, idx)[1]
	img, err := idx.Image(second)
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	binary := m.Layers[len(m.Layers)-1].Digest.String()
	putTo := func(target string) func(*http.Request) bool {
		return func(r *http.Request) bool {
			return r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/manifests/"+target)
		}
	}
	tests := []struct {
		name    string
		match   func(*http.Request) bool
		fault   fault
		wantErr []string
	}{
		{"the second platform's manifest always gets 500", putTo(second.String()), status500,
			[]string{"kept failing, 3 attempts", "injected fault"}},
		{"the connection always drops at the second platform's binary layer",
			func(r *http.Request) bool { return r.URL.Query().Get("digest") == binary }, reset,
			[]string{"connection to registry", "kept breaking, 3 attempts"}},
		{"the index always gets 503", putTo(digestOf(t, idx).String()), status503,
			[]string{"kept failing, 3 attempts", "503"}},
		{"the tag is always refused as too many requests", putTo("latest"), status429,
			[]string{"too many, 3 attempts", "tagging latest"}},
	}
	for _, tt := range tests {
		for _, earlier := range []bool{false, true} {
			name := tt.name + ", first push"
			if earlier {
				name = tt.name + ", over an earlier push"
			}
			t.Run(name, func(t *testing.T) {
				f := newFaults(func(r *http.Request, _ int) fault {
					if tt.match(r) {
						return tt.fault
					}
					return pass
				})
				host, _ := startRegistry(t, f.wrap)
				p := newRegistry(t, host+"/team", fast)
				if earlier {
					f.enable(false)
					if _, err := p.Publish(context.Background(), "hello", old, nil); err != nil {
						t.Fatal(err)
					}
					f.enable(true)
				}
				_, err := p.Publish(context.Background(), "hello", idx, nil)
				if err == nil {
					t.Fatal("push succeeded, want an error")
				}
				t.Log(err)
				for _, w := range append(tt.wantErr, "pushing hello to "+host+"/team/hello") {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				if f.count()[tt.fault] == 0 {
					t.Errorf("the fault was never injected")
				}
				f.enable(false)
				if earlier {
					checkPushed(t, host+"/team/hello", old, []string{"latest"})
				} else if d, ok := headDigest(t, host+"/team/hello:latest"); ok {
					t.Errorf("the tag points at %s after a failed push", d)
				}
			})
		}
	}
}

func TestRegistryAuth(t *testing.T) {
	const user, password = "alice", "pa55-word-that-must-not-leak"
	basicSecret := "YWxpY2U6cGE1NS13b3JkLXRoYXQtbXVzdC1ub3QtbGVhaw==" // base64 of user:password
	echo := func(next http.Handler) http.Handler {
		// A registry (or a proxy) that puts the credentials it got in
		// its error.
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, p, _ := r.BasicAuth()
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
				writeRegistryError(w, http.StatusForbidden, "DENIED", "no push for "+r.Header.Get("Authorization")+" ("+p+")")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	tests := []struct {
		name    string
		wrap    func(http.Handler) http.Handler
		creds   *authn.AuthConfig
		wantErr []string // empty: the push succeeds
	}{
		{"basic auth, credentials in the keychain", func(h http.Handler) http.Handler { return &basicAuth{next: h, user: user, password: password} },
			&authn.AuthConfig{Username: user, Password: password}, nil},
		{"basic auth, no credentials", func(h http.Handler) http.Handler { return &basicAuth{next: h, user: user, password: password} },
			nil, []string{"requires credentials, and none were found for it", "docker login"}},
		{"basic auth, wrong password", func(h http.Handler) http.Handler { return &basicAuth{next: h, user: user, password: password + "x"} },
			&authn.AuthConfig{Username: user, Password: password}, []string{"refused the credentials found for it", "docker login"}},
		{"basic auth, read-only account", func(h http.Handler) http.Handler {
			return &basicAuth{next: h, user: user, password: password, readOnly: true}
		}, &authn.AuthConfig{Username: user, Password: password}, []string{"denied pushing to team/hello with the credentials found for it"}},
		{"token service, credentials in the keychain", func(h http.Handler) http.Handler { return &bearerAuth{next: h, user: user, password: password} },
			&authn.AuthConfig{Username: user, Password: password}, nil},
		{"token service, no credentials", func(h http.Handler) http.Handler { return &bearerAuth{next: h, user: user, password: password} },
			nil, []string{"requires credentials, and none were found for it"}},
		{"token service, wrong password", func(h http.Handler) http.Handler { return &bearerAuth{next: h, user: user, password: "other"} },
			&authn.AuthConfig{Username: user, Password: password}, []string{"refused the credentials found for it"}},
		{"the registry echoes the credentials in its error", func(h http.Handler) http.Handler { return &basicAuth{next: echo(h), user: user, password: password} },
			&authn.AuthConfig{Username: user, Password: password}, []string{"denied pushing", "<redacted>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host, _ := startRegistry(t, tt.wrap)
			kc := keychain{host: host}
			if tt.creds != nil {
				kc.cfg = *tt.creds
			}
			p := newRegistry(t, host+"/team", fast, publish.WithKeychain(kc))
			idx := platformIndex(t, "hello", "v1", "v1")
			_, err := p.Publish(context.Background(), "hello", idx, nil)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				checkPushed(t, host+"/team/hello", idx, []string{"latest"}, remote.WithAuthFromKeychain(kc))
				return
			}
			if err == nil {
				t.Fatal("push succeeded, want an error")
			}
			t.Log(err)
			for _, w := range append(tt.wantErr, "registry "+host) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			for e := error(err); e != nil; e = errors.Unwrap(e) {
				for _, secret := range []string{password, basicSecret} {
					if strings.Contains(e.Error(), secret) {
						t.Errorf("error %T in the chain holds a credential: %q", e, e)
					}
				}
			}
		})
	}
}

func TestRegistryErrors(t *testing.T) {
	closed := func(t *testing.T) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return addr
	}
	tlsServer := func(t *testing.T) string {
		srv := httptest.NewUnstartedServer(http.NotFoundHandler())
		srv.Config.ErrorLog = log.New(io.Discard, "", 0)
		srv.StartTLS()
		t.Cleanup(srv.Close)
		return strings.TrimPrefix(srv.URL, "https://")
	}
	plain := func(t *testing.T) string {
		host, _ := startRegistry(t, nil)
		return host
	}
	refusing := func(status int, code string) func(t *testing.T) string {
		return func(t *testing.T) string {
			host, _ := startRegistry(t, func(h http.Handler) http.Handler {
				return &refuse{next: h, status: status, code: code, message: "refused by test", match: func(r *http.Request) bool {
					return r.Method == http.MethodPost || r.Method == http.MethodPut
				}}
			})
			return host
		}
	}
	tests := []struct {
		name    string
		host    func(t *testing.T) string
		opts    []publish.RegistryOption
		wantErr []string
	}{
		{"nothing listens on the port", closed, nil,
			[]string{"cannot connect to registry", "check that the registry is running"}},
		{"a certificate this machine does not trust", tlsServer, nil,
			[]string{"TLS certificate of registry", "not signed by an authority this machine trusts"}},
		{"plain HTTP when it is not allowed", plain, []publish.RegistryOption{publish.WithInsecure(false)},
			[]string{"speaks plain HTTP, not HTTPS, and plain HTTP was turned off", "serve the registry over HTTPS"}},
		{"a repository name the registry rejects", refusing(http.StatusBadRequest, "NAME_INVALID"), nil,
			[]string{"rejected the repository name team/hello", "NAME_INVALID"}},
		{"a registry that does not create repositories", refusing(http.StatusNotFound, "NAME_UNKNOWN"), nil,
			[]string{"repository team/hello does not exist on registry", "create it first"}},
		{"a registry that answers 404 to writes", refusing(http.StatusNotFound, ""), nil,
			[]string{"has no place to write repository team/hello", "create it first"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host := tt.host(t)
			p := newRegistry(t, host+"/team", append([]publish.RegistryOption{fast}, tt.opts...)...)
			_, err := p.Publish(context.Background(), "hello", platformIndex(t, "hello", "v1"), nil)
			if err == nil {
				t.Fatal("push succeeded, want an error")
			}
			t.Log(err)
			for _, w := range append(tt.wantErr, host, "pushing hello to "+host+"/team/hello: ") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestRegistryCancelled(t *testing.T) {
	host, _ := startRegistry(t, nil)
	p := newRegistry(t, host, fast)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := p.Publish(ctx, "hello", platformIndex(t, "hello", "v1"), nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	t.Log(err)
	if _, ok := headDigest(t, host+"/hello:latest"); ok {
		t.Error("a cancelled push wrote the tag")
	}
}

// TestRegistryJobs pushes several apps at once and checks that no more
// requests than the jobs bound are ever in flight.
func TestRegistryJobs(t *testing.T) {
	for _, jobs := range []int{1, 3} {
		t.Run(fmt.Sprint(jobs, " jobs"), func(t *testing.T) {
			host, _ := startRegistry(t, nil)
			tr := &inFlight{inner: remote.DefaultTransport}
			p := newRegistry(t, host, fast, publish.WithJobs(jobs), publish.WithTransport(tr))
			apps := []string{"a", "b", "c", "d", "e", "f"}
			errs := make([]error, len(apps))
			var wg sync.WaitGroup
			for i, app := range apps {
				wg.Go(func() {
					_, errs[i] = p.Publish(context.Background(), app, appIndex(t, app, "v1"), nil)
				})
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			if tr.max > jobs {
				t.Errorf("%d requests in flight at once, want at most %d", tr.max, jobs)
			}
		})
	}
}

func TestRegistryProgress(t *testing.T) {
	host, _ := startRegistry(t, nil)
	type update struct{ complete, total int64 }
	var mu sync.Mutex
	got := map[string][]update{}
	p := newRegistry(t, host, fast, publish.WithProgress(func(app string, complete, total int64) {
		mu.Lock()
		got[app] = append(got[app], update{complete, total})
		mu.Unlock()
	}))
	idx := platformIndex(t, "hello", "v1", "v1")
	if _, err := p.Publish(context.Background(), "hello", idx, nil); err != nil {
		t.Fatal(err)
	}
	us := got["hello"]
	if len(us) == 0 {
		t.Fatal("no progress reported")
	}
	var size int64
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range im.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		size += m.Config.Size
		for _, l := range m.Layers {
			size += l.Size
		}
	}
	last := us[len(us)-1]
	if last.complete != last.total || last.total < size {
		t.Errorf("last progress %d of %d, want all of at least the %d bytes of blobs", last.complete, last.total, size)
	}
	for i := 1; i < len(us); i++ {
		if us[i].complete < us[i-1].complete {
			t.Errorf("progress went back from %d to %d", us[i-1].complete, us[i].complete)
		}
	}
}

func TestRegistryRefuses(t *testing.T) {
	tests := []struct {
		name    string
		repo    string
		opts    []publish.RegistryOption
		wantErr string
	}{
		{"no repository", "", nil, "no repository to push to"},
		{"upper case in the repository", "registry.example.com/Team", nil, "invalid repository"},
		{"a path component the OCI spec does not allow", "registry.example.com/te..am", nil, `"te..am" is not a valid repository path component`},
		{"a path component ending in a separator", "registry.example.com/team-/x", nil, `"team-" is not a valid repository path component`},
		{"no jobs", "registry.example.com/team", []publish.RegistryOption{publish.WithJobs(0)}, "jobs must be at least 1"},
		{"no attempts", "registry.example.com/team", []publish.RegistryOption{publish.WithRetry(0, time.Second)}, "retry attempts must be at least 1"},
		{"negative backoff", "registry.example.com/team", []publish.RegistryOption{publish.WithRetry(3, -time.Second)}, "must not be negative"},
		{"nil keychain", "registry.example.com/team", []publish.RegistryOption{publish.WithKeychain(nil)}, "nil keychain"},
		{"nil transport", "registry.example.com/team", []publish.RegistryOption{publish.WithTransport(nil)}, "nil transport"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := publish.Registry(tt.repo, tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want one that says %q", err, tt.wantErr)
			}
		})
	}

	host, c := startRegistry(t, nil)
	p := newRegistry(t, host, fast)
	idx := platformIndex(t, "hello", "v1")
	for _, tc := range []struct {
		name, app string
		tags      []string
		wantErr   string
	}{
		{"an app name that is not one", "Hello", nil, "invalid app name"},
		{"an app name registries do not take as a repository", "hello-", nil, `invalid app name "hello-"`},
		{"a tag that is not one", "hello", []string{"v1", "no/slashes"}, `invalid tag "no/slashes"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Publish(context.Background(), tc.app, idx, tc.tags)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %v, want one that says %q", err, tc.wantErr)
			}
			if n := c.take().Requests; n != 0 {
				t.Errorf("%d requests sent before the error, want none", n)
			}
		})
	}
}

func TestRepo(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		manifest string
		want     string
	}{
		{"KO_DOCKER_REPO first", map[string]string{"KO_DOCKER_REPO": "ko.example/a", "MINIMAL_REPO": "min.example/b"}, "file.example/c", "ko.example/a"},
		{"then MINIMAL_REPO", map[string]string{"MINIMAL_REPO": "min.example/b"}, "file.example/c", "min.example/b"},
		{"then minimal.yaml", map[string]string{"KO_DOCKER_REPO": " "}, "file.example/c", "file.example/c"},
		{"nowhere is an error", nil, "", ""},
		{"ko's docker daemon is not a registry", map[string]string{"KO_DOCKER_REPO": "ko.local"}, "file.example/c", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := publish.Repo(func(k string) string { return tt.env[k] }, tt.manifest)
			if tt.want == "" {
				if err == nil || !strings.Contains(err.Error(), "KO_DOCKER_REPO") {
					t.Errorf("Repo = %q, %v; want an error naming the variables", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Repo = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
