package pipeline

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/minimalbuild/minimal/magefiles/internal/outdir"
	"github.com/minimalbuild/minimal/magefiles/internal/testenv/zigtest"
	"github.com/minimalbuild/minimal/magefiles/internal/toolchain"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// countingBuilder records which app and platform it compiled, and writes a small file
// standing for the executable, which depends on the app's sources.
type countingBuilder struct {
	goKeyed
	mu    sync.Mutex
	built []string
}

// goKeyed gives a fake builder the Go toolchain's inputs, so that the fake's builds are
// keyed as real ones are.
type goKeyed struct{}

func (goKeyed) Inputs(ctx context.Context, specs []manifest.Spec) ([]toolchain.Inputs, error) {
	return toolchain.Go().Inputs(ctx, specs)
}

func (goKeyed) Discovered(context.Context, manifest.Spec) ([]string, error) { return nil, nil }

func (c *countingBuilder) Build(ctx context.Context, s manifest.Spec, out string) error {
	c.mu.Lock()
	c.built = append(c.built, s.App+" "+s.Platform.Arch)
	c.mu.Unlock()
	src, err := os.ReadFile(filepath.Join(s.Src[0], "main.go"))
	if err != nil {
		return err
	}
	return os.WriteFile(out, append([]byte(s.Platform.Arch+" "), src...), 0o755)
}

func (c *countingBuilder) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.built
	c.built = nil
	slices.Sort(out)
	return out
}

