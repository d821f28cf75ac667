package action

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minimalbuild/minimal/magefiles/internal/cache"
)

// counter is an action whose run makes "out" from its input and counts its runs.
type counter struct {
	runs  int
	value string
	// src, when set, is a file the run discovers it read, by its name "src".
	src string
}

func (c *counter) action() Action[string] {
	act := Action[string]{
		Kind:   "test",
		Inputs: []cache.Input{{Name: "value", Value: c.value}},
		Run: func(context.Context) (map[string][]byte, []string, error) {
			c.runs++
			var found []string
			if c.src != "" {
				found = []string{"src"}
			}
			return map[string][]byte{"out": []byte("made of " + c.value)}, found, nil
		},
		Decode: func(outs map[string]cache.Output) (string, error) {
			b, err := Read(outs, "out")
			return string(b), err
		},
	}
	if c.src != "" {
		act.Host = func(string) string { return c.src }
	}
	return act
}

func TestDo(t *testing.T) {
	tests := []struct {
		name string
		// between runs between the first Do and the second.
		between  func(t *testing.T, c *counter, dir string)
		wantRuns int // of the action over both Dos
	}{
		{name: "same inputs: the second comes from the cache", between: func(*testing.T, *counter, string) {}, wantRuns: 1},
		{name: "another input value runs again", between: func(_ *testing.T, c *counter, _ string) { c.value = "b" }, wantRuns: 2},
		{name: "a damaged blob runs again", between: func(t *testing.T, _ *counter, dir string) { damage(t, dir) }, wantRuns: 2},
		{name: "a changed discovered file runs again", between: func(t *testing.T, c *counter, _ string) {
			if err := os.WriteFile(c.src, []byte("changed"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, wantRuns: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			c, err := cache.Open(filepath.Join(dir, "cache"))
			if err != nil {
				t.Fatal(err)
			}
			r := &Runner{Cache: c, Tool: "tool"}
			ct := &counter{value: "a", src: filepath.Join(dir, "src.c")}
			if err := os.WriteFile(ct.src, []byte("int x;"), 0o644); err != nil {
				t.Fatal(err)
			}
			got, ran, err := Do(context.Background(), r, "app", ct.action())
			if err != nil || !ran || got != "made of a" {
				t.Fatalf("first Do = %q, ran %v, %v; want made of a, ran", got, ran, err)
			}
			tt.between(t, ct, filepath.Join(dir, "cache"))
			got, ran, err = Do(context.Background(), r, "app", ct.action())
			if err != nil || got != "made of "+ct.value {
				t.Fatalf("second Do = %q, %v; want made of %s", got, err, ct.value)
			}
			if got := r.Discovered("app"); !slices.Equal(got, []string{"src"}) {
				t.Errorf("Discovered = %q after a Do that ran %v, want [src]", got, ran)
			}
			if ct.runs != tt.wantRuns || ran != (tt.wantRuns == 2) {
				t.Errorf("runs = %d (second ran %v), want %d", ct.runs, ran, tt.wantRuns)
			}
			if want := strings.Count(r.Counts(), "1 from the local cache"); want != 2-tt.wantRuns {
				t.Errorf("Counts() = %q after %d runs", r.Counts(), tt.wantRuns)
			}
		})
	}
}

// damage overwrites every blob under dir with other bytes of the same length.
func damage(t *testing.T, dir string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil || !strings.HasPrefix(string(b), "made of") {
			return err
		}
		n++
		return os.WriteFile(p, []byte(strings.Repeat("x", len(b))), 0o644)
	})
	if err != nil || n == 0 {
		t.Fatalf("damaging the blobs under %s: %d damaged, %v", dir, n, err)
	}
}

func TestDryRun(t *testing.T) {
	dir := t.TempDir()
	c, err := cache.Open(filepath.Join(dir, "cache"))
	if err != nil {
		t.Fatal(err)
	}
	ct := &counter{value: "a"}
	dry := &Runner{Cache: c, Tool: "tool", Dry: true}
	var runs *Runs
	if _, _, err := Do(context.Background(), dry, "app", ct.action()); !errors.As(err, &runs) || runs.Recorded {
		t.Fatalf("dry Do before any run = %v, want an unrecorded *Runs", err)
	}
	if _, _, err := Do(context.Background(), &Runner{Cache: c, Tool: "tool"}, "app", ct.action()); err != nil {
		t.Fatal(err)
	}
	if _, ran, err := Do(context.Background(), dry, "app", ct.action()); err != nil || ran {
		t.Fatalf("dry Do of a cached action = ran %v, %v; want its result", ran, err)
	}
	ct.value = "b"
	_, _, err = Do(context.Background(), dry, "app", ct.action())
	if !errors.As(err, &runs) || !runs.Recorded || !slices.ContainsFunc(runs.Changes, func(s string) bool { return strings.Contains(s, "value") }) {
		t.Fatalf("dry Do after a change = %v (%+v), want a *Runs naming value", err, runs)
	}
	if ct.runs != 1 {
		t.Errorf("the action ran %d times, want once: a dry run runs nothing", ct.runs)
	}
}

func TestSlotsBoundRuns(t *testing.T) {
	for _, slots := range []int{1, 2, 3} {
		t.Run(fmt.Sprint(slots), func(t *testing.T) {
			c, err := cache.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			r := &Runner{Cache: c, Tool: "tool", Slots: make(chan struct{}, slots)}
			var running, most atomic.Int64
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					act := Action[string]{
						Kind:   "test",
						Inputs: []cache.Input{{Name: "i", Value: fmt.Sprint(i)}},
						Run: func(context.Context) (map[string][]byte, []string, error) {
							n := running.Add(1)
							for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
							}
							// Stay until the slots have all been taken once, however
							// slowly the others start, then a little longer: a run
							// past the bound would show in most.
							for deadline := time.Now().Add(10 * time.Second); most.Load() < int64(slots) && time.Now().Before(deadline); {
								time.Sleep(time.Millisecond)
							}
							time.Sleep(20 * time.Millisecond)
							running.Add(-1)
							return map[string][]byte{"out": {byte(i)}}, nil, nil
						},
						Decode: func(outs map[string]cache.Output) (string, error) { _, err := Read(outs, "out"); return "", err },
					}
					if _, _, err := Do(context.Background(), r, fmt.Sprint(i), act); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			if got := most.Load(); got != int64(slots) {
				t.Errorf("at most %d actions ran at once, want %d: the slots bound them and 8 were waiting", got, slots)
			}
		})
	}
}
