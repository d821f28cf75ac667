package verify

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minimalbuild/minimal/magefiles/manifest"
)

// buildGo compiles a one-file Go program and returns its path.
func buildGo(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/p\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "prog")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

func TestStressCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Go programs; skipped with -short")
	}
	const prefix = "package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n)\n\n"
	counts := buildGo(t, prefix+"func main() { fmt.Println(len(os.Args), len(os.Environ())) }\n")
	smallEnv := buildGo(t, prefix+"func main() {\n\tif len(os.Environ()) > 500 {\n\t\tos.Exit(1)\n\t}\n\tfmt.Println(len(os.Args), len(os.Environ()))\n}\n")
	fewArgs := buildGo(t, prefix+"func main() {\n\tif len(os.Args) > 500 {\n\t\tpanic(\"too many\")\n\t}\n\tfmt.Println(len(os.Args), len(os.Environ()))\n}\n")
	// GOTRACEBACK=crash makes the runtime die of the fault's signal, as a C program would.
	crashes := buildGo(t, "package main\n\nimport (\n\t\"os\"\n\t\"runtime/debug\"\n)\n\nvar p *int\n\nfunc main() {\n\tif len(os.Args) > 500 {\n\t\tdebug.SetTraceback(\"crash\")\n\t\t*p = 1\n\t}\n}\n")
	out := "1 0\n"
	tests := []struct {
		name    string
		why     string
		test    *manifest.Test
		in, out string
		wantErr string
	}{
		{name: "same program", why: "a binary that behaves like its input passes", test: &manifest.Test{Stdout: &out}, in: counts, out: counts},
		{name: "large environment", why: "a binary that fails with a large environment is caught", test: &manifest.Test{Stdout: &out}, in: counts, out: smallEnv, wantErr: "1000 more environment variables"},
		{name: "long argv", why: "a binary that fails with many arguments is caught", test: &manifest.Test{Stdout: &out}, in: counts, out: fewArgs, wantErr: "2000 more arguments"},
		{name: "no test", why: "without a smoke test the binary must still start without crashing in both conditions", in: counts, out: crashes, wantErr: "2000 more arguments"},
		{name: "no test, exits", why: "without a smoke test an exit status is not a crash", in: counts, out: fewArgs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := stressCheck(t.Context(), Target{App: "p", Test: tt.test}, tt.in, tt.out, t.TempDir())
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("stressCheck: %v (%s)", err, tt.why)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("stressCheck error = %v, want one containing %q (%s)", err, tt.wantErr, tt.why)
			}
		})
	}
}