func TestCacheRebuildsWhatChanged(t *testing.T) {
	m := fixture(t)
	cacheDir := filepath.Join(t.TempDir(), "cache")
	out := filepath.Join(m.Root, "images")
	cb := &countingBuilder{}
	build := func(m *manifest.Manifest) []string {
		t.Helper()
		if _, err := Build(context.Background(), m, WithCache(cacheDir), WithOut(out), WithLog(io.Discard), withBuilder("go", cb)); err != nil {
			t.Fatal(err)
		}
		return cb.take()
	}
	write := func(rel, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(m.Root, rel), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	reload := func() *manifest.Manifest {
		t.Helper()
		m, err := manifest.Load(filepath.Join(m.Root, "minimal.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	all := []string{"one 386", "one amd64", "three 386", "three amd64", "two 386", "two amd64"}
	if diff := cmp.Diff(all, build(m)); diff != "" {
		t.Fatalf("cold build compiled (-want +got):\n%s", diff)
	}
	first, err := os.ReadFile(filepath.Join(out, "oci", "index.json"))
	if err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		name   string
		change func()
		want   []string
	}{
		{"nothing changed", func() {}, nil},
		{"touched, same bytes", func() {
			future := time.Now().Add(time.Hour)
			os.Chtimes(filepath.Join(m.Root, "apps", "two", "main.go"), future, future)
		}, nil},
		{"one source changed", func() {
			write("apps/two/main.go", "package main\n\nfunc main() { println(2) }\n")
		}, []string{"two 386", "two amd64"}},
		{"a new file in the package", func() {
			write("apps/three/extra.go", "package main\n\nvar x = 3\n")
		}, []string{"three 386", "three amd64"}},
		{"a flag for one platform", func() {
			yaml := "version: 1\napps:\n" +
				"  - {name: one, src: ./apps/one, tags: [v1], targets: {amd64: {flags: [-tags=x]}}}\n" +
				"  - {name: two, src: ./apps/two, tags: [v1]}\n" +
				"  - {name: three, src: ./apps/three, tags: [v1]}\n"
			write("minimal.yaml", yaml)
		}, []string{"one amd64"}},
		{"go.mod changed", func() {
			write("go.mod", "module example.com/fixture\n\ngo 1.25\n")
		}, all},
	}
	for _, st := range steps {
		st.change()
		m = reload()
		if diff := cmp.Diff(st.want, build(m)); diff != "" {
			t.Errorf("%s: compiled (-want +got):\n%s", st.name, diff)
		}
	}

	// Back to the first inputs: everything comes from the cache, with the same bytes.
	write("go.mod", "module example.com/fixture\n\ngo 1.26\n")
	write("apps/two/main.go", "package main\n\nfunc main() {}\n")
	os.Remove(filepath.Join(m.Root, "apps", "three", "extra.go"))
	write("minimal.yaml", "version: 1\napps:\n  - {name: one, src: ./apps/one, tags: [v1]}\n  - {name: two, src: ./apps/two, tags: [v1]}\n  - {name: three, src: ./apps/three, tags: [v1]}\n")
	if got := build(reload()); len(got) != 0 {
		t.Errorf("going back to the first inputs compiled %v, want nothing", got)
	}
	again, err := os.ReadFile(filepath.Join(out, "oci", "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(first) {
		t.Errorf("the layout's index.json differs from the first build's with the same inputs")
	}
}

func TestCachedBuildIsIdentical(t *testing.T) {
	m := fixture(t)
	cacheDir := filepath.Join(t.TempDir(), "cache")
	outs := []string{filepath.Join(t.TempDir(), "clean"), filepath.Join(t.TempDir(), "cached")}
	for _, out := range outs {
		if _, err := Build(context.Background(), m, WithCache(cacheDir), WithOut(out), WithLog(io.Discard), withBuilder("go", &countingBuilder{})); err != nil {
			t.Fatal(err)
		}
	}
	want, got := treeDigest(t, outs[0]), treeDigest(t, outs[1])
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("a cached build wrote different files from a clean one (-clean +cached):\n%s", diff)
	}
}

func TestConcurrentBuilds(t *testing.T) {
	m := fixture(t)
	cacheDir := filepath.Join(t.TempDir(), "cache")
	out := filepath.Join(m.Root, "images")
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = Build(context.Background(), m, WithCache(cacheDir), WithOut(out), WithLog(io.Discard), withBuilder("go", &countingBuilder{}))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("build %d: %v", i, err)
		}
	}
	checkLikeCleanBuild(t, m, &countingBuilder{}, out, "concurrent")
}

func TestCHeaderChangeRebuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("needs zig; skipped with -short")
	}
	if _, err := toolchain.CacheDir(); err != nil {
		t.Skip(err)
	}
	root := t.TempDir()
	files := map[string]string{
		"go.mod":          "module example.com/c\n\ngo 1.26\n",
		"apps/c/main.c":   "#include \"../inc/msg.h\"\nint main(void) { return MSG; }\n",
		"apps/inc/msg.h":  "#define MSG 3\n",
		"apps/c2/main.c":  "int main(void) { return 0; }\n",
		"minimal.yaml":    "version: 1\nplatforms: [linux/amd64]\napps:\n  - {name: c, src: ./apps/c, test: {exit: 3}}\n  - {name: c2, src: ./apps/c2}\n",
		"apps/inc/README": "headers\n",
	}
	for name, content := range files {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cacheDir := filepath.Join(t.TempDir(), "cache")
	build := func() []string {
		t.Helper()
		m, err := manifest.Load(filepath.Join(root, "minimal.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		z := zigtest.Pinned(t)
		cb := &recordingBuilder{inner: toolchain.C(func(context.Context) (*toolchain.ZigTool, error) { return z, nil })}
		if _, err := Build(context.Background(), m, WithCache(cacheDir), WithLog(io.Discard), withBuilder("c", cb)); err != nil {
			t.Fatal(err)
		}
		return cb.take()
	}
	if got := build(); len(got) != 2 {
		t.Fatalf("cold build compiled %v, want both apps", got)
	}
	if got := build(); len(got) != 0 {
		t.Errorf("no-op build compiled %v", got)
	}
	// The header, found through the compiler's dependency list, is an input of c only.
	if err := os.WriteFile(filepath.Join(root, "apps/inc/msg.h"), []byte("#define MSG 4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := build()
	if diff := cmp.Diff([]string{"c amd64"}, got); diff != "" {
		t.Errorf("after a header change, compiled (-want +got):\n%s", diff)
	}
}

// recordingBuilder records what it compiles and hands the work to inner.
type recordingBuilder struct {
	countingBuilder
	inner toolchain.Builder
}

func (r *recordingBuilder) Inputs(ctx context.Context, specs []manifest.Spec) ([]toolchain.Inputs, error) {
	return r.inner.Inputs(ctx, specs)
}

func (r *recordingBuilder) Discovered(ctx context.Context, s manifest.Spec) ([]string, error) {
	return r.inner.Discovered(ctx, s)
}

func (r *recordingBuilder) Build(ctx context.Context, s manifest.Spec, out string) error {
	r.mu.Lock()
	r.built = append(r.built, s.App+" "+s.Platform.Arch)
	r.mu.Unlock()
	return r.inner.Build(ctx, s, out)
}

// checkLikeCleanBuild checks that out holds what a clean build of m, with a
// fresh cache and the Go builder b, writes; what names out's state in the
// report.
func checkLikeCleanBuild(t *testing.T, m *manifest.Manifest, b toolchain.Builder, out, what string) {
	t.Helper()
	clean := filepath.Join(t.TempDir(), "clean")
	if _, err := Build(context.Background(), m, WithCache(t.TempDir()), WithOut(clean), WithLog(io.Discard), withBuilder("go", b)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(treeDigest(t, clean), treeDigest(t, out)); diff != "" {
		t.Errorf("images/ differs from a clean build's (-clean +%s):\n%s", what, diff)
	}
}

// treeDigest maps every file under dir to its content, leaving out the state file.
func treeDigest(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	for _, name := range listDir(t, dir) {
		path := filepath.Join(dir, name)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.IsDir() || name == outdir.StateFile {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = string(data)
	}
	return files
}
