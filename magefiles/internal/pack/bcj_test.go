package pack

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestFilterBranches checks the conversion of single instructions.
func TestFilterBranches(t *testing.T) {
	all := branchJumps | branchCond
	tests := []struct {
		name     string
		kind     branchKind
		in, want []byte
	}{
		{
			name: "a call backwards becomes its absolute target, bytes 2 1 0 3",
			kind: 0,
			// At offset 16: call -16, ending at 21, goes to 5.
			in:   append(make([]byte, 16), 0xe8, 0xf0, 0xff, 0xff, 0xff),
			want: append(make([]byte, 16), 0xe8, 0x00, 0x00, 0x05, 0x00),
		},
		{
			name: "a target before the start wraps to a negative address",
			kind: 0,
			in:   append(make([]byte, 16), 0xe8, 0xd0, 0xff, 0xff, 0xff),
			want: append(make([]byte, 16), 0xe8, 0xff, 0xff, 0xe5, 0xff),
		},
		{
			name: "a jump is left alone unless jumps are converted",
			kind: 0,
			in:   []byte{0xe9, 0x10, 0x00, 0x00, 0x00},
			want: []byte{0xe9, 0x10, 0x00, 0x00, 0x00},
		},
		{
			name: "a jump forwards",
			kind: branchJumps,
			in:   []byte{0xe9, 0x10, 0x00, 0x00, 0x00},
			want: []byte{0xe9, 0x00, 0x00, 0x15, 0x00},
		},
		{
			name: "a conditional jump's operand follows two opcode bytes",
			kind: all,
			in:   []byte{0x0f, 0x84, 0x00, 0x01, 0x00, 0x00},
			want: []byte{0x0f, 0x84, 0x00, 0x01, 0x06, 0x00},
		},
		{
			name: "a conditional jump is left alone unless converted",
			kind: branchJumps,
			in:   []byte{0x0f, 0x84, 0x00, 0x01, 0x00, 0x00},
			want: []byte{0x0f, 0x84, 0x00, 0x01, 0x00, 0x00},
		},
		{
			name: "an operand whose top byte is neither 00 nor FF is data",
			kind: all,
			in:   []byte{0xe8, 0x00, 0x00, 0x00, 0x12, 0x90},
			want: []byte{0xe8, 0x00, 0x00, 0x00, 0x12, 0x90},
		},
		{
			name: "an opcode too close to the end has no operand",
			kind: all,
			in:   []byte{0x90, 0xe8, 0x01, 0x00, 0x00},
			want: []byte{0x90, 0xe8, 0x01, 0x00, 0x00},
		},
		{
			name: "after a rejected operand, a call inside it is not converted",
			kind: 0,
			// The first E8's operand (0a 90 e8 fb) fails; the E8 at
			// offset 3 would change the byte fb the test read.
			in:   []byte{0xe8, 0x0a, 0x90, 0xe8, 0xfb, 0x58, 0x01, 0x00, 0x00},
			want: []byte{0xe8, 0x0a, 0x90, 0xe8, 0xfb, 0x58, 0x01, 0x00, 0x00},
		},
		{
			name: "the test's byte itself may start a call",
			kind: 0,
			in:   []byte{0xe8, 0x00, 0x00, 0x00, 0xe8, 0x00, 0x00, 0x00, 0x00},
			want: []byte{0xe8, 0x00, 0x00, 0x00, 0xe8, 0x00, 0x00, 0x09, 0x00},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := clone(tt.in)
			filterBranches(got, tt.kind)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("filter (-want +got):\n%s", diff)
			}
			unfilterBranches(got, tt.kind)
			if diff := cmp.Diff(tt.in, got); diff != "" {
				t.Errorf("filter then unfilter (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFilterBranchesRoundTrip checks the filter is undone on inputs dense
// with opcodes, where decisions interfere most.
func TestFilterBranchesRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{0xe8, 0xe9, 0x0f, 0x84, 0x00, 0xff, 0x12}
	for range 200 {
		in := make([]byte, r.IntN(200))
		for i := range in {
			in[i] = alphabet[r.IntN(len(alphabet))]
		}
		for _, kind := range branchKinds {
			got := clone(in)
			filterBranches(got, kind)
			unfilterBranches(got, kind)
			if !bytes.Equal(got, in) {
				t.Fatalf("%s: % x does not survive the round trip: % x", kind, in, got)
			}
		}
	}
}

func FuzzFilterBranches(f *testing.F) {
	f.Add([]byte{0xe8, 0x0a, 0x90, 0xe8, 0xfb, 0x58, 0x01, 0x00, 0x00}, uint8(0))
	f.Add([]byte{0x0f, 0x84, 0x00, 0x01, 0x00, 0x00, 0xe9, 0, 0, 0, 0}, uint8(3))
	f.Fuzz(func(t *testing.T, in []byte, kind uint8) {
		k := branchKind(kind) & (branchJumps | branchCond)
		got := clone(in)
		filterBranches(got, k)
		unfilterBranches(got, k)
		if !bytes.Equal(got, in) {
			t.Fatalf("%s: % x does not survive the round trip: % x", k, in, got)
		}
	})
}
