package pack

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/minimalbuild/minimal/magefiles/internal/lzma"
)

// TestSearchFindsSmallest checks that search, which encodes only the
// candidates its estimates rank best, finds an encoding as small as the
// smallest of all candidates encoded in full, on Go machine code, and
// that the encoding decodes to the stream.
func TestSearchFindsSmallest(t *testing.T) {
	code, err := os.ReadFile("../lzma/testdata/gohello-head-amd64.bin")
	if err != nil {
		t.Fatal(err)
	}
	streams := []piece{
		{data: code[:96<<10], filter: 0x1000, filtered: 96<<10 - 0x1000},
	}
	o := options{code: codeProps, data: dataProps, kinds: branchKinds, workers: quick.workers}
	encs, err := search(context.Background(), streams, o)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range streams {
		kinds, props := []branchKind{0}, o.data
		if s.filtered > 0 {
			kinds, props = o.kinds, o.code
		}
		smallest := 0
		for _, kind := range kinds {
			in := bytes.Clone(s.data)
			filterBranches(in[s.filter:s.filter+s.filtered], kind)
			for _, pr := range props {
				pr.DictSize = dictSize(len(in))
				out, err := lzma.Encode(in, pr)
				if err != nil {
					t.Fatal(err)
				}
				if smallest == 0 || len(out) < smallest {
					smallest = len(out)
				}
			}
		}
		if got := len(encs[i].out); got > smallest {
			t.Errorf("stream %d: search found %d bytes (%s, %+v), the smallest candidate is %d", i, got, encs[i].kind, encs[i].props, smallest)
		}
		if err := verify(encs[i], s); err != nil {
			t.Errorf("stream %d: %v", i, err)
		}
	}
}
