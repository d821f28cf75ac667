package publish

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"syscall"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// retryStatusCodes are the answers after which a request is tried again.
var retryStatusCodes = []int{
	http.StatusRequestTimeout,
	http.StatusTooManyRequests,
	http.StatusInternalServerError,
	http.StatusBadGateway,
	http.StatusServiceUnavailable,
	http.StatusGatewayTimeout,
}

// retryable reports whether a failed operation is worth trying again: the
// registry answered one of retryStatusCodes, or said it lost an upload
// session, or the connection broke or timed out on the way. A refused
// connection, a TLS problem, refused credentials and other answers of
// the registry are not.
func retryable(err error) bool {
	var br *blobReadError
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &br) {
		return false
	}
	var te *transport.Error
	if errors.As(err, &te) {
		if te.Temporary() || slices.Contains(retryStatusCodes, te.StatusCode) {
			return true
		}
		return te.StatusCode == http.StatusNotFound && hasCode(te, transport.BlobUploadUnknownErrorCode)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// checkHost refuses a location on another host than from's that is a
// loopback, private or link-local address: a registry must not send a
// client's requests, and the blobs in them, into the client's own
// network.
func checkHost(from, to *url.URL) error {
	h := to.Hostname()
	if h == from.Hostname() {
		return nil
	}
	ip := net.ParseIP(h)
	if h == "localhost" || ip != nil && (ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsUnspecified()) {
		return fmt.Errorf("the registry sent the request on to %s, a local or private address; refused", h)
	}
	return nil
}

// checkRedirect is the http.Client's CheckRedirect: at most 10 redirects,
// none to a local or private address of another host.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	return checkHost(via[0].URL, req.URL)
}

// limitTransport lets at most cap(slots) requests be in flight at once.
// A request holds its slot until its response headers arrive, which is
// after its body is sent; no request waits for another while holding one.
type limitTransport struct {
	inner http.RoundTripper
	slots chan struct{}
}

func (l *limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	select {
	case l.slots <- struct{}{}:
	case <-req.Context().Done():
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, req.Context().Err()
	}
	defer func() { <-l.slots }()
	return l.inner.RoundTrip(req)
}
