package manifest

import (
	"strings"
	"syscall"
	"testing"
)

func TestValidAppName(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"hello", true},
		{"c-hello.v2_x", true}, // every punctuation mark allowed
		{"0day", true},         // a digit may start it
		{"Hello", false},       // image names are lowercase
		{"-x", false},          // would read as a flag
		{".", false},           // would name a directory
		{"a/b", false},         // would leave the directory
		{"a:b", false},         // would read as dir:name in skopeo's syntax
		{"", false},
		{"a.", false},   // registries and image tools refuse a trailing separator
		{"a-", false},   //
		{"a_", false},   //
		{"a..b", false}, // two dots
		{"a___b", false},
		{"a__b", true}, // a double underscore is one separator
		{"a--b", true}, // and so are several dashes
		{strings.Repeat("a", MaxAppNameLen), true},
		{strings.Repeat("a", MaxAppNameLen+1), false}, // too long for file names built from it
	}
	for _, tt := range tests {
		if got := ValidAppName(tt.name); got != tt.want {
			t.Errorf("ValidAppName(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestValidZigVersion(t *testing.T) {
	tests := []struct {
		v    string
		want bool
	}{
		{"0.11.0", true},
		{"0.12.0-dev.1+abc", true}, // a development build as zig reports it
		{"0.11.0+abc", true},       // build metadata without a pre-release
		{"0.12.0-rc1", true},
		{"0.11", false},
		{"v0.11.0", false},
		{"0.11.0-", false},
		{"0.11.0+", false},
		{"0.11.0-a+b+c", false}, // one + at most, as in semantic versions
		{"0.11.0/../x", false},  // the version becomes part of a path
		{"", false},
	}
	for _, tt := range tests {
		if got := ValidZigVersion(tt.v); got != tt.want {
			t.Errorf("ValidZigVersion(%q) = %v, want %v", tt.v, got, tt.want)
		}
	}
}

func TestSignal(t *testing.T) {
	seen := map[syscall.Signal]string{}
	for _, name := range SignalNames() {
		sig, ok := Signal(name)
		if !ok || sig == 0 {
			t.Errorf("Signal(%q) = %v, %v; every listed name must have a signal", name, sig, ok)
		}
		if other, dup := seen[sig]; dup {
			t.Errorf("%s and %s are the same signal", other, name)
		}
		seen[sig] = name
	}
	if sig, ok := Signal("TERM"); !ok || sig != syscall.SIGTERM {
		t.Errorf("Signal(TERM) = %v, %v; want SIGTERM", sig, ok)
	}
	if _, ok := Signal("SIGTERM"); ok {
		t.Error("Signal takes the name without SIG, as Test.Signal holds it")
	}
	if _, ok := Signal("STOP"); ok {
		t.Error("Signal(STOP): a stopped app never ends, so STOP is not a test signal")
	}
}

func TestNormalizePort(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr string // a part of the error; empty when the port is valid
	}{
		{in: "8080", want: "8080/tcp"},        // a bare port means tcp
		{in: "53/udp", want: "53/udp"},        // kept as written
		{in: "08080/tcp", want: "8080/tcp"},   // one spelling per port, so duplicates show
		{in: "65535", want: "65535/tcp"},      // the largest port
		{in: "0", wantErr: "from 1 to 65535"}, // not a port
		{in: "65536", wantErr: "from 1 to 65535"},
		{in: "-1", wantErr: "from 1 to 65535"}, // not a number
		{in: "", wantErr: "from 1 to 65535"},
		{in: "80/http", wantErr: "protocol tcp or udp"}, // not a transport
		{in: "9/sctp", wantErr: "protocol tcp or udp"},  // minimal.yaml has never taken sctp
		{in: "80/", wantErr: "protocol tcp or udp"},
	}
	for _, tt := range tests {
		got, err := NormalizePort(tt.in)
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("NormalizePort(%q) = %q, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
			}
		case err != nil || got != tt.want:
			t.Errorf("NormalizePort(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
