package transducer

import "math"

// greedyFrame runs greedy search (reference §1.7) on output frame t of the
// active streams: per stream, the arg-max token of the joiner is emitted
// unless it is blank or <unk>; after an emission the same frame is searched
// again, up to MaxSymbolsPerFrame tokens. A stream's decoder output is cached
// and recomputed only after it emitted, batched with the other streams'.
func (s *Searcher) greedyFrame(streams []*Stream, enc [][]float32, active []int, t int) error {
	emitted := make([]bool, len(streams))
	err := s.symbolRounds(streams, enc, active, t, s.isBlank, nil, func(i int) { emitted[i] = true })
	if err != nil {
		return err
	}
	for _, i := range active {
		if !emitted[i] {
			streams[i].hyps[0].trailing++
		}
	}
	return nil
}

// symbolRounds runs up to MaxSymbolsPerFrame joiner rounds at encoder frame
// t for the best hypothesis of each stream in active. A row whose best token
// is blank (isBlank) leaves the rounds, after onBlank (may be nil); any
// other token is emitted, onEmit is told the stream, and the stream takes
// part in the next round.
func (s *Searcher) symbolRounds(streams []*Stream, enc [][]float32, active []int, t int,
	isBlank func(int) bool, onBlank func(*hyp), onEmit func(int)) error {
	rows := append([]int(nil), active...)
	hs := make([]*hyp, 0, len(rows))
	encRows := make([][]float32, 0, len(rows))
	for sym := 0; sym < s.opts.MaxSymbolsPerFrame && len(rows) > 0; sym++ {
		var logits []float32
		var err error
		if hs, encRows, logits, err = s.joinBest(streams, enc, rows, t, hs, encRows); err != nil {
			return err
		}
		next := rows[:0]
		for r, i := range rows {
			row := logits[r*s.v : (r+1)*s.v]
			if err := checkFinite(row); err != nil {
				return err
			}
			y := argmax(row)
			if isBlank(y) {
				if onBlank != nil {
					onBlank(hs[r])
				}
				continue
			}
			hs[r].emit(y, streams[i].frames, softmaxAt(row, y))
			if onEmit != nil {
				onEmit(i)
			}
			next = append(next, i)
		}
		rows = next
	}
	return nil
}

// argmax returns the index of the largest value, the first of equals.
func argmax(row []float32) int {
	best := 0
	for i, v := range row[1:] {
		if v > row[best] {
			best = i + 1
		}
	}
	return best
}

// softmaxAt is the softmax probability of row[k].
func softmaxAt(row []float32, k int) float32 {
	m := float64(row[argmax(row)])
	sum := 0.0
	for _, v := range row {
		sum += math.Exp(float64(v) - m)
	}
	return float32(math.Exp(float64(row[k])-m) / sum)
}

// joinBest runs the decoder where its output is stale and then the joiner,
// for the best hypothesis of each stream in rows at encoder frame t. hs and
// encRows are scratch slices, returned for reuse; the logits are [rows][V].
func (s *Searcher) joinBest(streams []*Stream, enc [][]float32, rows []int, t int, hs []*hyp, encRows [][]float32) ([]*hyp, [][]float32, []float32, error) {
	hs, encRows = hs[:0], encRows[:0]
	for _, i := range rows {
		hs = append(hs, streams[i].hyps[0])
		encRows = append(encRows, enc[i][t*s.je:(t+1)*s.je])
	}
	if err := s.ensureDecoded(hs); err != nil {
		return hs, encRows, nil, err
	}
	logits, err := s.join(encRows, hs)
	return hs, encRows, logits, err
}
