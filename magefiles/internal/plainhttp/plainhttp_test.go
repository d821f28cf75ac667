package plainhttp

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestLoopback(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{"127.0.0.1:5000", true},
		{"127.8.9.10:5000", true}, // all of 127.0.0.0/8
		{"localhost:5000", true},
		{"localhost", true},
		{"[::1]:5000", true},
		{"::1", true},
		{"[::1]", true},
		{"10.0.0.1:5000", false},      // a private network is not loopback
		{"192.168.1.2:5000", false},   // nor is this one
		{"registry.localhost", false}, // a name under localhost may resolve anywhere
		{"localhost.example.com", false},
		{"[::2]:5000", false},
		{"registry.example.com", false},
	}
	for _, tt := range tests {
		if got := Loopback(tt.host); got != tt.want {
			t.Errorf("Loopback(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
}

func TestAllow(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		name     string
		insecure *bool
		host     string
		want     bool
	}{
		{"default, loopback", nil, "127.0.0.1", true},
		{"default, elsewhere", nil, "10.0.0.1", false},
		{"insecure, elsewhere", &yes, "10.0.0.1", true},
		{"secure, even loopback", &no, "127.0.0.1", false},
	}
	for _, tt := range tests {
		if got := Allow(tt.insecure)(tt.host); got != tt.want {
			t.Errorf("%s: Allow(%q) = %v, want %v", tt.name, tt.host, got, tt.want)
		}
	}
}

func TestGuard(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	refuse := Guard(http.DefaultTransport, func(string) bool { return false })
	resp, err := refuse.RoundTrip(httptest.NewRequest("GET", srv.URL, nil))
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatalf("refusing guard: got %v, %v; want an *Error", resp, err)
	}
	req, _ := http.NewRequest("GET", srv.URL, nil)
	resp, err = Guard(http.DefaultTransport, Loopback).RoundTrip(req)
	if err != nil {
		t.Fatalf("loopback guard refused %s: %v", srv.URL, err)
	}
	resp.Body.Close()
}
