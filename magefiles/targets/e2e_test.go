package targets_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/minimalbuild/minimal/magefiles/internal/pipeline"
	"github.com/minimalbuild/minimal/magefiles/internal/registrytest"
	"github.com/minimalbuild/minimal/magefiles/internal/report"
	"github.com/minimalbuild/minimal/magefiles/internal/smoke"
	"github.com/minimalbuild/minimal/magefiles/internal/testenv"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// need skips the test when a tool is missing, naming the Debian package to install (the tool's
// name, or the package that has it); under CI=true a missing tool fails the test instead.
func need(t testing.TB, tools ...string) {
	t.Helper()
	pkgs := map[string]string{"ctr": "containerd"}
	for _, tool := range tools {
		pkg := pkgs[tool]
		if pkg == "" {
			pkg = tool
		}
		testenv.Tool(t, tool, pkg)
	}
}

// repoRoot is the repository this test belongs to.
func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// copyRepo copies the repository's sources (not .git, not images/ contents) to a new
// directory, as a fresh clone would have them.
func copyRepo(t testing.TB, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "repo")
	testenv.CopyTree(t, dst, src, func(rel string, d fs.DirEntry) bool {
		return rel == ".git" || (strings.HasPrefix(rel, "images"+string(filepath.Separator)) && d.Name() != ".gitkeep")
	})
	return dst
}

