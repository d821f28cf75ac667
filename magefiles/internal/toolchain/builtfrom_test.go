package toolchain

import "testing"

func TestNASMRelease(t *testing.T) {
	for _, tc := range []struct{ out, want string }{
		{"NASM version 2.16.01\n", "2.16.01"},
		{"NASM version 2.15.05 compiled on Sep 24 2020\n", "2.15.05"},
		{"  something else  \n", "something else"},
		{"version", "version"},
	} {
		if got := nasmRelease(tc.out); got != tc.want {
			t.Errorf("nasmRelease(%q) = %q, want %q", tc.out, got, tc.want)
		}
	}
}
