package targets_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/magefile/mage/mg"

	"github.com/minimalbuild/minimal/magefiles/manifest"
	"github.com/minimalbuild/minimal/magefiles/targets"
)

// TestBadManifestWritesNothing runs the build target on every malformed manifest of the
// manifest package's fixtures, in a copy of their fixture repository: each must fail
// with a positioned error and exit status 2, and leave no images/ directory behind.
func TestBadManifestWritesNothing(t *testing.T) {
	fixtures, err := filepath.Glob(filepath.Join(repoRoot(t), "magefiles", "manifest", "testdata", "invalid", "*.yaml"))
	if err != nil || len(fixtures) < 25 {
		t.Fatalf("found %d malformed manifests (%v), want at least 25", len(fixtures), err)
	}
	repo := filepath.Join(repoRoot(t), "magefiles", "manifest", "testdata", "repo")
	for _, f := range fixtures {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "repo")
			if err := os.CopyFS(dir, os.DirFS(repo)); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "minimal.yaml"), data, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Chdir(dir)
			err = targets.Build(context.Background())
			var list manifest.ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("Build error = %v, want a manifest.ErrorList", err)
			}
			if !strings.HasPrefix(err.Error(), "minimal.yaml:") {
				t.Errorf("error %q does not name minimal.yaml first", err)
			}
			if got := mg.ExitStatus(err); got != 2 {
				t.Errorf("exit status %d, want 2", got)
			}
			if _, err := os.Stat(filepath.Join(dir, "images")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("images/ exists after a bad manifest (stat: %v)", err)
			}
		})
	}
}
