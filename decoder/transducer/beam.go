package transducer

import (
	"math"
	"slices"
)

// candidate is one extension of a hypothesis in modified beam search.
type candidate struct {
	row   int // index of the hypothesis in the frame's rows
	tok   int
	score float64 // the extended hypothesis' log-probability
	lp    float64 // log-probability of tok alone
}

// beamFrame runs modified beam search (reference §1.8) on output frame t of
// the active streams: the hypotheses of all streams go through the decoder
// and joiner as one batch; per stream, the Beam best (hypothesis, token)
// pairs by total log-probability form the new beam, where blank and <unk>
// keep the tokens and hypotheses with equal tokens are merged by adding their
// probabilities.
func (s *Searcher) beamFrame(streams []*Stream, enc [][]float32, active []int, t int) error {
	var hs []*hyp
	var encRows [][]float32
	for _, i := range active {
		for _, h := range streams[i].hyps {
			hs = append(hs, h)
			encRows = append(encRows, enc[i][t*s.je:(t+1)*s.je])
		}
	}
	if err := s.ensureDecoded(hs); err != nil {
		return err
	}
	logits, err := s.join(encRows, hs)
	if err != nil {
		return err
	}
	lp := make([]float64, s.v)
	top := make([]candidate, 0, s.opts.Beam+1)
	lo := 0
	for _, i := range active {
		st := streams[i]
		hi := lo + len(st.hyps)
		top = top[:0]
		for r := lo; r < hi; r++ {
			row := logits[r*s.v : (r+1)*s.v]
			if err := checkFinite(row); err != nil {
				return err
			}
			logSoftmax(row, lp)
			for tok, l := range lp {
				top = pushTop(top, s.opts.Beam, candidate{row: r, tok: tok, score: hs[r].logp + l, lp: l})
			}
		}
		next := make([]*hyp, 0, len(top))
		for _, c := range top {
			nh := hs[c.row].clone()
			nh.logp = c.score
			if s.isBlank(c.tok) {
				nh.trailing++
			} else {
				nh.emit(c.tok, st.frames, float32(math.Exp(c.lp)))
			}
			if k := slices.IndexFunc(next, func(h *hyp) bool { return slices.Equal(h.ys, nh.ys) }); k >= 0 {
				next[k].logp = logAdd(next[k].logp, nh.logp)
				continue
			}
			next = append(next, nh)
		}
		st.hyps = next
		lo = hi
	}
	return nil
}

// pushTop inserts c into top, kept sorted by descending score and at most k
// long; among equal scores the earlier candidate stays first.
func pushTop(top []candidate, k int, c candidate) []candidate {
	if len(top) == k && !(c.score > top[k-1].score) {
		return top
	}
	pos := len(top)
	for pos > 0 && c.score > top[pos-1].score {
		pos--
	}
	if len(top) < k {
		top = append(top, candidate{})
	}
	copy(top[pos+1:], top[pos:len(top)-1])
	top[pos] = c
	return top
}

// logAdd is log(exp(a) + exp(b)).
func logAdd(a, b float64) float64 {
	if a < b {
		a, b = b, a
	}
	if math.IsInf(b, -1) {
		return a
	}
	return a + math.Log1p(math.Exp(b-a))
}
