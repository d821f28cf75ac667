// Command churn keeps the Go runtime busy until it is told to stop: goroutines passing
// work around, garbage for the collector, and a signal handler. On SIGTERM it prints what
// it did and exits 0, so a smoke test sees that scheduling, collection and signal
// delivery all work in the binary as shipped.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)

	var done atomic.Bool
	var jobs atomic.Int64
	work := make(chan []byte)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				sum := 0
				for _, c := range b {
					sum += int(c)
				}
				if sum >= 0 {
					jobs.Add(1)
				}
			}
		}()
	}
	go func() {
		for i := 0; !done.Load(); i++ {
			work <- make([]byte, 64<<10+i%4096) // garbage: each buffer dies after one job
		}
		close(work)
	}()

	sig := <-stop
	done.Store(true)
	wg.Wait()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("churn: stopped by %v\n", sig)
	if jobs.Load() > 0 && ms.NumGC > 0 {
		fmt.Println("churn: goroutines ran, the collector ran")
	}
}
