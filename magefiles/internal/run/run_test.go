package run

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

func TestOutput(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantOut    string
		wantErr    string // substring of the error; empty means success
		wantStatus int
	}{
		{name: "stdout is returned", args: []string{"sh", "-c", "echo hi"}, wantOut: "hi\n"},
		{name: "stderr goes into the error with the exit code", args: []string{"sh", "-c", "echo boom >&2; exit 3"}, wantErr: "boom", wantStatus: 3},
		{name: "a missing tool says so", args: []string{"minimal-no-such-tool"}, wantErr: "executable file not found", wantStatus: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Output(context.Background(), Cmd{Args: tt.args})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Output: %v", err)
				}
				if string(out) != tt.wantOut {
					t.Errorf("stdout = %q, want %q", out, tt.wantOut)
				}
				return
			}
			var re *Error
			if !errors.As(err, &re) {
				t.Fatalf("error %v is not a *run.Error", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
			if got := re.ExitStatus(); got != tt.wantStatus {
				t.Errorf("ExitStatus() = %d, want %d", got, tt.wantStatus)
			}
		})
	}
}

func TestOutputKeepsExitError(t *testing.T) {
	_, err := Output(context.Background(), Cmd{Args: []string{"false"}})
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("error %v does not wrap *exec.ExitError", err)
	}
}

func TestOutputLogsArgv(t *testing.T) {
	var log bytes.Buffer
	ctx := WithLog(context.Background(), &log)
	if _, err := Output(ctx, Cmd{Args: []string{"echo", "a b", "c"}}); err != nil {
		t.Fatal(err)
	}
	if got, want := log.String(), "+ echo 'a b' c\n"; got != want {
		t.Errorf("log = %q, want %q", got, want)
	}
}

func TestOutputCapsStderr(t *testing.T) {
	_, err := Output(context.Background(), Cmd{Args: []string{"sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x >&2; exit 1"}})
	var re *Error
	if !errors.As(err, &re) {
		t.Fatal(err)
	}
	if len(re.Stderr) > maxStderr+100 || !strings.Contains(re.Stderr, "more bytes") {
		t.Errorf("stderr not capped: %d bytes", len(re.Stderr))
	}
}

func TestOutputCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Output(ctx, Cmd{Args: []string{"sleep", "5"}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v is not context.Canceled", err)
	}
}
