package publish

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/minimalbuild/minimal/magefiles/internal/plainhttp"
)

func TestRetryable(t *testing.T) {
	status := func(code int) error { return &transport.Error{StatusCode: code} }
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"500", status(http.StatusInternalServerError), true},
		{"502", status(http.StatusBadGateway), true},
		{"503", status(http.StatusServiceUnavailable), true},
		{"429", status(http.StatusTooManyRequests), true},
		{"408", status(http.StatusRequestTimeout), true},
		{"connection reset", &url.Error{Op: "Put", URL: "http://r/", Err: &net.OpError{Op: "read", Err: syscall.ECONNRESET}}, true},
		{"closed before the answer", &url.Error{Op: "Put", URL: "http://r/", Err: io.EOF}, true},
		{"broken pipe", fmt.Errorf("writing: %w", syscall.EPIPE), true},
		{"401: retrying cannot fix credentials", status(http.StatusUnauthorized), false},
		{"a lost upload session: start a new one", &transport.Error{StatusCode: 404, Errors: []transport.Diagnostic{{Code: transport.BlobUploadUnknownErrorCode}}}, true},
		{"503 of a request of a push", status503(http.MethodPatch, 0), true},
		{"403", status(http.StatusForbidden), false},
		{"404", status(http.StatusNotFound), false},
		{"400 NAME_INVALID", &transport.Error{StatusCode: 400, Errors: []transport.Diagnostic{{Code: transport.NameInvalidErrorCode}}}, false},
		{"connection refused: nothing is there to answer", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, false},
		{"cancelled", fmt.Errorf("pushing: %w", context.Canceled), false},
		{"plain HTTP refused", &plainhttp.Error{Host: "r"}, false},
		{"anything else", errors.New("boom"), false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		if got := retryable(tt.err); got != tt.want {
			t.Errorf("%s: retryable(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		value string
		want  time.Duration
	}{
		{"", 0},
		{"3", 3 * time.Second},
		{"0", 0},
		{"-4", 0},   // not a wait
		{"soon", 0}, // not a number or a date
		{now.Add(10 * time.Second).Format(http.TimeFormat), 10 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0}, // already past
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.value != "" {
			h.Set("Retry-After", tt.value)
		}
		if got := parseRetryAfter(h, now); got != tt.want {
			t.Errorf("Retry-After %q: %v, want %v", tt.value, got, tt.want)
		}
	}
}

// status503 is the error of a request the registry answered 503, with
// Retry-After after.
func status503(method string, after time.Duration) error {
	return &requestError{what: "testing", method: method, err: &statusError{te: &transport.Error{StatusCode: http.StatusServiceUnavailable}, retryAfter: after}}
}

// TestRetryDelay checks that waits grow from the backoff to the longest
// wait, each between half and all of its step, and that a Retry-After
// makes a wait at least that long.
func TestRetryDelay(t *testing.T) {
	policy := &retryPolicy{attempts: 100, backoff: 200 * time.Millisecond, maxWait: 5 * time.Second, maxTime: time.Hour}
	steps := []time.Duration{200, 400, 800, 1600, 3200, 5000, 5000, 5000}
	for range 50 {
		op := policy.operation()
		for i, step := range steps {
			op.failures = i + 1
			step *= time.Millisecond
			if d := op.delay(status503(http.MethodPut, 0)); d < step/2 || d > step {
				t.Fatalf("wait after failure %d: %v, want between %v and %v", i+1, d, step/2, step)
			}
			if d := op.delay(status503(http.MethodPut, 7*time.Second)); d != 7*time.Second {
				t.Fatalf("wait after failure %d with Retry-After 7s: %v, want 7s", i+1, d)
			}
		}
	}
}

// TestOperationFailed checks when an operation is tried again, and what it
// gives up with.
func TestOperationFailed(t *testing.T) {
	var waited []time.Duration
	policy := &retryPolicy{attempts: 3, backoff: time.Millisecond, maxWait: time.Second, maxTime: time.Minute,
		wait: func(ctx context.Context, d time.Duration) error { waited = append(waited, d); return ctx.Err() }}
	ctx := context.Background()

	t.Run("each step has its own attempts", func(t *testing.T) {
		waited = nil
		op := policy.operation()
		for _, m := range []string{"HEAD", "POST", "HEAD", "PUT", "POST", "PUT"} {
			if err := op.failed(ctx, status503(m, 0)); err != nil {
				t.Fatalf("%s: gave up: %v", m, err)
			}
		}
		err := op.failed(ctx, status503("PUT", 0))
		var ex *exhausted
		if !errors.As(err, &ex) || ex.attempts != 3 {
			t.Fatalf("third PUT failure: %v, want to give up after 3 attempts", err)
		}
		if len(waited) != 6 {
			t.Errorf("%d waits, want 6", len(waited))
		}
	})
	t.Run("not retryable", func(t *testing.T) {
		waited = nil
		refused := &requestError{what: "testing", method: "PUT", err: &statusError{te: &transport.Error{StatusCode: http.StatusUnauthorized}}}
		if err := policy.operation().failed(ctx, refused); err != refused || len(waited) != 0 {
			t.Errorf("401: %v after %d waits, want it at once", err, len(waited))
		}
	})
	t.Run("a Retry-After beyond the retry time", func(t *testing.T) {
		waited = nil
		err := policy.operation().failed(ctx, status503("PUT", 2*time.Minute))
		var ex *exhausted
		if !errors.As(err, &ex) || ex.wanted != 2*time.Minute || len(waited) != 0 {
			t.Fatalf("%v after %d waits, want to give up at once", err, len(waited))
		}
		if got := tries(err); !strings.Contains(got, "asking to wait 2m0s") {
			t.Errorf("tries = %q, want it to say the registry asked to wait 2m0s", got)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := policy.operation().failed(ctx, status503("PUT", 0)); !errors.Is(err, context.Canceled) {
			t.Errorf("%v, want context.Canceled", err)
		}
	})
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ url, want string }{
		{"http://127.0.0.1:5000/v2/team/hello/blobs/uploads/2f3c1b1e-93a0-4c2e-8f7b-1d2e3f4a5b6c?_state=abcDEF123%3D%3D&digest=sha256%3Aabc",
			"http://127.0.0.1:5000/v2/team/hello/blobs/uploads/<session>?digest=sha256%3Aabc"},
		{"https://user:secret@r.example/v2/team/hello/manifests/latest", "https://r.example/v2/team/hello/manifests/latest"},
		{"https://r.example/v2/team/hello/blobs/uploads/", "https://r.example/v2/team/hello/blobs/uploads/"},
		{"https://bucket.storage.example/blobs/abc?X-Signature=s3cr3t", "https://bucket.storage.example/..."},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := redactURL(u); got != tt.want {
			t.Errorf("redactURL(%s) = %s, want %s", tt.url, got, tt.want)
		}
	}
}
