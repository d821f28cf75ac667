package lzma

import (
	"bytes"
	"compress/flate"
	"errors"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// realELF is the first 128 KiB of a Go program for linux/amd64: its ELF
// headers and the start of its machine code (testdata/README.md).
func realELF(tb testing.TB) []byte {
	tb.Helper()
	data, err := os.ReadFile("testdata/gohello-head-amd64.bin")
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func repetitiveText() []byte {
	var sb strings.Builder
	words := []string{"alpha", "beta", "gamma", "delta", "epsilon", "\n", "zeta", "eta"}
	r := rand.New(rand.NewPCG(1, 2))
	for sb.Len() < 200_000 {
		sb.WriteString(words[r.IntN(len(words))])
		sb.WriteByte(' ')
	}
	return []byte(sb.String())
}

var defaultProps = Props{LC: 3, LP: 0, PB: 2, DictSize: 1 << 24}

func roundTrip(t *testing.T, data []byte, p Props) []byte {
	t.Helper()
	enc, err := Encode(data, p)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	dec, err := Decode(enc, p, len(data))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if !bytes.Equal(dec, data) {
		t.Fatalf("round trip changed the data (%d bytes in, %d out)", len(data), len(dec))
	}
	return enc
}

func TestRoundTrip(t *testing.T) {
	elf := realELF(t)
	// Two copies of a random block farther apart than a small dictionary:
	// the encoder must not refer back across it.
	block := randomBytes(3000, 7)
	farRepeat := append(append(append([]byte{}, block...), randomBytes(5000, 8)...), block...)
	tests := []struct {
		name string
		data []byte
		p    Props
	}{
		{"empty input: a bare flush", nil, defaultProps},
		{"one byte: a single literal", []byte{0x42}, defaultProps},
		{"two equal bytes: a literal, then a short rep or a literal", []byte{7, 7}, defaultProps},
		{"1 MiB of zeros: maximal rep matches back to back", make([]byte, 1<<20), defaultProps},
		{"random bytes: mostly literals", randomBytes(100_000, 1), defaultProps},
		{"repetitive text: matches, reps and literals mixed", repetitiveText(), defaultProps},
		{"real machine code", elf, defaultProps},
		{"lc=0 lp=0 pb=0 gives one literal coder and one position state", elf, Props{LC: 0, LP: 0, PB: 0, DictSize: 1 << 20}},
		{"lc=8 lp=4 pb=4 are the largest values", elf, Props{LC: 8, LP: 4, PB: 4, DictSize: 1 << 20}},
		{"lc=0 lp=4 selects literal coders by position only", repetitiveText(), Props{LC: 0, LP: 4, PB: 0, DictSize: 1 << 20}},
		{"lp=2 pb=2 suits 32-bit aligned data", elf, Props{LC: 0, LP: 2, PB: 2, DictSize: 1 << 20}},
		{"smallest dictionary with repeats beyond it", farRepeat, Props{LC: 3, LP: 0, PB: 2, DictSize: MinDictSize}},
		{"smallest dictionary on machine code", elf, Props{LC: 3, LP: 0, PB: 2, DictSize: MinDictSize}},
		{"dictionary not a power of two", elf, Props{LC: 3, LP: 0, PB: 2, DictSize: 10_000}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			roundTrip(t, tc.data, tc.p)
		})
	}
}

// TestDictSizeBoundsDistance checks that both sides honour DictSize: a
// stream written with a large dictionary that refers far back does not
// decode with a small one.
func TestDictSizeBoundsDistance(t *testing.T) {
	block := randomBytes(3000, 7)
	data := append(append(append([]byte{}, block...), randomBytes(5000, 8)...), block...)
	large := Props{LC: 3, LP: 0, PB: 2, DictSize: 1 << 16}
	enc := roundTrip(t, data, large)
	small := large
	small.DictSize = MinDictSize
	if _, err := Decode(enc, small, len(data)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Decode with a %d-byte dictionary: got error %v, want one wrapping ErrCorrupt", small.DictSize, err)
	}
	encSmall := roundTrip(t, data, small)
	if len(encSmall) <= len(enc) {
		t.Errorf("the small dictionary gave %d bytes, the large one %d: the repeat beyond the small one should cost", len(encSmall), len(enc))
	}
}

func TestEncodeIsDeterministic(t *testing.T) {
	data := realELF(t)
	first, err := Encode(data, defaultProps)
	if err != nil {
		t.Fatal(err)
	}
	second, err := Encode(data, defaultProps)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Errorf("two encodings of the same input differ (%d and %d bytes)", len(first), len(second))
	}
}

