// Command gohello exercises the parts of the Go runtime that read the
// binary's own metadata, so that a stripped binary can be compared with the
// original: runtime.Caller and symbolized stacks, goroutines, the garbage
// collector, signal delivery, recovered runtime panics, build information,
// and, with the argument "panic" or "segv", an unrecovered crash.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
)

func main() {
	switch mode := strings.Join(os.Args[1:], " "); mode {
	case "":
		run()
	case "panic":
		crash()
	case "segv":
		var p *int
		fmt.Println(*p)
	default:
		fmt.Fprintf(os.Stderr, "unknown mode %q\n", mode)
		os.Exit(2)
	}
}

func run() {
	fmt.Println("hello from Go")

	pc, file, line, ok := runtime.Caller(0)
	fmt.Printf("caller: %s %s:%d %v\n", runtime.FuncForPC(pc).Name(), file, line, ok)
	printStack()

	var wg sync.WaitGroup
	sums := make([]int, 8)
	for i := range sums {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 100000 {
				sums[i] += j % (i + 1)
			}
		}()
	}
	wg.Wait()
	fmt.Println("goroutines:", sums)

	var keep [][]byte
	for i := range 2000 {
		keep = append(keep, make([]byte, 4096+i))
		if len(keep) > 100 {
			keep = keep[1:]
		}
	}
	before := gcCount()
	runtime.GC()
	fmt.Println("gc ran:", gcCount() > before, len(keep))

	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1)
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
		fmt.Println("kill:", err)
	}
	fmt.Println("signal:", <-ch)

	fmt.Println("recovered:", recovered())

	if bi, ok := debug.ReadBuildInfo(); ok {
		fmt.Println("build info:", bi.Path, bi.GoVersion != "")
	}
}

// printStack prints the function, file and line of each caller.
func printStack() {
	pcs := make([]uintptr, 16)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(1, pcs)])
	for {
		f, more := frames.Next()
		fmt.Printf("frame: %s %s:%d\n", f.Function, f.File, f.Line)
		if !more {
			return
		}
	}
}

func gcCount() uint32 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.NumGC
}

// recovered turns a nil pointer dereference, delivered as SIGSEGV, into a
// panic, recovers it and returns its message with the faulting frame.
func recovered() (msg string) {
	defer func() {
		r := recover()
		pcs := make([]uintptr, 16)
		frames := runtime.CallersFrames(pcs[:runtime.Callers(1, pcs)])
		for {
			f, more := frames.Next()
			if f.Function == "main.recovered" {
				msg = fmt.Sprintf("%v at %s:%d", r, f.Function, f.Line)
				return
			}
			if !more {
				msg = fmt.Sprintf("%v, faulting frame not found", r)
				return
			}
		}
	}()
	var m map[string]*int
	return fmt.Sprint(*m["missing"])
}

//go:noinline
func crash() {
	panic(fmt.Sprintf("boom in %d goroutine(s)", runtime.NumGoroutine()))
}
