package lzma

import (
	"context"
	"sync"
)

// Parameters of the optimal parse.
const (
	// niceLen is the match length taken without looking further.
	niceLen = maxMatchLen
	// parseAhead is how many positions one parse looks at, and
	// parseCommit how many of them it codes before the next parse starts
	// over with prices from the updated model.
	parseAhead  = 256
	parseCommit = 128
	// maxArrivals is how many paths each position keeps.
	maxArrivals = 8
	// optNodes is the size of the parse graph: the farthest edge leaves
	// position parseAhead-1 and spans a rep, a literal and a rep0.
	optNodes = parseAhead + 2*maxMatchLen + 2
)

// Edge kinds: a single packet, or a chain whose last two packets are a
// literal and a rep0 at the distance the chain's first packet used.
const (
	edgeSingle     = iota
	edgeLitRep0    // literal, rep0
	edgePacketLit0 // back (len1 bytes), literal, rep0
)

// optNode holds the paths into a node of the parse graph, cheapest first:
// each one's price, key (see arrivalKey) and last edge. The arrays are
// apart so that offering a path reads as little memory as it can.
type optNode struct {
	n     int
	price [maxArrivals]uint32
	key   [maxArrivals]uint64
	edge  [maxArrivals]edge
}

// edge is the last edge of a path: its kind, the node it starts at and
// which path into that node it extends, and its first packet.
type edge struct {
	from    int32
	back    uint32 // the first packet's back
	len1    int16  // edgePacketLit0: the length of the first packet
	fromArr uint8
	kind    uint8
}

// settled holds the state and reps each path into a node leaves, worked
// out once every edge into the node has been offered.
type settled struct {
	state [maxArrivals]uint32
	reps  [maxArrivals][numReps]uint32
}

// The size of repCache's table: at least twice the distances it may hold,
// numReps for each arrival.
const (
	repIndexBits = 6
	repIndexSize = 1 << repIndexBits
)

// notFull is the worst price of a node with room for another path.
const notFull = ^uint32(0)

// parser holds the optimal parser's graph, its cache of matches and its
// price tables.
type parser struct {
	opt [optNodes]optNode
	// worst is, for each node, the price a path must beat to be kept:
	// its costliest path's when it is full, notFull otherwise.
	worst [optNodes]uint32
	done  [optNodes]settled
	// The matches of recent positions, by position modulo the cache
	// size: a parse revisits the positions the previous one looked at
	// but did not code.
	cachePos    []int
	cache       [][]match
	cacheOthers [][]match
	lens        lenPrices
	repLens     lenPrices
	dists       distPrices
	numSlots    int
	out         []packet
	reps        repCache
	// lenEnd is the farthest node an edge of the current parse reached;
	// the nodes past it hold paths of earlier parses.
	lenEnd int
}

// repCache remembers, while one node's edges are priced, what each
// distinct rep distance gave: the paths of its arrivals share a few
// distances, and a rep edge offered again at no lower price than before
// with the same key changes nothing, so it is skipped. It is a hash table
// of distances whose slots hold the generation they were written in, so
// that a new node needs no clearing.
type repCache struct {
	gen   uint32
	slots [repIndexSize]repSlot
}

// repSlot is what a rep distance gave at the node being priced.
type repSlot struct {
	gen, dist uint32
	len       int32 // the rep's length at the node
	len2      int32 // after the rep and a literal; -1 until needed
	// base is the lowest price the rep's lengths were offered from,
	// chain the lowest of its rep-literal-rep0 chains for each state
	// after the rep (after a literal, after a match).
	base  uint32
	chain [2]uint32
}

// optimal is one encoder's optimal parse, run a step at a time.
type optimal struct {
	e  *encoder
	ps *parser
}

func newOptimal(e *encoder) *optimal {
	return &optimal{e: e, ps: &parser{numSlots: numSlotsFor(e.p.DictSize)}}
}

