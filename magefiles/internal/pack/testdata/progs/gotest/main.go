// Command gotest is run packed and unpacked by the pack tests.
//
//	gotest hash        prints the number of arguments and environment
//	                   entries and an FNV-1a hash of each list
//	gotest stress      runs goroutines under garbage-collector pressure,
//	                   sends itself SIGUSR1 and waits for it, then exits 3
package main

import (
	"fmt"
	"hash/fnv"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: gotest hash|stress")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "hash":
		fmt.Printf("argc=%d argv=%016x envc=%d env=%016x\n",
			len(os.Args), sum(os.Args), len(os.Environ()), sum(os.Environ()))
	case "stress":
		stress()
		os.Exit(3)
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", os.Args[1])
		os.Exit(2)
	}
}

// sum hashes each string followed by a NUL byte.
func sum(list []string) uint64 {
	h := fnv.New64a()
	for _, s := range list {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

func stress() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGUSR1)

	var wg sync.WaitGroup
	results := make([]int, 64)
	for g := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var keep [][]byte
			for i := range 2000 {
				b := make([]byte, 1024+i%4096)
				b[0] = byte(i)
				keep = append(keep, b)
				if len(keep) > 64 {
					keep = keep[1:]
				}
				results[g] += int(b[0])
			}
		}()
	}
	wg.Wait()
	runtime.GC()
	total := 0
	for _, r := range results {
		total += r
	}

	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
		fmt.Println("kill:", err)
		return
	}
	select {
	case s := <-sigs:
		fmt.Printf("goroutines done, total %d, got %v\n", total, s)
	case <-time.After(10 * time.Second):
		fmt.Println("no signal")
	}
}
