package pack

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// patterned returns a file of n bytes with no zero byte, so that no stream
// loses a zero tail.
func patterned(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i%251) + 1
	}
	return b
}

// streamSummary is what a test checks of a stream.
type streamSummary struct {
	Off              uint64
	Len              int
	Filter, Filtered int
}

func summarize(l *layout) ([]streamSummary, []pageRange) {
	var ss []streamSummary
	for _, s := range l.streams {
		ss = append(ss, streamSummary{s.off, len(s.data), s.filter, s.filtered})
	}
	return ss, l.ranges
}

// TestBuildLayout checks how the program's memory is split into streams
// and how its pages are protected.
func TestBuildLayout(t *testing.T) {
	const rx, r, rw = pfR | pfX, pfR, pfR | pfW
	tests := []struct {
		name        string
		segs        []testSeg
		size        int
		wantStreams []streamSummary
		wantRanges  []pageRange
	}{
		{
			name: "Go's layout: code, then read-only data and data in one stream",
			segs: []testSeg{
				{typ: ptLoad, flags: rx, off: 0, vaddr: 0x400000, filesz: 0x20000, memsz: 0x20000},
				{typ: ptLoad, flags: r, off: 0x20000, vaddr: 0x420000, filesz: 0x18000, memsz: 0x18000},
				{typ: ptLoad, flags: rw, off: 0x38000, vaddr: 0x439000, filesz: 0x800, memsz: 0x3000},
			},
			size:        0x38800,
			wantStreams: []streamSummary{{0, 0x20000, 0, 0x20000}, {0x20000, 0x19800, 0, 0}},
			wantRanges:  []pageRange{{0, 0x20000, 5}, {0x20000, 0x18000, 1}, {0x38000, 0x1000, unmapRange}, {0x39000, 0x3000, 3}},
		},
		{
			name: "glibc's layout: the small header segment joins the code",
			segs: []testSeg{
				{typ: ptLoad, flags: r, off: 0, vaddr: 0x400000, filesz: 0x500, memsz: 0x500},
				{typ: ptLoad, flags: rx, off: 0x1000, vaddr: 0x401000, filesz: 0x20000, memsz: 0x20000},
				{typ: ptLoad, flags: r, off: 0x21000, vaddr: 0x421000, filesz: 0x12000, memsz: 0x12000},
				{typ: ptLoad, flags: rw, off: 0x336d8, vaddr: 0x4346d8, filesz: 0x900, memsz: 0x4000},
			},
			size:        0x33fd8,
			wantStreams: []streamSummary{{0, 0x21000, 0x1000, 0x20000}, {0x21000, 0x13fd8, 0, 0}},
			wantRanges:  []pageRange{{0, 0x1000, 1}, {0x1000, 0x20000, 5}, {0x21000, 0x12000, 1}, {0x33000, 0x1000, unmapRange}, {0x34000, 0x5000, 3}},
		},
		{
			name: "small code and data share one stream",
			segs: []testSeg{
				{typ: ptLoad, flags: rx, off: 0, vaddr: 0x400000, filesz: 0x2000, memsz: 0x2000},
				{typ: ptLoad, flags: rw, off: 0x2000, vaddr: 0x402000, filesz: 0x1000, memsz: 0x1000},
			},
			size:        0x3000,
			wantStreams: []streamSummary{{0, 0x3000, 0, 0x2000}},
			wantRanges:  []pageRange{{0, 0x2000, 5}, {0x2000, 0x1000, 3}},
		},
		{
			name: "a page shared by two segments goes to the later one",
			segs: []testSeg{
				{typ: ptLoad, flags: rx, off: 0, vaddr: 0x400000, filesz: 0x1800, memsz: 0x1800},
				{typ: ptLoad, flags: rw, off: 0x1800, vaddr: 0x401800, filesz: 0x100, memsz: 0x2000},
			},
			size:        0x1900,
			wantStreams: []streamSummary{{0, 0x1900, 0, 0x1800}},
			wantRanges:  []pageRange{{0, 0x1000, 5}, {0x1000, 0x3000, 3}},
		},
		{
			name: "a wide gap starts a new stream",
			segs: []testSeg{
				{typ: ptLoad, flags: rx, off: 0, vaddr: 0x400000, filesz: 0x1000, memsz: 0x1000},
				{typ: ptLoad, flags: rw, off: 0x1000, vaddr: 0x600000 + 0x1000, filesz: 0x1000, memsz: 0x1000},
			},
			size:        0x2000,
			wantStreams: []streamSummary{{0, 0x1000, 0, 0x1000}, {0x201000, 0x1000, 0, 0}},
			wantRanges:  []pageRange{{0, 0x1000, 5}, {0x1000, 0x200000, unmapRange}, {0x201000, 0x1000, 3}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin := patterned(tt.size)
			p := &program{arch: amd64, typ: etExec}
			for _, s := range tt.segs {
				p.loads = append(p.loads, segment{off: s.off, vaddr: s.vaddr, filesz: s.filesz, memsz: s.memsz, flags: s.flags})
			}
			l, err := buildLayout(bin, p)
			if err != nil {
				t.Fatal(err)
			}
			streams, ranges := summarize(l)
			if diff := cmp.Diff(tt.wantStreams, streams); diff != "" {
				t.Errorf("streams (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantRanges, ranges, cmp.AllowUnexported(pageRange{})); diff != "" {
				t.Errorf("page ranges (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBuildLayoutContents checks the bytes a stream restores: each
// segment's file bytes from the start of its first page, and zeros after
// p_filesz even where the file goes on, as the kernel maps a segment with
// bss.
func TestBuildLayoutContents(t *testing.T) {
	bin := patterned(0x3000)
	p := &program{arch: amd64, typ: etExec, loads: []segment{
		{off: 0x80, vaddr: 0x400080, filesz: 0x100, memsz: 0x2000, flags: pfR | pfX},
		{off: 0x2000, vaddr: 0x402000, filesz: 0x200, memsz: 0x200, flags: pfR},
	}}
	l, err := buildLayout(bin, p)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 0x2200)
	copy(want, bin[:0x180])
	copy(want[0x2000:], bin[0x2000:0x2200])
	if len(l.streams) != 1 {
		t.Fatalf("%d streams, want 1", len(l.streams))
	}
	if got := l.streams[0].data; !bytes.Equal(got, want) {
		t.Errorf("the stream does not hold the file's first page up to p_filesz, zeros, then the second segment")
	}
	if l.base != 0x400000 || l.size != 0x3000 {
		t.Errorf("base, size = %#x, %#x; want 0x400000, 0x3000", l.base, l.size)
	}
}
