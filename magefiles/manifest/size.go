package manifest

import (
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// sizeUnit is a unit a budget's sizes take, and its number of bytes.
type sizeUnit struct {
	name  string
	bytes int64
}

// sizeUnits are the units a budget's sizes take.
var sizeUnits = []sizeUnit{
	{"B", 1}, {"kB", 1000}, {"KiB", 1 << 10}, {"MB", 1000 * 1000}, {"MiB", 1 << 20},
}

// sizeText matches a size as written: a number, then optionally a space and a unit.
var sizeText = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?) ?([A-Za-z]*)$`)

// ParseSize returns the number of bytes that s, such as "2KiB", "1.5 MiB", "300kB" or
// "2048", stands for. The units are B, kB (1000 B), KiB (1024 B), MB (1000 kB) and
// MiB (1024 KiB); a bare number is bytes. The size must be a positive whole number of
// bytes.
func ParseSize(s string) (int64, error) {
	m := sizeText.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("invalid size %q; want a number of bytes, or a number and a unit (%s), such as 2KiB", s, unitNames())
	}
	unit := int64(1)
	if m[2] != "" {
		i := slices.IndexFunc(sizeUnits, func(u sizeUnit) bool { return u.name == m[2] })
		if i < 0 {
			return 0, fmt.Errorf("unknown unit %q in size %q; want one of %s (kB and MB count in 1000s, KiB and MiB in 1024s)", m[2], s, unitNames())
		}
		unit = sizeUnits[i].bytes
	}
	r, ok := new(big.Rat).SetString(m[1])
	if !ok {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	r.Mul(r, new(big.Rat).SetInt64(unit))
	switch {
	case r.Sign() == 0:
		return 0, fmt.Errorf("size %q is zero; want a positive size, or leave the key out for no cap", s)
	case !r.IsInt():
		return 0, fmt.Errorf("size %q is not a whole number of bytes", s)
	case !r.Num().IsInt64():
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return r.Num().Int64(), nil
}

func unitNames() string {
	names := make([]string, len(sizeUnits))
	for i, u := range sizeUnits {
		names[i] = u.name
	}
	return strings.Join(names, ", ")
}

// String returns the size as the manifest writes it, with a space between number and
// unit: "2 KiB"; a bare number of bytes gets thousands separators and B: "2,048 B".
func (s Size) String() string {
	if m := sizeText.FindStringSubmatch(s.Text); m != nil && m[2] != "" {
		return m[1] + " " + m[2]
	}
	return FormatBytes(s.Bytes)
}

// FormatBytes renders n with thousands separators and the unit B: "1,200,290 B".
func FormatBytes(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	if neg {
		out = append(out, '-')
	}
	for i, c := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, c)
	}
	return string(out) + " B"
}
