package fleet

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minimalbuild/minimal/magefiles/internal/resolve"
	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// TestDeployExample checks that apps/http-ok/deploy.yaml names only apps of
// minimal.yaml, and that resolving it replaces its minimal://http-ok image.
func TestDeployExample(t *testing.T) {
	name := filepath.Join(repoRoot(), "apps", "http-ok", "deploy.yaml")
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Load(filepath.Join(repoRoot(), "minimal.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var apps []string
	for _, a := range m.Apps {
		apps = append(apps, a.Name)
	}
	refs, err := resolve.Refs(strings.NewReader(string(data)), name)
	if err != nil {
		t.Fatal(err)
	}
	if got := resolve.Apps(refs); len(got) != 1 || got[0] != "http-ok" {
		t.Fatalf("deploy.yaml refers to %v, want [http-ok]", got)
	}
	if err := resolve.Check(refs, apps); err != nil {
		t.Fatal(err)
	}
	const digest = "registry.example.com/minimal/http-ok@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	out, err := resolve.Resolve(context.Background(), strings.NewReader(string(data)), name, func(ctx context.Context, app string) (string, error) {
		return digest, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "image: "+digest+"\n") {
		t.Errorf("resolved deploy.yaml has no image %s:\n%s", digest, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") && strings.Contains(line, resolve.Scheme) {
			t.Errorf("resolved deploy.yaml still has %q", line)
		}
	}
}
