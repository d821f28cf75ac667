package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// fakeBuilder writes a small file instead of compiling, fails for the apps in fail, and
// blocks until its context ends for the apps in block. With gate set, failing builds wait
// until gateN builds have started, so that they fail together.
type fakeBuilder struct {
	goKeyed
	fail, block map[string]bool
	started     chan string
	calls       atomic.Int32
	gate        chan struct{}
	gateN       int32
}

func (f *fakeBuilder) Build(ctx context.Context, s manifest.Spec, out string) error {
	if f.calls.Add(1) == f.gateN && f.gate != nil {
		close(f.gate)
	}
	if f.started != nil {
		f.started <- s.App
	}
	if f.block[s.App] {
		<-ctx.Done()
		return ctx.Err()
	}
	if f.fail[s.App] {
		if f.gate != nil {
			<-f.gate
		}
		return fmt.Errorf("compiler says no")
	}
	return os.WriteFile(out, []byte("binary of "+s.App+" for "+s.Platform.String()), 0o755)
}

// fixture writes a repository with three Go apps and loads its manifest.
func fixture(t *testing.T) *manifest.Manifest {
	t.Helper()
	root := t.TempDir()
	for _, app := range []string{"one", "two", "three"} {
		dir := filepath.Join(root, "apps", app)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module example.com/fixture\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	yaml := "version: 1\napps:\n"
	for _, app := range []string{"one", "two", "three"} {
		yaml += fmt.Sprintf("  - {name: %s, src: ./apps/%s, tags: [v1]}\n", app, app)
	}
	path := filepath.Join(root, "minimal.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// listDir returns the names under dir, recursively, relative to it.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && p != dir {
			rel, _ := filepath.Rel(dir, p)
			names = append(names, rel)
		}
		return nil
	})
	return names
}

func TestBuildPublishes(t *testing.T) {
	m := fixture(t)
	out := filepath.Join(m.Root, "images")
	fb := &fakeBuilder{}
	r, err := Build(context.Background(), m, WithCache(t.TempDir()), WithOut(out), WithLog(io.Discard), withBuilder("go", fb))
	if err != nil {
		t.Fatal(err)
	}
	if got := fb.calls.Load(); got != 6 {
		t.Errorf("builder called %d times, want 6 (3 apps x 2 platforms)", got)
	}
	if len(r.Apps) != 3 || r.Apps[0].Name != "one" || len(r.Apps[0].Platforms) != 2 {
		t.Fatalf("report = %+v, want 3 apps in manifest order with 2 platforms each", r.Apps)
	}
	for _, name := range []string{"report.json", "bin/linux_amd64/two", "bin/linux_386/two", "tar/two-amd64.tar", "tar/two-386.tar", "oci/index.json"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("missing output: %v", err)
		}
	}
	p, err := layout.FromPath(filepath.Join(out, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	refs := map[string]bool{}
	for _, d := range im.Manifests {
		refs[d.Annotations["org.opencontainers.image.ref.name"]] = true
	}
	for _, want := range []string{"one", "two", "three"} {
		if !refs[want] {
			t.Errorf("layout has no ref %q; has %v", want, refs)
		}
	}
	for _, name := range listDir(t, out) {
		if strings.Contains(name, ".work-") || strings.Contains(name, ".tmp") {
			t.Errorf("leftover %s", name)
		}
	}
}

func TestBuildFailurePublishesNothing(t *testing.T) {
	tests := []struct {
		name    string
		fail    map[string]bool
		wantErr []string
	}{
		{name: "one app fails", fail: map[string]bool{"two": true}, wantErr: []string{"two linux/", "compiler says no"}},
		// Builds that fail together are all reported, not only the first.
		{name: "every failed app is named", fail: map[string]bool{"one": true, "three": true}, wantErr: []string{"one linux/", "three linux/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := fixture(t)
			out := filepath.Join(m.Root, "images")
			fb := &fakeBuilder{fail: tt.fail, gate: make(chan struct{}), gateN: 6}
			_, err := Build(context.Background(), m, WithCache(t.TempDir()), WithOut(out), WithLog(io.Discard), WithJobs(6),
				withBuilder("go", fb))
			if err == nil {
				t.Fatal("Build succeeded, want an error")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if left := listDir(t, out); len(left) > 0 {
				t.Errorf("a failed build left %v in the output directory", left)
			}
		})
	}
}

func TestBuildCancelledPublishesNothing(t *testing.T) {
	m := fixture(t)
	out := filepath.Join(m.Root, "images")
	// A first good build, which the cancelled one must leave as it was.
	if _, err := Build(context.Background(), m, WithCache(t.TempDir()), WithOut(out), WithLog(io.Discard), withBuilder("go", &fakeBuilder{})); err != nil {
		t.Fatal(err)
	}
	before := listDir(t, out)
	ctx, cancel := context.WithCancel(context.Background())
	fb := &fakeBuilder{block: map[string]bool{"one": true, "two": true, "three": true}, started: make(chan string, 6)}
	go func() {
		<-fb.started
		cancel()
	}()
	_, err := Build(ctx, m, WithCache(t.TempDir()), WithOut(out), WithLog(io.Discard), withBuilder("go", fb))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Build error = %v, want context.Canceled", err)
	}
	after := listDir(t, out)
	if strings.Join(before, "\n") != strings.Join(after, "\n") {
		t.Errorf("a cancelled build changed the output directory:\nbefore %v\nafter  %v", before, after)
	}
}

// TestBuildCancelledWhilePublishing checks that a build cancelled after its
// actions, while it writes the output directory, writes all of it: images/
// then holds what a clean build of the same sources holds, not the first
// apps new and the others old.
func TestBuildCancelledWhilePublishing(t *testing.T) {
	m := fixture(t)
	out := filepath.Join(m.Root, "images")
	cacheDir := t.TempDir()
	if _, err := Build(context.Background(), m, WithCache(cacheDir), WithOut(out), WithLog(io.Discard), withBuilder("go", &fakeBuilder{})); err != nil {
		t.Fatal(err)
	}
	// Another time stamp changes every image, so the next build rewrites every app.
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	ctx, cancel := context.WithCancel(context.Background())
	var published []string
	_, err := Build(ctx, m, WithCache(cacheDir), WithOut(out), WithLog(io.Discard), withBuilder("go", &fakeBuilder{}),
		withPublished(func(app string) {
			published = append(published, app)
			cancel()
		}))
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Build error = %v, want none or context.Canceled", err)
	}
	if len(published) != 3 {
		t.Errorf("published %v, want all three apps after the cancel", published)
	}
	checkLikeCleanBuild(t, m, &fakeBuilder{}, out, "cancelled")
}

