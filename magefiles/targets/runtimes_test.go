package targets_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minimalbuild/minimal/magefiles/internal/smoke"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// testRuntimes runs every app's smoke test, for each of its platforms, in the images a
// build wrote under dir/images with the runtimes people use besides umoci and runc:
// podman from the OCI layout and from the docker tarball, and containerd's ctr from the
// tarball, in a containerd of the test's own. Last it validates every JSON document of
// the OCI layout against the OCI image-spec's own JSON schemas.
func testRuntimes(t *testing.T, dir string, specs []manifest.Spec) {
	images := filepath.Join(dir, "images")
	t.Run("podman", func(t *testing.T) {
		need(t, "podman")
		p := newPodman(t)
		// podman names an image pulled from a layout after the layout's path, and
		// refuses one with capitals, as a test's temporary directory has: reach the
		// layout through a link of a lowercase name.
		link, err := os.MkdirTemp("", "minimal-e2e-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(link) })
		layout := filepath.Join(link, "oci")
		if err := os.Symlink(filepath.Join(images, "oci"), layout); err != nil {
			t.Fatal(err)
		}
		for _, s := range specs {
			if s.Test == nil {
				continue
			}
			t.Run("layout/"+s.App+"/"+s.Platform.Arch, func(t *testing.T) {
				ref := "oci:" + layout + ":" + s.App
				p.check(t, s, p.image(t, "pull", "--quiet", "--platform", s.Platform.String(), ref))
			})
			t.Run("tar/"+s.App+"/"+s.Platform.Arch, func(t *testing.T) {
				tar := filepath.Join(images, "tar", s.App+"-"+s.Platform.Arch+".tar")
				p.image(t, "load", "--quiet", "--input", tar)
				p.check(t, s, p.image(t, "image", "inspect", "--format", "{{.Id}}", s.App+":latest"))
			})
		}
	})
	t.Run("ctr", func(t *testing.T) {
		need(t, "containerd", "ctr")
		c := startContainerd(t)
		for _, s := range specs {
			if s.Test == nil {
				continue
			}
			t.Run(s.App+"/"+s.Platform.Arch, func(t *testing.T) {
				c.check(t, s, filepath.Join(images, "tar", s.App+"-"+s.Platform.Arch+".tar"))
			})
		}
	})
	t.Run("schemas", func(t *testing.T) {
		schemas := imageSpecSchemas(t)
		n := validateLayout(t, schemas, filepath.Join(images, "oci"))
		// oci-layout, index.json, and per app an index, and per platform a manifest
		// and a config.
		apps := map[string]bool{}
		for _, s := range specs {
			apps[s.App] = true
		}
		if want := 2 + len(apps) + 2*len(specs); n < want {
			t.Errorf("validated %d JSON documents, want at least %d", n, want)
		}
	})
}

// podman runs podman with storage of its own in a temporary directory: vfs, which needs
// no overlay support, runc, no network.
type podman struct {
	base []string
}

func newPodman(t *testing.T) *podman {
	dir := t.TempDir()
	p := &podman{base: []string{"podman",
		"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"), "--tmpdir", filepath.Join(dir, "tmp"),
		"--storage-driver", "vfs", "--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "file",
	}}
	t.Cleanup(func() {
		// Unmounts whatever containers left, so that the directory can go.
		exec.Command(p.base[0], append(p.base[1:], "rm", "--all", "--force")...).Run()
	})
	return p
}

// image runs podman with args and returns the last line it prints: the image ID that
// pull --quiet and image inspect print.
func (p *podman) image(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(p.base[0], append(p.base[1:], args...)...).Output()
	if err != nil {
		t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, stderrOf(err))
	}
	lines := strings.Fields(string(out))
	if len(lines) == 0 {
		t.Fatalf("podman %s printed nothing", strings.Join(args, " "))
	}
	return lines[len(lines)-1]
}

