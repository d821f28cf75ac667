package fleet

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minimalbuild/minimal/magefiles/internal/oci"
	"github.com/minimalbuild/minimal/magefiles/internal/pack"
	"github.com/minimalbuild/minimal/magefiles/internal/pid1"
)

// fleetImage is one root file system the fleet benchmark starts many of.
type fleetImage struct {
	name  string
	files func(b *testing.B) []oci.File // built only when a benchmark of it runs
	args  []string
}

// fleetImages are the images of the fleet benchmark, for linux/amd64.
func fleetImages() []fleetImage {
	const arch = "amd64"
	return []fleetImage{
		{"pause", func(b *testing.B) []oci.File {
			return []oci.File{app("pause", appBinary(b, "pause", arch))}
		}, []string{"/ko-app/pause"}},
		{"pausle+init", func(b *testing.B) []oci.File {
			return []oci.File{initFile(b, arch), app("pausle", appBinary(b, "pausle", arch))}
		}, pid1.Entrypoint([]string{"/ko-app/pausle"})},
		{"http-ok", func(b *testing.B) []oci.File {
			return []oci.File{app("http-ok", appBinary(b, "http-ok", arch))}
		}, []string{"/ko-app/http-ok"}},
		{"kpause-glibc", func(b *testing.B) []oci.File {
			return []oci.File{app("kpause", kpause(b))}
		}, []string{"/ko-app/kpause"}},
		{"go-http", func(b *testing.B) []oci.File {
			return []oci.File{app("go-http", goBinary(b, "testdata/goserver", arch))}
		}, []string{"/ko-app/go-http"}},
		{"go-http-packed", func(b *testing.B) []oci.File {
			bin := goBinary(b, "testdata/goserver", arch)
			packed := memo(b, "go-http-packed", func() ([]byte, error) {
				p, _, err := pack.Pack(b.Context(), bin)
				return p, err
			})
			return []oci.File{app("go-http", packed)}
		}, []string{"/ko-app/go-http"}},
	}
}

// kpause builds testdata/kpause.c as Kubernetes builds its pause: gcc -Os -static
// with glibc, stripped.
func kpause(b *testing.B) []byte {
	need(b, "gcc")
	return memo(b, "kpause", func() ([]byte, error) {
		out := filepath.Join(b.TempDir(), "kpause")
		cmd := exec.Command("gcc", "-Os", "-static", "-o", out, "testdata/kpause.c")
		if msg, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("gcc: %w\n%s", err, msg)
		}
		if msg, err := exec.Command("strip", out).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("strip: %w\n%s", err, msg)
		}
		return os.ReadFile(out)
	})
}

// BenchmarkFleet starts N containers of each image with runc, and with podman for
// N=100 where podman is installed, and reports the start rate, the median Rss and
// Pss of a container's processes, the Pss of 10,000 such pods, and the time for all
// of them to end after SIGTERM. Run it with -benchtime 1x: every iteration starts
// the whole fleet.
func BenchmarkFleet(b *testing.B) {
	need(b, "runc")
	ctx := context.Background()
	var runtimes []string
	for _, rt := range []string{"runc", "podman"} {
		if _, err := exec.LookPath(rt); err == nil {
			runtimes = append(runtimes, rt)
		}
	}
	for _, img := range fleetImages() {
		for _, rtName := range runtimes {
			for _, n := range []int{100, 1000} {
				if rtName == "podman" && n > 100 {
					continue // about 0.3 s a container: minutes per image
				}
				b.Run(fmt.Sprintf("image=%s/runtime=%s/n=%d", img.name, rtName, n), func(b *testing.B) {
					files := img.files(b)
					bundle := filepath.Join(b.TempDir(), "bundle")
					if err := Bundle(ctx, bundle, files, Config{Args: img.args}); err != nil {
						b.Fatal(err)
					}
					size := 0
					for _, f := range files {
						size += len(f.Data)
					}
					var rt Runtime = Runc{Root: b.TempDir()}
					if rtName == "podman" {
						// podman refuses a run root of more than 50 characters, which
						// b.TempDir's names are.
						root, err := os.MkdirTemp("", "pm-")
						if err != nil {
							b.Fatal(err)
						}
						b.Cleanup(func() { os.RemoveAll(root) })
						rt = Podman{Root: root, Args: img.args}
					}
					b.ResetTimer()
					var res Result
					for i := range b.N {
						var err error
						res, err = Run(ctx, rt, bundle, fmt.Sprintf("minimal-fleet-%d-%d", os.Getpid(), i), n, time.Second, 10*time.Second)
						if err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(size), "image-B")
					b.ReportMetric(res.StartRate(), "starts/s")
					b.ReportMetric(float64(res.Memory.Rss)/1024, "rss-kB")
					b.ReportMetric(float64(res.Memory.Pss)/1024, "pss-kB")
					b.ReportMetric(float64(res.Memory.Pss)*10000/1e9, "pss-GB/10k")
					b.ReportMetric(float64(res.Stop.Microseconds())/1000, "stop-ms")
					b.ReportMetric(0, "ns/op")
				})
			}
		}
	}
}

// server is one HTTP server of the latency benchmark, started on the loopback.
type server struct {
	name  string
	tools []string
	start func(b *testing.B, port int) *exec.Cmd
}

