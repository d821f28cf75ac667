// Package plainhttp is the one rule for where minimal speaks plain HTTP to a registry:
// to loopback hosts (127.0.0.0/8, ::1, localhost) only, unless the user allows insecure
// registries explicitly. Both the publisher and the remote action cache follow it.
//
// go-containerregistry falls back to plain HTTP for more hosts than loopback ones
// (private networks, *.local, *.localhost); Guard wraps a transport so that this
// fallback stays within what Allow permits.
package plainhttp