// TestCompressesBetterThanDeflate compares with compress/flate at its best
// level: LZMA's larger window, adaptive models and price-based parse must
// beat it on compressible input.
func TestCompressesBetterThanDeflate(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"machine code", realELF(t)},
		{"repetitive text", repetitiveText()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			w, err := flate.NewWriter(&buf, flate.BestCompression)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(tc.data); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			enc := roundTrip(t, tc.data, defaultProps)
			if len(enc) >= buf.Len() {
				t.Errorf("lzma: %d bytes, flate -9: %d bytes", len(enc), buf.Len())
			}
		})
	}
}

func TestPropsValidate(t *testing.T) {
	tests := []struct {
		name string
		p    Props
		ok   bool
	}{
		{"the usual x86 choice", Props{LC: 3, LP: 0, PB: 2, DictSize: 1 << 24}, true},
		{"all maxima", Props{LC: 8, LP: 4, PB: 4, DictSize: ^uint32(0)}, true},
		{"all minima", Props{DictSize: MinDictSize}, true},
		{"negative lc", Props{LC: -1, DictSize: MinDictSize}, false},
		{"lc above 8", Props{LC: 9, DictSize: MinDictSize}, false},
		{"lp above 4", Props{LP: 5, DictSize: MinDictSize}, false},
		{"negative pb", Props{PB: -1, DictSize: MinDictSize}, false},
		{"pb above 4", Props{PB: 5, DictSize: MinDictSize}, false},
		{"dictionary below the minimum", Props{DictSize: MinDictSize - 1}, false},
		{"zero dictionary", Props{LC: 3, PB: 2}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Validate()
			if tc.ok != (err == nil) {
				t.Fatalf("Validate(%+v) = %v, want ok=%v", tc.p, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrProps) {
				t.Errorf("error %v does not wrap ErrProps", err)
			}
			_, encErr := Encode([]byte("abc"), tc.p)
			_, decErr := Decode([]byte{0, 0, 0, 0, 0}, tc.p, 0)
			for name, e := range map[string]error{"Encode": encErr, "Decode": decErr} {
				if tc.ok != (e == nil) || (e != nil && !errors.Is(e, ErrProps)) {
					t.Errorf("%s: got error %v, want ok=%v or ErrProps", name, e, tc.ok)
				}
			}
		})
	}
}

// craft writes the packets as the encoder would code them over data,
// without checking that they make sense.
func craft(data []byte, pks ...packet) []byte {
	e := newEncoder(data, defaultProps)
	for _, pk := range pks {
		e.emit(pk)
	}
	return e.rc.finish()
}

