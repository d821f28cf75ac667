package targets_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/minimalbuild/minimal/magefiles/internal/registrytest"
	"github.com/minimalbuild/minimal/magefiles/internal/synth"
	"github.com/minimalbuild/minimal/magefiles/internal/testenv"
	"github.com/minimalbuild/minimal/magefiles/internal/testenv/zigtest"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// koModule is the ko release the benchmark compares with, installed from the Go module
// proxy.
const koModule = "github.com/google/ko@v0.19.1"

// caches are the caches one build sees. A cold build gets new, empty ones; a warm build
// keeps those of the build before it.
type caches struct {
	gocache string // $GOCACHE, for both tools
	tool    string // the tool's own caches: $MINIMAL_CACHE and $MAGEFILE_CACHE, or $KOCACHE
}

// monorepoTool is one build tool the benchmark runs on a synthetic monorepo.
type monorepoTool struct {
	name string
	// setup runs once per n, before the first build, with the benchmark of that tool
	// and n; it may skip it.
	setup func(ctx context.Context, b *testing.B)
	// build builds every app of the monorepo at repo the way the tool's user would.
	build func(ctx context.Context, repo string, c caches, apps []synth.App) ([]byte, error)
	// images returns the multi-platform images the builds at repo have written so far,
	// one entry per index digest.
	images func(b *testing.B, repo string) map[string]bool
	// builds returns the apps of apps that the tool builds.
	builds func(apps []synth.App) []synth.App
}

// BenchmarkMonorepo measures the wall time of building a synthetic monorepo
// (synth.Generate: 60% Go, 25% C, 15% GNU assembly, every app for linux/amd64 and
// linux/386) with `go tool mage build`, and the same monorepo's Go apps with
// `ko build`, each as a subprocess in the monorepo's directory, for n = 10 and 100 apps,
// in three phases:
//
//   - cold: a new copy of the monorepo, an empty $GOCACHE and empty tool caches
//     ($MINIMAL_CACHE and $MAGEFILE_CACHE, or $KOCACHE);
//   - noop: the same monorepo and caches right after a build, nothing changed;
//   - one-changed: as noop, after synth.Change of one Go app (the same app for both).
//
// The monorepo is apps/ and minimal.yaml from synth beside this repository's go.mod,
// go.sum and magefiles/, so `go tool mage` builds mage and the targets under test from
// source: a cold minimal build includes compiling them, as in a fresh clone. Not timed:
// copying and generating the monorepo, the warm-up build before noop, installing ko, and
// fetching zig: the pinned zig is resolved once (toolchain.Zig, from the user's cache,
// fetched there if missing) and handed to every build as $ZIG, while zig's own compile
// caches start empty under the cold $MINIMAL_CACHE. $GOMODCACHE is the user's, so no
// build downloads modules.
//
// ko (koModule, installed into a temporary GOBIN; the ko runs are skipped with a message
// if that fails or docker-registry is missing) builds the Go apps only, with
// --push=false --sbom=none --platform=linux/amd64,linux/386 --oci-layout-path, onto an
// empty two-platform base index in Debian's docker-registry ($KO_DEFAULTBASEIMAGE), so
// both tools build FROM-scratch images of both platforms into an OCI layout and push
// nothing. minimal does more per app: C and assembly apps, strip and sstrip, a smoke
// test per platform, docker tarballs and a size report.
//
// Every timed build is checked by the images it wrote that were not there before: one
// per app it builds when cold, none for noop, exactly the changed app's for one-changed.
//
// Each result is reported as s/op, the build's wall time; run one build per result and
// repeat with -count, with a timeout that fits the n=100 cold builds:
//
//	go test -run '^$' -bench 'BenchmarkMonorepo/^n=10$/' -benchtime 1x -count 3 -timeout 3h ./magefiles/targets/
//
// A sub-benchmark pattern is unanchored: n=10 alone also selects n=100.
func BenchmarkMonorepo(b *testing.B) {
	ctx := context.Background()
	root := repoRoot(b)
	tools := []*monorepoTool{minimalTool(zigtest.Pinned(b).Path()), koTool(b.TempDir())}
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			apps, err := synth.Apps(n)
			if err != nil {
				b.Fatal(err)
			}
			for _, tool := range tools {
				b.Run("tool="+tool.name, func(b *testing.B) {
					benchPhases(ctx, b, root, tool, apps)
				})
			}
		})
	}
}

