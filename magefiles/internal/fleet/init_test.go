package fleet

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minimalbuild/minimal/magefiles/internal/oci"
	"github.com/minimalbuild/minimal/magefiles/internal/pid1"
)

// stopWithin is how long a container may take to end after SIGTERM in these tests:
// far more than the milliseconds the apps take (BENCHMARKS.md measures them), far
// less than a runtime's grace period.
const stopWithin = 5 * time.Second

// TestPauseStopsOnTERM runs pause as process 1 of a container, where the kernel
// drops signals a process neither blocks nor handles, and checks that SIGTERM and
// SIGINT end it with status 0.
func TestPauseStopsOnTERM(t *testing.T) {
	for _, arch := range arches {
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
			t.Run(arch+"/"+sig.String(), func(t *testing.T) {
				c := run(t, []oci.File{app("pause", appBinary(t, "pause", arch))}, Config{Args: []string{"/ko-app/pause"}})
				c.waitBlocked(syscall.SIGINT, syscall.SIGTERM)
				start := time.Now()
				c.kill(sig)
				status, ok := c.wait(stopWithin)
				if !ok {
					t.Fatalf("pause still runs %v after %v", stopWithin, sig)
				}
				if status != 0 {
					t.Errorf("pause ended with status %d after %v, want 0", status, sig)
				}
				t.Logf("stopped %v after %v", time.Since(start), sig)
			})
		}
	}
}

// TestPauseVersion checks pause -v.
func TestPauseVersion(t *testing.T) {
	for _, arch := range arches {
		t.Run(arch, func(t *testing.T) {
			c := run(t, []oci.File{app("pause", appBinary(t, "pause", arch))}, Config{Args: []string{"/ko-app/pause", "-v"}})
			line, _ := c.stdout.ReadString('\n')
			if status, ok := c.wait(stopWithin); !ok || status != 0 {
				t.Fatalf("pause -v: status %d, ended %v; want 0", status, ok)
			}
			if !strings.HasPrefix(line, "pause ") {
				t.Errorf("pause -v printed %q, want a version", line)
			}
		})
	}
}

// TestPausleUnderInit shows what the init is for: pausle, which has no signal
// handler, outlives SIGTERM as process 1 on its own, and ends on it under the init,
// which reports its death by signal 15 as status 143.
func TestPausleUnderInit(t *testing.T) {
	for _, arch := range arches {
		t.Run(arch, func(t *testing.T) {
			pausle := app("pausle", appBinary(t, "pausle", arch))
			t.Run("alone", func(t *testing.T) {
				c := run(t, []oci.File{pausle}, Config{Args: []string{"/ko-app/pausle"}})
				c.waitExec("pausle")
				time.Sleep(100 * time.Millisecond) // for pausle to be in pause()
				c.kill(syscall.SIGTERM)
				if status, ok := c.wait(time.Second); ok {
					t.Fatalf("pausle as process 1 ended with status %d on SIGTERM; the kernel should have dropped the signal", status)
				}
			})
			t.Run("init", func(t *testing.T) {
				c := run(t, []oci.File{initFile(t, arch), pausle}, Config{Args: pid1.Entrypoint([]string{"/ko-app/pausle"})})
				c.waitBlocked(syscall.SIGTERM)
				start := time.Now()
				c.kill(syscall.SIGTERM)
				status, ok := c.wait(stopWithin)
				if !ok {
					t.Fatalf("pausle under the init still runs %v after SIGTERM", stopWithin)
				}
				if status != 128+15 {
					t.Errorf("pausle under the init ended with status %d, want 143", status)
				}
				t.Logf("stopped %v after SIGTERM", time.Since(start))
			})
		})
	}
}

// TestInitReapsOrphans runs a program that makes 20 orphans, whose parent exits
// before them, so that they are re-parented to process 1 and end as its zombies. Under
// the init none is left; as process 1 itself, the program reaps none of them, which
// shows the check can fail.
func TestInitReapsOrphans(t *testing.T) {
	for _, arch := range arches {
		t.Run(arch, func(t *testing.T) {
			prog := app("signals", goBinary(t, "testdata/signals", arch))
			for _, tt := range []struct {
				name   string
				files  []oci.File
				args   []string
				want   string
				status int
			}{
				{"init", []oci.File{initFile(t, arch), prog}, pid1.Entrypoint([]string{"/ko-app/signals", "orphans", "20"}), "zombies: 0\n", 0},
				{"alone", []oci.File{prog}, []string{"/ko-app/signals", "orphans", "20"}, "zombies: 20\n", 1},
			} {
				t.Run(tt.name, func(t *testing.T) {
					c := run(t, tt.files, Config{Args: tt.args})
					line, _ := c.stdout.ReadString('\n')
					status, ok := c.wait(30 * time.Second)
					if !ok {
						t.Fatal("still running after 30s")
					}
					if line != tt.want || status != tt.status {
						t.Errorf("printed %q and ended with %d; want %q and %d", line, status, tt.want, tt.status)
					}
				})
			}
		})
	}
}

// TestInitForwardsSignals sends the init signals a program catches, and checks that
// each reaches the program in order and that the init ends with the program's status.
func TestInitForwardsSignals(t *testing.T) {
	sigs := []syscall.Signal{syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGUSR1,
		syscall.SIGUSR2, syscall.SIGWINCH, syscall.SIGALRM, syscall.SIGCONT, syscall.SIGTERM}
	for _, arch := range arches {
		t.Run(arch, func(t *testing.T) {
			c := run(t, []oci.File{initFile(t, arch), app("signals", goBinary(t, "testdata/signals", arch))},
				Config{Args: pid1.Entrypoint([]string{"/ko-app/signals", "catch"})})
			c.waitBlocked(sigs...)
			if line, err := c.stdout.ReadString('\n'); line != "ready\n" {
				t.Fatalf("the program said %q, %v; want ready", line, err)
			}
			for _, sig := range sigs {
				c.kill(sig)
				line, err := c.stdout.ReadString('\n')
				if err != nil || strings.TrimSpace(line) != sig.String() {
					t.Fatalf("after %v the program said %q, %v", sig, line, err)
				}
			}
			status, ok := c.wait(stopWithin)
			if !ok || status != 3 {
				t.Errorf("the init ended with status %d (ended: %v), want the program's 3", status, ok)
			}
		})
	}
}
