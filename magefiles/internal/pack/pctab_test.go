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
// hand, and that joinPC gives the input back. Where kinds is nil every
// table is of the last kind; otherwise it maps positions to 1 + a kind.
func TestSplitPC(t *testing.T) {
	other := func(vals, pcs int) pcGroups {
		var g pcGroups
		g[pcOther], g[pcKinds+pcOther] = vals, pcs
		return g
	}
	tests := []struct {
		name  string
		in    []byte
		kinds map[int]byte
		out   []byte
		g     pcGroups
	}{
		{"nothing", []byte{}, nil, []byte{}, other(0, 0)},
		{"one table", []byte{0x02, 0x10, 0x04, 0x05, 0x00}, nil, []byte{0x02, 0x04, 0x00, 0x10, 0x05}, other(3, 2)},
		{"a zero first value does not end the table",
			[]byte{0x00, 0x03, 0x02, 0x01, 0x00}, nil, []byte{0x00, 0x02, 0x00, 0x03, 0x01}, other(3, 2)},
		{"two tables, varints of two bytes",
			[]byte{0x81, 0x01, 0x90, 0x02, 0x00, 0x06, 0x07}, nil,
			[]byte{0x81, 0x01, 0x00, 0x06, 0x90, 0x02, 0x07}, other(4, 3)},
		{"a zero of two bytes is a value, not an end",
			[]byte{0x02, 0x01, 0x80, 0x00, 0x03}, nil, []byte{0x02, 0x80, 0x00, 0x01, 0x03}, other(3, 2)},
		{"a varint cut off by the end", []byte{0x05, 0x80}, nil, []byte{0x05, 0x80}, other(1, 1)},
		{"a value cut off by the end", []byte{0x05, 0x01, 0xff}, nil, []byte{0x05, 0xff, 0x01}, other(2, 1)},
		{"ends right after a table", []byte{0x04, 0x01, 0x00, 0x00}, nil, []byte{0x04, 0x00, 0x00, 0x01}, other(3, 1)},
		{"a line table, then a stack table: stack values first",
			[]byte{0x02, 0x10, 0x04, 0x05, 0x00, 0x06, 0x07}, map[int]byte{0: 1 + 2, 5: 1 + 0},
			[]byte{0x06, 0x02, 0x04, 0x00, 0x07, 0x10, 0x05},
			pcGroups{0: 1, 2: 3, pcKinds + 0: 1, pcKinds + 2: 2}},
		{"a kind marked inside a table is not read",
			[]byte{0x02, 0x10, 0x04, 0x05, 0x00, 0x06, 0x07}, map[int]byte{2: 1 + 0, 5: 1 + 3},
			[]byte{0x06, 0x02, 0x04, 0x00, 0x07, 0x10, 0x05},
			pcGroups{3: 1, pcOther: 3, pcKinds + 3: 1, pcKinds + pcOther: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kinds := make([]byte, len(tt.in))
			for at, k := range tt.kinds {
				kinds[at] = k
			}
			out, g := splitPC(tt.in, kinds)
			if !bytes.Equal(out, tt.out) || g != tt.g {
				t.Errorf("splitPC(% x) = % x, %v; want % x, %v", tt.in, out, g, tt.out, tt.g)
			}
			back, ok := joinPC(out, kinds, g)
			if !ok || !bytes.Equal(back, tt.in) {
				t.Errorf("joinPC(% x, %v) = % x, %v; want % x, true", out, g, back, ok, tt.in)
			}
		})
	}
}

// TestJoinPCRefuses checks that joinPC, like the stub, refuses lengths of
// parts that do not match the bytes.
func TestJoinPCRefuses(t *testing.T) {
	in := []byte{0x02, 0x10, 0x04, 0x05, 0x00, 0x06, 0x07}
	kinds := []byte{3, 0, 0, 0, 0, 1, 0}
	out, g := splitPC(in, kinds)
	moved := g
	moved[2]--
	moved[3]++
	long := g
	long[pcKinds+2]++
	short := g
	short[0]--
	negative := g
	negative[4] = -1
	negative[5] = 1
	for _, bad := range []pcGroups{moved, long, short, negative} {
		if back, ok := joinPC(out, kinds, bad); ok {
			t.Errorf("joinPC(% x, %v) = % x, true; want a refusal (the lengths are %v)", out, bad, back, g)
		}
	}
	if back, ok := joinPC(out, kinds[:3], g); ok {
		t.Errorf("joinPC with kinds shorter than the tables = % x, true; want a refusal", back)
	}
}

