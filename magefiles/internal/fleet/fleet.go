package fleet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"syscall"
	"time"
)

// Result is what Run measured of one fleet.
type Result struct {
	// N is the number of containers.
	N int
	// Start is the time to start all of them, from the first start to the last
	// one's process 1 running.
	Start time.Duration
	// Memory is the median over the containers of what each one's processes hold
	// (TreeMemory of its process 1): resident and proportional set, in bytes.
	Memory Memory
	// Stop is the time from sending SIGTERM to every process 1 to the last one
	// ending.
	Stop time.Duration
	// Status is the wait status of each container's process 1 where the runtime
	// lets this process reap it (runc, see Run), else nil.
	Status []syscall.WaitStatus
}

// StartRate is the containers started per second.
func (r Result) StartRate() float64 { return float64(r.N) / r.Start.Seconds() }

// Run starts n containers of bundle with rt, named prefix-0 to prefix-<n-1>, a few at
// a time, waits settle, reads each one's memory, then sends SIGTERM to every
// process 1 at once, as a node does when a deployment is scaled to zero, and
// waits for all of them to end, killing any still running after grace. It
// removes every container before it returns.
//
// Run makes the calling process a child subreaper, so that the process 1 of a
// container runc ran detached becomes its child when runc exits and Run can reap it
// and read its status.
func Run(ctx context.Context, rt Runtime, bundle, prefix string, n int, settle, grace time.Duration) (Result, error) {
	if err := setSubreaper(); err != nil {
		return Result{}, err
	}
	res := Result{N: n}
	pids := make([]int, n)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	defer func() {
		for _, id := range ids {
			rt.Delete(context.WithoutCancel(ctx), id)
		}
	}()

	start := time.Now()
	if err := parallel(n, func(i int) error {
		pid, err := rt.Start(ctx, bundle, ids[i])
		pids[i] = pid
		return err
	}); err != nil {
		return res, err
	}
	res.Start = time.Since(start)

	time.Sleep(settle)
	mems := make([]Memory, n)
	for i, pid := range pids {
		m, err := TreeMemory(pid)
		if err != nil {
			return res, fmt.Errorf("container %s: %w", ids[i], err)
		}
		mems[i] = m
	}
	res.Memory = median(mems)

	// Each process 1 is reaped by a goroutine of its own where it is our child,
	// and else watched in /proc.
	status := make([]syscall.WaitStatus, n)
	reaped := make([]bool, n)
	var wg sync.WaitGroup
	stop := time.Now()
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
			return res, fmt.Errorf("sending SIGTERM to %d: %w", pid, err)
		}
	}
	deadline := time.Now().Add(grace)
	for i, pid := range pids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				var ws syscall.WaitStatus
				got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
				switch {
				case got == pid:
					status[i], reaped[i] = ws, true
					return
				case errors.Is(err, syscall.ECHILD):
					if gone(pid) {
						return
					}
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}
	wg.Wait()
	res.Stop = time.Since(stop)
	late := 0
	for i, pid := range pids {
		if !reaped[i] && !gone(pid) {
			late++
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if late > 0 {
		return res, fmt.Errorf("%d of %d containers still ran %v after SIGTERM", late, n, grace)
	}
	for i := range reaped {
		if !reaped[i] {
			return res, nil
		}
	}
	res.Status = status
	return res, nil
}

// gone reports whether process pid has ended: it no longer exists, or is a zombie.
func gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the command name, which is in parentheses.
	for i := len(b) - 1; i > 0; i-- {
		if b[i] == ')' {
			return i+2 < len(b) && (b[i+2] == 'Z' || b[i+2] == 'X')
		}
	}
	return false
}

// parallel runs f(0) to f(n-1), GOMAXPROCS×2 at a time, and returns the first error.
func parallel(n int, f func(i int) error) error {
	var (
		mu    sync.Mutex
		first error
		next  int
		wg    sync.WaitGroup
	)
	for range min(n, 2*runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				stop := first != nil
				mu.Unlock()
				if i >= n || stop {
					return
				}
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// median returns the median Rss and the median Pss of ms.
func median(ms []Memory) Memory {
	if len(ms) == 0 {
		return Memory{}
	}
	rss := make([]int64, len(ms))
	pss := make([]int64, len(ms))
	for i, m := range ms {
		rss[i], pss[i] = m.Rss, m.Pss
	}
	sort.Slice(rss, func(i, j int) bool { return rss[i] < rss[j] })
	sort.Slice(pss, func(i, j int) bool { return pss[i] < pss[j] })
	return Memory{Rss: rss[len(rss)/2], Pss: pss[len(pss)/2]}
}

// setSubreaper makes this process the reaper of its descendants' orphans.
func setSubreaper() error {
	const prSetChildSubreaper = 36
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		return fmt.Errorf("becoming a child subreaper: %w", errno)
	}
	return nil
}
