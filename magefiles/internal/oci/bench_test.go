package oci_test

import (
	"os"
	"testing"

	"github.com/minimalbuild/minimal/magefiles/internal/oci"
)

// BenchmarkBinaryLayer builds the layer of a real Go executable, the test
// binary itself, and reports the layer's compressed and uncompressed sizes.
func BenchmarkBinaryLayer(b *testing.B) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	bin, err := os.ReadFile(exe)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(bin)))
	var pull, content int64
	for b.Loop() {
		l, err := oci.BinaryLayer("bench", bin, created)
		if err != nil {
			b.Fatal(err)
		}
		img, err := oci.Image(oci.Config{Platform: amd64}, l)
		if err != nil {
			b.Fatal(err)
		}
		if content, pull, err = oci.Sizes(img); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(content), "content-bytes")
	b.ReportMetric(float64(pull), "pull-bytes")
}
