package manifest

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"syscall"
)

// appName is the form of an app name: see ValidAppName.
var appName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// AppNameRule says in words what ValidAppName accepts, for error messages.
const AppNameRule = "lowercase letters, digits, '.', '_' and '-', starting with a letter or digit"

// ValidAppName reports whether name is an app name: lowercase letters, digits, '.',
// '_' and '-', starting with a letter or digit. The name is also the image's name and
// part of file names, so the rule keeps it safe there and in tools' "dir:name" syntax.
func ValidAppName(name string) bool { return appName.MatchString(name) }

// NormalizePort returns an exposed port as image.ports stores it and an image
// configuration lists it, number/protocol: "8080" becomes "8080/tcp" and "053/udp"
// becomes "53/udp". The number must be from 1 to 65535 and the protocol tcp or udp.
func NormalizePort(p string) (string, error) {
	num, proto, found := strings.Cut(p, "/")
	if !found {
		proto = "tcp"
	}
	n, err := strconv.ParseUint(num, 10, 16)
	if err != nil || n == 0 {
		return "", fmt.Errorf("invalid port %q: want a port from 1 to 65535", p)
	}
	if proto != "tcp" && proto != "udp" {
		return "", fmt.Errorf("invalid port %q: want protocol tcp or udp", p)
	}
	return strconv.FormatUint(n, 10) + "/" + proto, nil
}

// zigVersion is the form of a zig version: see ValidZigVersion.
var zigVersion = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

// ValidZigVersion reports whether v is a zig version as zig reports it, a semantic
// version: major.minor.patch, then an optional -pre-release and an optional +build,
// as in 0.11.0 or 0.12.0-dev.1+abc.
func ValidZigVersion(v string) bool { return zigVersion.MatchString(v) }

// signals are the signals a smoke test may send, in the order error messages list them.
var signals = []struct {
	name string
	sig  syscall.Signal
}{
	{"TERM", syscall.SIGTERM},
	{"INT", syscall.SIGINT},
	{"HUP", syscall.SIGHUP},
	{"QUIT", syscall.SIGQUIT},
	{"KILL", syscall.SIGKILL},
	{"USR1", syscall.SIGUSR1},
	{"USR2", syscall.SIGUSR2},
}

// SignalNames returns the names of the signals test.signal may name, without the SIG
// prefix.
func SignalNames() []string {
	names := make([]string, len(signals))
	for i, s := range signals {
		names[i] = s.name
	}
	return names
}

// Signal returns the signal test.signal names as name (without the SIG prefix, as
// Test.Signal holds it), and whether there is one.
func Signal(name string) (syscall.Signal, bool) {
	for _, s := range signals {
		if s.name == name {
			return s.sig, true
		}
	}
	return 0, false
}
