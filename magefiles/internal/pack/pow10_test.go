package pack

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPow10Table checks the computed table against math/big: entry i is
// 10^(pow10First+i) shifted to have 128 bits before the binary point,
// rounded down, in either layout.
func TestPow10Table(t *testing.T) {
	want := make([]byte, pow10Bytes)
	ten := big.NewInt(10)
	for i := range pow10Count {
		e := pow10First + i
		p := new(big.Int).Exp(ten, big.NewInt(int64(max(e, -e))), nil)
		var m *big.Int
		if e >= 0 {
			m = new(big.Int).Set(p)
			if n := m.BitLen(); n > 128 {
				m.Rsh(m, uint(n-128))
			} else {
				m.Lsh(m, uint(128-n))
			}
		} else {
			// The floor of 2^k / 10^-e with exactly 128 bits.
			k := p.BitLen() + 127
			m = new(big.Int).Quo(new(big.Int).Lsh(big.NewInt(1), uint(k)), p)
			if m.BitLen() < 128 {
				m.Quo(new(big.Int).Lsh(big.NewInt(1), uint(k+1)), p)
			}
		}
		var b [16]byte
		m.FillBytes(b[:])
		binary.LittleEndian.PutUint64(want[16*i:], binary.BigEndian.Uint64(b[:8]))
		binary.LittleEndian.PutUint64(want[16*i+8:], binary.BigEndian.Uint64(b[8:]))
	}
	if got := pow10Table(true); !bytes.Equal(got, want) {
		t.Errorf("pow10Table(true) differs from math/big's at byte %d", firstDiff(got, want))
	}
	swapped := make([]byte, pow10Bytes)
	for i := 0; i < pow10Bytes; i += 16 {
		copy(swapped[i:], want[i+8:i+16])
		copy(swapped[i+8:], want[i:i+8])
	}
	if got := pow10Table(false); !bytes.Equal(got, swapped) {
		t.Errorf("pow10Table(false) differs from math/big's at byte %d", firstDiff(got, swapped))
	}
}

// firstDiff returns the index of the first byte where a and b differ.
func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestFindPow10 checks where the table is found, in which layout, and
// that zeroing it and putting it back gives the bytes back.
func TestFindPow10(t *testing.T) {
	hi, lo := pow10Table(true), pow10Table(false)
	pad := bytes.Repeat([]byte{0x5a}, 37)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name string
		b    []byte
		want pow10At
	}{
		{"high halves first, after other bytes", cat(pad, hi, pad), pow10At{off: 37, hiFirst: true, ok: true}},
		{"low halves first, at the start", cat(lo, pad), pow10At{off: 0, ok: true}},
		{"at the very end", cat(pad, lo), pow10At{off: 37, ok: true}},
		{"cut short by one byte", cat(pad, hi[:pow10Bytes-1]), pow10At{}},
		{"one entry wrong", cat(pad, hi[:160], make([]byte, 16), hi[176:]), pow10At{}},
		{"nothing", nil, pow10At{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := findPow10(tt.b)
			if got != tt.want {
				t.Fatalf("findPow10 = %+v, want %+v", got, tt.want)
			}
			if !got.ok {
				return
			}
			z := bytes.Clone(tt.b)
			zeroPow10(z, got)
			if bytes.Contains(z, hi[:16]) || bytes.Contains(z, lo[:16]) {
				t.Error("zeroPow10 left the table's first entry")
			}
			if !putPow10(z, got) || !bytes.Equal(z, tt.b) {
				t.Error("putPow10(zeroPow10(b)) differs from b")
			}
		})
	}
	if putPow10(make([]byte, pow10Bytes), pow10At{off: 1, ok: true}) {
		t.Error("putPow10 writes a table past the end")
	}
}

// TestPow10InGoPrograms checks that the packer finds the table in a Go
// program and leaves it to the stub, and that the packed program parses
// and formats numbers at every power of ten the table holds as the
// original does.
func TestPow10InGoPrograms(t *testing.T) {
	for _, goarch := range []string{"amd64", "386"} {
		t.Run(goarch, func(t *testing.T) {
			path := goTest(goarch).build(t)
			packed, info := packFile(t, path, quick)
			if !slices.ContainsFunc(info.Streams, func(s Stream) bool { return s.Pow10 }) {
				t.Errorf("no stream has the table of powers of ten: %+v", info.Streams)
			}
			want := run(t, path, "prog", []string{"floats"}, nil)
			if !strings.HasPrefix(want.Stdout, "floats=1392 ") {
				t.Fatalf("the original prints %+v", want)
			}
			if got := run(t, packed, "prog", []string{"floats"}, nil); got != want {
				t.Errorf("packed run differs (-want +got):\n%s", cmp.Diff(want, got))
			}
		})
	}
}

// TestPow10Stub checks the stub's table byte for byte, in both layouts: a
// freestanding C program that holds the table and writes it to stdout,
// packed, must write the table.
func TestPow10Stub(t *testing.T) {
	for _, goarch := range []string{"amd64", "386"} {
		for _, hiFirst := range []bool{true, false} {
			table := pow10Table(hiFirst)
			t.Run(fmt.Sprintf("%s hiFirst=%v", goarch, hiFirst), func(t *testing.T) {
				var src strings.Builder
				src.WriteString("static const unsigned char table[] = {")
				for _, c := range table {
					fmt.Fprintf(&src, "%d,", c)
				}
				src.WriteString("};\n" + writeTableC)
				name := filepath.Join(t.TempDir(), "table.c")
				if err := os.WriteFile(name, []byte(src.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				path := gccProgram(t, goarch, "-nostdlib", "-fno-pie", "-no-pie", name)
				packed, info := packFile(t, path, quick)
				if !slices.ContainsFunc(info.Streams, func(s Stream) bool { return s.Pow10 }) {
					t.Fatalf("no stream has the table of powers of ten: %+v", info.Streams)
				}
				got := run(t, packed, "prog", nil, nil)
				if got.Exit != 0 || !bytes.Equal([]byte(got.Stdout), table) {
					t.Errorf("the packed program exits %d and writes %d bytes, which differ from the table's %d at byte %d",
						got.Exit, len(got.Stdout), len(table), firstDiff([]byte(got.Stdout), table))
				}
			})
		}
	}
}

// writeTableC is the code of TestPow10Stub's program: it writes table to
// stdout and exits 0.
const writeTableC = `
#ifdef __x86_64__
static long sys3(long n, long a, long b, long c)
{
	__asm__ volatile("syscall" : "+a"(n) : "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
	return n;
}
#define SYS_WRITE 1
#define SYS_EXIT 60
#else
static long sys3(long n, long a, long b, long c)
{
	__asm__ volatile("int $0x80" : "+a"(n) : "b"(a), "c"(b), "d"(c) : "memory");
	return n;
}
#define SYS_WRITE 4
#define SYS_EXIT 1
#endif

void _start(void)
{
	unsigned long done = 0;
	while (done < sizeof table) {
		long n = sys3(SYS_WRITE, 1, (long)(table + done), (long)(sizeof table - done));
		if (n <= 0)
			sys3(SYS_EXIT, 1, 0, 0);
		done += n;
	}
	for (;;)
		sys3(SYS_EXIT, 0, 0, 0);
}
`
