package cache

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// helperEnv, when set in the environment of the test binary, makes it run as a helper
// process instead of running tests: "worker" or "crash", configured by the variables
// below.
const (
	helperEnv       = "MINIMAL_CACHE_TEST_HELPER"
	helperDirEnv    = "MINIMAL_CACHE_TEST_DIR"
	helperWriterEnv = "MINIMAL_CACHE_TEST_WRITER"
	helperPhaseEnv  = "MINIMAL_CACHE_TEST_PHASE"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		if err := runHelper(mode); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runHelper(mode string) error {
	c, err := Open(os.Getenv(helperDirEnv))
	if err != nil {
		return err
	}
	switch mode {
	case "worker":
		return work(c, os.Getenv(helperWriterEnv), workIterations)
	case "crash":
		phase := string(filepath.Separator) + os.Getenv(helperPhaseEnv) + string(filepath.Separator)
		testHookWrite = func(tmp string, written int) {
			if strings.Contains(tmp, phase) && written > 0 {
				// Tell the parent which file is half written, then wait to be killed.
				fmt.Println(tmp)
				time.Sleep(time.Hour)
			}
		}
		return c.Put(crashKey, crashOutputs("new"))
	}
	return fmt.Errorf("unknown helper mode %q", mode)
}

const (
	workKeys       = 4
	workIterations = 300
)

// workOutputs is what writer w stores for key k: outputs whose sizes differ by writer, so
// that a record mixing two writers' outputs cannot pass, and one output all writers
// share, so that they write the same blob at the same time.
func workOutputs(writer string, k int) map[string][]byte {
	n, _ := strconv.Atoi(strings.TrimPrefix(writer, "w"))
	return map[string][]byte{
		"a":      []byte(fmt.Sprintf("writer=%s key=%d a %s", writer, k, strings.Repeat("x", 100*n))),
		"b":      []byte(fmt.Sprintf("writer=%s key=%d b", writer, k)),
		"shared": bytes.Repeat([]byte{byte(k)}, 5000),
	}
}

// work puts and gets the keys in random order as the given writer. Every key was stored
// before it starts, so every Get must return one writer's whole entry for the key.
func work(c *Cache, writer string, iterations int) error {
	for i := range iterations {
		k := rand.IntN(workKeys)
		key := testKey(strconv.Itoa(k))
		if i%3 == 0 {
			if err := c.Put(key, workOutputs(writer, k)); err != nil {
				return fmt.Errorf("writer %s: Put: %w", writer, err)
			}
			continue
		}
		got, err := c.Get(key)
		if err != nil {
			return fmt.Errorf("writer %s: Get of key %d: %w", writer, k, err)
		}
		from, _, _ := strings.Cut(strings.TrimPrefix(string(got["a"]), "writer="), " ")
		if diff := cmp.Diff(asStrings(workOutputs(from, k)), asStrings(got)); diff != "" {
			return fmt.Errorf("writer %s: Get of key %d is not writer %q's entry (-want +got):\n%s", writer, k, from, diff)
		}
	}
	return nil
}

// seed stores every key that work uses.
func seed(t *testing.T, c *Cache) {
	for k := range workKeys {
		mustPut(t, c, testKey(strconv.Itoa(k)), workOutputs("w0", k))
	}
}

func TestConcurrentGoroutines(t *testing.T) {
	dir := t.TempDir()
	seed(t, openCache(t, dir))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			c, err := Open(dir) // each its own Cache, as separate packages would have
			if err == nil {
				err = work(c, fmt.Sprintf("w%d", w+1), workIterations)
			}
			if err == nil && w == 0 {
				err = c.Trim(time.Hour)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// helper returns the command that runs the test binary as a helper process.
func helper(t *testing.T, mode, dir string, env ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), append([]string{helperEnv + "=" + mode, helperDirEnv + "=" + dir}, env...)...)
	return cmd
}

func TestConcurrentProcesses(t *testing.T) {
	dir := t.TempDir()
	seed(t, openCache(t, dir))
	var cmds []*exec.Cmd
	var stderrs []*bytes.Buffer
	for w := range 2 {
		cmd := helper(t, "worker", dir, fmt.Sprintf("%s=w%d", helperWriterEnv, w+1))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
		stderrs = append(stderrs, &stderr)
	}
	// This process works too, at the same time.
	if err := work(openCache(t, dir), "w3", workIterations); err != nil {
		t.Error(err)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("worker process %d: %v\n%s", i+1, err, stderrs[i])
		}
	}
}

var crashKey = testKey("crash")

// crashOutputs is an entry large enough that its blob takes several writes.
func crashOutputs(version string) map[string][]byte {
	return map[string][]byte{
		"bin": bytes.Repeat([]byte(version), 4*writeChunk/len(version)),
		"log": []byte("built " + version),
	}
}

// TestCrash kills a process in the middle of a Put, with SIGKILL so that it cannot clean
// up, and checks that the cache still returns only whole entries and works on.
func TestCrash(t *testing.T) {
	tests := []struct {
		name  string
		phase string // the directory whose temporary file the writer dies writing
		prior bool   // whether the key already has an entry
	}{
		{name: "killed writing a blob of a new entry", phase: "blobs"},
		{name: "killed writing a blob of a replacement", phase: "blobs", prior: true},
		{name: "killed writing the record of a new entry", phase: "actions"},
		{name: "killed writing the record of a replacement", phase: "actions", prior: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			c := openCache(t, dir)
			if tt.prior {
				mustPut(t, c, crashKey, crashOutputs("old"))
			}

			cmd := helper(t, "crash", dir, helperPhaseEnv+"="+tt.phase)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			line, err := bufio.NewReader(stdout).ReadString('\n')
			if err != nil {
				cmd.Wait()
				t.Fatalf("the writer did not reach the %s: %v\n%s", tt.phase, err, stderr.String())
			}
			tmp := strings.TrimSuffix(line, "\n")
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()
			if !exists(tmp) {
				t.Fatalf("the writer's temporary file %s is gone: it was not killed mid-write", tmp)
			}

			got, err := openCache(t, dir).Get(crashKey)
			switch {
			case tt.prior && err != nil:
				t.Errorf("Get after the crash: %v, want the old entry", err)
			case tt.prior:
				if diff := cmp.Diff(asStrings(crashOutputs("old")), asStrings(got)); diff != "" {
					t.Errorf("Get after the crash (-want +got):\n%s", diff)
				}
			case !errors.Is(err, ErrMiss):
				t.Errorf("Get after the crash = %d outputs, %v; want ErrMiss", len(got), err)
			}

			// Once stale, Open removes what the writer left.
			age(t, tmp, 2*time.Hour)
			age(t, filepath.Join(dir, "last-clean"), 2*time.Hour)
			c = openCache(t, dir)
			if exists(tmp) {
				t.Errorf("Open left the killed writer's temporary file %s", tmp)
			}
			mustPut(t, c, crashKey, crashOutputs("new"))
			got, err = c.Get(crashKey)
			if err != nil {
				t.Fatalf("Get after a new Put: %v", err)
			}
			if diff := cmp.Diff(asStrings(crashOutputs("new")), asStrings(got)); diff != "" {
				t.Errorf("Get after a new Put (-want +got):\n%s", diff)
			}
		})
	}
}
