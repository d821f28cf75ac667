package progress

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with the file testdata/dir/name.txt; with -update it writes the file
// first.
func golden(t *testing.T, dir, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", dir, name+".txt")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

// fakeClock is a clock that moves only when told to.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env returns a getenv that knows only the given name=value pairs.
func env(pairs ...string) func(string) string {
	m := map[string]string{}
	for _, p := range pairs {
		k, v, _ := strings.Cut(p, "=")
		m[k] = v
	}
	return func(k string) string { return m[k] }
}

// frame returns the live view as it would be drawn now.
func frame(p *Progress) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.frameLocked()
}

// TestPlainGolden checks the plain lines for builds that exercise each kind of line
// against testdata/plain/*.txt; go test -update rewrites them.
func TestPlainGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		why  string
		run  func(p *Progress, c *fakeClock)
	}{{
		name: "steps",
		why:  "a line per finished step; the counter only on the line that finishes a task; a cached task",
		run: func(p *Progress, c *fakeClock) {
			p.SetTotal(12)
			a := p.Start("hello", "linux/amd64", "compile")
			b := p.Start("hello", "linux/386", "compile")
			c.advance(1200 * time.Millisecond)
			a.Step("shrink")
			c.advance(300 * time.Millisecond)
			a.Step("image")
			c.advance(50 * time.Millisecond)
			a.Done(nil)
			b.Cached()
			d := p.Start("teensy", "linux/386", "compile")
			c.advance(2 * time.Second)
			d.Done(nil)
		},
	}, {
		name: "failure",
		why:  "a failure says the step and the whole error at once, and again in one line at Close; finishing twice counts once",
		run: func(p *Progress, c *fakeClock) {
			p.SetTotal(3)
			a := p.Start("broken", "linux/amd64", "compile")
			b := p.Start("hello", "linux/amd64", "compile")
			c.advance(400 * time.Millisecond)
			a.Done(errors.New("zig cc: exit status 1\nbroken.c:3:1: error: expected ';'\n"))
			a.Done(nil)
			a.Cached()
			b.Step("smoke")
			c.advance(100 * time.Millisecond)
			b.Done(fmt.Errorf("smoke test: %w", errors.New("stdout: got \"hi\\n\", want \"hello\\n\"")))
			e := p.Start("quiet", "", "")
			e.Done(errors.New("no sources"))
		},
	}, {
		name: "messages",
		why:  "Log and Write lines come out whole and in order; an unfinished written line is flushed at Close",
		run: func(p *Progress, c *fakeClock) {
			p.SetTotal(1)
			p.Log("warning: %s %s: no smoke test", "hello", "linux/amd64")
			fmt.Fprint(p, "fetching zig 0.11.0")
			fmt.Fprint(p, " ... done\r\nverified sha512\nzig cache: /tmp/zig\nleft")
			p.Log("two\nlines\n")
			a := p.Start("hello", "linux/amd64", "compile")
			c.advance(time.Second)
			a.Done(nil)
			fmt.Fprint(p, " over")
		},
	}, {
		name: "no-total",
		why:  "without SetTotal the counter shows only how many are done",
		run: func(p *Progress, c *fakeClock) {
			for _, app := range []string{"a", "b", "c"} {
				t := p.Start(app, "linux/amd64", "compile")
				c.advance(100 * time.Millisecond)
				t.Done(nil)
			}
		},
	}, {
		name: "unfinished",
		why:  "tasks still running at Close are counted as unfinished and what they report later is ignored",
		run: func(p *Progress, c *fakeClock) {
			p.SetTotal(2)
			a := p.Start("slow", "linux/amd64", "compile")
			c.advance(3*time.Minute + 7*time.Second)
			p.Close()
			a.Step("shrink")
			a.Done(nil)
			p.Start("late", "linux/amd64", "compile").Done(errors.New("too late"))
		},
	}, {
		name: "long",
		why:  "minutes and hours are printed as such, not as thousands of seconds",
		run: func(p *Progress, c *fakeClock) {
			p.SetTotal(100)
			a := p.Start("big", "linux/amd64", "compile")
			c.advance(time.Hour + 5*time.Minute + 30*time.Second)
			a.Step("shrink")
			c.advance(59*time.Second + 990*time.Millisecond)
			a.Done(nil)
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Log(tc.why)
			var out bytes.Buffer
			c := newClock()
			p := New(&out, WithLive(false), WithClock(c.now), WithGetenv(env()))
			tc.run(p, c)
			p.Close()
			if bytes.ContainsRune(out.Bytes(), 0x1b) {
				t.Errorf("plain output has an escape sequence:\n%q", out.String())
			}
			golden(t, "plain", tc.name, out.String())
		})
	}
}

