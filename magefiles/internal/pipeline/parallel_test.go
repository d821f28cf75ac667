package pipeline

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
)

func TestParallel(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		jobs, n int
		fail    map[int]bool
		// together makes every job wait until all n have started, so that
		// failures cannot stop the others from being started.
		together bool
		wantErr  string // substring; empty means success
	}{
		{name: "every job runs", jobs: 2, n: 10},
		{name: "one job at a time still runs all", jobs: 1, n: 5},
		{name: "a failure is reported", jobs: 2, n: 5, fail: map[int]bool{3: true}, wantErr: "job 3: boom"},
		{name: "two failures are both reported", jobs: 4, n: 4, fail: map[int]bool{0: true, 2: true}, together: true, wantErr: "job 0: boom\njob 2: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var running, peak, ran, started atomic.Int32
			allStarted := make(chan struct{})
			err := parallel(context.Background(), tt.jobs, tt.n, func(ctx context.Context, i int) error {
				if int(started.Add(1)) == tt.n {
					close(allStarted)
				}
				if tt.together {
					<-allStarted
				}
				now := running.Add(1)
				defer running.Add(-1)
				for {
					p := peak.Load()
					if now <= p || peak.CompareAndSwap(p, now) {
						break
					}
				}
				ran.Add(1)
				if tt.fail[i] {
					return errors.Join(errors.New("job " + string(rune('0'+i)) + ": " + boom.Error()))
				}
				return nil
			})
			if p := peak.Load(); int(p) > tt.jobs {
				t.Errorf("%d jobs ran at once, limit %d", p, tt.jobs)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if int(ran.Load()) != tt.n {
					t.Errorf("ran %d jobs, want %d", ran.Load(), tt.n)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestParallelCancelledParent(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := parallel(ctx, 2, 3, func(ctx context.Context, i int) error { return ctx.Err() })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}