func TestBuildUnknownApp(t *testing.T) {
	m := fixture(t)
	_, err := Build(context.Background(), m, WithCache(t.TempDir()), WithOut(filepath.Join(m.Root, "images")), WithLog(io.Discard),
		WithApps("four"), withBuilder("go", &fakeBuilder{}))
	if err == nil || !strings.Contains(err.Error(), `no app named "four"; apps are: one, two, three`) {
		t.Fatalf("error = %v, want one naming the known apps", err)
	}
}

func TestBuildSelectedApps(t *testing.T) {
	m := fixture(t)
	fb := &fakeBuilder{}
	r, err := Build(context.Background(), m, WithCache(t.TempDir()), WithOut(filepath.Join(m.Root, "images")), WithLog(io.Discard),
		WithApps("three"), withBuilder("go", fb))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Apps) != 1 || r.Apps[0].Name != "three" || fb.calls.Load() != 2 {
		t.Errorf("built %d times, report %+v; want only three, twice", fb.calls.Load(), r.Apps)
	}
}

// TestBuildRemovesAppsGone checks that a build of some apps leaves the
// others in the output directory, and a build of every app removes an app
// the manifest no longer has.
func TestBuildRemovesAppsGone(t *testing.T) {
	m := fixture(t)
	out, cacheDir := filepath.Join(m.Root, "images"), t.TempDir()
	build := func(m *manifest.Manifest, opts ...Option) {
		t.Helper()
		opts = append(opts, WithCache(cacheDir), WithOut(out), WithLog(io.Discard), withBuilder("go", &fakeBuilder{}))
		if _, err := Build(context.Background(), m, opts...); err != nil {
			t.Fatal(err)
		}
	}
	has := func(app string) bool {
		_, err := os.Stat(filepath.Join(out, "tar", app+"-amd64.tar"))
		return err == nil
	}
	build(m)
	fewer := *m
	fewer.Apps = slices.DeleteFunc(slices.Clone(m.Apps), func(a manifest.App) bool { return a.Name == "three" })
	build(&fewer, WithApps("one"))
	if !has("three") {
		t.Errorf("a build of one app removed another")
	}
	build(&fewer)
	if has("three") || !has("one") || !has("two") {
		t.Errorf("after a build of every app: one %v, two %v, three %v; want three gone", has("one"), has("two"), has("three"))
	}
}
