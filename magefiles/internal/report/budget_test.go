package report

import (
	"errors"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/minimalbuild/minimal/magefiles/manifest"
)

func size(n int64, text string, line, col int) manifest.Size {
	return manifest.Size{Bytes: n, Text: text, Pos: manifest.Position{Line: line, Column: col}}
}

func TestBudgetOf(t *testing.T) {
	both := &manifest.Budget{Content: size(1000, "1kB", 3, 4), Pull: size(2000, "2kB", 3, 20)}
	tests := []struct {
		name          string
		b             *manifest.Budget
		content, pull int64
		want          *Budget
	}{
		{"no budget", nil, 5000, 5000, nil},
		{"a budget that caps nothing", &manifest.Budget{}, 5000, 5000, nil},
		{"well under both", both, 100, 100, &Budget{Content: 1000, Pull: 2000}},
		{"just under 90% is not marked", both, 899, 1799, &Budget{Content: 1000, Pull: 2000}},
		{"90% exactly is marked", both, 900, 1800, &Budget{Content: 1000, Pull: 2000, Near: []string{"content", "pull"}}},
		{"over is marked too", both, 1001, 10, &Budget{Content: 1000, Pull: 2000, Near: []string{"content"}}},
		{"only pull capped", &manifest.Budget{Pull: size(2000, "2000", 1, 1)}, 1e9, 1900, &Budget{Pull: 2000, Near: []string{"pull"}}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, BudgetOf(tt.b, tt.content, tt.pull)); diff != "" {
			t.Errorf("%s: BudgetOf (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestCheck(t *testing.T) {
	spec := func(b *manifest.Budget) manifest.Spec {
		return manifest.Spec{App: "hello", Platform: manifest.Platform{OS: "linux", Arch: "amd64"}, File: "minimal.yaml", Fields: manifest.Fields{Budget: b}}
	}
	tests := []struct {
		name          string
		b             *manifest.Budget
		content, pull int64
		want          string // the whole message; empty for no error
	}{
		{"no budget", nil, 1 << 30, 1 << 30, ""},
		{"at the budget exactly fits", &manifest.Budget{Content: size(2048, "2KiB", 12, 16)}, 2048, 1 << 30, ""},
		{"one byte over", &manifest.Budget{Content: size(2048, "2KiB", 12, 16)}, 2049, 0,
			"hello linux/amd64: content 2,049 B is over its budget 2 KiB (minimal.yaml:12:16)"},
		{"the example of the docs", &manifest.Budget{Content: size(2048, "2KiB", 12, 5)}, 2345, 0,
			"hello linux/amd64: content 2,345 B is over its budget 2 KiB (minimal.yaml:12:5)"},
		{"a bare number budget", &manifest.Budget{Pull: size(4096, "4096", 7, 3)}, 0, 5000,
			"hello linux/amd64: pull 5,000 B is over its budget 4,096 B (minimal.yaml:7:3)"},
		{"both over, both said", &manifest.Budget{Content: size(1000, "1kB", 3, 4), Pull: size(1500, "1.5 kB", 3, 20)}, 1001, 1501,
			"hello linux/amd64: content 1,001 B is over its budget 1 kB (minimal.yaml:3:4)\n" +
				"hello linux/amd64: pull 1,501 B is over its budget 1.5 kB (minimal.yaml:3:20)"},
	}
	for _, tt := range tests {
		err := Check(spec(tt.b), tt.content, tt.pull)
		got := ""
		if err != nil {
			got = err.Error()
			var over *OverBudgetError
			if !errors.As(err, &over) {
				t.Errorf("%s: error %T is not an *OverBudgetError", tt.name, err)
			}
		}
		if got != tt.want {
			t.Errorf("%s: Check = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestCheckFromManifest reads a budget from a manifest, so that the position in the
// message is where the file writes it.
func TestCheckFromManifest(t *testing.T) {
	root := t.TempDir()
	data := []byte("version: 1\napps:\n  - name: hello\n    src: hello.asm\n    budget:\n      content: 2KiB\n")
	if err := writeFile(root+"/hello.asm", "ret\n"); err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Parse("minimal.yaml", root, data)
	if err != nil {
		t.Fatal(err)
	}
	specs, err := m.Specs()
	if err != nil {
		t.Fatal(err)
	}
	got := Check(specs[0], 2345, 100)
	want := "hello linux/amd64: content 2,345 B is over its budget 2 KiB (minimal.yaml:6:16)"
	if got == nil || got.Error() != want {
		t.Errorf("Check = %v, want %q", got, want)
	}
}

func writeFile(path, data string) error { return os.WriteFile(path, []byte(data), 0o644) }