// benchPhases runs the cold, noop and one-changed phases of tool on a monorepo of apps.
func benchPhases(ctx context.Context, b *testing.B, root string, tool *monorepoTool, apps []synth.App) {
	tool.setup(ctx, b)
	var changed string
	for _, a := range apps {
		if a.Lang == manifest.LangGo {
			changed = a.Name
			break
		}
	}
	// timed times one build, then checks that it wrote exactly the new images it
	// should have: want is how many of its images were not there before it.
	timed := func(b *testing.B, repo string, c caches, want int) time.Duration {
		before := map[string]bool{}
		if _, err := os.Stat(filepath.Join(repo, "images")); err == nil {
			before = tool.images(b, repo)
		}
		b.StartTimer()
		start := time.Now()
		out, err := tool.build(ctx, repo, c, apps)
		took := time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatalf("%s build of %d apps: %v\n%s", tool.name, len(apps), err, out)
		}
		var added []string
		for image := range tool.images(b, repo) {
			if !before[image] {
				added = append(added, image)
			}
		}
		if len(added) != want {
			b.Fatalf("%s build of %d apps wrote %d new images, want %d: %v\n%s", tool.name, len(apps), len(added), want, added, out)
		}
		return took
	}
	report := func(b *testing.B, total time.Duration) {
		b.ReportMetric(total.Seconds()/float64(b.N), "s/op")
	}
	built := len(tool.builds(apps))

	b.Run("phase=cold", func(b *testing.B) {
		b.StopTimer()
		var total time.Duration
		for range b.N {
			dir, err := os.MkdirTemp(b.TempDir(), "cold-")
			if err != nil {
				b.Fatal(err)
			}
			repo, c := newMonorepo(b, root, dir, len(apps))
			total += timed(b, repo, c, built)
			if err := os.RemoveAll(dir); err != nil {
				b.Fatal(err)
			}
		}
		report(b, total)
	})

	// noop and one-changed share one monorepo, built once before the first of them. It
	// lives in a directory of this benchmark, which outlasts both phases.
	var warm struct {
		dir, repo   string
		c           caches
		tried, done bool
	}
	warm.dir = b.TempDir()
	warmUp := func(b *testing.B) {
		if !warm.tried {
			warm.tried = true
			warm.repo, warm.c = newMonorepo(b, root, warm.dir, len(apps))
			if out, err := tool.build(ctx, warm.repo, warm.c, apps); err != nil {
				b.Fatalf("%s warm-up build of %d apps: %v\n%s", tool.name, len(apps), err, out)
			}
			warm.done = true
		}
		if !warm.done {
			b.Fatal("the warm-up build failed")
		}
	}
	b.Run("phase=noop", func(b *testing.B) {
		b.StopTimer()
		warmUp(b)
		var total time.Duration
		for range b.N {
			total += timed(b, warm.repo, warm.c, 0)
		}
		report(b, total)
	})
	b.Run("phase=one-changed", func(b *testing.B) {
		b.StopTimer()
		warmUp(b)
		var total time.Duration
		for range b.N {
			if err := synth.Change(warm.repo, changed); err != nil {
				b.Fatal(err)
			}
			total += timed(b, warm.repo, warm.c, 1)
		}
		report(b, total)
	})
}

// newMonorepo writes a monorepo of n synthetic apps under dir, with this repository's
// go.mod, go.sum and magefiles/, and new empty caches beside it.
func newMonorepo(b *testing.B, root, dir string, n int) (string, caches) {
	b.Helper()
	repo := filepath.Join(dir, "repo")
	for _, name := range []string{"go.mod", "go.sum", "magefiles"} {
		testenv.CopyTree(b, filepath.Join(repo, name), filepath.Join(root, name), nil)
	}
	if err := synth.Generate(repo, n); err != nil {
		b.Fatal(err)
	}
	c := caches{gocache: filepath.Join(dir, "gocache"), tool: filepath.Join(dir, "cache")}
	for _, d := range []string{c.gocache, c.tool} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	return repo, c
}

// toolEnv is this process's environment with the given variables set.
func toolEnv(vars ...string) []string {
	return append(os.Environ(), append([]string{"GOTOOLCHAIN=local"}, vars...)...)
}