// check runs s's smoke test in the image id, after checking that it is s's platform.
func (p *podman) check(t *testing.T, s manifest.Spec, id string) {
	t.Helper()
	if got := p.image(t, "image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", id); got != s.Platform.String() {
		t.Fatalf("podman chose the %s image, want %s", got, s.Platform)
	}
	name := fmt.Sprintf("minimal-e2e-%s-%s-%d", s.App, s.Platform.Arch, time.Now().UnixNano())
	args := append(append([]string(nil), p.base...), "run", "--rm", "--name", name, "--network", "none",
		"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024")
	if s.Test.Signal != "" {
		// As in runInContainer: PID 1 of its own namespace ignores signals it has no
		// handler for, so a signal test shares the host's PID namespace.
		args = append(args, "--pid", "host")
	}
	for k, v := range s.Test.Env {
		args = append(args, "--env", k+"="+v)
	}
	args = append(args, id)
	runSmoke(t, "podman", s, smoke.Cmd{
		Args: args,
		Env:  os.Environ(),
		Stop: func(ctx context.Context, sig syscall.Signal) error {
			running := func() bool {
				out, err := exec.CommandContext(ctx, p.base[0], append(p.base[1:], "container", "inspect", "--format", "{{.State.Status}}", name)...).Output()
				return err == nil && strings.TrimSpace(string(out)) == "running"
			}
			if err := afterStart(ctx, s.Test.After, running); err != nil {
				return err
			}
			return exec.CommandContext(ctx, p.base[0], append(p.base[1:], "kill", "--signal", fmt.Sprint(int(sig)), name)...).Run()
		},
	})
}

// containerd is a containerd the test started, with its root, state, socket and
// configuration in a temporary directory.
type containerd struct {
	ctr []string // ctr and the flags that reach this containerd
}

