package pack

import (
	"bytes"
	"math/rand/v2"
	"os"
	"regexp"
	"strconv"
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
			name: "a RIP-relative LEA's displacement becomes the address it reaches",
			kind: branchRIP,
			// At offset 8: lea 0x20(%rip),%rax (48 8d 05), operand ending at 15, reaches 47.
			in:   append(make([]byte, 8), 0x48, 0x8d, 0x05, 0x20, 0x00, 0x00, 0x00),
			want: append(make([]byte, 8), 0x48, 0x8d, 0x05, 0x00, 0x00, 0x2f, 0x00),
		},
		{
			name: "an immediate after the displacement is left alone",
			kind: branchRIP,
			// cmpl $0x1,-0x10(%rip) (83 3d disp32 01): the operand ends at 6.
			in:   []byte{0x83, 0x3d, 0xf0, 0xff, 0xff, 0xff, 0x01},
			want: []byte{0x83, 0x3d, 0xff, 0xff, 0xf6, 0xff, 0x01},
		},
		{
			name: "a ModRM byte with a base register has no RIP-relative operand",
			kind: branchRIP,
			// mov 0x20(%rbp),%eax (8b 85 disp32): mod 10.
			in:   []byte{0x8b, 0x85, 0x20, 0x00, 0x00, 0x00},
			want: []byte{0x8b, 0x85, 0x20, 0x00, 0x00, 0x00},
		},
		{
			name: "an opcode without a ModRM byte is not read as one",
			kind: branchRIP,
			// add $0x20,%eax (05 imm32) after nop: 90 is not in the table.
			in:   []byte{0x90, 0x05, 0x20, 0x00, 0x00, 0x00},
			want: []byte{0x90, 0x05, 0x20, 0x00, 0x00, 0x00},
		},
		{
			name: "RIP-relative operands are left alone unless converted",
			kind: all,
			in:   []byte{0x48, 0x8d, 0x05, 0x20, 0x00, 0x00, 0x00},
			want: []byte{0x48, 0x8d, 0x05, 0x20, 0x00, 0x00, 0x00},
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
	alphabet := []byte{0xe8, 0xe9, 0x0f, 0x84, 0x00, 0xff, 0x12, 0x8d, 0x05, 0x3d}
	for range 200 {
		in := make([]byte, r.IntN(200))
		for i := range in {
			in[i] = alphabet[r.IntN(len(alphabet))]
		}
		for _, kind := range append(branchKinds, branchRIP, branchRIP|branchJumps|branchCond) {
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
	f.Add([]byte{0x48, 0x8d, 0x05, 0xe8, 0x00, 0x00, 0x00, 0x8b, 0x3d, 0, 0, 0, 0}, uint8(branchRIP))
	f.Fuzz(func(t *testing.T, in []byte, kind uint8) {
		k := branchKind(kind) & (branchJumps | branchCond | branchRIP)
		got := clone(in)
		filterBranches(got, k)
		unfilterBranches(got, k)
		if !bytes.Equal(got, in) {
			t.Fatalf("%s: % x does not survive the round trip: % x", k, in, got)
		}
	})
}

// TestRIPOpcodesInStub checks that the stub's bitmap of RIP-relative
// opcodes is ripOpcode.
func TestRIPOpcodesInStub(t *testing.T) {
	src, err := os.ReadFile("stub/stub.c")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`rip_opcodes\[32\] = \{([^}]*)\}`).FindSubmatch(src)
	if m == nil {
		t.Fatal("stub/stub.c has no rip_opcodes[32] initializer")
	}
	var got []byte
	for _, h := range regexp.MustCompile(`0x[0-9a-fA-F]{2}`).FindAll(m[1], -1) {
		v, err := strconv.ParseUint(string(h[2:]), 16, 8)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, byte(v))
	}
	want := make([]byte, 32)
	for op, ok := range ripOpcode {
		if ok {
			want[op>>3] |= 1 << (op & 7)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stub.c's rip_opcodes differ from ripOpcode (-want +got):\n%s", diff)
	}
}
