package pack

import (
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"
)

// BenchmarkStartup runs the Go hello example, unpacked and packed with
// Pack's full search, from start to exit. ns/op is the mean; median-ns the
// median, which the machine's other work disturbs less; bytes the file
// size.
//
//	go test -run '^$' -bench Startup -benchtime 200x ./magefiles/internal/pack
func BenchmarkStartup(b *testing.B) {
	for _, goarch := range []string{"amd64", "386"} {
		path := goProgram(b, "../../../apps/hello", goarch)
		bin, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		packed, info := packFile(b, path, options{code: codeProps, data: dataProps, kinds: branchKinds, workers: quick.workers})
		for _, v := range []struct {
			name string
			path string
			size int
		}{
			{"unpacked", path, len(bin)},
			{"packed", packed, info.Packed},
		} {
			b.Run(goarch+"/"+v.name, func(b *testing.B) {
				var times []time.Duration
				for b.Loop() {
					start := time.Now()
					if err := exec.Command(v.path).Run(); err != nil {
						b.Fatal(err)
					}
					times = append(times, time.Since(start))
				}
				slices.Sort(times)
				b.ReportMetric(float64(times[len(times)/2].Nanoseconds()), "median-ns")
				b.ReportMetric(float64(v.size), "bytes")
			})
		}
	}
}
