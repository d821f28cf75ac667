package pack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Start-up runs and packing rounds per program in BenchmarkCompare; one
// round of packing, because Pack takes seconds.
const (
	startRuns  = 200
	packRounds = 1
)

// BenchmarkCompare measures, for each program the packer is judged on,
// everything in one run: sizes unpacked, packed with UPX and with Pack; the
// time UPX and Pack take to pack it (the median of packRounds, alternating
// the two), in elapsed and in processor time; and its start-up unpacked, packed with UPX and with Pack (the
// median of startRuns, the three run in turn). UPX is `upx --best --lzma`
// from PATH; without it the benchmark reports Pack's figures only. Start-up
// is from exec to exit; for churn, which runs until SIGTERM, it is from
// exec until the Go runtime has installed its SIGTERM handler, which it
// does as it starts.
//
//	go test -run '^$' -bench Compare -benchtime 1x -timeout 1h ./magefiles/internal/pack
func BenchmarkCompare(b *testing.B) {
	upx, _ := exec.LookPath("upx")
	type prog struct {
		name  string
		build func(b *testing.B) string
		args  []string
		ready bool // runs until SIGTERM: time it until its handler is installed
	}
	var progs []prog
	for _, arch := range []string{"amd64", "386"} {
		progs = append(progs,
			prog{name: "go-hello/" + arch, build: func(b *testing.B) string { return goProgram(b, "../../../apps/hello", arch) }},
			prog{name: "greet/" + arch, build: func(b *testing.B) string { return goProgram(b, "../../../apps/greet", arch) }, args: []string{"a", "b"}},
			prog{name: "churn/" + arch, build: func(b *testing.B) string { return goProgram(b, "../../../apps/churn", arch) }, ready: true},
			prog{name: "glibc-hello/" + arch, build: func(b *testing.B) string { return gccProgram(b, arch, "../../../apps/hello-c/main.c") }},
		)
	}
	for _, p := range progs {
		b.Run(p.name, func(b *testing.B) {
			path := p.build(b)
			bin, err := os.ReadFile(path)
			if err != nil {
				b.Fatal(err)
			}
			dir := b.TempDir()
			packedPath := filepath.Join(dir, "pack")
			upxPath := filepath.Join(dir, "upx")
			for b.Loop() {
				var packTimes, upxTimes, packCPU, upxCPU []time.Duration
				for range packRounds {
					start, cpu := time.Now(), cpuTime()
					out, _, err := Pack(context.Background(), bin)
					if err != nil {
						b.Fatal(err)
					}
					packTimes = append(packTimes, time.Since(start))
					packCPU = append(packCPU, cpuTime()-cpu)
					if err := os.WriteFile(packedPath, out, 0o755); err != nil {
						b.Fatal(err)
					}
					if upx == "" {
						continue
					}
					os.Remove(upxPath)
					cmd := exec.Command(upx, "--best", "--lzma", "-q", "-o", upxPath, path)
					start = time.Now()
					if msg, err := cmd.CombinedOutput(); err != nil {
						b.Fatalf("upx: %v\n%s", err, msg)
					}
					upxTimes = append(upxTimes, time.Since(start))
					upxCPU = append(upxCPU, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
				}
				paths := []string{path, packedPath}
				if upx != "" {
					paths = append(paths, upxPath)
				}
				starts := make([][]time.Duration, len(paths))
				for range startRuns {
					for i, path := range paths {
						starts[i] = append(starts[i], startTime(b, path, p.args, p.ready))
					}
				}
				b.ReportMetric(float64(len(bin)), "unpacked-B")
				b.ReportMetric(float64(fileSize(b, packedPath)), "pack-B")
				b.ReportMetric(median(packTimes).Seconds(), "pack-s")
				b.ReportMetric(median(packCPU).Seconds(), "pack-cpu-s")
				b.ReportMetric(ms(median(starts[0])), "start-unpacked-ms")
				b.ReportMetric(ms(median(starts[1])), "start-pack-ms")
				if upx != "" {
					b.ReportMetric(float64(fileSize(b, upxPath)), "upx-B")
					b.ReportMetric(median(upxTimes).Seconds(), "upx-s")
					b.ReportMetric(median(upxCPU).Seconds(), "upx-cpu-s")
					b.ReportMetric(ms(median(starts[2])), "start-upx-ms")
				}
			}
		})
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// cpuTime is the processor time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

func fileSize(b *testing.B, path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return fi.Size()
}

// startTime runs path with args and returns the time from exec to exit,
// or with ready to when the process catches SIGTERM, after which it is
// sent SIGTERM and waited for.
func startTime(b *testing.B, path string, args []string, ready bool) time.Duration {
	cmd := exec.Command(path, args...)
	cmd.Env = []string{"KO_DATA_PATH=" + filepath.Join("..", "..", "..", "apps", "greet", "kodata")}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if !ready {
		if err := cmd.Run(); err != nil {
			b.Fatalf("%s: %v\n%s", path, err, out.String())
		}
		return time.Since(start)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
	var d time.Duration
	for {
		if catchesTerm(status) {
			d = time.Since(start)
			break
		}
		if time.Since(start) > 10*time.Second {
			cmd.Process.Kill()
			cmd.Wait()
			b.Fatalf("%s did not install a SIGTERM handler in 10 s", path)
		}
	}
	// The Go runtime catches SIGTERM from its start, before main asks for
	// it, and then dies of it: either ending is fine.
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.Sys().(syscall.WaitStatus).Signal() == syscall.SIGTERM) {
		b.Fatalf("%s: %v\n%s", path, err, out.String())
	}
	return d
}

// catchesTerm reports whether the process whose status file is at path
// has a handler for SIGTERM.
func catchesTerm(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "SigCgt:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && mask&(1<<(syscall.SIGTERM-1)) != 0
		}
	}
	return false
}