// done reports whether all of the input is coded.
func (o *optimal) done() bool { return o.e.pos >= len(o.e.data) }

// step parses ahead from the current position, looking at the matches of
// the next parseAhead positions at most, and codes the first parseCommit
// bytes of the cheapest path.
func (o *optimal) step() {
	e, ps := o.e, o.ps
	ps.dists.update(e.m, ps.numSlots)
	ps.lens.update(&e.m.matchLen, 1<<e.p.PB)
	ps.repLens.update(&e.m.repLen, 1<<e.p.PB)
	start := e.pos
	for _, pk := range e.optimum(ps) {
		if e.pos >= start+parseCommit {
			break
		}
		e.emit(pk)
	}
}

// encodeAll codes data under each of ps with the optimal parse. The
// encoders share one match table and work in step: each codes as far as
// the table's current block lets it parse ahead, and when all have, the
// table moves on to the next block. For each block, the first encoder runs
// on the caller's goroutine; each other one runs on a goroutine of its own
// if a core can be taken from cores without waiting, and otherwise on the
// caller's after the first. The cores are given back at the end of the
// block. Each encoder has its own model and parser, and the table does not
// change while they read it, so the output does not depend on timing. ps
// share one DictSize. It returns ctx's error when ctx is done before a
// block.
func encodeAll(ctx context.Context, data []byte, ps []Props, cores chan struct{}) ([][]byte, error) {
	t := newMatchTable(data, ps[0].DictSize)
	encs := make([]*optimal, len(ps))
	for i, p := range ps {
		e := newEncoder(data, p)
		e.mt = t
		encs[i] = newOptimal(e)
	}
	here := make([]*optimal, 0, len(encs))
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		last := t.cur.hi == len(data)
		run := func(o *optimal) {
			for !o.done() && (last || o.e.pos+parseAhead <= t.cur.hi) {
				o.step()
			}
		}
		var wg sync.WaitGroup
		here = append(here[:0], encs[0])
		for _, o := range encs[1:] {
			select {
			case cores <- struct{}{}:
				wg.Add(1)
				go func() {
					defer func() { <-cores; wg.Done() }()
					run(o)
				}()
			default:
				here = append(here, o)
			}
		}
		for _, o := range here {
			run(o)
		}
		wg.Wait()
		if last {
			break
		}
		t.advance()
	}
	out := make([][]byte, len(encs))
	for i, o := range encs {
		out[i] = o.e.rc.finish()
	}
	return out, nil
}

// matchesAt returns the matches at pos and the others the finder saw
// there.
func (e *encoder) matchesAt(ps *parser, pos int) (ms, others []match) {
	return e.mt.at(pos)
}

// shortRepPrice is the price of a short rep after the isMatch and isRep
// bits.
func (e *encoder) shortRepPrice(state uint32, posState int) uint32 {
	return price0(e.m.isRepG0[state]) + price0(e.m.isRep0Long[state][posState])
}

// pureRepPrice is the price of choosing rep i for a long rep, after the
// isMatch and isRep bits and before the length.
func (e *encoder) pureRepPrice(i int, state uint32, posState int) uint32 {
	if i == 0 {
		return price0(e.m.isRepG0[state]) + price1(e.m.isRep0Long[state][posState])
	}
	p := price1(e.m.isRepG0[state])
	if i == 1 {
		return p + price0(e.m.isRepG1[state])
	}
	return p + price1(e.m.isRepG1[state]) + priceBit(e.m.isRepG2[state], uint32(i-2))
}

// distPrice is the price of distance dist+1 for a match of length n.
func (ps *parser) distPrice(dist uint32, n int) uint32 {
	ls := lenState(n)
	if dist < fullDistances {
		return ps.dists.small[ls][dist]
	}
	return ps.dists.slot[ls][posSlot(dist)] + ps.dists.align[dist&(alignSize-1)]
}

