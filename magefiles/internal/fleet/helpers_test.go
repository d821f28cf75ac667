package fleet

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minimalbuild/minimal/magefiles/internal/oci"
	"github.com/minimalbuild/minimal/magefiles/internal/pid1"
	"github.com/minimalbuild/minimal/magefiles/internal/shrink"
	"github.com/minimalbuild/minimal/magefiles/internal/toolchain"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// debian names the Debian package of each tool the tests use.
var debian = map[string]string{
	"runc": "runc", "podman": "podman", "wrk": "wrk", "nginx": "nginx-light",
	"busybox": "busybox-static", "gcc": "gcc", "go": "golang",
}

// need skips the test when a tool is missing, naming the Debian package to install;
// under CI=true a missing tool fails the test instead.
func need(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			msg := fmt.Sprintf("%s not found: apt-get install %s", tool, debian[tool])
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
}

// repoRoot is the repository this package belongs to.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

var (
	builtMu sync.Mutex
	built   = map[string][]byte{}
)

// memo returns what build made for key the first time it was asked.
func memo(t testing.TB, key string, build func() ([]byte, error)) []byte {
	t.Helper()
	builtMu.Lock()
	defer builtMu.Unlock()
	if b, ok := built[key]; ok {
		return b
	}
	b, err := build()
	if err != nil {
		t.Fatalf("building %s: %v", key, err)
	}
	built[key] = b
	return b
}

// appBinary builds the example app name of minimal.yaml for arch as the build does
// (its compiler, flags and strip, then sstrip), skipping the test where zig cannot
// be had.
func appBinary(t testing.TB, name, arch string) []byte {
	t.Helper()
	m, err := manifest.Load(filepath.Join(repoRoot(), "minimal.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	zig := toolchain.LazyZig(m.Toolchains.Zig)
	if _, err := zig(ctx); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI needs zig %s: %v", m.Toolchains.Zig, err)
		}
		t.Skipf("zig %s is not available: %v", m.Toolchains.Zig, err)
	}
	return memo(t, "app/"+name+"/"+arch, func() ([]byte, error) {
		app, ok := m.App(name)
		if !ok {
			return nil, fmt.Errorf("minimal.yaml has no app %q", name)
		}
		spec, err := m.Spec(app, manifest.Platform{OS: "linux", Arch: arch})
		if err != nil {
			return nil, err
		}
		if spec.Lang != manifest.LangC {
			return nil, fmt.Errorf("%s is not a C app", name)
		}
		out := filepath.Join(t.TempDir(), name)
		if err := toolchain.C(zig).Build(ctx, spec, out); err != nil {
			return nil, err
		}
		bin, err := os.ReadFile(out)
		if err != nil {
			return nil, err
		}
		for _, pass := range spec.Shrink {
			if pass == "sstrip" {
				if bin, err = shrink.Apply(context.Background(), pass, bin); err != nil {
					return nil, err
				}
			}
		}
		return bin, nil
	})
}

// goBinary builds the Go program in dir for arch, static and stripped.
func goBinary(t testing.TB, dir, arch string) []byte {
	t.Helper()
	need(t, "go")
	return memo(t, "go/"+dir+"/"+arch, func() ([]byte, error) {
		out := filepath.Join(t.TempDir(), "prog")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./"+dir)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
		if msg, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build: %w\n%s", err, msg)
		}
		return os.ReadFile(out)
	})
}

// initFile is the init of arch at pid1.Path, as an image with image.init has it.
func initFile(t testing.TB, arch string) oci.File {
	t.Helper()
	b, err := pid1.Binary(arch)
	if err != nil {
		t.Fatal(err)
	}
	return oci.File{Path: pid1.Path, Mode: 0o755, Data: b}
}

// app is the file of an app's binary at /ko-app/<name>.
func app(name string, bin []byte) oci.File {
	return oci.File{Path: oci.AppDir + "/" + name, Mode: 0o755, Data: bin}
}

var arches = []string{"amd64", "386"}

// container is one runc container run in the foreground, as `runc run` does.
type container struct {
	t      testing.TB
	runc   Runc
	id     string
	cmd    *exec.Cmd
	stdout *bufio.Reader
	done   chan struct{}
	err    error
}

var containers int

