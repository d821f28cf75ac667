package smoke

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// DefaultTimeout bounds a smoke test that has no signal: a test that has not ended by then
// fails.
const DefaultTimeout = manifest.TestTimeout

// grace is how long a signalled process has to end.
var grace = 5 * time.Second

// drain is how long, after the process has exited, its output may take to arrive: a
// process it left behind holding its stdout is not waited for longer, and what arrived
// by then is the result. It is long enough that a loaded machine, slow to copy the last
// of the output, does not cut it short.
var drain = 5 * time.Second

// Cmd is the command a smoke test runs. The test's args are appended to Args.
type Cmd struct {
	Args []string
	// Env is the complete environment; a smoke test does not inherit the caller's, as a
	// container would not.
	Env []string
	Dir string
	// Stop, when set, is called instead of sending the test's signal to the process, for
	// runtimes that deliver signals their own way. The process must still end.
	Stop func(ctx context.Context, sig syscall.Signal) error
}

// Result is what a smoke test's command did.
type Result struct {
	Stdout, Stderr []byte
	// Exit is the exit code, or -1 if a signal ended the process.
	Exit int
	// Signal is the signal that ended the process, if one did.
	Signal syscall.Signal
}

// Run runs c with t's args and, when t has a signal, sends it after t.After. It returns
// an error only when the command could not be run or did not end, or parent's error
// when parent is done before the command ends (the command is then killed, and its
// Result says nothing about it); compare the Result with Check.
func Run(parent context.Context, t *manifest.Test, c Cmd) (Result, error) {
	args := append(append([]string(nil), c.Args...), t.Args...)
	timeout := DefaultTimeout
	if t.Signal != "" {
		timeout = t.After + grace
	}
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd, err := start(ctx, func() *exec.Cmd {
		cmd := command(ctx, Cmd{Args: args, Env: c.Env, Dir: c.Dir})
		stdout.Reset()
		stderr.Reset()
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		cmd.WaitDelay = drain
		return cmd
	})
	if err != nil {
		return Result{}, fmt.Errorf("starting %s: %w", args[0], err)
	}
	var stopErr error
	if t.Signal != "" {
		sig, ok := manifest.Signal(t.Signal)
		if !ok {
			return Result{}, fmt.Errorf("unknown signal %q", t.Signal)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			select {
			case <-time.After(t.After):
			case <-ctx.Done():
				return
			}
			if c.Stop != nil {
				stopErr = c.Stop(ctx, sig)
			} else {
				stopErr = cmd.Process.Signal(sig)
			}
		}()
		defer func() { <-done }()
	}
	if err = cmd.Wait(); errors.Is(err, exec.ErrWaitDelay) {
		err = nil // the process exited; see drain
	}
	res := Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), Exit: cmd.ProcessState.ExitCode()}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		res.Signal = ws.Signal()
	}
	if err := parent.Err(); err != nil {
		return res, err
	}
	if ctx.Err() == context.DeadlineExceeded {
		if t.Signal != "" {
			return res, fmt.Errorf("%s did not end within %v of SIG%s", args[0], grace, t.Signal)
		}
		return res, fmt.Errorf("%s did not end within %v", args[0], timeout)
	}
	if stopErr != nil {
		return res, fmt.Errorf("sending SIG%s: %w", t.Signal, stopErr)
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return res, fmt.Errorf("running %s: %w", args[0], err)
	}
	return res, nil
}

// Mismatch lists how a Result differs from its test.
type Mismatch struct {
	Problems []string
}

func (m *Mismatch) Error() string { return strings.Join(m.Problems, "; ") }

// Check compares r with what t expects and returns a *Mismatch, or nil.
func Check(t *manifest.Test, r Result) error {
	var m Mismatch
	want := func(what string, got []byte, exact, contains *string) {
		if exact != nil && string(got) != *exact {
			m.Problems = append(m.Problems, fmt.Sprintf("%s = %q, want %q", what, got, *exact))
		}
		if contains != nil && !bytes.Contains(got, []byte(*contains)) {
			m.Problems = append(m.Problems, fmt.Sprintf("%s = %q, want it to contain %q", what, got, *contains))
		}
	}
	want("stdout", r.Stdout, t.Stdout, t.StdoutContains)
	want("stderr", r.Stderr, t.Stderr, t.StderrContains)
	switch {
	case r.Signal != 0 && t.Signal != "" && sent(t.Signal) == r.Signal:
		// Ended by the signal the test sent: that is the expected way to end.
	case r.Signal != 0:
		m.Problems = append(m.Problems, fmt.Sprintf("ended by signal %v, want exit %d", r.Signal, t.Exit))
	case r.Exit != t.Exit:
		m.Problems = append(m.Problems, fmt.Sprintf("exit = %d, want %d", r.Exit, t.Exit))
	}
	if len(m.Problems) == 0 {
		return nil
	}
	return &m
}

// crashes are the signals that mean a program is broken rather than stopped.
var crashes = []syscall.Signal{syscall.SIGSEGV, syscall.SIGILL, syscall.SIGBUS, syscall.SIGFPE, syscall.SIGABRT, syscall.SIGSYS, syscall.SIGTRAP}

// Starts runs c for up to d and fails if the program crashes (a fault signal such as
// SIGSEGV or SIGILL) or cannot be executed within that time. A program that exits, with any
// status, or is still running after d passes; it is then killed. It is the least an app
// without a smoke test is checked for.
func Starts(parent context.Context, c Cmd, d time.Duration) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	cmd, err := start(ctx, func() *exec.Cmd { return command(ctx, c) })
	if err != nil {
		return fmt.Errorf("starting %s: %w", c.Args[0], err)
	}
	timer := time.AfterFunc(d, cancel)
	defer timer.Stop()
	cmd.Wait()
	if err := parent.Err(); err != nil {
		return err
	}
	if ctx.Err() != nil {
		// Still running after d, and killed for it: it started.
		return nil
	}
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ok && ws.Signaled() && slices.Contains(crashes, ws.Signal()) {
		return fmt.Errorf("%s crashed within %v: %v", c.Args[0], d, ws.Signal())
	}
	return nil
}

// sent is the signal a test's signal: names.
func sent(name string) syscall.Signal {
	sig, _ := manifest.Signal(name)
	return sig
}

// command is the process c describes, with an empty environment when c gives none.
func command(ctx context.Context, c Cmd) *exec.Cmd {
	cmd := exec.CommandContext(ctx, c.Args[0], c.Args[1:]...)
	cmd.Env = c.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Dir = c.Dir
	return cmd
}

// startTries bounds how often start tries a program the system says is busy.
const startTries = 8

// start starts the command build makes. An executable written a moment ago can still
// be open for writing in a child that another goroutine was forking at that moment,
// and the system then refuses to run it (ETXTBSY) until that child has execed; start
// tries again, with a fresh command, a few times over a few hundred milliseconds.
func start(ctx context.Context, build func() *exec.Cmd) (*exec.Cmd, error) {
	delay := 5 * time.Millisecond
	for try := 1; ; try++ {
		cmd := build()
		err := cmd.Start()
		if err == nil || !errors.Is(err, syscall.ETXTBSY) || try == startTries {
			return cmd, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		delay *= 2
	}
}
