package pack

import "encoding/binary"

// The x86 branch filter makes machine code more compressible. Calls (E8),
// jumps (E9) and conditional jumps (0F 80..8F) with a 32-bit displacement
// are relative to the end of the instruction, so every call of one function
// has a different operand. The filter rewrites each such operand as the
// absolute target, the displacement plus the offset of the instruction's
// end, so that repeated calls repeat their bytes. It stores the low three
// bytes of the target most significant first, which puts the bytes that
// nearby targets share before the ones that differ, and the top byte last.
//
// The filter cannot tell instructions from data, so it only touches operands
// whose top byte is 00 or FF (displacements within ±16 MiB, which covers
// branches inside one executable) and computes modulo 2^25, sign-extending
// bit 24 into the top byte: a converted operand passes the same test at the
// same place. After converting an operand the filter moves past it. After an
// opcode whose operand fails the test it moves on to the operand's top byte,
// so that no later conversion changes the byte the test read. The reverse
// filter, reading converted bytes from the same position on, therefore
// makes the same decisions, and the transformation is a bijection on any
// byte string.
//
// Calls are always converted; whether jumps and conditional jumps are too is
// a choice per stream, because converting them helps some code (C) and hurts
// other code (Go, whose jumps mostly stay inside one function).
//
// On amd64 the filter also converts RIP-relative operands, which Go and C
// code use to reach their data: an opcode byte of ripOpcode followed by a
// ModRM byte with mod 00 and r/m 101, then the 32-bit displacement, which
// becomes the displacement plus the offset of the operand's end (where an
// immediate follows, the address minus the immediate's size, the same for
// every use of the instruction). The test, the arithmetic and the moves are
// those of a branch operand, with the operand two bytes after the opcode.

// branchKind selects the opcodes the filter converts besides calls.
type branchKind uint8

const (
	branchJumps branchKind = 1 << iota // E9 jmp rel32
	branchCond                         // 0F 8x jcc rel32
	_                                  // filterPC's bit in the stub header
	branchRIP                          // RIP-relative disp32 after an opcode of ripOpcodes
)

// ripOpcode holds the opcode bytes after which the filter reads a ModRM
// byte: the last byte of an opcode (after any prefix, REX or 0F) that takes
// a ModRM byte and is common with a RIP-relative operand in Go and C code
// for amd64 (LEA, MOV, CMP, ADD, SUB, TEST, MOVZX, MOVSXD, SSE moves...).
// stub.c's rip_opcodes is the same set as a bitmap.
var ripOpcode = func() (t [256]bool) {
	for _, op := range []byte{
		0x01, 0x03, 0x0b, 0x10, 0x11, 0x2b, 0x33, 0x39, 0x3b, 0x63,
		0x6f, 0x80, 0x81, 0x83, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8d,
		0x92, 0xb1, 0xb6, 0xc6, 0xc7, 0xef, 0xf6, 0xff,
	} {
		t[op] = true
	}
	return t
}()

// ripModRM reports whether a ModRM byte (mod 00, r/m 101) means a 32-bit
// displacement from the end of the instruction on amd64.
func ripModRM(m byte) bool { return m&0xc7 == 0x05 }

// branchKinds are the filters the packer tries on code.
var branchKinds = []branchKind{0, branchJumps, branchJumps | branchCond}

// branchStep looks at b[i]. It returns the offset of a 32-bit branch
// operand that starts an operand the filter converts, with next = 0; or the
// offset to go on from, with op = 0.
func branchStep(b []byte, i int, kind branchKind) (op, next int) {
	switch {
	case b[i] == 0xe8, b[i] == 0xe9 && kind&branchJumps != 0:
		op = i + 1
	case b[i] == 0x0f && kind&branchCond != 0 && len(b)-i >= 6 && b[i+1]&0xf0 == 0x80:
		op = i + 2
	case kind&branchRIP != 0 && len(b)-i >= 6 && ripOpcode[b[i]] && ripModRM(b[i+1]):
		op = i + 2
	default:
		return 0, i + 1
	}
	if top := b[op+3]; top != 0 && top != 0xff {
		return 0, op + 3
	}
	return op, 0
}

// wrap25 reduces v modulo 2^25 and sign-extends bit 24 into the top byte.
func wrap25(v uint32) uint32 {
	v &= 1<<25 - 1
	if v&(1<<24) != 0 {
		v |= 0xff << 24
	}
	return v
}

// filterBranches converts the branch operands in b to absolute targets, in
// place.
func filterBranches(b []byte, kind branchKind) {
	for i := 0; i+5 <= len(b); {
		op, next := branchStep(b, i, kind)
		if op == 0 {
			i = next
			continue
		}
		v := wrap25(binary.LittleEndian.Uint32(b[op:]) + uint32(op+4))
		b[op], b[op+1], b[op+2], b[op+3] = byte(v>>16), byte(v>>8), byte(v), byte(v>>24)
		i = op + 4
	}
}

// unfilterBranches undoes filterBranches, in place. The stub does the same
// in C.
func unfilterBranches(b []byte, kind branchKind) {
	for i := 0; i+5 <= len(b); {
		op, next := branchStep(b, i, kind)
		if op == 0 {
			i = next
			continue
		}
		v := uint32(b[op])<<16 | uint32(b[op+1])<<8 | uint32(b[op+2]) | uint32(b[op+3])<<24
		binary.LittleEndian.PutUint32(b[op:], wrap25(v-uint32(op+4)))
		i = op + 4
	}
}
