package synth_test

import (
	"context"
	"errors"
	"flag"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/minimalbuild/minimal/magefiles/internal/synth"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// readTree returns every regular file under dir by slash-separated relative path.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func generate(t *testing.T, n int, opts ...synth.Option) string {
	t.Helper()
	dir := t.TempDir()
	if err := synth.Generate(dir, n, opts...); err != nil {
		t.Fatalf("Generate(%d): %v", n, err)
	}
	return dir
}

func TestGenerateLoads(t *testing.T) {
	tests := []struct {
		why  string
		n    int
		opts []synth.Option
		want map[string]int // apps per language
	}{
		{"the default mix, exactly", 100, nil, map[string]int{"go": 60, "c": 25, "asm": 15}},
		{"a tie between C and assembly remainders goes to assembly", 10, nil, map[string]int{"go": 6, "c": 2, "asm": 2}},
		{"the golden size still has every language", 5, nil, map[string]int{"go": 3, "c": 1, "asm": 1}},
		{"one app takes the largest remainder", 1, nil, map[string]int{"go": 1}},
		{"names widen past three digits", 1000, nil, map[string]int{"go": 600, "c": 250, "asm": 150}},
		{"another seed keeps the counts", 10, []synth.Option{synth.WithSeed(42)}, map[string]int{"go": 6, "c": 2, "asm": 2}},
		{"a mix of one language", 7, []synth.Option{synth.WithMix(0, 0, 100)}, map[string]int{"asm": 7}},
	}
	for _, tt := range tests {
		t.Run(tt.why, func(t *testing.T) {
			dir := generate(t, tt.n, tt.opts...)
			m, err := manifest.Load(filepath.Join(dir, "minimal.yaml"))
			if err != nil {
				t.Fatalf("manifest.Load: %v", err)
			}
			apps, err := synth.Apps(tt.n, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			for i, a := range m.Apps {
				got[a.Lang]++
				if i >= len(apps) {
					continue
				}
				if a.Name != apps[i].Name || a.Lang != apps[i].Lang {
					t.Errorf("app %d is %s (%s), Apps says %s (%s)", i, a.Name, a.Lang, apps[i].Name, apps[i].Lang)
				}
				if a.Test == nil || a.Test.StdoutContains == nil || *a.Test.StdoutContains != apps[i].Greeting {
					t.Errorf("%s: smoke test %+v, want stdout_contains %q", a.Name, a.Test, apps[i].Greeting)
				}
			}
			if len(m.Apps) != tt.n || len(apps) != tt.n {
				t.Errorf("manifest has %d apps and Apps returns %d, want %d", len(m.Apps), len(apps), tt.n)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("apps per language (-want +got):\n%s", diff)
			}
			// Specs checks that every source the manifest names exists.
			specs, err := m.Specs()
			if err != nil {
				t.Fatalf("Specs: %v", err)
			}
			if len(specs) != 2*tt.n {
				t.Errorf("%d specs, want one per app and platform (%d)", len(specs), 2*tt.n)
			}
			names := map[string]bool{}
			for _, a := range m.Apps {
				names[a.Name] = true
			}
			if len(names) != tt.n {
				t.Errorf("%d distinct names, want %d", len(names), tt.n)
			}
		})
	}
}

func TestGenerateDeterministic(t *testing.T) {
	a := readTree(t, generate(t, 20, synth.WithSeed(7)))
	b := readTree(t, generate(t, 20, synth.WithSeed(7)))
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("two repositories of the same n and seed differ (-first +second):\n%s", diff)
	}
	// The seed must matter: it decides which app gets which language.
	x, err := synth.Apps(20, synth.WithSeed(1))
	if err != nil {
		t.Fatal(err)
	}
	y, err := synth.Apps(20, synth.WithSeed(2))
	if err != nil {
		t.Fatal(err)
	}
	if cmp.Equal(x, y) {
		t.Errorf("seeds 1 and 2 give the same apps: %v", x)
	}
}

// TestGolden compares the n=5 repository, every file in full, with testdata/n5.txt.
func TestGolden(t *testing.T) {
	files := readTree(t, generate(t, 5))
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(files)) {
		b.WriteString("-- " + name + " --\n" + files[name])
	}
	golden := filepath.Join("testdata", "n5.txt")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), b.String()); diff != "" {
		t.Errorf("n=5 repository differs from %s (-want +got):\n%s", golden, diff)
	}
}

// appOf returns the first app of lang.
func appOf(t *testing.T, apps []synth.App, lang string) synth.App {
	t.Helper()
	for _, a := range apps {
		if a.Lang == lang {
			return a
		}
	}
	t.Fatalf("no %s app in %v", lang, apps)
	return synth.App{}
}

func TestChange(t *testing.T) {
	const n = 10
	apps, err := synth.Apps(n)
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range synth.Langs {
		t.Run(lang, func(t *testing.T) {
			dir := generate(t, n)
			app := appOf(t, apps, lang)
			before := readTree(t, dir)
			for rev := 1; rev <= 2; rev++ {
				if err := synth.Change(dir, app.Name); err != nil {
					t.Fatal(err)
				}
				after := readTree(t, dir)
				want := maps.Clone(before)
				for name, content := range before {
					if strings.HasPrefix(name, app.Dir+"/") {
						want[name] = strings.Replace(content, "revision 0", "revision "+strconv.Itoa(rev), 1)
					}
				}
				if diff := cmp.Diff(want, after); diff != "" {
					t.Errorf("after change %d of %s (-want +got):\n%s", rev, app.Name, diff)
				}
			}
		})
	}
}

