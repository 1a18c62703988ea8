package ctc

// TokenWord is one word assembled from emitted tokens. First and Last are
// the output frames of its first and last token.
type TokenWord struct {
	Text        string
	First, Last int64
	Conf        float32 // mean probability of its tokens (0 without probabilities)
}

// Words assembles emitted tokens into words, the way greedy CTC search does:
// "▁" starts a word, <unk> and control symbols are skipped, <0xNN> byte
// tokens are reassembled into UTF-8. ids[i] was emitted at output frame
// frames[i] with probability probs[i] (probs may be nil). Ids out of range
// are skipped; frames must have the length of ids.
func (t *Tokens) Words(ids []int, frames []int64, probs []float32) []TokenWord {
	var a assembler
	for i, id := range ids {
		if id < 0 || id >= len(t.pieces) {
			continue
		}
		p := float32(0)
		if probs != nil {
			p = probs[i]
		}
		a.add(&t.pieces[id], frames[i], p)
	}
	a.flush()
	out := make([]TokenWord, len(a.words))
	for i, w := range a.words {
		out[i] = TokenWord{Text: w.text, First: w.first, Last: w.last}
		if probs != nil && w.confN > 0 {
			out[i].Conf = float32(w.confSum / float64(w.confN))
		}
	}
	return out
}
