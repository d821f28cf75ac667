/*
 * LZMA1 decoder for the stub: a raw range-coder stream (no header, no end
 * marker) decoded into one flat buffer that also serves as the dictionary.
 *
 * The stream is a sequence of packets chosen by adaptive binary decisions:
 * a literal byte, a match (length and distance), a repeat of one of the four
 * most recent distances, or a one-byte repeat of the latest distance. Every
 * decision is a bit decoded against an 11-bit probability that moves 1/32 of
 * the way toward the decoded value. The model state has twelve values that
 * remember the kinds of the last few packets.
 */

typedef unsigned short lz_prob;
typedef unsigned int lz_u32;

#define LZ_PROB_BITS 11
#define LZ_PROB_ONE (1u << LZ_PROB_BITS)
#define LZ_MOVE 5
#define LZ_TOP (1u << 24)

/* Offsets of each probability group in one array. */
#define LZ_IS_MATCH 0                          /* [state][pos_state]: 12 x 16 */
#define LZ_IS_REP (LZ_IS_MATCH + 192)          /* [state] */
#define LZ_IS_REP_G0 (LZ_IS_REP + 12)          /* [state] */
#define LZ_IS_REP_G1 (LZ_IS_REP_G0 + 12)       /* [state] */
#define LZ_IS_REP_G2 (LZ_IS_REP_G1 + 12)       /* [state] */
#define LZ_IS_REP0_LONG (LZ_IS_REP_G2 + 12)    /* [state][pos_state] */
#define LZ_SLOT (LZ_IS_REP0_LONG + 192)        /* [length class][64] */
#define LZ_SPECIAL (LZ_SLOT + 256)             /* distances 4..127 */
#define LZ_ALIGN (LZ_SPECIAL + 114)            /* low 4 bits of long distances */
#define LZ_LEN (LZ_ALIGN + 16)                 /* match lengths */
#define LZ_REP_LEN (LZ_LEN + 514)              /* repeat lengths */
#define LZ_LITERAL (LZ_REP_LEN + 514)          /* [context][0x300] */

/* Offsets inside one length model. */
#define LZ_LEN_CHOICE 0
#define LZ_LEN_CHOICE2 1
#define LZ_LEN_LOW 2                           /* [pos_state][8] */
#define LZ_LEN_MID (LZ_LEN_LOW + 128)          /* [pos_state][8] */
#define LZ_LEN_HIGH (LZ_LEN_MID + 128)         /* [256] */

/*
 * The largest lc + lp the stub accepts, which bounds its stack use, and the
 * array size: the tree walks read up to 0x100 entries past the last group
 * before they know they are done.
 */
#define LZ_MAX_CONTEXT_BITS 4
#define LZ_PROBS (LZ_LITERAL + (0x300 << LZ_MAX_CONTEXT_BITS) + 0x100)

/*
 * Range decoder state lives in local variables of lz_decode; these macros
 * work on them. A read past the end of the input yields zero bytes; the
 * decoder checks at the end that the input was not overrun.
 */
#define LZ_NORMALIZE                                                       \
	if (range < LZ_TOP) {                                              \
		range <<= 8;                                               \
		code = (code << 8) | (in < in_end ? *in : 0);              \
		in++;                                                      \
	}

/*
 * Decodes the bit whose probability v was loaded from *q into b, without
 * branching on it. The update moves the probability 1/32 of the way toward
 * 0 or 2048, rounding down: for a zero bit, p + floor((2048 - p) / 32)
 * equals p - floor((p - 2017) / 32).
 */
#define LZ_DECODE(q, v, b)                                                 \
	do {                                                               \
		lz_u32 bd_;                                                \
		LZ_NORMALIZE                                               \
		bd_ = (range >> LZ_PROB_BITS) * (v);                       \
		(b) = code >= bd_;                                         \
		range = (b) ? range - bd_ : bd_;                           \
		code -= bd_ & (0u - (b));                                  \
		*(q) = (lz_prob)((v) - (lz_u32)((int)((v) - ((b) ? 0 : 2017)) >> LZ_MOVE)); \
	} while (0)

#define LZ_CAT_(a, b) a##b
#define LZ_CAT(a, b) LZ_CAT_(a, b)

/* Decodes the bit with probability *(prob) into b through the shared code
 * at the label bit, which returns through ret. */
#define LZ_BIT(prob)                                                       \
	do {                                                               \
		p = (prob);                                                \
		ret = &&LZ_CAT(bit_, __LINE__);                            \
		goto bit;                                                  \
	LZ_CAT(bit_, __LINE__):;                                           \
	} while (0)

