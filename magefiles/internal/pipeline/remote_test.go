package pipeline

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/minimalbuild/minimal/magefiles/internal/cache"
	"github.com/minimalbuild/minimal/magefiles/internal/registrytest"
	"github.com/minimalbuild/minimal/magefiles/internal/report"
	"github.com/minimalbuild/minimal/magefiles/internal/testenv"
	"github.com/minimalbuild/minimal/magefiles/internal/testenv/zigtest"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// monorepo is a small monorepo of Go, C (with a header) and GAS assembly apps, built
// with the real toolchains.
var monorepo = map[string]string{
	"go.mod":               "module example.com/mono\n\ngo 1.26\n",
	"apps/gohello/main.go": "package main\n\nfunc main() { println(\"hi\") }\n",
	"apps/inc/msg.h":       "#define MSG \"hello\\n\"\n",
	"apps/chello/main.c":   "#include <unistd.h>\n#include \"../inc/msg.h\"\nint main(void) { write(1, MSG, sizeof MSG - 1); return 0; }\n",
	"apps/asm/x86_64.S":    ".globl _start\n_start:\n\tmov $60, %eax\n\txor %edi, %edi\n\tsyscall\n",
	"apps/asm/i386.S":      ".globl _start\n_start:\n\tmov $1, %eax\n\txor %ebx, %ebx\n\tint $0x80\n",
	"minimal.yaml": `version: 1
defaults:
  shrink: [strip, sstrip]
apps:
  - {name: gohello, src: ./apps/gohello, test: {stderr: "hi\n"}}
  - {name: chello, src: ./apps/chello, test: {stdout: "hello\n"}}
  - name: asm
    lang: asm
    targets:
      amd64: {src: ./apps/asm/x86_64.S}
      "386": {src: ./apps/asm/i386.S}
    test: {exit: 0}
`,
}

// machine is one checkout with caches of its own, as another CI runner has.
type machine struct {
	m       *manifest.Manifest
	cache   string
	gocache string
}

func newMachine(t *testing.T) machine {
	t.Helper()
	root := t.TempDir()
	for name, content := range monorepo {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, err := manifest.Load(filepath.Join(root, "minimal.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return machine{m: m, cache: t.TempDir(), gocache: t.TempDir()}
}

// build builds the machine's monorepo with the remote tier at repo, verbosely, and
// returns the report and what the build logged.
func (mc machine) build(t *testing.T, repo string, write bool) (*report.Report, string) {
	t.Helper()
	t.Setenv("GOCACHE", mc.gocache)
	var log bytes.Buffer
	r, err := Build(context.Background(), mc.m, WithCache(mc.cache), WithLog(&log), WithVerbose(true),
		WithCacheOptions(cache.WithRemote(repo, cache.WithWrite(write))))
	if err != nil {
		t.Fatalf("build: %v\n%s", err, log.String())
	}
	return r, log.String()
}

// digests are the index digests of a report, by app.
func digests(r *report.Report) map[string]string {
	d := map[string]string{}
	for _, a := range r.Apps {
		d[a.Name] = a.Index
	}
	return d
}

// ranNothing fails the test if the log shows a compiler, preprocessor or linker run.
func ranNothing(t *testing.T, log string) {
	t.Helper()
	for _, tool := range []string{" build ", " cc ", " ld.lld", "-MM", "nasm -f", "nasm -M"} {
		for _, line := range strings.Split(log, "\n") {
			if strings.Contains(line, tool) {
				t.Errorf("machine B ran %q: %s", tool, line)
			}
		}
	}
	if !strings.Contains(log, "actions: 0 run, 0 from the local cache, 18 from the remote cache") {
		t.Errorf("machine B's summary does not say all 18 actions came from the remote cache:\n%s", log)
	}
}

// faultyFront is a proxy in front of a registry that can fail in the ways a shared
// cache's registry fails.
type faultyFront struct {
	mode     atomic.Value // "pass", "500", "stop" or "corrupt"
	requests atomic.Int64
	stopAt   int64 // in "stop" mode, the request from which the registry is gone
}

func startFront(t *testing.T, target string) (*faultyFront, string) {
	f := &faultyFront{}
	f.mode.Store("pass")
	u, _ := url.Parse("http://" + target)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(resp *http.Response) error {
		if f.mode.Load() != "corrupt" || resp.Request.Method != http.MethodGet || !strings.Contains(resp.Request.URL.Path, "/blobs/") {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if len(body) > 0 {
			body[len(body)/2] ^= 0xff
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return nil
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := f.requests.Add(1)
		switch f.mode.Load() {
		case "500":
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		case "stop":
			if n >= f.stopAt {
				hj, ok := w.(http.Hijacker)
				if ok {
					if c, _, err := hj.Hijack(); err == nil {
						c.Close()
						return
					}
				}
				http.Error(w, "gone", http.StatusBadGateway)
				return
			}
		}
		rp.ServeHTTP(w, r)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return f, ln.Addr().String()
}

func TestRemoteCacheTwoMachines(t *testing.T) {
	if testing.Short() {
		t.Skip("builds with the real toolchains; not in -short")
	}
	zigtest.Pinned(t) // the pinned zig, or skip (fail under CI) without it
	testenv.Tool(t, "docker-registry", "docker-registry")
	front, host := startFront(t, registrytest.Start(t))
	repo := host + "/team/cache"

	a := newMachine(t)
	ra, _ := a.build(t, repo, true)
	want := digests(ra)

	tests := []struct {
		name   string
		why    string
		mode   string
		stopAt int64
		write  bool
		check  func(t *testing.T, log string)
	}{
		{"warm remote", "a new machine builds nothing that machine A built", "pass", 0, false, func(t *testing.T, log string) { ranNothing(t, log) }},
		{"registry answers 500s", "the build goes on locally and says so once", "500", 0, true, func(t *testing.T, log string) {
			if n := strings.Count(log, "status code 500"); n != 1 {
				t.Errorf("the log says %d times that the remote cache answered 500, want once:\n%s", n, log)
			}
		}},
		{"registry stops mid-build", "the build goes on locally after the registry is gone", "stop", 8, true, func(t *testing.T, log string) {
			if !strings.Contains(log, "building without it") {
				t.Errorf("the log does not say the build went on without the remote cache:\n%s", log)
			}
		}},
		{"damaged blobs", "an entry whose blobs do not match is not used, and the action runs", "corrupt", 0, false, func(t *testing.T, log string) {
			if strings.Contains(log, " 0 run,") || !strings.Contains(log, "damaged entry") {
				t.Errorf("the log does not say damaged entries were ignored and their actions run:\n%s", log)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			front.mode.Store(tt.mode)
			front.requests.Store(0)
			front.stopAt = tt.stopAt
			defer front.mode.Store("pass")
			b := newMachine(t)
			rb, log := b.build(t, repo, tt.write)
			if diff := cmp.Diff(want, digests(rb)); diff != "" {
				t.Errorf("%s: digests differ from machine A's (-A +B):\n%s", tt.why, diff)
			}
			tt.check(t, log)
		})
	}
}