// apply returns the state and reps after packet back of length n.
func apply(state uint32, reps [numReps]uint32, back uint32, n int) (uint32, [numReps]uint32) {
	switch {
	case back == backLiteral:
		return stateAfterLiteral(state), reps
	case back < numReps:
		if back == 0 && n == 1 {
			return stateAfterShortRep(state), reps
		}
		d := reps[back]
		copy(reps[1:back+1], reps[:back])
		reps[0] = d
		return stateAfterRep(state), reps
	}
	return stateAfterMatch(state), [numReps]uint32{back - numReps, reps[0], reps[1], reps[2]}
}

// arrivalKey tells arrivals apart: the rep0 a path leaves, and whether its
// last packet was a literal. Of two paths with the same key only the
// cheaper one is kept.
func arrivalKey(rep0 uint32, literal bool) uint64 {
	k := uint64(rep0)
	if literal {
		k |= 1 << 32
	}
	return k
}

// add offers node j a path reaching it at price, leaving key, whose last
// edge is ed. It reports whether j kept it.
func (ps *parser) add(j int, price uint32, ed edge, key uint64) bool {
	if price >= ps.worst[j] {
		return false
	}
	node := &ps.opt[j]
	n := node.n
	i := 0
	for ; i < n; i++ {
		if node.key[i] == key {
			if price >= node.price[i] {
				return false
			}
			break
		}
	}
	if i == n {
		if n < maxArrivals {
			n++
			node.n = n
		}
		i = n - 1
	}
	for ; i > 0 && node.price[i-1] > price; i-- {
		node.price[i], node.key[i], node.edge[i] = node.price[i-1], node.key[i-1], node.edge[i-1]
	}
	node.price[i], node.key[i], node.edge[i] = price, key, ed
	if n == maxArrivals {
		ps.worst[j] = node.price[maxArrivals-1]
	}
	return true
}

// reach empties the nodes past lenEnd up to end, which an edge is about
// to reach.
func (ps *parser) reach(end int) {
	for ps.lenEnd < end {
		ps.lenEnd++
		ps.opt[ps.lenEnd].n = 0
		ps.worst[ps.lenEnd] = notFull
	}
}

// settle works out the state and reps each arrival of node j leaves. Every
// edge into j starts at an earlier node, settled already.
func (ps *parser) settle(j int) {
	node := &ps.opt[j]
	done := &ps.done[j]
	for i := range node.n {
		ed := &node.edge[i]
		src := &ps.done[ed.from]
		st, reps := src.state[ed.fromArr], src.reps[ed.fromArr]
		switch ed.kind {
		case edgeSingle:
			st, reps = apply(st, reps, ed.back, j-int(ed.from))
		case edgeLitRep0:
			st, reps = apply(stateAfterLiteral(st), reps, 0, 2)
		case edgePacketLit0:
			st, reps = apply(st, reps, ed.back, int(ed.len1))
			st, reps = apply(stateAfterLiteral(st), reps, 0, 2)
		}
		done.state[i], done.reps[i] = st, reps
	}
}

