// signals is a test program for the init, run as its child in a container.
//
// With the argument "orphans N" it makes N orphans: it starts a child that starts a
// grandchild and exits at once, so the grandchild is re-parented to process 1; the
// grandchild exits too. It then says how many of those grandchildren are zombies,
// nobody having reaped them: "zombies: K", and exits 1 if K > 0.
//
// With the argument "catch" it prints "ready", then the name of every signal it
// gets, and exits 3 on SIGTERM.
package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	switch os.Args[1] {
	case "orphans":
		n, _ := strconv.Atoi(os.Args[2])
		orphans(n)
	case "child":
		// Start a grandchild and exit without waiting for it.
		cmd := exec.Command(os.Args[0], "grandchild")
		if err := cmd.Start(); err != nil {
			os.Exit(2)
		}
		fmt.Println(cmd.Process.Pid)
	case "grandchild":
		time.Sleep(20 * time.Millisecond)
	case "catch":
		catch()
	}
}

func orphans(n int) {
	var pids []int
	for range n {
		out, err := exec.Command(os.Args[0], "child").Output()
		if err != nil {
			fmt.Println("child:", err)
			os.Exit(2)
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(out)))
		pids = append(pids, pid)
	}
	time.Sleep(500 * time.Millisecond) // the grandchildren have ended by now
	zombies := 0
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err == nil && strings.Contains(string(b), ") Z ") {
			zombies++
		}
	}
	fmt.Printf("zombies: %d\n", zombies)
	if zombies > 0 {
		os.Exit(1)
	}
}

func catch() {
	c := make(chan os.Signal, 16)
	signal.Notify(c, syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGUSR1,
		syscall.SIGUSR2, syscall.SIGWINCH, syscall.SIGALRM, syscall.SIGCONT, syscall.SIGTERM)
	w := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(w, "ready")
	w.Flush()
	for s := range c {
		fmt.Fprintln(w, s.(syscall.Signal).String())
		w.Flush()
		if s == syscall.SIGTERM {
			os.Exit(3)
		}
	}
}
