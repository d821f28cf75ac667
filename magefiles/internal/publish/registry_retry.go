package publish

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// retryPolicy says how the operations of a push (uploading a blob,
// putting a manifest, checking for one) are tried again when a step of
// theirs fails.
type retryPolicy struct {
	// attempts is how many times each step of one operation is tried.
	attempts int
	// backoff is the wait after an operation's first failure; it doubles
	// after each further one, up to maxWait.
	backoff, maxWait time.Duration
	// maxTime bounds how long one operation goes on trying.
	maxTime time.Duration
	// wait waits for d, or until ctx ends.
	wait func(ctx context.Context, d time.Duration) error
	// retried, when not nil, is called before each new try.
	retried func()
}

// sleep waits for d, or until ctx ends, whichever comes first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// operation is one operation of a push, tried under a retryPolicy.
type operation struct {
	policy   *retryPolicy
	start    time.Time
	failures int            // in all
	steps    map[string]int // by step
}

func (r *retryPolicy) operation() *operation {
	return &operation{policy: r, start: time.Now(), steps: map[string]int{}}
}

// failed takes the error of a try of the operation. It returns nil, after
// waiting, when the operation is worth trying again: err is retryable,
// its step has failed fewer than the policy's attempts, and the wait ends
// within the operation's time. Otherwise it returns the error to give up
// with: err itself when it is not retryable or ctx has ended, else err
// wrapped in an *exhausted that says how often and how long it was
// tried.
func (op *operation) failed(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if !retryable(err) {
		return err
	}
	op.failures++
	step := ""
	var re *requestError
	if errors.As(err, &re) {
		step = re.method
	}
	op.steps[step]++
	tries := op.steps[step]
	if tries >= op.policy.attempts {
		return &exhausted{attempts: tries, err: err}
	}
	d := op.delay(err)
	if elapsed := time.Since(op.start); elapsed+d > op.policy.maxTime {
		ex := &exhausted{attempts: tries, after: max(elapsed, 1), err: err}
		if d == retryAfter(err) {
			ex.wanted = d
		}
		return ex
	}
	if op.policy.retried != nil {
		op.policy.retried()
	}
	return op.policy.wait(ctx, d)
}

// delay returns how long to wait before the next try: the registry's
// Retry-After, or else the backoff for the failures so far, at least half
// of it and at most all of it (jitter, so that uploads that failed
// together do not all try again at the same moment).
func (op *operation) delay(err error) time.Duration {
	d := op.policy.backoff
	for i := 1; i < op.failures && d < op.policy.maxWait; i++ {
		d *= 2
	}
	d = min(d, op.policy.maxWait)
	if d > 1 {
		d = d/2 + rand.N(d/2)
	}
	return max(d, retryAfter(err))
}

// retryAfter returns the wait the registry asked for in the Retry-After
// header of the answer that made err, or 0.
func retryAfter(err error) time.Duration {
	var se *statusError
	if errors.As(err, &se) {
		return se.retryAfter
	}
	return 0
}

// parseRetryAfter reads a Retry-After header: a number of seconds or an
// HTTP date. It returns 0 when there is none, or it is in the past.
func parseRetryAfter(h http.Header, now time.Time) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		return time.Duration(max(s, 0)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
