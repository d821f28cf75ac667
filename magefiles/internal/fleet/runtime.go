package fleet

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// Runtime starts and stops detached containers of a bundle.
type Runtime interface {
	// Name is the runtime's command, for reports.
	Name() string
	// Start starts container id from bundle, detached, and returns the host pid of
	// its process 1.
	Start(ctx context.Context, bundle, id string) (pid int, err error)
	// Kill sends sig to the process 1 of container id.
	Kill(ctx context.Context, id string, sig syscall.Signal) error
	// Delete removes container id, killing it if it still runs.
	Delete(ctx context.Context, id string) error
}

// Runc runs containers with runc, keeping its state under Root.
type Runc struct {
	Root string
}

var (
	_ Runtime = Runc{}
	_ Runtime = Podman{}
)

// Name implements Runtime.
func (Runc) Name() string { return "runc" }

func (r Runc) cmd(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "runc", append([]string{"--root", r.Root}, args...)...)
}

// Start implements Runtime with runc run --detach. The container's standard
// streams are /dev/null.
func (r Runc) Start(ctx context.Context, bundle, id string) (int, error) {
	// The container inherits runc's standard streams: a pipe would stay open as
	// long as the container runs, so errors go to a file.
	errs, err := os.CreateTemp("", "runc-run-")
	if err != nil {
		return 0, err
	}
	defer os.Remove(errs.Name())
	defer errs.Close()
	cmd := r.cmd(ctx, "run", "--detach", "--bundle", bundle, id)
	cmd.Stderr = errs
	if err := cmd.Run(); err != nil {
		msg, _ := os.ReadFile(errs.Name())
		return 0, fmt.Errorf("runc run %s: %w: %s", id, err, bytes.TrimSpace(msg))
	}
	out, err := r.cmd(ctx, "state", id).Output()
	if err != nil {
		return 0, fmt.Errorf("runc state %s: %w", id, err)
	}
	var st struct {
		Pid int `json:"pid"`
	}
	if err := json.Unmarshal(out, &st); err != nil || st.Pid == 0 {
		return 0, fmt.Errorf("runc state %s: no pid in %q", id, out)
	}
	return st.Pid, nil
}

// Kill implements Runtime.
func (r Runc) Kill(ctx context.Context, id string, sig syscall.Signal) error {
	if out, err := r.cmd(ctx, "kill", id, strconv.Itoa(int(sig))).CombinedOutput(); err != nil {
		return fmt.Errorf("runc kill %s: %w: %s", id, err, bytes.TrimSpace(out))
	}
	return nil
}

// Delete implements Runtime.
func (r Runc) Delete(ctx context.Context, id string) error {
	if out, err := r.cmd(ctx, "delete", "--force", id).CombinedOutput(); err != nil {
		return fmt.Errorf("runc delete %s: %w: %s", id, err, bytes.TrimSpace(out))
	}
	return nil
}

// Podman runs containers with podman from the bundle's root file system
// (podman run --rootfs), with the bundle's process arguments. Root is podman's
// storage root, so that the containers stay apart from the machine's.
type Podman struct {
	Root string
	// Args are the arguments of the container's process.
	Args []string
}

// Name implements Runtime.
func (Podman) Name() string { return "podman" }

func (p Podman) cmd(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "podman", append([]string{"--root", p.Root + "/root", "--runroot", p.Root + "/run"}, args...)...)
}

// Start implements Runtime with podman run --detach --rootfs; the container has
// no network of its own, and the limits podman needs on these machines.
func (p Podman) Start(ctx context.Context, bundle, id string) (int, error) {
	args := []string{"run", "--detach", "--name", id, "--network", "none", "--read-only",
		"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "--rootfs", bundle + "/rootfs"}
	if out, err := p.cmd(ctx, append(args, p.Args...)...).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("podman run %s: %w: %s", id, err, bytes.TrimSpace(out))
	}
	out, err := p.cmd(ctx, "inspect", "--format", "{{.State.Pid}}", id).Output()
	if err != nil {
		return 0, fmt.Errorf("podman inspect %s: %w", id, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil || pid == 0 {
		return 0, fmt.Errorf("podman inspect %s: no pid in %q", id, out)
	}
	return pid, nil
}

// Kill implements Runtime.
func (p Podman) Kill(ctx context.Context, id string, sig syscall.Signal) error {
	if out, err := p.cmd(ctx, "kill", "--signal", strconv.Itoa(int(sig)), id).CombinedOutput(); err != nil {
		return fmt.Errorf("podman kill %s: %w: %s", id, err, bytes.TrimSpace(out))
	}
	return nil
}

// Delete implements Runtime.
func (p Podman) Delete(ctx context.Context, id string) error {
	if out, err := p.cmd(ctx, "rm", "--force", "--time", "0", id).CombinedOutput(); err != nil {
		return fmt.Errorf("podman rm %s: %w: %s", id, err, bytes.TrimSpace(out))
	}
	return nil
}

// Memory is what a process holds in memory, in bytes, from /proc/<pid>/smaps_rollup.
type Memory struct {
	// Rss is its resident set: every page it has in memory, shared or not.
	Rss int64
	// Pss is its proportional share: each page divided by the number of
	// processes that map it, so N processes of one program sum to what they
	// hold together.
	Pss int64
}

// TreeMemory reads the memory of process pid and of every process under it, as the
// processes of one container: its process 1 and what that started.
func TreeMemory(pid int) (Memory, error) {
	m, err := ReadMemory(pid)
	if err != nil {
		return Memory{}, err
	}
	kids, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	for _, f := range strings.Fields(string(kids)) {
		kid, err := strconv.Atoi(f)
		if err != nil {
			continue
		}
		if k, err := TreeMemory(kid); err == nil { // a child may end meanwhile
			m.Rss += k.Rss
			m.Pss += k.Pss
		}
	}
	return m, nil
}

// ReadMemory reads the memory of process pid.
func ReadMemory(pid int) (Memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return Memory{}, err
	}
	defer f.Close()
	var m Memory
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) != 3 || fields[2] != "kB" {
			continue
		}
		kb, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			continue
		}
		switch fields[0] {
		case "Rss:":
			m.Rss = kb * 1024
		case "Pss:":
			m.Pss = kb * 1024
		}
	}
	if err := s.Err(); err != nil {
		return Memory{}, fmt.Errorf("reading /proc/%d/smaps_rollup: %w", pid, err)
	}
	return m, nil
}