// run starts a container of files with cfg, and removes it when the test ends.
func run(t testing.TB, files []oci.File, cfg Config) *container {
	t.Helper()
	need(t, "runc")
	dir := t.TempDir()
	bundle := filepath.Join(dir, "bundle")
	if err := Bundle(context.Background(), bundle, files, cfg); err != nil {
		t.Fatal(err)
	}
	containers++
	c := &container{t: t, runc: Runc{Root: filepath.Join(dir, "state")}, id: fmt.Sprintf("minimal-fleet-test-%d-%d", os.Getpid(), containers), done: make(chan struct{})}
	c.cmd = exec.Command("runc", "--root", c.runc.Root, "run", "--bundle", bundle, c.id)
	// A pipe of our own rather than StdoutPipe, which Wait closes when the container
	// ends, possibly before the test has read what it wrote.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	c.stdout = bufio.NewReader(r)
	c.cmd.Stdout = w
	var stderr strings.Builder
	c.cmd.Stderr = &stderr
	err = c.cmd.Start()
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		c.runc.Delete(context.Background(), c.id)
		c.cmd.Process.Kill()
		<-c.done
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("runc's stderr: %s", stderr.String())
		}
	})
	c.waitRunning()
	return c
}

// waitRunning waits until runc reports the container running.
func (c *container) waitRunning() {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		out, err := exec.Command("runc", "--root", c.runc.Root, "state", c.id).Output()
		if err == nil && strings.Contains(string(out), `"status": "running"`) {
			return
		}
		select {
		case <-c.done: // a program that ends at once, such as pause -v
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
	c.t.Fatal("the container is not running after 10s")
}

// pid returns the host pid of the container's process 1.
func (c *container) pid() int {
	c.t.Helper()
	out, err := exec.Command("runc", "--root", c.runc.Root, "state", c.id).Output()
	if err != nil {
		c.t.Fatalf("runc state: %v", err)
	}
	var st struct {
		Pid int `json:"pid"`
	}
	if err := json.Unmarshal(out, &st); err != nil {
		c.t.Fatalf("runc state: %v", err)
	}
	return st.Pid
}

// waitBlocked waits until the container's process 1 is ready for every signal of
// sigs: it blocks or catches each, or waits for signals in rt_sigtimedwait (which
// unblocks the signals it waits for while it waits). A signal sent to process 1
// before that is dropped by the kernel, for pause and Kubernetes' pause alike, so a
// test must not send it earlier.
func (c *container) waitBlocked(sigs ...syscall.Signal) {
	c.t.Helper()
	var want uint64
	for _, s := range sigs {
		want |= 1 << (s - 1)
	}
	pid := c.pid()
	deadline := time.Now().Add(10 * time.Second)
	for ; time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		// Until it executes the program, process 1 is runc's own init, which
		// catches every signal.
		if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.HasPrefix(string(comm), "runc") {
			continue
		}
		if wchan, _ := os.ReadFile(fmt.Sprintf("/proc/%d/wchan", pid)); strings.HasPrefix(string(wchan), "do_sigtimedwait") {
			return
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			c.t.Fatal(err)
		}
		var mask uint64
		for _, line := range strings.Split(string(b), "\n") {
			for _, field := range []string{"SigBlk:", "SigCgt:"} {
				if hex, ok := strings.CutPrefix(line, field); ok {
					m, _ := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
					mask |= m
				}
			}
		}
		if mask&want == want {
			return
		}
	}
	c.t.Fatalf("process 1 is not ready for %v after 10s", sigs)
}

// waitExec waits until the container's process 1 runs the program named comm (its
// first 15 characters, as /proc/<pid>/comm has it) rather than runc's init.
func (c *container) waitExec(comm string) {
	c.t.Helper()
	pid := c.pid()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(b)) == comm {
			return
		}
	}
	c.t.Fatalf("process 1 does not run %s after 10s", comm)
}

// kill sends sig to the container's process 1 with runc kill.
func (c *container) kill(sig syscall.Signal) {
	c.t.Helper()
	if err := c.runc.Kill(context.Background(), c.id, sig); err != nil {
		c.t.Fatal(err)
	}
}

// wait waits up to d for the container to end and returns runc's exit status: the
// process 1's, or 128+N for signal N. ok is false if it still runs.
func (c *container) wait(d time.Duration) (status int, ok bool) {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(d):
		return 0, false
	}
	var ee *exec.ExitError
	switch {
	case c.err == nil:
		return 0, true
	case errors.As(c.err, &ee):
		return ee.ExitCode(), true
	}
	c.t.Fatalf("runc run: %v", c.err)
	return 0, false
}

// freePort returns a TCP port on the loopback that nothing listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// dial connects to 127.0.0.1:port, retrying for up to 5 s while the server starts.
func dial(t testing.TB, port int) net.Conn {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