func startContainerd(t *testing.T) *containerd {
	t.Helper()
	dir := t.TempDir()
	sock := filepath.Join(dir, "containerd.sock")
	config := fmt.Sprintf(`version = 2
root = %q
state = %q
# Only what ctr run needs: no CRI, no snapshotters beyond the defaults, no tracing.
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = %q
[ttrpc]
  address = %q
[debug]
  address = ""
[metrics]
  address = ""
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock, sock+".ttrpc")
	configPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(configPath, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	cmd := exec.Command("containerd", "--config", configPath)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting containerd: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("containerd's log:\n%s", log.String())
		}
	})
	c := &containerd{ctr: []string{"ctr", "--address", sock, "--namespace", "minimal-e2e"}}
	for deadline := time.Now().Add(20 * time.Second); ; {
		select {
		case err := <-done:
			t.Fatalf("containerd ended: %v\n%s", err, log.String())
		default:
		}
		if exec.Command(c.ctr[0], append(c.ctr[1:], "version")...).Run() == nil {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("containerd did not answer on %s within 20s\n%s", sock, log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// check imports the docker tarball tar of s and runs s's smoke test in it with ctr run.
func (c *containerd) check(t *testing.T, s manifest.Spec, tar string) {
	t.Helper()
	// containerd 1.6 can collect a layer's snapshot that another image shares while an
	// import unpacks onto it ("parent snapshot ... does not exist"); the import is then
	// tried again, a bounded number of times.
	var out []byte
	var err error
	for try := 1; try <= 3; try++ {
		out, err = exec.Command(c.ctr[0], append(c.ctr[1:], "images", "import", "--platform", s.Platform.String(), tar)...).Output()
		if err == nil || !strings.Contains(string(stderrOf(err)), "does not exist") {
			break
		}
	}
	if err != nil {
		t.Fatalf("ctr images import %s: %v\n%s", tar, err, stderrOf(err))
	}
	// The tarball is tagged <app>:latest, which containerd names in full.
	ref := "docker.io/library/" + s.App + ":latest"
	if !strings.Contains(string(out), ref) {
		t.Fatalf("ctr images import printed %q, want it to name %s", out, ref)
	}
	id := fmt.Sprintf("minimal-e2e-%s-%s-%d", s.App, s.Platform.Arch, time.Now().UnixNano())
	args := append(append([]string(nil), c.ctr...), "run", "--rm", "--platform", s.Platform.String())
	if s.Test.Signal != "" {
		args = append(args, "--with-ns", fmt.Sprintf("pid:/proc/%d/ns/pid", os.Getpid()))
	}
	for k, v := range s.Test.Env {
		args = append(args, "--env", k+"="+v)
	}
	args = append(args, ref, id)
	if len(s.Test.Args) > 0 {
		// ctr run's arguments replace the whole command, entrypoint included; the
		// test's args replace only the image's cmd, so the entrypoint goes first.
		entrypoint := s.Image.Entrypoint
		if len(entrypoint) == 0 {
			entrypoint = []string{"/ko-app/" + s.App}
		}
		args = append(args, entrypoint...)
	}
	t.Cleanup(func() {
		exec.Command(c.ctr[0], append(c.ctr[1:], "task", "kill", "--signal", "SIGKILL", id)...).Run()
		exec.Command(c.ctr[0], append(c.ctr[1:], "containers", "delete", id)...).Run()
	})
	runSmoke(t, "ctr", s, smoke.Cmd{
		Args: args,
		Env:  os.Environ(),
		Stop: func(ctx context.Context, sig syscall.Signal) error {
			running := func() bool {
				out, err := exec.CommandContext(ctx, c.ctr[0], append(c.ctr[1:], "task", "ls")...).Output()
				for _, line := range strings.Split(string(out), "\n") {
					if f := strings.Fields(line); err == nil && len(f) == 3 && f[0] == id && f[2] == "RUNNING" {
						return true
					}
				}
				return false
			}
			if err := afterStart(ctx, s.Test.After, running); err != nil {
				return err
			}
			return exec.CommandContext(ctx, c.ctr[0], append(c.ctr[1:], "task", "kill", "--signal", fmt.Sprint(int(sig)), id)...).Run()
		},
	})
}

// runSmoke runs s's smoke test with c, whose runtime reports a container that a signal
// ended as exit 128+n, and checks the result.
func runSmoke(t *testing.T, runtime string, s manifest.Spec, c smoke.Cmd) {
	t.Helper()
	test := *s.Test
	if test.Signal != "" {
		// c.Stop waits for the container to run before it waits test.After and sends
		// the signal; smoke.Run would count test.After and its grace from the start
		// of the runtime, which takes seconds on a loaded machine. So the signal is
		// sent here, and the run has smoke.DefaultTimeout to end.
		ctx, cancel := context.WithTimeout(context.Background(), smoke.DefaultTimeout)
		done := make(chan error, 1)
		sig, _ := manifest.Signal(test.Signal)
		go func(stop func(context.Context, syscall.Signal) error, sig syscall.Signal) { done <- stop(ctx, sig) }(c.Stop, sig)
		defer func() {
			cancel()
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("sending SIG%s: %v", s.Test.Signal, err)
			}
		}()
		test.Signal, test.After, c.Stop = "", 0, nil
	}
	res, err := smoke.Run(context.Background(), &test, c)
	if err != nil {
		t.Fatalf("%s: %v\nstderr: %s", strings.Join(c.Args, " "), err, res.Stderr)
	}
	if sig, _ := manifest.Signal(s.Test.Signal); s.Test.Signal != "" && res.Signal == 0 && res.Exit == 128+int(sig) {
		res.Exit, res.Signal = -1, sig
	}
	if err := smoke.Check(s.Test, res); err != nil {
		t.Errorf("%s %s %s: %v", runtime, s.App, s.Platform, err)
	}
}

// afterStart waits until running reports the container running, then for after more, so
// that the app has the time its test gives it from its own start, not from the runtime's,
// which takes longer than that to create a container.
func afterStart(ctx context.Context, after time.Duration, running func() bool) error {
	for !running() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the container to run: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(after):
		return nil
	}
}

// stderrOf returns what a failed command wrote to standard error.
func stderrOf(err error) []byte {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.Stderr
	}
	return nil
}
