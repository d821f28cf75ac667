package lzma

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

// arrival is one path into a node of the parse graph: its price and last
// edge, and once the node is settled the state and reps the path leaves.
type arrival struct {
	price   uint32
	key     uint64 // see arrivalKey
	from    int32  // the node the edge starts at
	fromArr uint8  // which arrival of that node
	kind    uint8
	len1    int32  // edgePacketLit0: the length of the first packet
	back    uint32 // the first packet's back
	state   uint32
	reps    [numReps]uint32
}

// optNode holds a node's arrivals, cheapest first.
type optNode struct {
	n   int
	arr [maxArrivals]arrival
}

// parser holds the optimal parser's graph, its cache of matches and its
// price tables.
type parser struct {
	opt [optNodes]optNode
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
}

// runOptimal codes all of e.data: it parses ahead, codes the first
// parseCommit bytes of the cheapest path, and repeats.
func (e *encoder) runOptimal() {
	e.mf = newBinTree(e.data, e.p.DictSize, niceLen, matchDepth, maxOthers)
	ps := &parser{
		cachePos:    make([]int, 2*parseAhead),
		cache:       make([][]match, 2*parseAhead),
		cacheOthers: make([][]match, 2*parseAhead),
		numSlots:    numSlotsFor(e.p.DictSize),
	}
	for i := range ps.cachePos {
		ps.cachePos[i] = -1
	}
	for e.pos < len(e.data) {
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
		for e.mf.pos < e.pos {
			e.mf.skip()
		}
	}
}