// TestFrameGolden checks rendered live views against testdata/frames/*.txt; go test
// -update rewrites them. Each file holds the frames a case draws, in order, each under a
// "=== label" line.
func TestFrameGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		why  string
		env  []string
		run  func(p *Progress, c *fakeClock, shot func(string))
	}{{
		name: "running",
		why:  "the header counts done, built, cached, failed and running; rows are aligned, oldest first, with the step's own time",
		run: func(p *Progress, c *fakeClock, shot func(string)) {
			p.SetTotal(12)
			shot("before any task")
			a := p.Start("hello", "linux/amd64", "compile")
			c.advance(300 * time.Millisecond)
			b := p.Start("teensy-example", "linux/386", "compile")
			d := p.Start("static", "linux/amd64", "fetch zig")
			c.advance(1200 * time.Millisecond)
			shot("three running")
			a.Step("shrink")
			b.Cached()
			c.advance(200 * time.Millisecond)
			shot("one moved on, one cached")
			d.Done(errors.New("npm: not found"))
			a.Done(nil)
			c.advance(65 * time.Second)
			shot("all finished")
		},
	}, {
		name: "collapse",
		why:  "more running tasks than rows: the last row that fits says how many more",
		env:  []string{"LINES=6"},
		run: func(p *Progress, c *fakeClock, shot func(string)) {
			p.SetTotal(10)
			var ts []*Task
			for i := range 10 {
				ts = append(ts, p.Start(fmt.Sprintf("app%d", i), "linux/amd64", "compile"))
				c.advance(100 * time.Millisecond)
			}
			shot("10 running in 6 lines")
			for _, t := range ts[:6] {
				t.Done(nil)
			}
			shot("4 running: exactly the 4 rows there are")
		},
	}, {
		name: "narrow",
		why:  "rows are cut to one less than the width, so that no terminal wraps them",
		env:  []string{"COLUMNS=32"},
		run: func(p *Progress, c *fakeClock, shot func(string)) {
			p.SetTotal(1000)
			p.Start("a-very-long-application-name", "linux/amd64", "compile")
			p.Start("x", "linux/386", "tab\tin step")
			c.advance(12 * time.Second)
			shot("32 columns")
		},
	}, {
		name: "tiny",
		why:  "a terminal too short for any task row shows the header, or only the count of tasks, or nothing",
		env:  []string{"LINES=3"},
		run: func(p *Progress, c *fakeClock, shot func(string)) {
			p.SetTotal(2)
			p.Start("a", "linux/amd64", "compile")
			shot("1 running in 3 lines: it fits")
			p.Start("b", "linux/amd64", "compile")
			shot("2 running in 3 lines")
			p.height = 2
			shot("2 lines: header only")
			p.height = 1
			shot("1 line: nothing")
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Log(tc.why)
			c := newClock()
			var out bytes.Buffer
			p := New(&out, WithLive(true), WithClock(c.now), WithGetenv(env(tc.env...)), withRefresh(0))
			var got strings.Builder
			tc.run(p, c, func(label string) {
				fmt.Fprintf(&got, "=== %s\n", label)
				for _, r := range frame(p) {
					if n := len([]rune(r)); n >= p.width {
						t.Errorf("%s: row %q is %d columns, want fewer than %d", label, r, n, p.width)
					}
					got.WriteString(r + "\n")
				}
			})
			golden(t, "frames", tc.name, got.String())
		})
	}
}