// TestDecodeCrafted decodes packet sequences at the edges of what is
// valid; TestDecodeRejects has their invalid neighbours.
func TestDecodeCrafted(t *testing.T) {
	lit := packet{len: 1, back: backLiteral}
	far := randomBytes(MinDictSize+10, 3)
	tests := []struct {
		name   string
		stream []byte
		want   []byte
	}{
		{"the reps start at distance 1", craft([]byte("a"), lit, packet{len: 2, back: 0}), []byte("aaa")},
		{"short rep", craft([]byte("xy"), lit, lit, packet{len: 1, back: 0}), []byte("xyy")},
		{"match overlapping its own output", craft([]byte("ab"), lit, lit, packet{len: 6, back: numReps + 1}), []byte("abababab")},
		{"match reaching the first byte", craft([]byte("abc"), lit, lit, lit, packet{len: 2, back: numReps + 2}), []byte("abcab")},
		{
			"match exactly DictSize back",
			craft(far, append(slices.Repeat([]packet{lit}, len(far)), packet{len: 2, back: numReps + MinDictSize - 1})...),
			append(bytes.Clone(far), far[len(far)-MinDictSize:len(far)-MinDictSize+2]...),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := defaultProps
			p.DictSize = MinDictSize
			got, err := Decode(tc.stream, p, len(tc.want))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("decoded bytes differ (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	lit := packet{len: 1, back: backLiteral}
	far := randomBytes(MinDictSize+10, 3)
	data := repetitiveText()[:20_000]
	enc, err := Encode(data, defaultProps)
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(enc)
	flipped[len(flipped)/2] ^= 0x10
	tests := []struct {
		name   string
		stream []byte
		size   int
	}{
		{"empty stream", nil, 0},
		{"stream shorter than its header", []byte{0, 0, 0}, 0},
		{"first byte not zero", append([]byte{1}, enc[1:]...), len(data)},
		{"truncated stream", enc[:len(enc)-10], len(data)},
		{"trailing byte", append(bytes.Clone(enc), 0), len(data)},
		{"size larger than the data", enc, len(data) + 1},
		{"size smaller than the data", enc, len(data) - 1},
		{"flipped bit", flipped, len(data)},
		{"rep before any byte", craft(nil, packet{len: 2, back: 0}), 2},
		{"short rep before any byte", craft(nil, packet{len: 1, back: 0}), 1},
		{"match reaching before the start", craft([]byte("a"), lit, packet{len: 2, back: numReps + 1}), 3},
		{"match running past the size", craft([]byte("ab"), lit, lit, packet{len: 10, back: numReps}), 5},
		{"match beyond the dictionary", craft(far, append(slices.Repeat([]packet{lit}, len(far)), packet{len: 2, back: numReps + MinDictSize})...), len(far) + 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := defaultProps
			p.DictSize = MinDictSize
			out, err := Decode(tc.stream, p, tc.size)
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("got %d bytes and error %v, want an error wrapping ErrCorrupt", len(out), err)
			}
		})
	}
	if _, err := Decode(enc, defaultProps, -1); err == nil || errors.Is(err, ErrCorrupt) {
		t.Errorf("negative size: got %v, want an error about the size", err)
	}
}

// fuzzProps turns fuzzer bytes into valid Props; small selects the
// smallest dictionary so that distance checks are exercised.
func fuzzProps(lc, lp, pb uint8, small bool) Props {
	p := Props{LC: int(lc % 9), LP: int(lp % 5), PB: int(pb % 5), DictSize: 1 << 20}
	if small {
		p.DictSize = MinDictSize
	}
	return p
}

// FuzzDecode checks that Decode never panics and either fails or returns
// exactly size bytes. The seed corpus is in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	enc, err := Encode(repetitiveText()[:2000], defaultProps)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(enc, uint8(3), uint8(0), uint8(2), false, uint16(2000))
	f.Fuzz(func(t *testing.T, stream []byte, lc, lp, pb uint8, small bool, size uint16) {
		p := fuzzProps(lc, lp, pb, small)
		out, err := Decode(stream, p, int(size))
		if err != nil {
			if out != nil {
				t.Errorf("Decode returned %d bytes with error %v", len(out), err)
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if len(out) != int(size) {
			t.Errorf("Decode returned %d bytes, want %d", len(out), size)
		}
	})
}

// FuzzRoundTrip checks that every input and every Props round-trip. The
// seed corpus is in testdata/fuzz/FuzzRoundTrip.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("hello, hello, hello world"), uint8(3), uint8(0), uint8(2), false)
	f.Fuzz(func(t *testing.T, data []byte, lc, lp, pb uint8, small bool) {
		roundTrip(t, data, fuzzProps(lc, lp, pb, small))
	})
}

func BenchmarkEncode(b *testing.B) {
	data := realELF(b)
	b.SetBytes(int64(len(data)))
	var n int
	for b.Loop() {
		enc, err := Encode(data, defaultProps)
		if err != nil {
			b.Fatal(err)
		}
		n = len(enc)
	}
	b.ReportMetric(float64(n), "compressed-bytes")
}

func BenchmarkDecode(b *testing.B) {
	data := realELF(b)
	enc, err := Encode(data, defaultProps)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Decode(enc, defaultProps, len(data)); err != nil {
			b.Fatal(err)
		}
	}
}