func TestTouch(t *testing.T) {
	dir := generate(t, 10)
	apps, err := synth.Apps(10)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	err = filepath.WalkDir(filepath.Join(dir, "apps"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		return os.Chtimes(p, old, old)
	})
	if err != nil {
		t.Fatal(err)
	}
	before := readTree(t, dir)
	app := appOf(t, apps, "asm")
	if err := synth.Touch(dir, app.Name); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, readTree(t, dir)); diff != "" {
		t.Errorf("Touch changed contents (-before +after):\n%s", diff)
	}
	err = filepath.WalkDir(filepath.Join(dir, "apps"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		touched := filepath.Base(filepath.Dir(p)) == app.Name
		if moved := !info.ModTime().Equal(old); moved != touched {
			t.Errorf("%s: modification time %v; want it moved only in %s", p, info.ModTime(), app.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestErrors(t *testing.T) {
	withManifest := t.TempDir()
	if err := os.WriteFile(filepath.Join(withManifest, "minimal.yaml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	withApps := t.TempDir()
	if err := os.Mkdir(filepath.Join(withApps, "apps"), 0o755); err != nil {
		t.Fatal(err)
	}
	repo := generate(t, 3)
	noRevision := generate(t, 3)
	apps, err := synth.Apps(3)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"main.go", "main.c", "x86_64.S", "i386.S"} {
		os.Remove(filepath.Join(noRevision, apps[0].Dir, f))
	}
	if err := os.WriteFile(filepath.Join(noRevision, apps[0].Dir, "README"), []byte("no number here\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		why  string
		call func() error
		want string
	}{
		{"no apps is no repository", func() error { return synth.Generate(t.TempDir(), 0) }, "want at least 1"},
		{"shares must add up to 100", func() error { return synth.Generate(t.TempDir(), 3, synth.WithMix(50, 50, 1)) }, "add up to 100"},
		{"shares cannot be negative", func() error { return synth.Generate(t.TempDir(), 3, synth.WithMix(-10, 60, 50)) }, "at least 0"},
		{"an existing manifest is not overwritten", func() error { return synth.Generate(withManifest, 3) }, "minimal.yaml"},
		{"existing apps are not overwritten", func() error { return synth.Generate(withApps, 3) }, "apps"},
		{"an unknown app cannot change", func() error { return synth.Change(repo, "nope") }, "no such file"},
		{"a path is not an app", func() error { return synth.Change(repo, "../"+apps[0].Name) }, "not an app name"},
		{"dot-dot is not an app", func() error { return synth.Touch(repo, "..") }, "not an app name"},
		{"a change must change something", func() error { return synth.Change(noRevision, apps[0].Name) }, "holds a revision"},
	}
	for _, tt := range tests {
		t.Run(tt.why, func(t *testing.T) {
			err := tt.call()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
	if err := synth.Generate(withManifest, 3); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Generate over a manifest: %v, want fs.ErrExist in the chain", err)
	}
}

// TestSourcesRun builds each language's generated sources with the host's own tools
// (go, gcc, binutils' as and ld), runs them, and checks the line they print before and
// after a Change.
func TestSourcesRun(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles and runs generated apps; not in -short mode")
	}
	apps, err := synth.Apps(10)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	builds := []struct {
		lang, arch string
		tools      []string
		build      func(src, out string) [][]string
	}{
		{"go", "amd64", []string{"go"}, func(src, out string) [][]string {
			return [][]string{{"go", "build", "-o", out, filepath.Join(src, "main.go")}}
		}},
		{"c", "amd64", []string{"gcc"}, func(src, out string) [][]string {
			return [][]string{{"gcc", "-o", out, filepath.Join(src, "main.c")}}
		}},
		{"asm", "amd64", []string{"as", "ld"}, func(src, out string) [][]string {
			return [][]string{{"as", "--64", "-o", out + ".o", filepath.Join(src, "x86_64.S")}, {"ld", "-m", "elf_x86_64", "-o", out, out + ".o"}}
		}},
		{"asm", "386", []string{"as", "ld"}, func(src, out string) [][]string {
			return [][]string{{"as", "--32", "-o", out + ".o", filepath.Join(src, "i386.S")}, {"ld", "-m", "elf_i386", "-o", out, out + ".o"}}
		}},
	}
	for _, bt := range builds {
		t.Run(bt.lang+"/"+bt.arch, func(t *testing.T) {
			for _, tool := range bt.tools {
				if _, err := exec.LookPath(tool); err != nil {
					t.Skipf("%s not found", tool)
				}
			}
			dir := generate(t, 10)
			app := appOf(t, apps, bt.lang)
			for rev := range 2 {
				if rev > 0 {
					if err := synth.Change(dir, app.Name); err != nil {
						t.Fatal(err)
					}
				}
				out := filepath.Join(t.TempDir(), app.Name)
				for _, argv := range bt.build(filepath.Join(dir, app.Dir), out) {
					cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
					cmd.Dir = t.TempDir()
					if b, err := cmd.CombinedOutput(); err != nil {
						t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, b)
					}
				}
				got, err := exec.CommandContext(ctx, out).Output()
				if err != nil {
					t.Fatalf("running %s: %v", app.Name, err)
				}
				want := app.Greeting + ", revision " + strconv.Itoa(rev) + "\n"
				if string(got) != want {
					t.Errorf("%s printed %q, want %q", app.Name, got, want)
				}
			}
		})
	}
}
