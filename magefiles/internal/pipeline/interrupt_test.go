package pipeline

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/minimalbuild/minimal/magefiles/internal/toolchain"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// The interrupted build runs in a child process, this test binary run again with
// childEnv naming where it stops: it writes the marker file there and waits to be
// killed.
const (
	childEnv    = "MINIMAL_PIPELINE_TEST_CHILD"
	childRoot   = "MINIMAL_PIPELINE_TEST_ROOT"
	childCache  = "MINIMAL_PIPELINE_TEST_CACHE"
	childMarker = "MINIMAL_PIPELINE_TEST_MARKER"
)

func init() {
	stage := os.Getenv(childEnv)
	if stage == "" {
		return
	}
	stop := func() {
		os.WriteFile(os.Getenv(childMarker), []byte(stage), 0o644)
		time.Sleep(time.Minute) // until killed
		os.Exit(3)
	}
	m, err := manifest.Load(filepath.Join(os.Getenv(childRoot), "minimal.yaml"))
	if err != nil {
		os.Exit(2)
	}
	b := &countingBuilder{}
	var builder toolchain.Builder = b
	opts := []Option{WithCache(os.Getenv(childCache)), WithLog(io.Discard)}
	switch stage {
	case "compile":
		builder = stallingBuilder{inner: b, app: "two", stop: stop}
	case "layout":
		opts = append(opts, withPublished(func(app string) {
			if app == "two" {
				stop()
			}
		}))
	}
	_, err = Build(context.Background(), m, append(opts, withBuilder("go", builder))...)
	if err != nil {
		os.Exit(1)
	}
	os.Exit(0)
}

// stallingBuilder builds like inner, except that for app it writes half an executable
// and then stops.
type stallingBuilder struct {
	goKeyed
	inner *countingBuilder
	app   string
	stop  func()
}

func (s stallingBuilder) Build(ctx context.Context, spec manifest.Spec, out string) error {
	if spec.App == s.app {
		os.WriteFile(out, []byte("half an exec"), 0o755)
		s.stop()
	}
	return s.inner.Build(ctx, spec, out)
}

func TestKilledBuildRecovers(t *testing.T) {
	for _, stage := range []string{"compile", "layout"} {
		t.Run(stage, func(t *testing.T) {
			m := fixture(t)
			cacheDir := filepath.Join(t.TempDir(), "cache")
			out := filepath.Join(m.Root, "images")
			// A good build first, so that the killed one has an output to damage.
			if _, err := Build(context.Background(), m, WithCache(cacheDir), WithOut(out), WithLog(io.Discard), withBuilder("go", &countingBuilder{})); err != nil {
				t.Fatal(err)
			}
			want := treeDigest(t, out)
			// A change to two, so that the killed build has work to do for it.
			if err := os.WriteFile(filepath.Join(m.Root, "apps", "two", "main.go"), []byte("package main\n\nfunc main() { println(2) }\n"), 0o644); err != nil {
				t.Fatal(err)
			}

			marker := filepath.Join(t.TempDir(), "marker")
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"="+stage, childRoot+"="+m.Root, childCache+"="+cacheDir, childMarker+"="+marker)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(time.Minute)
			for {
				if _, err := os.Stat(marker); err == nil {
					break
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatalf("the child build never reached %s", stage)
				}
				time.Sleep(10 * time.Millisecond)
			}
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()

			// What a reader of images/ sees after the kill: the old build's files or
			// the new ones, never a temporary or partial file.
			for _, name := range listDir(t, out) {
				if strings.Contains(name, ".tmp") {
					t.Errorf("the killed build left %s", name)
				}
			}
			if stage == "compile" {
				if diff := cmp.Diff(want, treeDigest(t, out)); diff != "" {
					t.Errorf("a build killed while compiling changed images/ (-before +after):\n%s", diff)
				}
			}

			// The next build succeeds and writes what a clean build writes.
			m2, err := manifest.Load(filepath.Join(m.Root, "minimal.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Build(context.Background(), m2, WithCache(cacheDir), WithOut(out), WithLog(io.Discard), withBuilder("go", &countingBuilder{})); err != nil {
				t.Fatalf("the build after the killed one: %v", err)
			}
			checkLikeCleanBuild(t, m2, &countingBuilder{}, out, "recovered")
			for _, name := range listDir(t, cacheDir) {
				if strings.HasPrefix(name, "work-") {
					t.Errorf("the killed build's work directory %s is still in the cache", name)
				}
			}
		})
	}
}
