package run

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
)

// maxStderr bounds how much of a failed command's standard error an error carries.
const maxStderr = 16 << 10

type logKey struct{}

// WithLog returns a context under which every command's argv is written to w before it runs.
func WithLog(ctx context.Context, w io.Writer) context.Context {
	return context.WithValue(ctx, logKey{}, w)
}

// Cmd is one command to run.
type Cmd struct {
	// Args is the argv; Args[0] is looked up on PATH.
	Args []string
	// Dir is the working directory; empty means the current one.
	Dir string
	// Env is the complete environment; nil means the current process's.
	Env []string
	// Stdin is the standard input; nil means none.
	Stdin io.Reader
}

// Error is a command that could not start or did not exit 0.
type Error struct {
	Args   []string
	Stderr string
	Err    error
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%s: %v", strings.Join(e.Args, " "), e.Err)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		msg += "\n" + s
	}
	return msg
}

// Unwrap returns the underlying error, an *exec.ExitError when the command ran.
func (e *Error) Unwrap() error { return e.Err }

// ExitStatus returns the command's exit code, or 1 if it did not run; mage exits with it.
func (e *Error) ExitStatus() int {
	var ee *exec.ExitError
	if errors.As(e.Err, &ee) && ee.ExitCode() > 0 {
		return ee.ExitCode()
	}
	return 1
}

// Output runs c and returns its standard output. On failure the error is an *Error that
// carries the command's standard error.
func Output(ctx context.Context, c Cmd) ([]byte, error) {
	if len(c.Args) == 0 {
		return nil, errors.New("run: empty command")
	}
	if w, ok := ctx.Value(logKey{}).(io.Writer); ok && w != nil {
		fmt.Fprintf(w, "+ %s\n", quote(c.Args))
	}
	cmd := exec.CommandContext(ctx, c.Args[0], c.Args[1:]...)
	cmd.Dir = c.Dir
	cmd.Env = c.Env
	cmd.Stdin = c.Stdin
	var stdout bytes.Buffer
	stderr := &capped{max: maxStderr}
	cmd.Stdout = &stdout
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return stdout.Bytes(), &Error{Args: c.Args, Stderr: stderr.String(), Err: err}
	}
	return stdout.Bytes(), nil
}

// quote renders argv so that a shell user can paste it.
func quote(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`*?[]{}()<>|&;#~") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

// capped keeps the first max bytes written to it and counts the rest.
type capped struct {
	buf     bytes.Buffer
	max     int
	dropped int
}

func (c *capped) Write(p []byte) (int, error) {
	room := c.max - c.buf.Len()
	if room < len(p) {
		if room > 0 {
			c.buf.Write(p[:room])
		}
		c.dropped += len(p) - max(room, 0)
		return len(p), nil
	}
	return c.buf.Write(p)
}

func (c *capped) String() string {
	if c.dropped > 0 {
		return fmt.Sprintf("%s\n... (%d more bytes)", c.buf.String(), c.dropped)
	}
	return c.buf.String()
}
