package lzma

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// TestEstimateParseDecodes checks that the parse Estimate prices is a
// stream that decodes to its input, and that the size Estimate reports is
// that stream's.
func TestEstimateParseDecodes(t *testing.T) {
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"elf", realELF(t)},
		{"text", repetitiveText()},
		{"random", randomBytes(20_000, 3)},
		{"zeros", make([]byte, 70_000)},
		{"one byte", []byte{7}},
		{"empty", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := Props{LC: 3, PB: 2, DictSize: MinDictSize}
			if len(c.data) > MinDictSize {
				p.DictSize = uint32(len(c.data))
			}
			e := newEncoder(c.data, p)
			pks, err := greedyParse(context.Background(), c.data, p.DictSize)
			if err != nil {
				t.Fatal(err)
			}
			for _, pk := range pks {
				e.emit(pk)
			}
			enc := e.rc.finish()
			dec, err := Decode(enc, p, len(c.data))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !bytes.Equal(dec, c.data) {
				t.Fatal("the greedy parse does not decode to its input")
			}
			sizes, err := Estimate(context.Background(), c.data, []Props{p})
			if err != nil {
				t.Fatal(err)
			}
			if sizes[0] != len(enc) {
				t.Errorf("Estimate says %d bytes, the stream has %d", sizes[0], len(enc))
			}
		})
	}
}

// TestEstimateRanks checks that Estimate orders Props with clearly
// different results the way Encode does, and that it is larger than
// Encode's output.
func TestEstimateRanks(t *testing.T) {
	data := realELF(t)
	ps := []Props{
		{LC: 0, LP: 2, PB: 2, DictSize: 1 << 20},
		{LC: 4, LP: 0, PB: 0, DictSize: 1 << 20},
	}
	est, err := Estimate(context.Background(), data, ps)
	if err != nil {
		t.Fatal(err)
	}
	var enc []int
	for _, p := range ps {
		out, err := Encode(data, p)
		if err != nil {
			t.Fatal(err)
		}
		enc = append(enc, len(out))
	}
	if (est[0] < est[1]) != (enc[0] < enc[1]) {
		t.Errorf("Estimate ranks %v, Encode %v", est, enc)
	}
	for i := range ps {
		if est[i] <= enc[i] {
			t.Errorf("%+v: estimate %d is not above Encode's %d", ps[i], est[i], enc[i])
		}
	}
	again, _ := Estimate(context.Background(), data, ps)
	if again[0] != est[0] || again[1] != est[1] {
		t.Errorf("Estimate gave %v, then %v", est, again)
	}
}

func TestEstimateRejects(t *testing.T) {
	if _, err := Estimate(context.Background(), []byte("x"), nil); err == nil {
		t.Error("Estimate accepted no props")
	}
	if _, err := Estimate(context.Background(), []byte("x"), []Props{{LC: 9, DictSize: MinDictSize}}); !errors.Is(err, ErrProps) {
		t.Errorf("Estimate with lc 9: %v, want ErrProps", err)
	}
}

// TestCommonLen compares commonLen with a byte-by-byte count across the
// eight-byte boundaries where it changes method.
func TestCommonLen(t *testing.T) {
	data := make([]byte, 64)
	for i := range data {
		data[i] = byte(i % 20)
	}
	for a := 0; a < 20; a++ {
		for b := a + 1; b < 40; b++ {
			for _, limit := range []int{0, 1, 7, 8, 9, 17, 24} {
				for _, n := range []int{0, 3} {
					if n > limit {
						continue
					}
					want := n
					for want < limit && data[a+want] == data[b+want] {
						want++
					}
					if got := commonLen(data, a, b, n, limit); got != want {
						t.Fatalf("commonLen(%d, %d, %d, %d) = %d, want %d", a, b, n, limit, got, want)
					}
				}
			}
		}
	}
}
