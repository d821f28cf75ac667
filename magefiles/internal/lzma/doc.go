// Package lzma is the project's LZMA1 codec: Encode compresses a buffer
// into a raw LZMA1 stream, and Decode, the reference decoder, expands one
// again. The packer uses it to compress executables for a decompression
// stub that carries its own decoder of the same format.
//
// # The stream
//
// A stream is the output of a binary range coder and nothing else: no
// header, no properties byte, no size and no end marker. Whoever decodes
// it must know the Props it was written with and the number of bytes it
// decodes to. The same bytes are what `xz --format=raw --lzma1=...`
// produces, minus the end marker xz appends; xz decodes them (and then
// reports that the input ended early, since it expects the marker).
//
// The range coder keeps a 32-bit range and codes each binary decision with
// an adaptive 11-bit probability that moves 1/32 of the way towards every
// bit it sees; some distance bits are coded at a fixed probability of one
// half instead. The first byte of a stream is always 0, and the decoder
// loads the next four into its code register before the first decision.
// Encode flushes five bytes at the end, after which the decoder's code
// register is 0 and every byte has been read: Decode checks both.
//
// The decisions form packets, each at the current position in the output:
//
//   - a literal: one byte, coded bit by bit through a tree of 0x300
//     probabilities chosen by the position's low LP bits and the previous
//     byte's high LC bits. Right after a match the tree is also steered by
//     the byte at the last distance used (rep0), as long as the bits so far
//     agree with it.
//   - a match: a length (2 to 273) and a distance. The length is coded in
//     one of three ranges, the two short ones with probabilities per
//     position state (the position's low PB bits). The distance is coded as
//     a 6-bit slot, chosen with the length (2, 3, 4, or 5 and more), and then
//     its lower bits: through small bit trees for short distances, and for
//     long ones as bits of probability one half followed by four bits
//     through a shared tree. A distance may not reach before the start of
//     the output or further back than DictSize.
//   - a rep: a match at one of the last four distances used (rep0..rep3),
//     with its own length coder; the one used moves to the front.
//   - a short rep: one byte copied from rep0.
//
// Which of these comes next is coded as a few decisions whose
// probabilities depend on a 12-valued state that remembers the kinds of
// the last packets, and for some on the position state.
//
// # The encoder
//
// Encode holds the whole input in memory. Its match finder indexes every
// position in binary search trees, one per hash of the next four bytes,
// that order positions by the strings they start; inserting a position
// walks down its tree, which passes the earlier positions sharing the
// longest prefixes with it. For each length found the finder reports the
// nearest distance, and besides those up to 16 farther candidates the
// search passed. Two smaller tables find the nearest repeats of two and
// three bytes.
//
// The parse is a shortest-path search over the next 256 positions. Edges
// are the packets the coder could write there, each priced in fractions of
// a bit from the coder's current probabilities: a literal, a short rep,
// every rep length, every match length with the nearest distance for it,
// the farther candidates at their full length, and three chains that often
// pay off together (a literal then rep0, a rep then a literal then rep0, a
// match then a literal then rep0). What a packet costs depends on the path
// before it, through the state and the rep distances it left, so each
// position keeps up to eight of its cheapest paths, no two of which leave
// the same rep0 after the same kind of packet, and edges are priced from
// each of them. New matches leave the same rep0 whichever path they
// continue, so they are priced only from the path where they are
// cheapest.
//
// Encode then writes the packets of the cheapest path that start in the
// first 128 positions, refreshes its price tables from the updated
// probabilities, and parses again from where it stopped. A rep or match of
// the maximum length 273 is taken as soon as it is found.
//
// The finder's results do not depend on the parse: a position is inserted
// into its tree in the same way whether its matches are read or not. So
// the finder runs ahead of the parse, a block of 16,384 positions at a
// time, and EncodeEach, which codes one input under several Props, lets
// all its encoders read one finder's blocks: they parse as far as the
// current block allows, side by side on as many cores as the caller lets
// them take, and then the finder moves on to the next. Pricing skips the
// edges that could not change the graph: a rep at a distance
// already offered from the same position at no higher a price leaves the
// same key at every length, and would be kept at none.
//
// Encode is deterministic: its prices come from integer arithmetic only,
// so the same input and Props give the same stream on every platform.
package lzma
