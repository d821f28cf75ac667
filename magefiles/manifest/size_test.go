package manifest

import (
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in     string
		want   int64
		errHas string // empty for a valid size
		shown  string // Size.String of the result
	}{
		{in: "2048", want: 2048, shown: "2,048 B"},                                                   // a bare number is bytes
		{in: "100B", want: 100, shown: "100 B"},                                                      // B is bytes too
		{in: "2kB", want: 2000, shown: "2 kB"},                                                       // kB counts in 1000s
		{in: "2KiB", want: 2048, shown: "2 KiB"},                                                     // KiB in 1024s
		{in: "3 MB", want: 3_000_000, shown: "3 MB"},                                                 // one space is allowed
		{in: "1.5MiB", want: 1_572_864, shown: "1.5 MiB"},                                            // fractions that give whole bytes
		{in: "0.5KiB", want: 512, shown: "0.5 KiB"},                                                  //
		{in: "1234567", want: 1_234_567, shown: "1,234,567 B"},                                       // separators in every third place
		{in: "2KB", errHas: `unknown unit "KB"`},                                                     // upper-case k is neither kB nor KiB
		{in: "2kb", errHas: `unknown unit "kb"`},                                                     // units are case-sensitive
		{in: "2GiB", errHas: `unknown unit "GiB"`},                                                   // no budget is that large
		{in: "0", errHas: "is zero"},                                                                 // a zero cap is no cap; say so
		{in: "0KiB", errHas: "is zero"},                                                              //
		{in: "-1", errHas: "invalid size"},                                                           // sizes are not negative
		{in: "1.1B", errHas: "not a whole number of bytes"},                                          // bytes do not split
		{in: "1e3", errHas: "invalid size"},                                                          // no exponents
		{in: "", errHas: "invalid size"},                                                             //
		{in: "KiB", errHas: "invalid size"},                                                          // a unit needs a number
		{in: "2  KiB", errHas: "invalid size"},                                                       // one space at most
		{in: "9999999999999MiB", errHas: "too large"},                                                // beyond int64
		{in: "9223372036854775807", want: 9223372036854775807, shown: "9,223,372,036,854,775,807 B"}, // the largest
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if tt.errHas != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("ParseSize(%q) = %d, %v; want an error containing %q", tt.in, got, err, tt.errHas)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			continue
		}
		if s := (Size{Bytes: got, Text: tt.in}).String(); s != tt.shown {
			t.Errorf("Size{%q}.String() = %q, want %q", tt.in, s, tt.shown)
		}
	}
}

func TestPositionAt(t *testing.T) {
	if got, want := (Position{Line: 12, Column: 5}).At("minimal.yaml"), "minimal.yaml:12:5"; got != want {
		t.Errorf("At = %q, want %q", got, want)
	}
	if got, want := (Position{}).At("minimal.yaml"), "minimal.yaml"; got != want {
		t.Errorf("zero At = %q, want %q", got, want)
	}
}
