package registrytest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minimalbuild/minimal/magefiles/internal/testenv"
)

// Binary is the name of Debian's registry program.
const Binary = "docker-registry"

// readyWithin bounds the wait for a started registry to answer.
const readyWithin = 30 * time.Second

// config is the registry's configuration: filesystem storage in the
// test's directory, no authentication, deletes allowed, quiet logs.
const config = `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
`

// Start starts docker-registry on a free 127.0.0.1 port, with a
// configuration Start writes, waits until GET /v2/ answers, and returns
// the registry's host:port. The registry is stopped, and its storage
// removed, when the test ends. Plain HTTP is how clients reach it.
//
// Start skips the test when docker-registry is not on PATH, and fails it
// instead when $CI is true.
func Start(t testing.TB) string {
	t.Helper()
	bin := testenv.Tool(t, Binary, "docker-registry")
	dir := t.TempDir()
	// Another process may take the free port before the registry does;
	// then try another.
	for try := 1; ; try++ {
		host, err := start(t, bin, dir)
		if err == nil {
			return host
		}
		if try == 3 || !errors.Is(err, errAddrInUse) {
			t.Fatalf("starting %s: %v", Binary, err)
		}
	}
}

var errAddrInUse = errors.New("address already in use")

func start(t testing.TB, bin, dir string) (string, error) {
	host, err := freeAddr()
	if err != nil {
		return "", err
	}
	storage := filepath.Join(dir, "storage")
	cfg := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, config, storage, host), 0o644); err != nil {
		return "", err
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "serve", cfg)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	// REGISTRY_* variables override the configuration file.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REGISTRY_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		cancel()
		return "", err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		cancel()
		<-exited
	}

	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(readyWithin)
	for {
		select {
		case err := <-exited:
			cancel()
			if strings.Contains(out.String(), "address already in use") {
				return "", fmt.Errorf("%s: %w", host, errAddrInUse)
			}
			return "", fmt.Errorf("%s exited before it answered (%v):\n%s", Binary, err, out)
		case <-time.After(20 * time.Millisecond):
		}
		resp, err := client.Get("http://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			stop()
			return "", fmt.Errorf("%s did not answer GET /v2/ on %s within %v (last: %v):\n%s", Binary, host, readyWithin, err, out)
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() && out.Len() > 0 {
			t.Logf("%s output, last lines:\n%s", Binary, tail(out.String(), 20))
		}
	})
	return host, nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// freeAddr returns a 127.0.0.1 address with a port nothing listens on.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// syncBuffer is a bytes.Buffer that the registry's output goroutine and
// the test may use at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}
