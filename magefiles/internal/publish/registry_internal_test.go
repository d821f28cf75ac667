package publish

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"testing"

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