// minimalTool builds with `go tool mage build`, using the zig at zig.
func minimalTool(zig string) *monorepoTool {
	return &monorepoTool{
		name:  "minimal",
		setup: func(context.Context, *testing.B) {},
		build: func(ctx context.Context, repo string, c caches, _ []synth.App) ([]byte, error) {
			cmd := exec.CommandContext(ctx, "go", "tool", "mage", "build")
			cmd.Dir = repo
			cmd.Env = toolEnv(
				"GOCACHE="+c.gocache,
				"MINIMAL_CACHE="+filepath.Join(c.tool, "minimal"),
				"MAGEFILE_CACHE="+filepath.Join(c.tool, "mage"),
				"ZIG="+zig,
			)
			return cmd.CombinedOutput()
		},
		images: func(b *testing.B, repo string) map[string]bool {
			images := map[string]bool{}
			for _, a := range readReport(b, repo).Apps {
				images[a.Name+"@"+a.Index] = true
			}
			return images
		},
		builds: func(apps []synth.App) []synth.App { return apps },
	}
}

// koTool builds the Go apps with ko, installed into bin on first use.
func koTool(bin string) *monorepoTool {
	var (
		install    sync.Once
		installErr error
		ko         = filepath.Join(bin, "ko")
		env        []string // the registry's variables, set by setup
	)
	goApps := func(apps []synth.App) []synth.App {
		var goApps []synth.App
		for _, a := range apps {
			if a.Lang == manifest.LangGo {
				goApps = append(goApps, a)
			}
		}
		return goApps
	}
	// ko names its layout publisher after the path, which must be a valid repository
	// name: the path is relative to the monorepo, whose directory may have capitals.
	const layoutPath = "images/ko"
	return &monorepoTool{
		name: "ko",
		setup: func(ctx context.Context, b *testing.B) {
			install.Do(func() {
				cmd := exec.CommandContext(ctx, "go", "install", koModule)
				cmd.Env = append(os.Environ(), "GOBIN="+bin)
				if out, err := cmd.CombinedOutput(); err != nil {
					installErr = fmt.Errorf("go install %s: %w\n%s", koModule, err, out)
				}
			})
			if installErr != nil {
				b.Skipf("no ko to compare with: %v", installErr)
			}
			need(b, "docker-registry")
			host := registrytest.Start(b)
			if err := pushBase(ctx, host+"/base"); err != nil {
				b.Fatalf("pushing ko's base image: %v", err)
			}
			env = []string{"KO_DOCKER_REPO=" + host + "/ko", "KO_DEFAULTBASEIMAGE=" + host + "/base"}
		},
		build: func(ctx context.Context, repo string, c caches, apps []synth.App) ([]byte, error) {
			args := []string{"build", "--push=false", "--sbom=none",
				"--platform=linux/amd64,linux/386", "--oci-layout-path=" + layoutPath}
			for _, a := range goApps(apps) {
				args = append(args, "./"+a.Dir)
			}
			cmd := exec.CommandContext(ctx, ko, args...)
			cmd.Dir = repo
			cmd.Env = toolEnv(append([]string{"GOCACHE=" + c.gocache, "KOCACHE=" + filepath.Join(c.tool, "ko")}, env...)...)
			return cmd.CombinedOutput()
		},
		images: func(b *testing.B, repo string) map[string]bool {
			idx, err := layout.ImageIndexFromPath(filepath.Join(repo, layoutPath))
			if err != nil {
				b.Fatalf("reading ko's OCI layout: %v", err)
			}
			m, err := idx.IndexManifest()
			if err != nil {
				b.Fatal(err)
			}
			// ko adds each app's index to the layout on every build, whether it changed or not.
			images := map[string]bool{}
			for _, d := range m.Manifests {
				images[d.Digest.String()] = true
			}
			return images
		},
		builds: goApps,
	}
}

// pushBase pushes an image index with one empty image per platform, linux/amd64 and
// linux/386, to ref: the scratch base that ko builds onto.
func pushBase(ctx context.Context, ref string) error {
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return err
	}
	var adds []mutate.IndexAddendum
	for _, arch := range []string{"amd64", "386"} {
		img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
			OS:           "linux",
			Architecture: arch,
			RootFS:       v1.RootFS{Type: "layers"},
		})
		if err != nil {
			return err
		}
		img = mutate.ConfigMediaType(mutate.MediaType(img, types.OCIManifestSchema1), types.OCIConfigJSON)
		adds = append(adds, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}},
		})
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	if err := remote.WriteIndex(r, idx, remote.WithContext(ctx)); err != nil {
		return fmt.Errorf("writing %s: %w", ref, err)
	}
	return nil
}