/*
 * LZ_HOT_BIT is LZ_BIT for the bits decoded most often outside the bit
 * trees: is-match, the 386's matched literals and the low distance bits.
 * With LZ_INLINE_HOT_BITS the 386 decodes them in place, because with its
 * few registers the way to bit and back spills and reloads the coder's
 * state; that costs 120 bytes and cuts its decoding time by 10 to 15%. The
 * stub for Go programs, whose streams are large, is built so; the plain
 * stub keeps its size. The x86-64 stub would gain about 2% for 160 bytes,
 * and keeps the shared code.
 */
#if defined(__x86_64__) || !defined(LZ_INLINE_HOT_BITS)
#define LZ_HOT_BIT(prob) LZ_BIT(prob)
#else
#define LZ_HOT_BIT(prob)                                                   \
	do {                                                               \
		p = (prob);                                                \
		v = *p;                                                    \
		LZ_DECODE(p, v, b);                                        \
	} while (0)
#endif

/*
 * lz_decode decodes in[0:in_len] into out[0:out_len] with the literal
 * context bits lc, literal position bits lp and position bits pb, using
 * probs (LZ_PROBS entries) as its model. It returns 0, or -1 when the
 * stream is corrupt: a distance reaching before the start of the output,
 * bad parameters, or more input read than there is.
 *
 * Decisions, bit trees (literals, lengths, distance slots) and reverse bit
 * trees each have one copy of their code, entered with goto and left through
 * a label in ret, so the decoder stays small while the range coder's state
 * stays in registers. The bit trees, where most of the time goes, load both
 * children's probabilities before the bit that chooses between them is
 * known.
 */