// TestPCTableKinds checks the kinds read from the function records: the
// stack, file, line and first four pcdata tables, the first kind where two
// records disagree, and nothing for offsets outside the tables or records
// that do not fit.
func TestPCTableKinds(t *testing.T) {
	const n = 40
	// record returns a Go 1.20 _func record naming the given tables.
	record := func(sp, file, line uint32, pcdata ...uint32) []byte {
		r := make([]byte, funcPCData120)
		binary.LittleEndian.PutUint32(r[funcStackField:], sp)
		binary.LittleEndian.PutUint32(r[funcStackField+4:], file)
		binary.LittleEndian.PutUint32(r[funcStackField+8:], line)
		binary.LittleEndian.PutUint32(r[funcNPCDataFld:], uint32(len(pcdata)))
		for _, o := range pcdata {
			r = binary.LittleEndian.AppendUint32(r, o)
		}
		return r
	}
	recs := [][]byte{
		record(1, 3, 5, 7, 0, 9, 11, 13, 15),
		record(5, 3, 19, n, n+1),                  // its stack table is the first one's line table
		record(21, 22, 23, 24)[:funcNPCDataFld+4], // its pcdata offsets past the end
	}
	ft := make([]byte, funcTableLen(len(recs)))
	for i, r := range recs {
		binary.LittleEndian.PutUint32(ft[i*8+4:], uint32(len(ft)))
		ft = append(ft, r...)
	}
	data := append(make([]byte, 1+n), ft...)
	a := pcArea{start: 1, n: n, nfunc: len(recs), pcdata: funcPCData120}
	want := make([]byte, n)
	for off, k := range map[int]int{1: 0, 3: 1, 5: 0, 7: 3, 9: 5, 11: 6, 19: 2, n: 3, 21: 0, 22: 1, 23: 2} {
		want[off-1] = byte(k + 1)
	}
	if diff := cmp.Diff(want, pcTableKinds(data, a)); diff != "" {
		t.Errorf("pcTableKinds (-want +got):\n%s", diff)
	}
	a.nfunc = 0
	if got := pcTableKinds(data, a); !bytes.Equal(got, make([]byte, n)) {
		t.Errorf("pcTableKinds without a function table = %v, want no kinds", got)
	}
}

// FuzzSplitPC checks that the pc-table filter gives back any bytes under
// any kinds, that the function-table filter gives back any table that fits
// and refuses without panicking any that does not, that reading a pclntab
// header never panics, and that both filters together give back any data
// whose header is read.
func FuzzSplitPC(f *testing.F) {
	f.Add([]byte{0x02, 0x10, 0x04, 0x05, 0x00, 0x06, 0x07}, []byte{3, 0, 1})
	f.Add(pcHeader(8, pcMagic120, 1, 8, 120, 200), []byte{})
	f.Add(funcTable([]int{44, 52, 44, 60}), []byte{8})
	f.Fuzz(func(t *testing.T, b, ks []byte) {
		kinds := make([]byte, len(b))
		for i := range kinds {
			if len(ks) > 0 {
				kinds[i] = ks[i%len(ks)] % (pcKinds + 1)
			}
		}
		out, g := splitPC(b, kinds)
		if back, ok := joinPC(out, kinds, g); !ok || !bytes.Equal(back, b) {
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
			a, ok := pcTables(b, word)
			if !ok {
				continue
			}
			if a.start < 1 || a.n < 1 || a.start+a.n > len(b) || b[a.start-1] != 0 ||
				a.nfunc > 0 && !funcsFit(b[a.start+a.n:], a.nfunc) {
				t.Fatalf("pcTables(% x, %d) = %+v, which is not a table", b, word, a)
			}
			d := bytes.Clone(b)
			g := filterPCTables(d, a)
			if err := unfilterPCTables(d, a, g); err != nil || !bytes.Equal(d, b) {
				t.Fatalf("unfilterPCTables(filterPCTables(% x, %+v)) = % x, %v", b, a, d, err)
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
			if hdr := (pcArea{start: field(pcTableWord) + 1, n: field(pcFuncWord) - field(pcTableWord) - 1, nfunc: field(pcFuncCountWord), pcdata: funcPCData120}); a != hdr {
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

// TestPCStubFailures checks that the stub for Go programs stops with a
// message and status 127 when the lengths of the parts, the number of
// functions, where records keep their pcdata tables or where the table of
// powers of ten goes are wrong.
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
	groups := off + headerWords*a.word + i*(goStreamWords*a.word+pcGroupBytes) + streamWords*a.word
	nfunc := groups + pcGroupBytes
	pcdata := nfunc + a.word
	pow10 := pcdata + a.word
	if !info.Streams[i].Pow10 {
		t.Fatalf("stream %d does not hold the table of powers of ten: %+v", i, info.Streams[i])
	}
	group := func(k int) uint32 { return binary.LittleEndian.Uint32(good[groups+4*k:]) }
	const line = 2 // the line tables' values
	tests := []struct {
		name  string
		at    int
		value uint64
		size  int
	}{
		{"a part longer than the tables", groups + 4*line, uint64(info.Streams[i].Filtered) + 1, 4},
		{"parts that add up to less", groups + 4*line, uint64(group(line) - 1), 4},
		{"parts that add up to more", groups + 4*pcKinds, uint64(group(pcKinds) + 1), 4},
		{"a byte of one part counted in the next", groups + 4*line, uint64(group(line)) - 1 + uint64(group(line+1)+1)<<32, 8},
		{"a function table larger than the stream", nfunc, 1 << 40, 8},
		{"more functions than the stream can hold", nfunc, 1 << 17, 8},
		{"pcdata offsets past every record", pcdata, 1 << 40, 8},
		{"a table of powers of ten past the stream's end", pow10, uint64(info.Streams[i].Size - pow10Bytes + 2), 8},
		{"a table of powers of ten far past the stream's end", pow10, 1 << 62, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := bytes.Clone(good)
			if tt.size == 4 {
				binary.LittleEndian.PutUint32(b[tt.at:], uint32(tt.value))
			} else {
				binary.LittleEndian.PutUint64(b[tt.at:], tt.value)
			}
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