// liveHarness runs a Progress in live mode into a terminal emulator and checks, after
// every operation, that the screen shows exactly the lines meant to stay (messages) and
// below them the live view last drawn, with nothing left over from earlier frames.
type liveHarness struct {
	t     *testing.T
	c     *fakeClock
	p     *Progress
	out   bytes.Buffer
	fed   int
	term  *terminal
	stays []string
}

func newLiveHarness(t *testing.T, width, height int) *liveHarness {
	h := &liveHarness{t: t, c: newClock(), term: newTerminal(width, height)}
	h.p = New(&h.out, WithLive(true), WithClock(h.c.now), withRefresh(0),
		WithGetenv(env(fmt.Sprint("COLUMNS=", width), fmt.Sprint("LINES=", height))))
	return h
}

// check feeds the new output to the terminal and compares the screen with what it should
// show; stays are lines the last operation printed above the view, each taking as many
// rows as it needs at the terminal's width.
func (h *liveHarness) check(what string, stays ...string) {
	h.t.Helper()
	for _, s := range stays {
		r := []rune(s)
		for len(r) > h.term.width {
			h.stays = append(h.stays, string(r[:h.term.width]))
			r = r[h.term.width:]
		}
		h.stays = append(h.stays, string(r))
	}
	if _, err := h.term.Write(h.out.Bytes()[h.fed:]); err != nil {
		h.t.Fatalf("%s: %v", what, err)
	}
	h.fed = h.out.Len()
	h.p.mu.Lock()
	want := append(append([]string(nil), h.stays...), h.p.shown...)
	h.p.mu.Unlock()
	if diff := cmp.Diff(want, h.term.text()); diff != "" {
		h.t.Errorf("after %s, screen (-want +got):\n%s", what, diff)
	}
}

// TestLiveScreen drives the live view through frames and messages and checks the screen
// after each step with a terminal emulator; the final screens are also kept in
// testdata/screens/*.txt (go test -update rewrites them).
func TestLiveScreen(t *testing.T) {
	for _, tc := range []struct {
		name          string
		why           string
		width, height int
		run           func(h *liveHarness)
	}{{
		name:  "messages",
		why:   "messages go above the view and stay; the view is redrawn below them, shrinking and growing, and Close leaves only the summary",
		width: 60, height: 24,
		run: func(h *liveHarness) {
			p, c := h.p, h.c
			p.SetTotal(4)
			a := p.Start("hello", "linux/amd64", "compile")
			b := p.Start("hello", "linux/386", "compile")
			p.redraw()
			h.check("first frame")
			c.advance(time.Second)
			p.Log("warning: hello: no smoke test")
			h.check("a warning", "warning: hello: no smoke test")
			p.redraw()
			h.check("a redraw with nothing changed")
			a.Step("shrink")
			b.Cached()
			c.advance(100 * time.Millisecond)
			p.redraw()
			h.check("a shorter frame")
			fmt.Fprint(p, "verbose: zig cc -o ")
			h.check("half a written line")
			fmt.Fprint(p, "hello\nverbose: strip hello\n")
			h.check("written lines", "verbose: zig cc -o hello", "verbose: strip hello")
			d := p.Start("broken", "linux/amd64", "compile")
			e := p.Start("more", "linux/amd64", "compile")
			p.redraw()
			h.check("a taller frame")
			d.Done(errors.New("exit status 1\nbroken.c:1: error"))
			h.check("a failure", "[2/4] broken linux/amd64 compile failed after 0.0s: exit status 1", "          broken.c:1: error")
			a.Done(nil)
			e.Done(nil)
			p.redraw()
			h.check("all done")
			long := strings.Repeat("0123456789", 7)
			p.Log("%s", long)
			h.check("a message longer than the terminal is wide", long)
			p.Log("tab\there")
			h.check("a message with a tab", "tab     here")
			p.Close()
			h.check("Close", "FAIL broken linux/amd64 compile: exit status 1", "2 built, 1 cached, 1 failed in 1.1s")
			p.Log("after close")
			if got := h.out.String()[h.fed:]; got != "after close\n" {
				t.Errorf("Log after Close wrote %q, want a plain line", got)
			}
			h.check("Log after Close", "after close")
		},
	}, {
		name:  "short-terminal",
		why:   "with more tasks than the terminal has lines the view still fits, so every redraw erases all of the previous one",
		width: 40, height: 5,
		run: func(h *liveHarness) {
			p, c := h.p, h.c
			p.SetTotal(20)
			var ts []*Task
			for i := range 20 {
				ts = append(ts, p.Start(fmt.Sprintf("app%02d", i), "linux/386", "compile"))
				c.advance(50 * time.Millisecond)
				p.redraw()
				h.check(fmt.Sprintf("start %d", i))
			}
			for i, t := range ts {
				if i%5 == 0 {
					p.Log("message %d", i)
					h.check("message", fmt.Sprintf("message %d", i))
				}
				t.Done(nil)
				p.redraw()
				h.check(fmt.Sprintf("done %d", i))
			}
			p.Close()
			h.check("Close", "20 built, 0 cached, 0 failed in 1.0s")
		},
	}, {
		name:  "close-without-frame",
		why:   "Close before any frame was drawn prints only the summary",
		width: 80, height: 24,
		run: func(h *liveHarness) {
			h.p.Start("a", "", "compile").Done(nil)
			h.check("nothing drawn yet")
			h.p.Close()
			h.check("Close", "1 built, 0 cached, 0 failed in 0.0s")
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Log(tc.why)
			h := newLiveHarness(t, tc.width, tc.height)
			tc.run(h)
			golden(t, "screens", tc.name, strings.Join(h.term.text(), "\n")+"\n")
		})
	}
}