// latencyServers are the responder and its anchors.
func latencyServers() []server {
	return []server{
		{"http-ok", nil, func(b *testing.B, port int) *exec.Cmd {
			bin := filepath.Join(b.TempDir(), "http-ok")
			if err := os.WriteFile(bin, appBinary(b, "http-ok", "amd64"), 0o755); err != nil {
				b.Fatal(err)
			}
			return exec.Command(bin, strconv.Itoa(port))
		}},
		{"nginx-1-worker", []string{"nginx"}, func(b *testing.B, port int) *exec.Cmd {
			dir := b.TempDir()
			conf := fmt.Sprintf(`daemon off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log stderr;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path %[1]s;
	proxy_temp_path %[1]s;
	fastcgi_temp_path %[1]s;
	uwsgi_temp_path %[1]s;
	scgi_temp_path %[1]s;
	server {
		listen 127.0.0.1:%[2]d;
		location / { return 200 "ok\n"; }
	}
}
`, dir, port)
			if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
				b.Fatal(err)
			}
			return exec.Command("nginx", "-p", dir, "-c", filepath.Join(dir, "nginx.conf"))
		}},
		{"busybox-httpd", []string{"busybox"}, func(b *testing.B, port int) *exec.Cmd {
			dir := b.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("ok\n"), 0o644); err != nil {
				b.Fatal(err)
			}
			return exec.Command("busybox", "httpd", "-f", "-p", fmt.Sprintf("127.0.0.1:%d", port), "-h", dir)
		}},
		{"go-net-http", nil, func(b *testing.B, port int) *exec.Cmd {
			bin := filepath.Join(b.TempDir(), "go-http")
			if err := os.WriteFile(bin, goBinary(b, "testdata/goserver", "amd64"), 0o755); err != nil {
				b.Fatal(err)
			}
			cmd := exec.Command(bin)
			cmd.Env = []string{"PORT=" + strconv.Itoa(port), "GOMAXPROCS=1"}
			return cmd
		}},
	}
}

// wrkResult is what wrk --latency reports.
type wrkResult struct {
	rps      float64
	p50, p99 time.Duration
	errors   string
}

var (
	wrkRPS     = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkPercent = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
	wrkErrors  = regexp.MustCompile(`Socket errors:.*|Non-2xx or 3xx responses:.*`)
)

// parseWrk reads wrk's report.
func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	m := wrkRPS.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("no Requests/sec in wrk's output:\n%s", out)
	}
	r.rps, _ = strconv.ParseFloat(m[1], 64)
	for _, p := range wrkPercent.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(p[2], 64)
		d := time.Duration(v * float64(map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[p[3]]))
		if p[1] == "50" {
			r.p50 = d
		} else {
			r.p99 = d
		}
	}
	if r.p50 == 0 || r.p99 == 0 {
		return r, fmt.Errorf("no latency distribution in wrk's output:\n%s", out)
	}
	r.errors = strings.Join(wrkErrors.FindAllString(out, -1), "; ")
	return r, nil
}

// BenchmarkLatency runs wrk -t1 -c50 -d5s --latency against http-ok and its anchors,
// one server after the other on the loopback, and reports requests per second and
// the 50th and 99th percentile latency. Run it with -benchtime 1x: every iteration
// is one 5 s wrk run per server.
func BenchmarkLatency(b *testing.B) {
	need(b, "wrk")
	for _, s := range latencyServers() {
		b.Run("server="+s.name, func(b *testing.B) {
			need(b, s.tools...)
			port := freePort(b)
			cmd := s.start(b, port)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			defer func() {
				cmd.Process.Signal(os.Interrupt)
				done := make(chan struct{})
				go func() { cmd.Wait(); close(done) }()
				select {
				case <-done:
				case <-time.After(5 * time.Second):
					cmd.Process.Kill()
					<-done
				}
			}()
			dial(b, port).Close()
			var res wrkResult
			for range b.N {
				out, err := exec.Command("wrk", "-t1", "-c50", "-d5s", "--latency", fmt.Sprintf("http://127.0.0.1:%d/", port)).CombinedOutput()
				if err != nil {
					b.Fatalf("wrk: %v\n%s\nserver: %s", err, out, stderr.String())
				}
				if res, err = parseWrk(string(out)); err != nil {
					b.Fatal(err)
				}
			}
			if res.errors != "" {
				b.Logf("%s: %s", s.name, res.errors)
			}
			b.ReportMetric(res.rps, "req/s")
			b.ReportMetric(float64(res.p50.Nanoseconds())/1000, "p50-µs")
			b.ReportMetric(float64(res.p99.Nanoseconds())/1000, "p99-µs")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// TestParseWrk checks the parser on a report of wrk 4.1.
func TestParseWrk(t *testing.T) {
	out := `Running 5s test @ http://127.0.0.1:8080/
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   245.12us  120.33us   5.01ms   90.12%
    Req/Sec   190.12k    10.23k  201.45k    80.00%
  Latency Distribution
     50%  117.00us
     75%  200.00us
     90%  300.00us
     99%    1.14ms
  945123 requests in 5.00s, 80.12MB read
  Socket errors: connect 0, read 0, write 0, timeout 9
Requests/sec: 189024.60
Transfer/sec:     16.02MB
`
	got, err := parseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	want := wrkResult{rps: 189024.60, p50: 117 * time.Microsecond, p99: 1140 * time.Microsecond, errors: "Socket errors: connect 0, read 0, write 0, timeout 9"}
	if got != want {
		t.Errorf("parseWrk = %+v, want %+v", got, want)
	}
	if _, err := parseWrk("connection refused"); err == nil {
		t.Error("parseWrk of a failed run: no error")
	}
}
