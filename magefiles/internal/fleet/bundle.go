package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/minimalbuild/minimal/magefiles/internal/oci"
)

// Config is what a bundle's container runs, and how.
type Config struct {
	// Args is the process: the program's path in the root file system, then its
	// arguments.
	Args []string
	// Env is the process's environment, NAME=value.
	Env []string
	// HostNetwork keeps the host's network namespace, so that a server in the
	// container is reachable on the host's loopback. The default is a network
	// namespace of the container's own.
	HostNetwork bool
	// NoFile is the container's RLIMIT_NOFILE, soft and hard; 0 keeps runc's 1,024.
	NoFile uint64
	// User is the uid the process runs as; the default is 0.
	User uint32
}

// Bundle writes an OCI runtime bundle into dir, which must not exist yet: a root
// file system rootfs/ holding files (and the empty /proc, /dev and /sys that runc
// mounts on), and config.json, runc's default for a container as root, with
// cfg applied and no terminal. Many containers may run from one bundle at once:
// the root file system is mounted read-only.
func Bundle(ctx context.Context, dir string, files []oci.File, cfg Config) error {
	if err := bundle(ctx, dir, files, cfg); err != nil {
		return fmt.Errorf("writing bundle %s: %w", dir, err)
	}
	return nil
}

func bundle(ctx context.Context, dir string, files []oci.File, cfg Config) error {
	if len(cfg.Args) == 0 {
		return fmt.Errorf("no process arguments")
	}
	rootfs := filepath.Join(dir, "rootfs")
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return err
	}
	for _, d := range []string{"proc", "dev", "sys"} {
		if err := os.Mkdir(filepath.Join(rootfs, d), 0o755); err != nil {
			return err
		}
	}
	for _, f := range files {
		name := filepath.Join(rootfs, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(name, f.Data, f.Mode.Perm()); err != nil {
			return err
		}
		if err := os.Chmod(name, f.Mode.Perm()); err != nil {
			return err
		}
	}
	if out, err := exec.CommandContext(ctx, "runc", "spec", "--bundle", dir).CombinedOutput(); err != nil {
		return fmt.Errorf("runc spec: %w: %s", err, out)
	}
	name := filepath.Join(dir, "config.json")
	raw, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	var spec map[string]any
	if err := json.Unmarshal(raw, &spec); err != nil {
		return fmt.Errorf("reading runc's config.json: %w", err)
	}
	process := spec["process"].(map[string]any)
	process["terminal"] = false
	process["args"] = cfg.Args
	process["env"] = cfg.Env
	process["user"] = map[string]any{"uid": cfg.User, "gid": cfg.User}
	if cfg.NoFile > 0 {
		process["rlimits"] = []any{map[string]any{"type": "RLIMIT_NOFILE", "hard": cfg.NoFile, "soft": cfg.NoFile}}
	}
	spec["root"] = map[string]any{"path": "rootfs", "readonly": true}
	if cfg.HostNetwork {
		linux := spec["linux"].(map[string]any)
		var keep []any
		for _, ns := range linux["namespaces"].([]any) {
			if ns.(map[string]any)["type"] != "network" {
				keep = append(keep, ns)
			}
		}
		linux["namespaces"] = keep
	}
	if raw, err = json.MarshalIndent(spec, "", "\t"); err != nil {
		return err
	}
	return os.WriteFile(name, raw, 0o644)
}