// optimum returns the packets of the cheapest path from e.pos to the end
// of the parse.
func (e *encoder) optimum(ps *parser) []packet {
	data := e.data
	pos := e.pos
	ms, others := e.matchesAt(ps, pos)
	avail := len(data) - pos
	ps.out = ps.out[:0]
	if avail < 2 {
		return append(ps.out, packet{len: 1, back: backLiteral})
	}
	// A rep or match of nice length, or one that reaches the end of the
	// data, is taken at once.
	limit := min(avail, maxMatchLen)
	repMax, repMaxLen := 0, 0
	for i, r := range e.reps {
		if n := e.matchLen(pos, r, limit); n > repMaxLen {
			repMax, repMaxLen = i, n
		}
	}
	if repMaxLen >= 2 && (repMaxLen >= niceLen || repMaxLen == limit) {
		return append(ps.out, packet{len: repMaxLen, back: uint32(repMax)})
	}
	if len(ms) > 0 {
		if m := ms[len(ms)-1]; int(m.len) >= niceLen {
			return append(ps.out, packet{len: int(m.len), back: numReps + m.dist})
		}
	}

	ps.opt[0].n = 1
	ps.opt[0].price[0] = 0
	ps.done[0].state[0], ps.done[0].reps[0] = e.state, e.reps
	ps.lenEnd = 0
	for cur := 0; ; {
		p := pos + cur
		if cur > 0 {
			ms, others = e.matchesAt(ps, p)
			if len(ms) > 0 && int(ms[len(ms)-1].len) >= niceLen {
				// End here so that the next parse takes this match.
				return e.trace(ps, cur)
			}
			ps.settle(cur)
		}
		e.relax(ps, cur, p, ms, others)
		cur++
		if cur >= parseAhead || cur == ps.lenEnd && p+1 == len(data) {
			return e.trace(ps, cur)
		}
	}
}

