package pack

import (
	"context"
	"os"
	"os/exec"
	"testing"
)

// BenchmarkSizes packs the programs the packer is measured on, with Pack's full search,
// and reports their sizes in bytes: as built, packed, and as `xz -9e` compresses the bare
// file (when xz is installed), which is what a packer has to beat once its stub is
// counted. ns/op is the time Pack takes.
//
//	go test -run '^$' -bench Sizes -benchtime 1x ./magefiles/internal/pack
func BenchmarkSizes(b *testing.B) {
	progs := []struct {
		name  string
		build func(b *testing.B) string
	}{
		{"go-hello/amd64", func(b *testing.B) string { return goProgram(b, "../../../apps/hello", "amd64") }},
		{"go-hello/386", func(b *testing.B) string { return goProgram(b, "../../../apps/hello", "386") }},
		{"glibc-hello/amd64", func(b *testing.B) string { return gccProgram(b, "amd64", "../../../apps/hello-c/main.c") }},
		{"glibc-hello/386", func(b *testing.B) string { return gccProgram(b, "386", "../../../apps/hello-c/main.c") }},
	}
	for _, p := range progs {
		b.Run(p.name, func(b *testing.B) {
			path := p.build(b)
			bin, err := os.ReadFile(path)
			if err != nil {
				b.Fatal(err)
			}
			var packed []byte
			for b.Loop() {
				if packed, _, err = Pack(context.Background(), bin); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(bin)), "input-bytes")
			b.ReportMetric(float64(len(packed)), "packed-bytes")
			if xz, err := exec.LookPath("xz"); err == nil {
				out, err := exec.Command(xz, "-9e", "-c", path).Output()
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(len(out)), "xz9e-bytes")
			}
		})
	}
}