static int lz_decode(const unsigned char *in, unsigned long in_len,
		     unsigned char *out, unsigned long out_len,
		     unsigned lc, unsigned lp, unsigned pb, lz_prob *probs)
{
	const unsigned char *in_end = in + in_len;
	unsigned long pos = 0, ps = 0;
	lz_u32 range = 0xFFFFFFFFu, code = 0;
	lz_u32 rep0 = 0, rep1 = 0, rep2 = 0, rep3 = 0;
	lz_u32 state = 0, sym, limit, len = 0, b, v, d;
	lz_prob *p, *t, *lenprobs;
	void *ret, *lenret;

	if (lc + lp > LZ_MAX_CONTEXT_BITS || pb > 4 || in_len < 5 || in[0] != 0)
		return -1;
	for (sym = 0; sym < LZ_PROBS; sym++)
		probs[sym] = LZ_PROB_ONE / 2;
	/* The first byte of the stream is always zero; four more start code. */
	for (sym = 1; sym < 5; sym++)
		code = (code << 8) | in[sym];
	in += 5;

next:
	/* Hide where probs points, so that the compiler computes the address
	 * of each group where it is used instead of keeping dozens of them in
	 * stack slots, which is larger and no faster. */
	__asm__("" : "+r"(probs));
	if (pos >= out_len)
		return in > in_end ? -1 : 0;
	ps = pos & ((1ul << pb) - 1);
	LZ_HOT_BIT(probs + LZ_IS_MATCH + (state << 4) + ps);
	if (!b) {
		/* A literal, in the context of the previous byte's high bits
		 * and the position's low bits. */
		t = probs + LZ_LITERAL;
		sym = 1;
		if (pos > 0)
			t += 0x300ul * (((pos & ((1ul << lp) - 1)) << lc) + (out[pos - 1] >> (8 - lc)));
		if (state < 7) {
			limit = 0x100;
			ret = &&literal_done;
			goto tree;
		}
		/* After a match the bits of the byte at the latest distance
		 * select the probabilities (offset 0x100 or 0x200) until a
		 * decoded bit differs from them; m is 0x100 while they agree
		 * and 0 after. */
		{
			lz_u32 m = 0x100, mb = (lz_u32)out[pos - rep0 - 1] << 1;
#if defined(__x86_64__)
			/* The next probability is one of two; load both before
			 * the bit is known. The 386 stub, which has fewer
			 * registers and less room, decodes one bit at a time. */
			v = t[0x100 + (mb & 0x100) + 1];
			do {
				lz_u32 mbit = (mb >> 8) & 1, mb2 = mb << 1;
				lz_u32 same = t[m + (mb2 & m) + 2 * sym + mbit];
				lz_u32 diff = t[2 * sym + (mbit ^ 1)];
				p = t + m + (mb & m) + sym;
				LZ_DECODE(p, v, b);
				m &= ~(mb ^ (b << 8));
				sym = (sym << 1) | b;
				mb = mb2;
				v = b == mbit ? same : diff;
			} while (sym < 0x100);
#else
			do {
				LZ_HOT_BIT(t + m + (mb & m) + sym);
				m &= ~(mb ^ (b << 8));
				sym = (sym << 1) | b;
				mb <<= 1;
			} while (sym < 0x100);
#endif
		}
	literal_done:
		out[pos++] = (unsigned char)sym;
		state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6;
		goto next;
	}

	LZ_BIT(probs + LZ_IS_REP + state);
	if (!b) {
		/* A match: a new distance after the length. */
		rep3 = rep2;
		rep2 = rep1;
		rep1 = rep0;
		state = state < 7 ? 7 : 10;
		lenprobs = probs + LZ_LEN;
		lenret = &&distance;
		goto length;
	}
	if (pos == 0)
		return -1;
	LZ_BIT(probs + LZ_IS_REP_G0 + state);
	if (!b) {
		LZ_BIT(probs + LZ_IS_REP0_LONG + (state << 4) + ps);
		if (!b) {
			/* One byte at the latest distance. */
			state = state < 7 ? 9 : 11;
			out[pos] = out[pos - rep0 - 1];
			pos++;
			goto next;
		}
	} else {
		LZ_BIT(probs + LZ_IS_REP_G1 + state);
		if (!b) {
			d = rep1;
		} else {
			LZ_BIT(probs + LZ_IS_REP_G2 + state);
			if (!b) {
				d = rep2;
			} else {
				d = rep3;
				rep3 = rep2;
			}
			rep2 = rep1;
		}
		rep1 = rep0;
		rep0 = d;
	}
	state = state < 7 ? 8 : 11;
	lenprobs = probs + LZ_REP_LEN;
	lenret = &&copy;
	goto length;

distance:
	t = probs + LZ_SLOT + ((len < 3 ? len : 3) << 6);
	sym = 1;
	limit = 64;
	ret = &&slot;
	goto tree;
slot:
	sym -= 64;
	rep0 = sym;
	if (sym >= 4) {
		/* The slot gives the top two bits and the bit count; the low
		 * bits come from a reverse tree, or for long distances from
		 * direct bits and a reverse tree for the last four. */
		limit = (sym >> 1) - 1;
		rep0 = (2 | (sym & 1)) << limit;
		t = probs + LZ_SPECIAL + rep0 - sym - 1;
		if (sym >= 14) {
			for (d = limit - 4; d > 0; d--) {
				lz_u32 m;
				LZ_NORMALIZE
				range >>= 1;
				code -= range;
				m = 0u - (code >> 31);
				code += range & m;
				rep0 += (m + 1) << (d + 3);
			}
			t = probs + LZ_ALIGN;
			limit = 4;
		}
		for (sym = 1, d = 0; d < limit; d++) {
			LZ_HOT_BIT(t + sym);
			sym = (sym << 1) | b;
			rep0 |= b << d;
		}
	}
	if (rep0 >= pos)
		return -1;

copy:
	len += 2;
	if (len > out_len - pos)
		len = (lz_u32)(out_len - pos);
	{
		unsigned char *dst = out + pos;
		const unsigned char *src = dst - rep0 - 1;
		pos += len;
		if (rep0 >= 7 && out_len - pos >= 8) {
			/* Eight bytes at a time; the source stays at least
			 * eight bytes behind, and up to seven bytes past the
			 * match are overwritten later. */
			unsigned char *end = dst + len;
			do {
				__builtin_memcpy(dst, src, 8);
				dst += 8;
				src += 8;
			} while (dst < end);
		} else {
			do
				*dst++ = *src++;
			while (--len);
		}
	}
	goto next;

length:
	/* A length model: 0..7, 8..15 or 16..271, for lengths from 2. */
	sym = 1;
	len = 0;
	limit = 8;
	t = lenprobs + LZ_LEN_LOW + (ps << 3);
	LZ_BIT(lenprobs + LZ_LEN_CHOICE);
	if (b) {
		len = 8;
		t = lenprobs + LZ_LEN_MID + (ps << 3);
		LZ_BIT(lenprobs + LZ_LEN_CHOICE2);
		if (b) {
			len = 16;
			t = lenprobs + LZ_LEN_HIGH;
			limit = 0x100;
		}
	}
	ret = &&length_done;
	goto tree;
length_done:
	len += sym - limit;
	goto *lenret;

bit:
	v = *p;
	LZ_DECODE(p, v, b);
	goto *ret;

tree:
	/* A bit tree: sym walks from 1 down to limit and past it. */
	v = t[sym];
	do {
		lz_u32 pair;
		__builtin_memcpy(&pair, t + 2 * sym, 4);
		p = t + sym;
		LZ_DECODE(p, v, b);
		sym = (sym << 1) | b;
		v = (pair >> (b << 4)) & 0xFFFF;
	} while (sym < limit);
	goto *ret;
}
