package pack

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSplitPC checks the pc-table filter's output on tables written out by
// hand, and that joinPC gives the input back.
func TestSplitPC(t *testing.T) {
	tests := []struct {
		name  string
		in    []byte
		out   []byte
		split int
	}{
		{"nothing", []byte{}, []byte{}, 0},
		{"one table", []byte{0x02, 0x10, 0x04, 0x05, 0x00}, []byte{0x02, 0x04, 0x00, 0x10, 0x05}, 3},
		{"a zero first value does not end the table",
			[]byte{0x00, 0x03, 0x02, 0x01, 0x00}, []byte{0x00, 0x02, 0x00, 0x03, 0x01}, 3},
		{"two tables, varints of two bytes",
			[]byte{0x81, 0x01, 0x90, 0x02, 0x00, 0x06, 0x07},
			[]byte{0x81, 0x01, 0x00, 0x06, 0x90, 0x02, 0x07}, 4},
		{"a zero of two bytes is a value, not an end",
			[]byte{0x02, 0x01, 0x80, 0x00, 0x03}, []byte{0x02, 0x80, 0x00, 0x01, 0x03}, 3},
		{"a varint cut off by the end", []byte{0x05, 0x80}, []byte{0x05, 0x80}, 1},
		{"a value cut off by the end", []byte{0x05, 0x01, 0xff}, []byte{0x05, 0xff, 0x01}, 2},
		{"ends right after a table", []byte{0x04, 0x01, 0x00, 0x00}, []byte{0x04, 0x00, 0x00, 0x01}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, split := splitPC(tt.in)
			if !bytes.Equal(out, tt.out) || split != tt.split {
				t.Errorf("splitPC(% x) = % x, %d; want % x, %d", tt.in, out, split, tt.out, tt.split)
			}
			back, ok := joinPC(out, split)
			if !ok || !bytes.Equal(back, tt.in) {
				t.Errorf("joinPC(% x, %d) = % x, %v; want % x, true", out, split, back, ok, tt.in)
			}
		})
	}
}

// TestJoinPCRefuses checks that joinPC, like the stub, refuses a split
// point that does not match the bytes.
func TestJoinPCRefuses(t *testing.T) {
	out, split := splitPC([]byte{0x02, 0x10, 0x04, 0x05, 0x00, 0x06, 0x07})
	for _, bad := range []int{0, split - 1, split + 1, len(out)} {
		if back, ok := joinPC(out, bad); ok {
			t.Errorf("joinPC(% x, %d) = % x, true; want a refusal (the split is %d)", out, bad, back, split)
		}
	}
}

// FuzzSplitPC checks that the pc-table filter gives back any bytes, and
// that reading a pclntab header never panics.
func FuzzSplitPC(f *testing.F) {
	f.Add([]byte{0x02, 0x10, 0x04, 0x05, 0x00, 0x06, 0x07})
	f.Add(pcHeader(8, pcMagic120, 1, 8, 120, 200))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, split := splitPC(b)
		if back, ok := joinPC(out, split); !ok || !bytes.Equal(back, b) {
			t.Fatalf("joinPC(splitPC(% x)) = % x, %v", b, back, ok)
		}
		for _, word := range []int{4, 8} {
			if start, n, ok := pcTables(b, word); ok && (start < 1 || n < 1 || start+n > len(b) || b[start-1] != 0) {
				t.Fatalf("pcTables(% x, %d) = %d, %d, which is not a table", b, word, start, n)
			}
		}
	})
}

// pcHeader returns a pclntab header of pointer size word with the pc tables
// at tab and the function table at fn, followed by zeros up to fn and one
// function table byte.
func pcHeader(word int, magic uint32, minLC, ptrSize byte, tab, fn uint64) []byte {
	h := binary.LittleEndian.AppendUint32(nil, magic)
	h = append(h, 0, 0, minLC, ptrSize)
	for k := range pcWordCount {
		v := uint64(k + 1)
		switch k {
		case pcTableWord:
			v = tab
		case pcFuncWord:
			v = fn
		}
		if word == 8 {
			h = binary.LittleEndian.AppendUint64(h, v)
		} else {
			h = binary.LittleEndian.AppendUint32(h, uint32(v))
		}
	}
	if n := int(min(fn, 1<<16)); len(h) < n {
		h = append(h, make([]byte, n-len(h))...)
	}
	return append(h, 0xaa)
}