// TestConcurrent runs many tasks from many goroutines, with logs, writes and redraws from
// the background loop and from the goroutines themselves, under -race; the final screen
// must hold every message once and the right summary, with no frame left behind.
func TestConcurrent(t *testing.T) {
	const workers, perWorker = 16, 25
	var out bytes.Buffer
	c := newClock()
	p := New(&out, WithLive(true), WithClock(c.now), withRefresh(time.Millisecond),
		WithGetenv(env("LINES=8", "COLUMNS=120")))
	p.SetTotal(workers * perWorker)
	var wg sync.WaitGroup
	var built, cached, failed int
	for w := range workers {
		for i := range perWorker {
			switch {
			case i%7 == 3:
				failed++
			case i%3 == 0:
				cached++
			default:
				built++
			}
		}
		wg.Go(func() {
			for i := range perWorker {
				tk := p.Start(fmt.Sprintf("app%d", w), fmt.Sprintf("linux/%d", i), "compile")
				c.advance(time.Millisecond)
				tk.Step("shrink")
				switch {
				case i%7 == 3:
					tk.Done(fmt.Errorf("worker %d task %d failed", w, i))
				case i%3 == 0:
					tk.Cached()
				default:
					tk.Done(nil)
				}
				if i%5 == 0 {
					p.Log("log %d %d", w, i)
					fmt.Fprintf(p, "write %d %d\n", w, i)
				}
				p.redraw()
			}
		})
	}
	wg.Wait()
	p.Close()

	term := newTerminal(120, 8)
	if _, err := term.Write(out.Bytes()); err != nil {
		t.Fatal(err)
	}
	lines := term.text()
	count := map[string]int{}
	for _, l := range lines {
		count[l]++
	}
	for w := range workers {
		for i := 0; i < perWorker; i += 5 {
			for _, l := range []string{fmt.Sprintf("log %d %d", w, i), fmt.Sprintf("write %d %d", w, i)} {
				if count[l] != 1 {
					t.Errorf("%q is on the screen %d times, want 1", l, count[l])
				}
			}
		}
	}
	// Every line is a message, a failure (and its FAIL line), or the summary.
	wantLines := workers*len(rangeStep(perWorker, 5))*2 + failed*2 + 1
	if len(lines) != wantLines {
		t.Errorf("screen has %d lines, want %d; the end:\n%s", len(lines), wantLines, strings.Join(lines[max(len(lines)-12, 0):], "\n"))
	}
	summary := lines[len(lines)-1]
	if want := fmt.Sprintf("%d built, %d cached, %d failed in ", built, cached, failed); !strings.HasPrefix(summary, want) {
		t.Errorf("summary = %q, want it to start with %q", summary, want)
	}
}

