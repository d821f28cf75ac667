package plainhttp

import (
	"fmt"
	"net"
	"net/http"
)

// Loopback reports whether host, with or without a port, is a loopback address or
// localhost.
func Loopback(host string) bool {
	h := Hostname(host)
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// Hostname returns host without its port and IPv6 brackets.
func Hostname(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	if len(host) > 1 && host[0] == '[' && host[len(host)-1] == ']' {
		return host[1 : len(host)-1]
	}
	return host
}

// Allow returns the rule for a host, with or without a port: with insecure nil, plain
// HTTP is allowed for loopback hosts only; otherwise *insecure decides for every host.
func Allow(insecure *bool) func(host string) bool {
	if insecure != nil {
		v := *insecure
		return func(string) bool { return v }
	}
	return Loopback
}

// Error is the error of a plain HTTP request that the rule does not allow.
type Error struct {
	// Host is the host:port the request was for.
	Host string
}

func (e *Error) Error() string {
	return fmt.Sprintf("plain HTTP to %s is not allowed", e.Host)
}

// Guard returns a transport that refuses, with an *Error, every plain HTTP request to a
// host that allow does not accept, and passes every other request to inner.
func Guard(inner http.RoundTripper, allow func(host string) bool) http.RoundTripper {
	return &guard{inner: inner, allow: allow}
}

type guard struct {
	inner http.RoundTripper
	allow func(host string) bool
}

func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !g.allow(req.URL.Hostname()) {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, &Error{Host: req.URL.Host}
	}
	return g.inner.RoundTrip(req)
}