// matchesAt returns the matches at pos and the others the finder saw
// there. Positions are read from the finder once, in order.
func (e *encoder) matchesAt(ps *parser, pos int) (ms, others []match) {
	slot := pos % len(ps.cachePos)
	if ps.cachePos[slot] != pos {
		ms, others := e.mf.find()
		ps.cache[slot] = append(ps.cache[slot][:0], ms...)
		ps.cacheOthers[slot] = append(ps.cacheOthers[slot][:0], others...)
		ps.cachePos[slot] = pos
	}
	return ps.cache[slot], ps.cacheOthers[slot]
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

// add offers node j a path: an edge of the given kind from arrival fromArr
// of node from, reaching j at price and leaving key. It reports whether j
// kept it.
func (ps *parser) add(j int, price uint32, from, fromArr int, kind uint8, len1 int, back uint32, key uint64) bool {
	node := &ps.opt[j]
	if node.n == maxArrivals && price >= node.arr[maxArrivals-1].price {
		return false
	}
	i := 0
	for ; i < node.n; i++ {
		if node.arr[i].key == key {
			if price >= node.arr[i].price {
				return false
			}
			break
		}
	}
	if i == node.n {
		if node.n < maxArrivals {
			node.n++
		}
		i = node.n - 1
	}
	for ; i > 0 && node.arr[i-1].price > price; i-- {
		node.arr[i] = node.arr[i-1]
	}
	node.arr[i] = arrival{price: price, key: key, from: int32(from), fromArr: uint8(fromArr), kind: kind, len1: int32(len1), back: back}
	return true
}

// settle works out the state and reps each arrival of node j leaves. Every
// edge into j starts at an earlier node, settled already.
func (ps *parser) settle(j int) {
	node := &ps.opt[j]
	for i := range node.n {
		a := &node.arr[i]
		src := &ps.opt[a.from].arr[a.fromArr]
		st, reps := src.state, src.reps
		switch a.kind {
		case edgeSingle:
			st, reps = apply(st, reps, a.back, j-int(a.from))
		case edgeLitRep0:
			st, reps = apply(stateAfterLiteral(st), reps, 0, 2)
		case edgePacketLit0:
			st, reps = apply(st, reps, a.back, int(a.len1))
			st, reps = apply(stateAfterLiteral(st), reps, 0, 2)
		}
		a.state, a.reps = st, reps
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

	opt := &ps.opt
	opt[0] = optNode{n: 1}
	opt[0].arr[0] = arrival{state: e.state, reps: e.reps}
	lenEnd := 0
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
		e.relax(ps, cur, p, ms, others, &lenEnd)
		cur++
		if cur >= parseAhead || cur == lenEnd && p+1 == len(data) {
			return e.trace(ps, cur)
		}
	}
}

// relax prices the edges leaving node cur, at position p, whose matches
// are ms and others, and offers them to the nodes they reach. lenEnd is
// the farthest node reached so far; nodes past it are emptied as edges
// reach them.
func (e *encoder) relax(ps *parser, cur, p int, ms, others []match, lenEnd *int) {
	data := e.data
	opt := &ps.opt
	reach := func(end int) {
		for *lenEnd < end {
			*lenEnd++
			opt[*lenEnd].n = 0
		}
	}
	availFull := len(data) - p
	avail := min(availFull, niceLen)
	newLen := 0
	if len(ms) > 0 {
		newLen = min(int(ms[len(ms)-1].len), avail)
	}
	reach(cur + 1)
	posState := p & e.pbMask
	curByte := data[p]
	node := &opt[cur]
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
	for ai := range node.n {
		a := &node.arr[ai]
		st, reps := a.state, a.reps
		curPrice := a.price
		rep0OK := int(reps[0]) < p
		var matchByte byte
		if rep0OK {
			matchByte = data[p-int(reps[0])-1]
		}
		litPrice := curPrice + price0(e.m.isMatch[st][posState]) + literal(st, reps[0])
		nextIsLiteral := ps.add(cur+1, litPrice, cur, ai, edgeSingle, 0, backLiteral, arrivalKey(reps[0], true))
		matchPrice := curPrice + price1(e.m.isMatch[st][posState])
		repMatchPrice := matchPrice + price1(e.m.isRep[st])
		if rep0OK && matchByte == curByte {
			if ps.add(cur+1, repMatchPrice+e.shortRepPrice(st, posState), cur, ai, edgeSingle, 0, 0, arrivalKey(reps[0], false)) {
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
				reach(cur + 1 + n2)
				ps.add(cur+1+n2, price, cur, ai, edgeLitRep0, 0, 0, arrivalKey(reps[0], false))
			}
		}

		startLen := 2
		for i := range numReps {
			n := e.matchLen(p, reps[i], avail)
			if n < 2 {
				continue
			}
			reach(cur + n)
			base := repMatchPrice + e.pureRepPrice(i, st, posState)
			key := arrivalKey(reps[i], false)
			for l := 2; l <= n; l++ {
				ps.add(cur+l, base+ps.repLens.prices[posState][l-minMatchLen], cur, ai, edgeSingle, 0, uint32(i), key)
			}
			if i == 0 {
				// A new match no longer than rep0 is hardly ever
				// cheaper.
				startLen = n + 1
			}
			// The rep, a literal, then rep0 at the same distance.
			if n+1 < availFull {
				n2 := e.matchLen(p+n+1, reps[i], min(availFull-n-1, niceLen))
				if n2 >= 2 {
					e.chain(ps, cur, ai, p, stateAfterRep(st), base+ps.repLens.prices[posState][n-minMatchLen], uint32(i), reps[i], n, n2, reach)
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
	reach(cur + newLen)
	// The nearest match of each length, and the chain after the longest
	// one at each distance.
	l := bestStart
	for _, m := range ms {
		top := min(int(m.len), newLen)
		for ; l <= top; l++ {
			price := bestNormal + ps.lens.prices[posState][l-minMatchLen] + ps.distPrice(m.dist, l)
			ps.add(cur+l, price, cur, bestArr, edgeSingle, 0, numReps+m.dist, arrivalKey(m.dist, false))
			if l == int(m.len) {
				e.matchChain(ps, cur, bestArr, p, bestState, price, m, reach)
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
		price := bestNormal + ps.lens.prices[posState][l-minMatchLen] + ps.distPrice(m.dist, l)
		ps.add(cur+l, price, cur, bestArr, edgeSingle, 0, numReps+m.dist, arrivalKey(m.dist, false))
		e.matchChain(ps, cur, bestArr, p, bestState, price, m, reach)
	}
}

// matchChain offers the edge of match m from arrival ai of node cur (at
// position p, in state st) reaching price, followed by a literal and a
// rep0 at the match's distance.
func (e *encoder) matchChain(ps *parser, cur, ai, p int, st uint32, price uint32, m match, reach func(int)) {
	l := int(m.len)
	availFull := len(e.data) - p
	if l+1 >= availFull {
		return
	}
	n2 := e.matchLen(p+l+1, m.dist, min(availFull-l-1, niceLen))
	if n2 >= 2 {
		e.chain(ps, cur, ai, p, stateAfterMatch(st), price, numReps+m.dist, m.dist, l, n2, reach)
	}
}

// chain offers the edge from arrival ai of node cur (at position p) made
// of a packet back of length n reaching price packetPrice and leaving state
// st1, a literal, and a rep0 of length n2 at distance dist+1.
func (e *encoder) chain(ps *parser, cur, ai, p int, st1 uint32, packetPrice uint32, back, dist uint32, n, n2 int, reach func(int)) {
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
	reach(end)
	ps.add(end, price, cur, ai, edgePacketLit0, n, back, arrivalKey(dist, false))
}

// trace walks back from the cheapest arrival at node end and returns the
// packets of its path in order.
func (e *encoder) trace(ps *parser, end int) []packet {
	out := ps.out[:0]
	for j, ai := end, 0; j > 0; {
		a := &ps.opt[j].arr[ai]
		from := int(a.from)
		switch a.kind {
		case edgeSingle:
			out = append(out, packet{len: j - from, back: a.back})
		case edgeLitRep0:
			out = append(out, packet{len: j - from - 1, back: 0}, packet{len: 1, back: backLiteral})
		case edgePacketLit0:
			out = append(out, packet{len: j - from - int(a.len1) - 1, back: 0}, packet{len: 1, back: backLiteral}, packet{len: int(a.len1), back: a.back})
		}
		j, ai = from, int(a.fromArr)
	}
	for i, k := 0, len(out)-1; i < k; i, k = i+1, k-1 {
		out[i], out[k] = out[k], out[i]
	}
	ps.out = out
	return out
}
