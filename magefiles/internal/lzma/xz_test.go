package lzma

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"testing"
)

// TestXZDecodesStream checks the stream format against xz, an independent
// LZMA1 decoder: it must expand Encode's output to the input. xz is not
// told the size and expects an end marker instead, so it goes on decoding
// the final flush as if more packets followed (a few bytes), and then
// reports that the input ended early; that is the one failure allowed.
func TestXZDecodesStream(t *testing.T) {
	xz, err := exec.LookPath("xz")
	if err != nil {
		t.Skip("xz is not installed")
	}
	elf := realELF(t)
	tests := []struct {
		name string
		data []byte
		p    Props
	}{
		{"machine code with the usual x86 properties", elf, defaultProps},
		{"machine code with lp=2", elf, Props{LC: 0, LP: 2, PB: 2, DictSize: 1 << 20}},
		{"text with pb=0", repetitiveText(), Props{LC: 4, LP: 0, PB: 0, DictSize: 1 << 16}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc, err := Encode(tc.data, tc.p)
			if err != nil {
				t.Fatal(err)
			}
			filter := fmt.Sprintf("--lzma1=lc=%d,lp=%d,pb=%d,dict=%d", tc.p.LC, tc.p.LP, tc.p.PB, tc.p.DictSize)
			cmd := exec.CommandContext(t.Context(), xz, "--format=raw", filter, "--decompress", "--stdout")
			cmd.Stdin = bytes.NewReader(enc)
			cmd.Env = []string{"LC_ALL=C"}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err = cmd.Run()
			var exitErr *exec.ExitError
			if err != nil && !(errors.As(err, &exitErr) && bytes.Contains(stderr.Bytes(), []byte("Unexpected end of input"))) {
				t.Fatalf("xz: %v: %s", err, stderr.Bytes())
			}
			if !bytes.HasPrefix(stdout.Bytes(), tc.data) {
				t.Errorf("xz decoded %d bytes that do not start with the %d input bytes", stdout.Len(), len(tc.data))
			}
		})
	}
}