// relax prices the edges leaving node cur, at position p, whose matches
// are ms and others, and offers them to the nodes they reach.
func (e *encoder) relax(ps *parser, cur, p int, ms, others []match) {
	data := e.data
	availFull := len(data) - p
	avail := min(availFull, niceLen)
	newLen := 0
	if len(ms) > 0 {
		newLen = min(int(ms[len(ms)-1].len), avail)
	}
	ps.reach(cur + 1)
	posState := p & e.pbMask
	curByte := data[p]
	node := &ps.opt[cur]
	done := &ps.done[cur]
	bestNormal, bestArr, bestStart, bestState := uint32(infinity), -1, 0, uint32(0)
	// Arrivals often share the byte a matched literal compares with: the
	// literal's prices are worked out once per position and byte.
	var prev byte
	if p > 0 {
		prev = data[p-1]
	}
	litProbs := e.m.literalProbs(&e.p, p, prev)
	plainLit := uint32(infinity)
	var litBytes [maxArrivals]byte
	var litPrices [maxArrivals]uint32
	nLit := 0
	literal := func(st, rep0 uint32) uint32 {
		if st < numLitStates {
			if plainLit == infinity {
				plainLit = literalPrice(litProbs, uint32(curByte), false, 0)
			}
			return plainLit
		}
		mb := data[p-int(rep0)-1]
		for k := range nLit {
			if litBytes[k] == mb {
				return litPrices[k]
			}
		}
		pr := literalPrice(litProbs, uint32(curByte), true, uint32(mb))
		if nLit < len(litBytes) {
			litBytes[nLit], litPrices[nLit] = mb, pr
			nLit++
		}
		return pr
	}
	rc := &ps.reps
	if rc.gen++; rc.gen == 0 {
		rc.slots = [repIndexSize]repSlot{}
		rc.gen = 1
	}
	repLens := &ps.repLens.prices[posState]
	for ai := range node.n {
		st, reps := done.state[ai], done.reps[ai]
		curPrice := node.price[ai]
		rep0OK := int(reps[0]) < p
		var matchByte byte
		if rep0OK {
			matchByte = data[p-int(reps[0])-1]
		}
		litPrice := curPrice + price0(e.m.isMatch[st][posState]) + literal(st, reps[0])
		nextIsLiteral := ps.add(cur+1, litPrice, edge{from: int32(cur), fromArr: uint8(ai), kind: edgeSingle, back: backLiteral}, arrivalKey(reps[0], true))
		matchPrice := curPrice + price1(e.m.isMatch[st][posState])
		repMatchPrice := matchPrice + price1(e.m.isRep[st])
		if rep0OK && matchByte == curByte {
			if ps.add(cur+1, repMatchPrice+e.shortRepPrice(st, posState), edge{from: int32(cur), fromArr: uint8(ai), kind: edgeSingle, back: 0}, arrivalKey(reps[0], false)) {
				nextIsLiteral = true
			}
		}
		if availFull < 2 {
			continue
		}

		// A literal, then rep0: worth trying when the literal alone
		// did not make it into the next node.
		if !nextIsLiteral && rep0OK && matchByte != curByte {
			n2 := e.matchLen(p+1, reps[0], min(availFull-1, niceLen))
			if n2 >= 2 {
				st2 := stateAfterLiteral(st)
				ps2 := (p + 1) & e.pbMask
				price := litPrice + price1(e.m.isMatch[st2][ps2]) + price1(e.m.isRep[st2]) +
					e.pureRepPrice(0, st2, ps2) + ps.repLens.prices[ps2][n2-minMatchLen]
				ps.reach(cur + 1 + n2)
				ps.add(cur+1+n2, price, edge{from: int32(cur), fromArr: uint8(ai), kind: edgeLitRep0}, arrivalKey(reps[0], false))
			}
		}

		startLen := 2
		for i := range numReps {
			d := reps[i]
			h := d * hashMul >> (32 - repIndexBits)
			for rc.slots[h].gen == rc.gen && rc.slots[h].dist != d {
				h = (h + 1) & (repIndexSize - 1)
			}
			sl := &rc.slots[h]
			if sl.gen != rc.gen {
				*sl = repSlot{gen: rc.gen, dist: d, len: int32(e.matchLen(p, d, avail)), len2: -1, base: notFull, chain: [2]uint32{notFull, notFull}}
			}
			n := int(sl.len)
			if n < 2 {
				continue
			}
			base := repMatchPrice + e.pureRepPrice(i, st, posState)
			if base < sl.base {
				// A path offered before from no higher a base
				// has the same key, and offering it again at no
				// lower a price changes nothing.
				sl.base = base
				ps.reach(cur + n)
				key := arrivalKey(d, false)
				ed := edge{from: int32(cur), fromArr: uint8(ai), kind: edgeSingle, back: uint32(i)}
				for l := 2; l <= n; l++ {
					if price := base + repLens[l-minMatchLen]; price < ps.worst[cur+l] {
						ps.add(cur+l, price, ed, key)
					}
				}
			}
			if i == 0 {
				// A new match no longer than rep0 is hardly ever
				// cheaper.
				startLen = n + 1
			}
			// The rep, a literal, then rep0 at the same distance.
			if n+1 < availFull {
				if sl.len2 < 0 {
					sl.len2 = int32(e.matchLen(p+n+1, d, min(availFull-n-1, niceLen)))
				}
				if n2 := int(sl.len2); n2 >= 2 {
					st1 := stateAfterRep(st)
					price := base + repLens[n-minMatchLen]
					if c := &sl.chain[(st1-8)>>1&1]; price < *c {
						*c = price
						e.chain(ps, cur, ai, p, st1, price, uint32(i), d, n, n2)
					}
				}
			}
		}
		if np := matchPrice + price0(e.m.isRep[st]); np < bestNormal {
			bestNormal, bestArr, bestStart, bestState = np, ai, startLen, st
		}
	}

	// A new match leaves the same key whichever arrival it starts from,
	// so only the arrival where it is cheapest matters.
	if bestArr < 0 || newLen < bestStart {
		return
	}
	ps.reach(cur + newLen)
	lens := &ps.lens.prices[posState]
	// The nearest match of each length, and the chain after the longest
	// one at each distance.
	l := bestStart
	for _, m := range ms {
		top := min(int(m.len), newLen)
		ed := edge{from: int32(cur), fromArr: uint8(bestArr), kind: edgeSingle, back: numReps + m.dist}
		key := arrivalKey(m.dist, false)
		// The distance's price depends on the length only up to
		// the last length state.
		far := bestNormal + ps.distPrice(m.dist, minMatchLen+numLenStates-1)
		for ; l <= top; l++ {
			price := far + lens[l-minMatchLen]
			if l < minMatchLen+numLenStates-1 {
				price = bestNormal + lens[l-minMatchLen] + ps.distPrice(m.dist, l)
			}
			if price < ps.worst[cur+l] {
				ps.add(cur+l, price, ed, key)
			}
			if l == int(m.len) {
				e.matchChain(ps, cur, bestArr, p, bestState, price, m)
			}
		}
	}
	// Farther matches at their full length: a path through one leaves
	// another rep0, which later packets may reuse.
	for _, m := range others {
		l := int(m.len)
		if l > newLen || l < bestStart {
			continue
		}
		price := bestNormal + lens[l-minMatchLen] + ps.distPrice(m.dist, l)
		if price < ps.worst[cur+l] {
			ps.add(cur+l, price, edge{from: int32(cur), fromArr: uint8(bestArr), kind: edgeSingle, back: numReps + m.dist}, arrivalKey(m.dist, false))
		}
		e.matchChain(ps, cur, bestArr, p, bestState, price, m)
	}
}