func readReport(t testing.TB, dir string) *report.Report {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "images", "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r report.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// packed returns the "app os/arch" of every image whose binary went through pack.
func packed(r *report.Report) map[string]bool {
	out := map[string]bool{}
	for _, a := range r.Apps {
		for _, p := range a.Platforms {
			for _, st := range p.Steps {
				if st.Pass == "pack" && st.Skipped == "" {
					out[a.Name+" "+p.Platform] = true
				}
			}
		}
	}
	return out
}

// digests maps app and platform to image digests, and app to index digest.
func digests(r *report.Report) map[string]string {
	m := map[string]string{}
	for _, a := range r.Apps {
		m[a.Name] = a.Index
		for _, p := range a.Platforms {
			m[a.Name+" "+p.Platform] = p.Manifest
		}
	}
	return m
}

// TestEndToEnd builds the example monorepo the way its README says, in a copy of the
// repository, then unpacks every image from the OCI layout with umoci and runs it with
// runc for both platforms, checking each app's smoke test. It also builds the same
// sources in another directory, twice, and checks that every digest is the same. Last,
// it pushes every app to Debian's docker-registry with go tool mage push, pulls each
// platform back with skopeo and runs it the same way. In between, testRuntimes runs the
// images with podman and containerd and validates the layout against the image-spec's
// JSON schemas.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every example app; not in -short mode")
	}
	need(t, "umoci", "runc", "skopeo")
	ctx := context.Background()
	root := repoRoot(t)

	a := copyRepo(t, root)
	cmd := exec.CommandContext(ctx, "go", "tool", "mage", "build")
	cmd.Dir = a
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go tool mage build: %v\n%s", err, out)
	}
	t.Logf("go tool mage build:\n%s", out)
	want := digests(readReport(t, a))

	b := copyRepo(t, root)
	m, err := manifest.Load(filepath.Join(b, "minimal.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The first build here starts from an empty action cache, the second reuses it.
	fresh := t.TempDir()
	for i := range 2 {
		if _, err := pipeline.Build(ctx, m, pipeline.WithLog(io.Discard), pipeline.WithCache(fresh)); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, digests(readReport(t, b))); diff != "" {
			t.Errorf("build %d in another directory, cache %s: digests differ (-want +got):\n%s", i+1, []string{"empty", "warm"}[i], diff)
		}
	}

	specs, err := m.Specs()
	if err != nil {
		t.Fatal(err)
	}
	layout := filepath.Join(a, "images", "oci")
	for _, s := range specs {
		t.Run("layout/"+s.App+"/"+s.Platform.Arch, func(t *testing.T) {
			if s.Test == nil {
				t.Skipf("%s has no smoke test", s.App)
			}
			runInContainer(t, layout+":"+s.App+"/"+s.Platform.Arch, s)
		})
	}

	// The same images in podman and containerd, and the layout against the image-spec's
	// own schemas.
	testRuntimes(t, a, specs)

	// Packed programs start through a stub: each runs again in its container with a
	// large environment, and those that ignore their arguments with a long argv too.
	packedApps := packed(readReport(t, a))
	for _, app := range []string{"hello", "greet", "churn"} {
		for _, arch := range []string{"amd64", "386"} {
			if !packedApps[app+" linux/"+arch] {
				t.Errorf("%s linux/%s was not packed; the example manifest asks for pack", app, arch)
			}
		}
	}
	ignoresArgs := map[string]bool{"hello": true, "churn": true}
	for _, s := range specs {
		if !packedApps[s.App+" "+s.Platform.String()] {
			continue
		}
		ref := layout + ":" + s.App + "/" + s.Platform.Arch
		t.Run("packed-env/"+s.App+"/"+s.Platform.Arch, func(t *testing.T) {
			sp, test := s, *s.Test
			test.Env = maps.Clone(test.Env)
			if test.Env == nil {
				test.Env = map[string]string{}
			}
			val := strings.Repeat("v", 256<<10/1000-len("STRESS_0000="))
			for i := range 1000 {
				test.Env[fmt.Sprintf("STRESS_%04d", i)] = val
			}
			sp.Test = &test
			runInContainer(t, ref, sp)
		})
		if !ignoresArgs[s.App] {
			continue
		}
		t.Run("packed-argv/"+s.App+"/"+s.Platform.Arch, func(t *testing.T) {
			sp, test := s, *s.Test
			test.Args = nil
			for i := range 2000 {
				test.Args = append(test.Args, fmt.Sprintf("%04d%s", i, strings.Repeat("a", 96)))
			}
			sp.Test = &test
			runInContainer(t, ref, sp)
		})
	}

	// Push every app to a real distribution registry with go tool mage push, pull each
	// platform back with skopeo, and run it.
	need(t, "docker-registry")
	host := registrytest.Start(t)
	push := exec.CommandContext(ctx, "go", "tool", "mage", "push")
	push.Dir = a
	push.Env = append(os.Environ(), "KO_DOCKER_REPO="+host+"/e2e")
	var stdout, stderr strings.Builder
	push.Stdout, push.Stderr = &stdout, &stderr
	if err := push.Run(); err != nil {
		t.Fatalf("go tool mage push: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != len(m.Apps) {
		t.Fatalf("go tool mage push printed %d lines, want one per app (%d):\n%s", len(lines), len(m.Apps), stdout.String())
	}
	for i, app := range m.Apps {
		prefix := host + "/e2e/" + app.Name + ":latest@" + want[app.Name]
		if lines[i] != prefix {
			t.Errorf("push line %d = %q, want %q", i, lines[i], prefix)
		}
	}
	pulled := filepath.Join(t.TempDir(), "pulled")
	for _, s := range specs {
		t.Run("registry/"+s.App+"/"+s.Platform.Arch, func(t *testing.T) {
			if s.Test == nil {
				t.Skipf("%s has no smoke test", s.App)
			}
			ref := s.App + "-" + s.Platform.Arch
			copy := exec.CommandContext(ctx, "skopeo", "copy", "--src-tls-verify=false",
				"--override-os", s.Platform.OS, "--override-arch", s.Platform.Arch,
				"docker://"+host+"/e2e/"+s.App+":latest", "oci:"+pulled+":"+ref)
			if out, err := copy.CombinedOutput(); err != nil {
				t.Fatalf("skopeo copy: %v\n%s", err, out)
			}
			runInContainer(t, pulled+":"+ref, s)
		})
	}
}

// runInContainer unpacks the image ref (layout:name) of s with umoci and runs its smoke
// test in it with runc.
func runInContainer(t *testing.T, ref string, s manifest.Spec) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	bundle := filepath.Join(dir, "bundle")
	if out, err := exec.CommandContext(ctx, "umoci", "unpack", "--image", ref, bundle).CombinedOutput(); err != nil {
		t.Fatalf("umoci unpack --image %s: %v\n%s", ref, err, out)
	}
	configPath := filepath.Join(bundle, "config.json")
	raw, err := os.ReadFile(configPath)
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	process := spec["process"].(map[string]any)
	process["terminal"] = false
	if len(s.Test.Args) > 0 {
		// The test's args replace the image's cmd, as `docker run image args...` does.
		entrypoint := s.Image.Entrypoint
		if len(entrypoint) == 0 {
			entrypoint = []string{"/ko-app/" + s.App}
		}
		var args []any
		for _, a := range append(append([]string(nil), entrypoint...), s.Test.Args...) {
			args = append(args, a)
		}
		process["args"] = args
	}
	if s.Test.Signal != "" {
		// As PID 1 of its own namespace a process ignores every signal it has no handler
		// for (the kernel protects init), so the classic pause() program would outlive
		// SIGTERM. A signal test runs the container in the host's PID namespace instead,
		// where the app is an ordinary process, as under docker run --init.
		linux := spec["linux"].(map[string]any)
		var keep []any
		for _, ns := range linux["namespaces"].([]any) {
			if ns.(map[string]any)["type"] != "pid" {
				keep = append(keep, ns)
			}
		}
		linux["namespaces"] = keep
	}
	env, _ := process["env"].([]any)
	for k, v := range s.Test.Env {
		env = append(env, k+"="+v)
	}
	process["env"] = env
	if raw, err = json.Marshal(spec); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(configPath, raw, 0o644); err != nil {
		t.Fatal(err)
	}

	state := filepath.Join(dir, "state")
	id := fmt.Sprintf("minimal-e2e-%s-%s-%d", s.App, s.Platform.Arch, os.Getpid())
	test := *s.Test
	test.Args = nil // already in the bundle's process args
	c := smoke.Cmd{
		Args: []string{"runc", "--root", state, "run", "--bundle", bundle, id},
		Env:  []string{"PATH=" + os.Getenv("PATH")},
		Stop: func(ctx context.Context, sig syscall.Signal) error {
			return exec.CommandContext(ctx, "runc", "--root", state, "kill", id, fmt.Sprint(int(sig))).Run()
		},
	}
	t.Cleanup(func() { exec.Command("runc", "--root", state, "delete", "--force", id).Run() })
	res, err := smoke.Run(ctx, &test, c)
	if err != nil {
		t.Fatalf("runc run %s: %v\nstderr: %s", ref, err, res.Stderr)
	}
	// runc reports a container that a signal ended as exit 128+n, the way a shell does.
	if sig, _ := manifest.Signal(test.Signal); test.Signal != "" && res.Signal == 0 && res.Exit == 128+int(sig) {
		res.Exit, res.Signal = -1, sig
	}
	if err := smoke.Check(&test, res); err != nil {
		t.Errorf("%s in runc: %v", ref, err)
	}
}
