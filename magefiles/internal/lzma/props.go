package lzma

import (
	"errors"
	"fmt"
)

// Props are the LZMA1 model parameters.
//
// LC is the number of high bits of the previous byte and LP the number of
// low bits of the position that select a literal coder (LC 0 to 8, LP 0 to
// 4); there are 0x300<<(LC+LP) literal probabilities, 6 MiB at the
// largest. PB is the number of low bits of the position that select the
// contexts of the other decisions (0 to 4). DictSize bounds the distance
// of a match: the encoder never refers further back than DictSize bytes,
// and the decoder rejects a stream that does. It is at least MinDictSize.
type Props struct {
	LC, LP, PB int
	DictSize   uint32
}

// ErrProps is wrapped by the error Encode and Decode return for Props out of
// range.
var ErrProps = errors.New("invalid lzma properties")

// MinDictSize is the smallest DictSize Props accepts.
const MinDictSize = 1 << 12

// Validate reports whether p is usable: it returns nil or an error wrapping
// ErrProps that names the first value out of range.
func (p Props) Validate() error {
	switch {
	case p.LC < 0 || p.LC > 8:
		return fmt.Errorf("%w: lc %d is outside 0..8", ErrProps, p.LC)
	case p.LP < 0 || p.LP > 4:
		return fmt.Errorf("%w: lp %d is outside 0..4", ErrProps, p.LP)
	case p.PB < 0 || p.PB > 4:
		return fmt.Errorf("%w: pb %d is outside 0..4", ErrProps, p.PB)
	case p.DictSize < MinDictSize:
		return fmt.Errorf("%w: dictionary size %d is below %d", ErrProps, p.DictSize, MinDictSize)
	}
	return nil
}