// matchChain offers the edge of match m from arrival ai of node cur (at
// position p, in state st) reaching price, followed by a literal and a
// rep0 at the match's distance.
func (e *encoder) matchChain(ps *parser, cur, ai, p int, st uint32, price uint32, m match) {
	l := int(m.len)
	availFull := len(e.data) - p
	if l+1 >= availFull {
		return
	}
	n2 := e.matchLen(p+l+1, m.dist, min(availFull-l-1, niceLen))
	if n2 >= 2 {
		e.chain(ps, cur, ai, p, stateAfterMatch(st), price, numReps+m.dist, m.dist, l, n2)
	}
}

// chain offers the edge from arrival ai of node cur (at position p) made
// of a packet back of length n reaching price packetPrice and leaving state
// st1, a literal, and a rep0 of length n2 at distance dist+1.
func (e *encoder) chain(ps *parser, cur, ai, p int, st1 uint32, packetPrice uint32, back, dist uint32, n, n2 int) {
	q := p + n
	psq := q & e.pbMask
	price := packetPrice + price0(e.m.isMatch[st1][psq])
	probs := e.m.literalProbs(&e.p, q, e.data[q-1])
	price += literalPrice(probs, uint32(e.data[q]), true, uint32(e.data[q-int(dist)-1]))
	st2 := stateAfterLiteral(st1)
	psq1 := (q + 1) & e.pbMask
	price += price1(e.m.isMatch[st2][psq1]) + price1(e.m.isRep[st2]) +
		e.pureRepPrice(0, st2, psq1) + ps.repLens.prices[psq1][n2-minMatchLen]
	end := cur + n + 1 + n2
	ps.reach(end)
	ps.add(end, price, edge{from: int32(cur), fromArr: uint8(ai), kind: edgePacketLit0, len1: int16(n), back: back}, arrivalKey(dist, false))
}

// trace walks back from the cheapest arrival at node end and returns the
// packets of its path in order.
func (e *encoder) trace(ps *parser, end int) []packet {
	out := ps.out[:0]
	for j, ai := end, 0; j > 0; {
		ed := &ps.opt[j].edge[ai]
		from := int(ed.from)
		switch ed.kind {
		case edgeSingle:
			out = append(out, packet{len: j - from, back: ed.back})
		case edgeLitRep0:
			out = append(out, packet{len: j - from - 1, back: 0}, packet{len: 1, back: backLiteral})
		case edgePacketLit0:
			out = append(out, packet{len: j - from - int(ed.len1) - 1, back: 0}, packet{len: 1, back: backLiteral}, packet{len: int(ed.len1), back: ed.back})
		}
		j, ai = from, int(ed.fromArr)
	}
	for i, k := 0, len(out)-1; i < k; i, k = i+1, k-1 {
		out[i], out[k] = out[k], out[i]
	}
	ps.out = out
	return out
}
