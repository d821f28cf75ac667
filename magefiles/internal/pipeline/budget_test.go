package pipeline

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/minimalbuild/minimal/magefiles/manifest"
)

func TestBudgetFailsBeforePublishing(t *testing.T) {
	m := fixture(t)
	out := filepath.Join(m.Root, "images")
	opts := []Option{WithCache(t.TempDir()), WithOut(out), WithLog(io.Discard), withBuilder("go", &countingBuilder{})}
	if _, err := Build(context.Background(), m, opts...); err != nil {
		t.Fatal(err)
	}
	before := treeDigest(t, out)
	tests := []struct {
		name    string
		budget  string
		wantErr []string
	}{
		{"content", "{content: 10}", []string{"one linux/amd64: content", "is over its budget 10 B (", "minimal.yaml:3:", "one linux/386: content"}},
		{"pull", "{pull: 0.1kB}", []string{"one linux/amd64: pull", "over its budget 0.1 kB"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yaml := "version: 1\napps:\n  - {name: one, src: ./apps/one, tags: [v1], budget: " + tt.budget + "}\n  - {name: two, src: ./apps/two, tags: [v1]}\n  - {name: three, src: ./apps/three, tags: [v1]}\n"
			if err := os.WriteFile(filepath.Join(m.Root, "minimal.yaml"), []byte(yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			m, err := manifest.Load(filepath.Join(m.Root, "minimal.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Build(context.Background(), m, opts...)
			for _, w := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error %v, want one holding %q", err, w)
				}
			}
			if diff := cmp.Diff(before, treeDigest(t, out)); diff != "" {
				t.Errorf("a build over its budget changed images/ (-before +after):\n%s", diff)
			}
		})
	}
}
