package captions

import (
	"github.com/subtitled/subtitled/decoder"
)

// segmenter splits a run of words into cue drafts. It is pure: the same
// words give the same drafts, so a partial is laid out exactly as its final
// will be if the words do not change.
type segmenter struct {
	lw       *langWords
	maxChars int
	lines    int   // lines per cue (1 in roll-up)
	maxDur   int64 // ticks
	minShow  int64 // MinDuration + MinGap in ticks: the least useful span of a closed cue
	merge    bool
}

func newSegmenter(o Options) segmenter {
	return segmenter{
		lw:       langFor(o.Language),
		maxChars: o.MaxChars,
		lines:    o.linesPerCue(),
		maxDur:   Ticks(o.MaxDuration),
		minShow:  Ticks(o.MinDuration) + Ticks(o.MinGap),
		merge:    o.MergeSentences,
	}
}

// isLong reports whether a word cannot fit on one line and must be
// hard-wrapped in a cue of its own.
func (s *segmenter) isLong(w decoder.Word) bool { return runeLen(w.Text) > s.maxChars }

// fits reports whether words laid out greedily take at most s.lines lines.
func (s *segmenter) fits(ws []decoder.Word, extra decoder.Word) bool {
	lines, cur := 0, -1
	add := func(n int) {
		if cur >= 0 && cur+1+n <= s.maxChars {
			cur += 1 + n
			return
		}
		lines++
		cur = n
	}
	for _, w := range ws {
		add(runeLen(w.Text))
	}
	add(runeLen(extra.Text))
	return lines <= s.lines
}

func (s *segmenter) width(ws []decoder.Word) int {
	n := 0
	for i, w := range ws {
		if i > 0 {
			n++
		}
		n += runeLen(w.Text)
	}
	return n
}

// segment splits words into drafts. A draft closes
//   - before a word longer than a line, which gets a draft of its own;
//   - after sentence punctuation (unless MergeSentences, or the next word
//     follows within MinDuration+MinGap of the draft's start);
//   - when the next word would overflow the lines or take the draft past
//     MaxDuration: then the draft is cut at the best break point among its
//     last words (see bestCut) and the rest is carried into the next draft;
//   - at the end of the words (an endpoint).
func (s *segmenter) segment(words []decoder.Word) [][]decoder.Word {
	var out [][]decoder.Word
	var cur []decoder.Word
	for _, w := range words {
		if s.isLong(w) {
			if len(cur) > 0 {
				out = append(out, cur)
				cur = nil
			}
			out = append(out, []decoder.Word{w})
			continue
		}
		if len(cur) > 0 {
			last := cur[len(cur)-1]
			switch {
			case !s.merge && endsSentence(last.Text, s.lw) && w.Start-cur[0].Start >= s.minShow:
				out = append(out, cur)
				cur = nil
			case !s.fits(cur, w) || w.End-cur[0].Start > s.maxDur:
				j := s.bestCut(cur, w)
				out = append(out, cur[:j:j])
				cur = append([]decoder.Word(nil), cur[j:]...)
			}
		}
		cur = append(cur, w)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// bestCut chooses where to close the draft cur when next does not fit:
// cur[:j] becomes the cue and cur[j:] is carried over. j = len(cur) closes
// right before next. An earlier j is taken when its break is better (after
// punctuation, before a conjunction, not after an article…) by more than the
// room it leaves unused, and only if the carried words plus next fit a cue.
func (s *segmenter) bestCut(cur []decoder.Word, next decoder.Word) int {
	m := len(cur)
	capacity := s.maxChars * s.lines
	bestJ := m
	bestCost := breakCost(cur[m-1].Text, next.Text, s.lw) + (capacity-s.width(cur))*costCueFill
	for j := m - 1; j >= 1; j-- {
		carried := cur[j:]
		if !s.fits(carried, next) || next.End-carried[0].Start > s.maxDur {
			break // carrying more words only makes it worse
		}
		room := capacity - s.width(cur[:j])
		c := breakCost(cur[j-1].Text, cur[j].Text, s.lw) + room*costCueFill
		if c < bestCost {
			bestJ, bestCost = j, c
		}
	}
	return bestJ
}
