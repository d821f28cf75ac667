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

// FuzzSplitPC checks that the pc-table filter gives back any bytes, that
// the function-table filter gives back any table that fits and refuses
// without panicking any that does not, and that reading a pclntab header
// never panics.
func FuzzSplitPC(f *testing.F) {
	f.Add([]byte{0x02, 0x10, 0x04, 0x05, 0x00, 0x06, 0x07})
	f.Add(pcHeader(8, pcMagic120, 1, 8, 120, 200))
	f.Add(funcTable([]int{44, 52, 44, 60}))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, split := splitPC(b)
		if back, ok := joinPC(out, split); !ok || !bytes.Equal(back, b) {
			t.Fatalf("joinPC(splitPC(% x)) = % x, %v", b, back, ok)
		}
		for nfunc := range 6 {
			if funcsFit(b, nfunc) {
				d := bytes.Clone(b)
				deltaFuncs(d, nfunc)
				if !undeltaFuncs(d, nfunc) || !bytes.Equal(d, b) {
					t.Fatalf("undeltaFuncs(deltaFuncs(% x, %d)) differs", b, nfunc)
				}
			} else {
				undeltaFuncs(bytes.Clone(b), nfunc)
			}
		}
		for _, word := range []int{4, 8} {
			if a, ok := pcTables(b, word); ok && (a.start < 1 || a.n < 1 || a.start+a.n > len(b) || b[a.start-1] != 0 ||
				a.nfunc > 0 && !funcsFit(b[a.start+a.n:], a.nfunc)) {
				t.Fatalf("pcTables(% x, %d) = %+v, which is not a table", b, word, a)
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
			a, ok := pcTables(tt.data, tt.word)
			if want := (pcArea{start: tt.start, n: tt.n}); a != want || ok != tt.ok {
				t.Errorf("pcTables = %+v, %v; want %+v, %v", a, ok, want, tt.ok)
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
			a, ok := pcTables(tab, word)
			if !ok {
				t.Fatal("pcTables finds no pc tables in .gopclntab")
			}
			field := func(k int) int {
				if word == 8 {
					return int(binary.LittleEndian.Uint64(tab[8+8*k:]))
				}
				return int(binary.LittleEndian.Uint32(tab[8+4*k:]))
			}
			if hdr := (pcArea{start: field(pcTableWord) + 1, n: field(pcFuncWord) - field(pcTableWord) - 1, nfunc: field(pcFuncCountWord)}); a != hdr {
				t.Fatalf("pcTables = %+v; the header says %+v", a, hdr)
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
			i := slices.IndexFunc(l.streams, func(s piece) bool { return s.pc.n > 0 })
			if i < 0 {
				t.Fatal("buildLayout finds no pc tables")
			}
			if s, at := l.streams[i], sec.Addr-l.base+uint64(a.start); s.off+uint64(s.pc.start) != at || s.pc.n != a.n || s.pc.nfunc != a.nfunc {
				t.Errorf("stream %d has %+v at memory offset %d; want %+v at %d", i, s.pc, s.off+uint64(s.pc.start), a, at)
			}

			packed, info := packFile(t, path, quick)
			if !slices.ContainsFunc(info.Streams, func(s Stream) bool { return s.Filter == "pc tables" && s.Filtered == a.n }) {
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
// stops with a message and status 127 when the split point or the number
// of functions is wrong.
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
	nfunc := split + a.word
	tests := []struct {
		name  string
		at    int
		value uint64
	}{
		{"no value bytes", split, 0},
		{"more value bytes than filtered bytes", split, uint64(info.Streams[i].Filtered) + 1},
		{"every byte a value byte", split, uint64(info.Streams[i].Filtered)},
		{"a function table larger than the stream", nfunc, 1 << 40},
		{"more functions than the stream can hold", nfunc, 1 << 17},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := bytes.Clone(good)
			binary.LittleEndian.PutUint64(b[tt.at:], tt.value)
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

// funcTable returns a function table of len(recs) functions, entries 0x40
// apart, with each record recs[i] bytes long and its fields counting up.
func funcTable(recs []int) []byte {
	n := len(recs)
	b := make([]byte, funcTableLen(n))
	off := len(b)
	for i, r := range recs {
		binary.LittleEndian.PutUint32(b[i*8:], uint32(i*0x40))
		binary.LittleEndian.PutUint32(b[i*8+4:], uint32(off))
		off += r
	}
	binary.LittleEndian.PutUint32(b[n*8:], uint32(n*0x40))
	for i, r := range recs {
		rec := make([]byte, r)
		for f := 0; f+4 <= min(r, 44); f += 4 {
			binary.LittleEndian.PutUint32(rec[f:], uint32(1000*f+7*i))
		}
		b = append(b, rec...)
	}
	return b
}

// TestFuncsFilter checks which function tables the function-table filter
// takes, and that undeltaFuncs gives back what deltaFuncs changed.
func TestFuncsFilter(t *testing.T) {
	good := funcTable([]int{44, 52, 44, 60})
	overlapping := funcTable([]int{44, 20, 44})
	tests := []struct {
		name  string
		b     []byte
		nfunc int
		fit   bool
	}{
		{"four records", good, 4, true},
		{"one record", funcTable([]int{44}), 1, true},
		{"records closer than the fields", overlapping, 3, false},
		{"no functions", good, 0, false},
		{"more functions than the table has", good, 40, false},
		{"a record past the end", good[:len(good)-40], 4, false},
		{"a record inside the table", funcTable([]int{44, 44})[:16], 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := funcsFit(tt.b, tt.nfunc); got != tt.fit {
				t.Fatalf("funcsFit = %v, want %v", got, tt.fit)
			}
			if !tt.fit {
				return
			}
			d := bytes.Clone(tt.b)
			deltaFuncs(d, tt.nfunc)
			if tt.nfunc > 1 && bytes.Equal(d, tt.b) {
				t.Error("deltaFuncs changed nothing")
			}
			if !undeltaFuncs(d, tt.nfunc) || !bytes.Equal(d, tt.b) {
				t.Errorf("undeltaFuncs(deltaFuncs(b)) differs from b")
			}
		})
	}
	// What the stub refuses: a restored record offset out of range.
	d := bytes.Clone(good)
	deltaFuncs(d, 4)
	binary.LittleEndian.PutUint32(d[2*8+4:], 1<<30)
	if undeltaFuncs(d, 4) {
		t.Error("undeltaFuncs takes a record offset past the end")
	}
}