func rangeStep(n, step int) []int {
	var s []int
	for i := 0; i < n; i += step {
		s = append(s, i)
	}
	return s
}

// TestLiveDetection checks when the live view is chosen.
func TestLiveDetection(t *testing.T) {
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no %s to stand in for a terminal: %v", os.DevNull, err)
	}
	defer devNull.Close()
	if fi, err := devNull.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Skipf("%s is not a character device here", os.DevNull)
	}
	file, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	for _, tc := range []struct {
		why  string
		w    interface{ Write([]byte) (int, error) }
		env  []string
		opts []Option
		want bool
	}{
		{why: "a character device is a terminal", w: devNull, env: []string{"TERM=xterm"}, want: true},
		{why: "CI logs are read later, not watched", w: devNull, env: []string{"CI=true"}, want: false},
		{why: "CI=1 is as true as CI=true", w: devNull, env: []string{"CI=1"}, want: false},
		{why: "CI=false is not CI", w: devNull, env: []string{"CI=false"}, want: true},
		{why: "a dumb terminal has no cursor movement", w: devNull, env: []string{"TERM=dumb"}, want: false},
		{why: "a regular file is not a terminal", w: file, want: false},
		{why: "a buffer is not a file at all", w: &bytes.Buffer{}, want: false},
		{why: "WithLive(false) wins over a terminal", w: devNull, opts: []Option{WithLive(false)}, want: false},
		{why: "WithLive(true) wins over CI and a buffer", w: &bytes.Buffer{}, env: []string{"CI=true"}, opts: []Option{WithLive(true)}, want: true},
	} {
		p := New(tc.w, append([]Option{WithGetenv(env(tc.env...)), withRefresh(0)}, tc.opts...)...)
		if p.live != tc.want {
			t.Errorf("%s: live = %v, want %v", tc.why, p.live, tc.want)
		}
		p.Close()
	}
}

// TestTerminalSize checks that $LINES and $COLUMNS are read and bad values fall back.
func TestTerminalSize(t *testing.T) {
	for _, tc := range []struct {
		why           string
		env           []string
		width, height int
	}{
		{why: "both set", env: []string{"LINES=50", "COLUMNS=132"}, width: 132, height: 50},
		{why: "unset: the VT100's 24x80", width: 80, height: 24},
		{why: "not numbers", env: []string{"LINES=tall", "COLUMNS=wide"}, width: 80, height: 24},
		{why: "zero is no size", env: []string{"LINES=0", "COLUMNS=-3"}, width: 80, height: 24},
	} {
		p := New(&bytes.Buffer{}, WithGetenv(env(tc.env...)))
		if p.width != tc.width || p.height != tc.height {
			t.Errorf("%s: size %dx%d, want %dx%d", tc.why, p.height, p.width, tc.height, tc.width)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0.0s"}, // a clock that went backwards
		{0, "0.0s"},
		{99 * time.Millisecond, "0.0s"}, // truncated, so a step never looks longer than it was
		{1250 * time.Millisecond, "1.2s"},
		{59*time.Second + 999*time.Millisecond, "59.9s"},
		{time.Minute, "1m00s"},
		{3*time.Minute + 7*time.Second + 900*time.Millisecond, "3m07s"},
		{time.Hour + 5*time.Minute + 59*time.Second, "1h05m"},
		{100 * time.Hour, "100h00m"},
	} {
		if got := formatDuration(tc.d); got != tc.want {
			t.Errorf("formatDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

// TestNil checks that a nil *Progress and its nil tasks can be used as "no progress".
func TestNil(t *testing.T) {
	var p *Progress
	p.SetTotal(1)
	tk := p.Start("a", "b", "c")
	tk.Step("d")
	tk.Cached()
	tk.Done(errors.New("x"))
	p.Log("x")
	if n, err := p.Write([]byte("abc")); n != 3 || err != nil {
		t.Errorf("Write = %d, %v; want 3, nil", n, err)
	}
	p.Close()
}
