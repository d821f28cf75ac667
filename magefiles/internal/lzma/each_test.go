package lzma

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/encode.golden")

// goldenCases are the inputs and parameters of TestEncodeGolden: the
// packer's code and data settings on machine code, others that use LP and
// large LC and PB, and text.
var goldenCases = []struct {
	input string
	p     Props
}{
	{"gohello-head", Props{LC: 4, PB: 0}},
	{"gohello-head", Props{LC: 1, PB: 2}},
	{"gohello-head", Props{LC: 8, LP: 4, PB: 4}},
	{"text", Props{LC: 0, LP: 2, PB: 2}},
}

// TestEncodeGolden pins Encode's output: the size and SHA-256 of each
// stream are in testdata/encode.golden, so that a faster encoder that
// changes a single byte of what it writes fails here. -update rewrites the
// file after a deliberate change of the parse.
func TestEncodeGolden(t *testing.T) {
	inputs := map[string][]byte{"gohello-head": realELF(t), "text": repetitiveText()}
	var b strings.Builder
	for _, c := range goldenCases {
		data, p := inputs[c.input], c.p
		p.DictSize = uint32(max(len(data), MinDictSize))
		out, err := Encode(data, p)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s lc%d lp%d pb%d %d %x\n", c.input, p.LC, p.LP, p.PB, len(out), sha256.Sum256(out))
	}
	const path = "testdata/encode.golden"
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v; run go test -run TestEncodeGolden -update", err)
	}
	got := bufio.NewScanner(strings.NewReader(b.String()))
	for i, line := range strings.Split(strings.TrimSuffix(string(want), "\n"), "\n") {
		if !got.Scan() {
			t.Fatalf("line %d: missing, want %q", i+1, line)
		}
		if got.Text() != line {
			t.Errorf("line %d: got %q, want %q", i+1, got.Text(), line)
		}
	}
}

// TestEncodeEach checks that encoding under several Props at once, with
// one search for matches, gives what Encode gives for each, on inputs of
// many match table blocks, of a part of one after them, and of less than
// one. It does so with no semaphore of cores, and with one that holds the
// caller's core and has none, one or two more free, as pack's does; and it
// checks that EncodeEach gives back every core it took and no other.
func TestEncodeEach(t *testing.T) {
	head := realELF(t)
	inputs := map[string][]byte{
		"gohello-head": head,
		"partial-last": head[:2*matchBlockSize+777],
		"short":        head[:5000],
		"one-block":    head[:matchBlockSize],
		"empty":        nil,
	}
	coreCases := []struct {
		name string
		free int // cores free beside the caller's; -1: no semaphore
	}{
		{"nil", -1},
		{"none-free", 0},
		{"one-free", 1},
		{"two-free", 2},
	}
	for name, data := range inputs {
		ps := []Props{{LC: 4, PB: 0}, {LC: 0, LP: 2, PB: 2}, {LC: 3, PB: 2}}
		want := make([][]byte, len(ps))
		for i := range ps {
			ps[i].DictSize = uint32(max(len(data), MinDictSize))
			out, err := Encode(data, ps[i])
			if err != nil {
				t.Fatal(err)
			}
			if dec, err := Decode(out, ps[i], len(data)); err != nil || !bytes.Equal(dec, data) {
				t.Fatalf("%s %+v: the stream does not decode to its input: %v", name, ps[i], err)
			}
			want[i] = out
		}
		for _, cc := range coreCases {
			t.Run(name+"/"+cc.name, func(t *testing.T) {
				var cores chan struct{}
				if cc.free >= 0 {
					cores = make(chan struct{}, 1+cc.free)
					cores <- struct{}{} // the caller's own
				}
				outs, err := EncodeEach(context.Background(), data, ps, cores)
				if err != nil {
					t.Fatal(err)
				}
				if cores != nil && len(cores) != 1 {
					t.Errorf("%d cores taken after EncodeEach returned, want only the caller's", len(cores))
				}
				if len(outs) != len(ps) {
					t.Fatalf("got %d streams for %d props", len(outs), len(ps))
				}
				for i, p := range ps {
					if !bytes.Equal(outs[i], want[i]) {
						t.Errorf("%+v: EncodeEach wrote %d bytes, Encode %d, or other bytes", p, len(outs[i]), len(want[i]))
					}
				}
			})
		}
	}
}

func TestEncodeEachRejects(t *testing.T) {
	ok := Props{LC: 3, PB: 2, DictSize: MinDictSize}
	other := ok
	other.DictSize = 2 * MinDictSize
	for name, ps := range map[string][]Props{
		"no props":         nil,
		"invalid":          {ok, {LC: 9, DictSize: MinDictSize}},
		"two dictionaries": {ok, other},
	} {
		if _, err := EncodeEach(context.Background(), []byte("data"), ps, nil); err == nil {
			t.Errorf("%s: EncodeEach succeeded", name)
		} else if name != "no props" && !errors.Is(err, ErrProps) {
			t.Errorf("%s: error %v does not wrap ErrProps", name, err)
		}
	}
}

// doneAfter is a context whose Err reports context.Canceled from its n+1th
// call on: a stop partway through, at a point that does not depend on
// timing.
type doneAfter struct {
	context.Context
	n int
}

func (c *doneAfter) Err() error {
	if c.n == 0 {
		return context.Canceled
	}
	c.n--
	return nil
}

// TestCancel checks that EncodeEach and Estimate stop when their context is
// done, before they start and partway, and that EncodeEach gives back the
// cores it took.
func TestCancel(t *testing.T) {
	data := bytes.Repeat(realELF(t), 3)
	if len(data) < 2*greedyCheck || len(data) < 3*matchBlockSize {
		t.Fatalf("the input has %d bytes, too few to stop partway", len(data))
	}
	ps := []Props{{LC: 3, PB: 0, DictSize: uint32(len(data))}, {LC: 4, PB: 0, DictSize: uint32(len(data))}}
	for _, checks := range []int{0, 1, 2} {
		t.Run(fmt.Sprint(checks), func(t *testing.T) {
			cores := make(chan struct{}, 2)
			cores <- struct{}{}
			outs, err := EncodeEach(&doneAfter{context.Background(), checks}, data, ps, cores)
			if !errors.Is(err, context.Canceled) || outs != nil {
				t.Errorf("EncodeEach: %d streams, error %v; want none and context.Canceled", len(outs), err)
			}
			if len(cores) != 1 {
				t.Errorf("%d cores taken after EncodeEach returned, want only the caller's", len(cores))
			}
			sizes, err := Estimate(&doneAfter{context.Background(), checks}, data, ps)
			if !errors.Is(err, context.Canceled) || sizes != nil {
				t.Errorf("Estimate: sizes %v, error %v; want none and context.Canceled", sizes, err)
			}
		})
	}
}
