package smoke

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minimalbuild/minimal/magefiles/manifest"
)

func str(s string) *string { return &s }

func TestRunAndCheck(t *testing.T) {
	tests := []struct {
		name    string
		script  string
		test    manifest.Test
		env     []string
		problem string // substring of the mismatch; empty means it passes
	}{
		{
			name:   "exact stdout and stderr pass",
			script: `echo out; echo err >&2`,
			test:   manifest.Test{Stdout: str("out\n"), Stderr: str("err\n")},
		},
		{
			name:    "a wrong stdout is quoted with what was wanted",
			script:  `echo other`,
			test:    manifest.Test{Stdout: str("out\n")},
			problem: `stdout = "other\n", want "out\n"`,
		},
		{
			name:   "contains matches a part",
			script: `echo "a long line with hello in it" >&2`,
			test:   manifest.Test{StderrContains: str("hello")},
		},
		{
			name:    "contains reports a missing part",
			script:  `echo nope >&2`,
			test:    manifest.Test{StderrContains: str("hello")},
			problem: `want it to contain "hello"`,
		},
		{
			name:   "args are appended to the command",
			script: `echo "$@"`,
			test:   manifest.Test{Args: []string{"x", "y"}, Stdout: str("x y\n")},
		},
		{
			name:   "the environment is exactly what is given",
			script: `echo "$GREETING:${HOME:-unset}"`,
			env:    []string{"GREETING=hi"},
			test:   manifest.Test{Stdout: str("hi:unset\n")},
		},
		{
			name:   "an expected non-zero exit passes",
			script: `exit 3`,
			test:   manifest.Test{Exit: 3},
		},
		{
			name:    "an unexpected exit code fails",
			script:  `exit 4`,
			test:    manifest.Test{Exit: 0},
			problem: "exit = 4, want 0",
		},
		{
			name:   "a process that waits ends on the test's signal",
			script: `exec sleep 30`,
			test:   manifest.Test{Signal: "TERM", After: 50 * time.Millisecond},
		},
		{
			name:    "a crash by another signal fails",
			script:  `kill -SEGV $$`,
			test:    manifest.Test{},
			problem: "ended by signal segmentation fault",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Cmd{Args: []string{"/bin/sh", "-c", tt.script, "sh"}, Env: tt.env}
			res, err := Run(context.Background(), &tt.test, c)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			err = Check(&tt.test, res)
			if tt.problem == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.problem) {
				t.Fatalf("Check = %v, want a mismatch containing %q", err, tt.problem)
			}
		})
	}
}

func TestRunSignalIgnored(t *testing.T) {
	defer func(g time.Duration) { grace = g }(grace)
	grace = 300 * time.Millisecond
	test := &manifest.Test{Signal: "TERM", After: 10 * time.Millisecond}
	c := Cmd{Args: []string{"/bin/sh", "-c", `trap "" TERM; sleep 30`}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := Run(ctx, test, c)
	if err == nil || !strings.Contains(err.Error(), "did not end") {
		t.Fatalf("Run = %v, want a did-not-end error", err)
	}
}

// TestRunCancelled checks that a run its caller cancels reports the
// cancellation, not the killed program's result, with or without a signal
// to send.
func TestRunCancelled(t *testing.T) {
	for _, test := range []*manifest.Test{{}, {Signal: "TERM", After: time.Hour}} {
		t.Run(test.Signal, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			_, err := Run(ctx, test, Cmd{Args: []string{"/bin/sh", "-c", "exec sleep 30"}})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Run = %v, want context.Canceled", err)
			}
		})
	}
}

func TestRunStop(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	test := &manifest.Test{Signal: "INT", After: 100 * time.Millisecond}
	var got syscall.Signal
	c := Cmd{
		Args: []string{"/bin/sh", "-c", `echo $$ > "$0"; exec sleep 30`, pidFile},
		Stop: func(ctx context.Context, sig syscall.Signal) error {
			got = sig
			b, err := os.ReadFile(pidFile)
			if err != nil {
				return err
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				return err
			}
			return syscall.Kill(pid, syscall.SIGKILL)
		},
	}
	res, err := Run(context.Background(), test, c)
	if err != nil {
		t.Fatal(err)
	}
	if got != syscall.SIGINT {
		t.Errorf("Stop got %v, want SIGINT", got)
	}
	if res.Signal != syscall.SIGKILL {
		t.Errorf("ended by %v, want SIGKILL from the stop hook", res.Signal)
	}
}

func TestStarts(t *testing.T) {
	tests := []struct {
		name    string
		script  string
		wantErr string // empty means it passes
	}{
		{name: "a program that exits passes", script: `exit 0`},
		{name: "a failing exit status is not a crash", script: `exit 3`},
		{name: "a program still running passes", script: `exec sleep 30`},
		{name: "a segfault fails", script: `kill -SEGV $$`, wantErr: "crashed"},
		{name: "an illegal instruction fails", script: `kill -ILL $$`, wantErr: "illegal instruction"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Starts(context.Background(), Cmd{Args: []string{"/bin/sh", "-c", tt.script}}, 200*time.Millisecond)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Starts = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestRunLeftOutputOpen(t *testing.T) {
	defer func(d time.Duration) { drain = d }(drain)
	drain = 200 * time.Millisecond
	// The shell exits at once; the sleep it leaves behind holds its stdout for 20 s.
	c := Cmd{Args: []string{"/bin/sh", "-c", "echo hi; sleep 20 &"}}
	start := time.Now()
	res, err := Run(context.Background(), &manifest.Test{}, c)
	if err != nil || string(res.Stdout) != "hi\n" || res.Exit != 0 {
		t.Fatalf("Run = %q, exit %d, %v; want hi, exit 0, no error", res.Stdout, res.Exit, err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Run waited %v for the process left holding stdout, want about drain", took)
	}
}
