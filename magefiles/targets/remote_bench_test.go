package targets_test

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minimalbuild/minimal/magefiles/internal/registrytest"
	"github.com/minimalbuild/minimal/magefiles/internal/toolchain"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// BenchmarkRemoteCache measures what a shared remote cache saves a fresh CI runner: the
// wall time of machine B's `go tool mage build` of a synthetic monorepo (synth.Generate,
// n = 10 and 100 apps) with a warm remote cache, against the same machine's cold build,
// in one run.
//
// Machine A builds the monorepo once, untimed, with its own empty caches and
// MINIMAL_REMOTE_CACHE set to a repository of Debian's docker-registry, reached through
// a proxy that counts the bytes of blob uploads. Then, b.N times and alternating which
// goes first, machine B builds a new copy of the monorepo with a new empty $GOCACHE and
// $MINIMAL_CACHE: once without the remote cache (cold), once with it, read-only and
// straight from the registry, so that every round finds the registry as A left it
// (remote). Both of B's builds share one $MAGEFILE_CACHE, warmed by A's build, so
// neither compiles the magefile: that cost is the same for both and is not what the
// remote cache saves. It also means that A and B run the same minimal executable, whose
// hash is part of every action key. zig is resolved once and handed to every build as
// $ZIG.
//
// Every build of B must write images with the same digests as A's. Reported: the
// median of each phase (cold-s, remote-s) and their ratio (x); the same for the time
// each build's summary line gives, from minimal's start to its end, without what
// `go tool mage` did before it (cold-build-s, remote-build-s, build-x); the blob bytes A
// uploaded (uploaded-B) and the bytes of A's cached outputs (outputs-B):
//
//	go test -run '^$' -bench 'BenchmarkRemoteCache/^n=100$' -benchtime 3x -timeout 3h ./magefiles/targets/
func BenchmarkRemoteCache(b *testing.B) {
	ctx := context.Background()
	root := repoRoot(b)
	need(b, "docker-registry")
	zig, err := toolchain.Zig(ctx, manifest.DefaultZig, toolchain.WithZigLog(io.Discard))
	if err != nil {
		b.Skipf("resolving zig %s (the C and assembly apps need it): %v", manifest.DefaultZig, err)
	}
	registry := registrytest.Start(b)
	proxy := newUploadCounter(b, registry)
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			b.StopTimer()
			repository := fmt.Sprintf("minimal-cache-%d", n)
			remote := proxy.host + "/" + repository // A uploads through the counting proxy
			direct := registry + "/" + repository   // B reads the registry itself
			mage := filepath.Join(b.TempDir(), "mage")
			build := func(repo string, c caches, env ...string) (time.Duration, []byte, error) {
				cmd := exec.CommandContext(ctx, "go", "tool", "mage", "build")
				cmd.Dir = repo
				cmd.Env = toolEnv(append([]string{
					"GOCACHE=" + c.gocache,
					"MINIMAL_CACHE=" + filepath.Join(c.tool, "minimal"),
					"MAGEFILE_CACHE=" + mage,
					"ZIG=" + zig.Path(),
				}, env...)...)
				start := time.Now()
				out, err := cmd.CombinedOutput()
				return time.Since(start), out, err
			}
			digests := func(repo string) []string {
				var ds []string
				for _, a := range readReport(b, repo).Apps {
					ds = append(ds, a.Name+"@"+a.Index)
				}
				slices.Sort(ds)
				return ds
			}

			// Machine A.
			repoA, cA := newMonorepo(b, root, b.TempDir(), n)
			proxy.uploaded.Store(0)
			if _, out, err := build(repoA, cA, "MINIMAL_REMOTE_CACHE="+remote); err != nil {
				b.Fatalf("machine A: %v\n%s", err, out)
			}
			uploaded := proxy.uploaded.Load()
			outputs := dirBytes(b, filepath.Join(cA.tool, "minimal", "actions", "blobs"))
			want := digests(repoA)

			// Machine B, cold and with the remote cache, alternately.
			var cold, warm, coldOwn, warmOwn []time.Duration
			for i := range b.N {
				for j := range 2 {
					withRemote := (i+j)%2 == 1
					dir, err := os.MkdirTemp(b.TempDir(), "b-")
					if err != nil {
						b.Fatal(err)
					}
					repo, c := newMonorepo(b, root, dir, n)
					var env []string
					if withRemote {
						env = []string{"MINIMAL_REMOTE_CACHE=" + direct, "MINIMAL_REMOTE_CACHE_WRITE=false"}
					}
					took, out, err := build(repo, c, env...)
					if err != nil {
						b.Fatalf("machine B (remote %v): %v\n%s", withRemote, err, out)
					}
					if got := digests(repo); !slices.Equal(got, want) {
						b.Fatalf("machine B (remote %v) built other images than machine A:\n%s\nwant\n%s", withRemote, strings.Join(got, "\n"), strings.Join(want, "\n"))
					}
					own := ownClock(b, out)
					if withRemote {
						warm, warmOwn = append(warm, took), append(warmOwn, own)
						b.Logf("machine B with the remote cache took %v:\n%s", took, tail(out, 6))
					} else {
						cold, coldOwn = append(cold, took), append(coldOwn, own)
					}
					if err := os.RemoveAll(dir); err != nil {
						b.Fatal(err)
					}
				}
			}
			mc, mw := median(cold), median(warm)
			b.ReportMetric(mc.Seconds(), "cold-s")
			b.ReportMetric(mw.Seconds(), "remote-s")
			b.ReportMetric(mc.Seconds()/mw.Seconds(), "x")
			oc, ow := median(coldOwn), median(warmOwn)
			b.ReportMetric(oc.Seconds(), "cold-build-s")
			b.ReportMetric(ow.Seconds(), "remote-build-s")
			b.ReportMetric(oc.Seconds()/ow.Seconds(), "build-x")
			b.ReportMetric(float64(uploaded), "uploaded-B")
			b.ReportMetric(float64(outputs), "outputs-B")
		})
	}
}

// uploadCounter is a reverse proxy in front of a registry that counts the bytes of the
// blob uploads it passes on.
type uploadCounter struct {
	host     string
	uploaded atomic.Int64
}

func newUploadCounter(b *testing.B, registry string) *uploadCounter {
	target, err := url.Parse("http://" + registry)
	if err != nil {
		b.Fatal(err)
	}
	u := &uploadCounter{}
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == http.MethodPut || r.Method == http.MethodPatch) && strings.Contains(r.URL.Path, "/blobs/uploads/") && r.Body != nil {
			r.Body = countingBody{r.Body, &u.uploaded}
		}
		rp.ServeHTTP(w, r)
	}))
	b.Cleanup(srv.Close)
	u.host = strings.TrimPrefix(srv.URL, "http://")
	return u
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// dirBytes returns the bytes of the regular files under dir.
func dirBytes(b *testing.B, dir string) int64 {
	var n int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if info, err := d.Info(); err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// ownClock returns the time a build's summary line says it took ("built ... in 1m2.5s;"):
// from minimal's start to its end, without what `go tool mage` did before it started.
func ownClock(b *testing.B, out []byte) time.Duration {
	m := summaryTime.FindSubmatch(out)
	if m == nil {
		b.Fatalf("no summary line with the build's time in:\n%s", tail(out, 6))
	}
	d, err := time.ParseDuration(string(m[1]))
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// summaryTime finds the duration in a build's summary line.
var summaryTime = regexp.MustCompile(`(?m)^(?:built|up to date:) \d+ images of \d+ apps in (\S+);`)

// median returns the median of ds.
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// tail returns the last n lines of out.
func tail(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