// TestPCTables checks which pclntab headers pcTables accepts, and where it
// says their pc tables are.
func TestPCTables(t *testing.T) {
	at := func(pad int, h []byte) []byte { return append(bytes.Repeat([]byte{0x55}, pad), h...) }
	tests := []struct {
		name     string
		data     []byte
		word     int
		start, n int
		ok       bool
	}{
		{"Go 1.20 and later, 64-bit", pcHeader(8, pcMagic120, 1, 8, 120, 200), 8, 121, 79, true},
		{"Go 1.18, 32-bit", pcHeader(4, pcMagic118, 1, 4, 64, 100), 4, 65, 35, true},
		{"after other bytes, at a multiple of 4", at(12, pcHeader(8, pcMagic120, 1, 8, 120, 200)), 8, 133, 79, true},
		{"after a magic whose header is wrong", append(append(pcHeader(8, pcMagic120, 4, 8, 120, 200), 0x55, 0x55, 0x55), pcHeader(8, pcMagic120, 1, 8, 120, 200)...), 8, 204 + 121, 79, true},
		{"not at a multiple of 4", at(2, pcHeader(8, pcMagic120, 1, 8, 120, 200)), 8, 0, 0, false},
		{"Go 1.16's magic", pcHeader(8, 0xfffffffa, 1, 8, 120, 200), 8, 0, 0, false},
		{"another pointer size", pcHeader(8, pcMagic120, 1, 8, 120, 200), 4, 0, 0, false},
		{"another instruction quantum", pcHeader(8, pcMagic120, 4, 8, 120, 200), 8, 0, 0, false},
		{"pc tables inside the header", pcHeader(8, pcMagic120, 1, 8, 40, 200), 8, 0, 0, false},
		{"empty pc tables", pcHeader(8, pcMagic120, 1, 8, 120, 121), 8, 0, 0, false},
		{"function table before the pc tables", pcHeader(8, pcMagic120, 1, 8, 120, 100), 8, 0, 0, false},
		{"function table past the data", pcHeader(8, pcMagic120, 1, 8, 120, 1<<20), 8, 0, 0, false},
		{"truncated header", pcHeader(8, pcMagic120, 1, 8, 120, 200)[:40], 8, 0, 0, false},
		{"no magic", bytes.Repeat([]byte{0xff}, 300), 8, 0, 0, false},
	}
	nonzero := pcHeader(8, pcMagic120, 1, 8, 120, 200)
	nonzero[120] = 1
	tests = append(tests, struct {
		name     string
		data     []byte
		word     int
		start, n int
		ok       bool
	}{"pc tables not starting with the empty table", nonzero, 8, 0, 0, false})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start, n, ok := pcTables(tt.data, tt.word)
			if start != tt.start || n != tt.n || ok != tt.ok {
				t.Errorf("pcTables = %d, %d, %v; want %d, %d, %v", start, n, ok, tt.start, tt.n, tt.ok)
			}
		})
	}
}

// TestPCTablesOfGoPrograms checks that the packer finds a Go program's pc
// tables where its .gopclntab section says they are, filters them, and
// that the packed program, whose stub undoes the filter, runs like the
// original.
func TestPCTablesOfGoPrograms(t *testing.T) {
	for _, goarch := range []string{"amd64", "386"} {
		t.Run(goarch, func(t *testing.T) {
			path := goProgram(t, "../../../apps/hello", goarch)
			f, err := elf.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			sec := f.Section(".gopclntab")
			if sec == nil {
				t.Fatal("no .gopclntab section")
			}
			tab, err := sec.Data()
			if err != nil {
				t.Fatal(err)
			}
			word := 8
			if goarch == "386" {
				word = 4
			}
			start, n, ok := pcTables(tab, word)
			if !ok {
				t.Fatal("pcTables finds no pc tables in .gopclntab")
			}
			field := func(k int) int {
				if word == 8 {
					return int(binary.LittleEndian.Uint64(tab[8+8*k:]))
				}
				return int(binary.LittleEndian.Uint32(tab[8+4*k:]))
			}
			if want, wantN := field(pcTableWord)+1, field(pcFuncWord)-field(pcTableWord)-1; start != want || n != wantN {
				t.Fatalf("pcTables = %d, %d; the header says %d, %d", start, n, want, wantN)
			}

			bin, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			p, err := parse(bin)
			if err != nil {
				t.Fatal(err)
			}
			l, err := buildLayout(bin, p)
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(l.streams, func(s piece) bool { return s.pcLen > 0 })
			if i < 0 {
				t.Fatal("buildLayout finds no pc tables")
			}
			if s, want := l.streams[i], sec.Addr-l.base+uint64(start); s.off+uint64(s.pcStart) != want || s.pcLen != n {
				t.Errorf("stream %d has %d bytes of pc tables at memory offset %d; want %d at %d", i, s.pcLen, s.off+uint64(s.pcStart), n, want)
			}

			packed, info := packFile(t, path, quick)
			if !slices.ContainsFunc(info.Streams, func(s Stream) bool { return s.Filter == "pc tables" && s.Filtered == n }) {
				t.Errorf("no stream is under the pc-table filter: %+v", info.Streams)
			}
			want := run(t, path, "prog", nil, nil)
			if got := run(t, packed, "prog", nil, nil); !cmp.Equal(want, got) {
				t.Errorf("packed run differs (-want +got):\n%s", cmp.Diff(want, got))
			}
		})
	}
}

// TestPCStubFailures checks that the stub that undoes the pc-table filter
// stops with a message and status 127 when the split point is wrong.
func TestPCStubFailures(t *testing.T) {
	path := goProgram(t, "../../../apps/hello", "amd64")
	packed, info := packFile(t, path, quick)
	good, err := os.ReadFile(packed)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(info.Streams, func(s Stream) bool { return s.Filter == "pc tables" })
	if i < 0 {
		t.Fatalf("no stream is under the pc-table filter: %+v", info.Streams)
	}
	off, a := headerOffset(t, good)
	split := off + (headerWords+i*pcStreamWords+7)*a.word
	tests := []struct {
		name  string
		split uint64
	}{
		{"no value bytes", 0},
		{"more value bytes than filtered bytes", uint64(info.Streams[i].Filtered) + 1},
		{"every byte a value byte", uint64(info.Streams[i].Filtered)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := bytes.Clone(good)
			binary.LittleEndian.PutUint64(b[split:], tt.split)
			name := filepath.Join(t.TempDir(), "damaged")
			if err := os.WriteFile(name, b, 0o755); err != nil {
				t.Fatal(err)
			}
			want := result{Stderr: "packed executable: corrupt data\n", Exit: 127}
			if got := run(t, name, "prog", nil, nil); got != want {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
}
