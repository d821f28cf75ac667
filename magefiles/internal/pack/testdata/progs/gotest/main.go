// Command gotest is run packed and unpacked by the pack tests.
//
//	gotest hash        prints the number of arguments and environment
//	                   entries and an FNV-1a hash of each list
//	gotest stress      runs goroutines under garbage-collector pressure,
//	                   sends itself SIGUSR1 and waits for it, then exits 3
//	gotest floats      parses and formats a number at every power of ten
//	                   strconv's table holds and prints an FNV-1a hash of
//	                   the results
package main

import (
	"fmt"
	"hash/fnv"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: gotest hash|stress|floats")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "hash":
		fmt.Printf("argc=%d argv=%016x envc=%d env=%016x\n",
			len(os.Args), sum(os.Args), len(os.Environ()), sum(os.Environ()))
	case "stress":
		stress()
		os.Exit(3)
	case "floats":
		floats()
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", os.Args[1])
		os.Exit(2)
	}
}

// floats parses a 19-digit number at each power of ten from 1e-348 to
// 1e347, as float64 and float32, and formats each float64 result, which go
// through the table's entries, and prints how many and a hash.
func floats() {
	var out []string
	for e := -348; e <= 347; e++ {
		s := "1234567890123456789e" + strconv.Itoa(e-18)
		f64, _ := strconv.ParseFloat(s, 64)
		f32, _ := strconv.ParseFloat(s, 32)
		out = append(out, strconv.FormatFloat(f64, 'g', -1, 64), strconv.FormatFloat(f32, 'e', -1, 32))
	}
	fmt.Printf("floats=%d hash=%016x first=%s last=%s\n", len(out), sum(out), out[0], out[len(out)-2])
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
