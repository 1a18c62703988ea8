package captions

import (
	"strings"
	"unicode/utf8"
)

// Break costs. A line or cue break between two words costs the sum of the
// terms that apply; lower is better. Bonuses are negative.
const (
	costAfterSentence = -45 // "…today. | Then…"
	costAfterClause   = -30 // "…today, | then…"
	costBeforeConj    = -20 // "…milk | and bread"
	costBeforePrep    = -12 // "…went | to the shop"
	costAfterDet      = 100 // "the | house": never separate article/adjective and noun
	costAfterAux      = 80  // "will | go", "not | go": auxiliary or negation and verb
	costInsideName    = 80  // "John | Smith"
	costAfterPronoun  = 60  // "she | said": subject pronoun and verb
	costDangling      = 20  // "…and | milk", "…to | the": a conjunction or preposition left at a line end
	// Shape of a layout: per character of difference between a line and the
	// next. Balanced lines cost nothing, a bottom-heavy pair a little and a
	// top-heavy pair more.
	costBottomHeavy = 1
	costTopHeavy    = 3
	// costCueFill is the cost per character of room left unused in a cue
	// that closes early at a better break point.
	costCueFill = 1
)

// breakCost is the cost of breaking (a line or a cue) between prev and next.
func breakCost(prev, next string, lw *langWords) int {
	c := 0
	switch {
	case endsSentence(prev, lw):
		c += costAfterSentence
	case endsClause(prev):
		c += costAfterClause
	}
	nk := key(next)
	if lw.conjunctions[nk] {
		c += costBeforeConj
	} else if lw.prepositions[nk] {
		c += costBeforePrep
	}
	if hasTrailingPunct(prev) {
		// Punctuation is a natural pause: the "keep together" rules only
		// bind words that run on.
		return c
	}
	pk := key(prev)
	switch {
	case lw.determiners[pk]:
		c += costAfterDet
	case lw.auxiliaries[pk] || lw.negations[pk]:
		c += costAfterAux
	case lw.pronouns[pk]:
		c += costAfterPronoun
	case lw.conjunctions[pk] || lw.prepositions[pk]:
		c += costDangling
	}
	if lw.nameRule && isTitle(prev) && isTitle(next) {
		c += costInsideName
	}
	return c
}

// shapeCost scores two consecutive line lengths: bottom-heavy preferred.
func shapeCost(upper, lower int) int {
	if upper <= lower {
		return (lower - upper) * costBottomHeavy
	}
	return (upper - lower) * costTopHeavy
}

// hardWrap splits a word longer than a line into pieces of maxChars runes.
func hardWrap(word string, maxChars int) []string {
	var out []string
	for word != "" {
		i, n := 0, 0
		for i < len(word) && n < maxChars {
			_, sz := utf8.DecodeRuneInString(word[i:])
			i += sz
			n++
		}
		out = append(out, word[:i])
		word = word[i:]
	}
	return out
}

// greedyLines is the least number of lines of at most maxChars that hold
// words of the given lengths in order, or a huge number if one is too long.
func greedyLines(lens []int, maxChars int) int {
	lines, cur := 0, -1
	for _, n := range lens {
		if n > maxChars {
			return int(^uint(0) >> 1)
		}
		if cur >= 0 && cur+1+n <= maxChars {
			cur += 1 + n
			continue
		}
		lines++
		cur = n
	}
	return lines
}

// layoutLines breaks words into the fewest lines of at most maxChars runes,
// choosing the break points with the lowest cost (linguistic rules plus a
// bottom-heavy shape). ok is false when the words need more than maxLines
// lines or a word is longer than a line.
func layoutLines(words []string, maxChars, maxLines int, lw *langWords) (lines []string, ok bool) {
	n := len(words)
	if n == 0 {
		return nil, true
	}
	lens := make([]int, n)
	for i, w := range words {
		lens[i] = runeLen(w)
	}
	k := greedyLines(lens, maxChars)
	if k > maxLines {
		return nil, false
	}
	if k == 1 {
		return []string{strings.Join(words, " ")}, true
	}
	// width(i, e) of words[i:e] on one line.
	pre := make([]int, n+1)
	for i, l := range lens {
		pre[i+1] = pre[i] + l
	}
	width := func(i, e int) int { return pre[e] - pre[i] + (e - i - 1) }
	// minFrom[i] is the least number of lines that hold words[i:].
	minFrom := make([]int, n+1)
	for i := range n {
		minFrom[i] = greedyLines(lens[i:], maxChars)
	}
	brk := make([]int, n) // brk[i]: cost of a break before word i (i ≥ 1)
	for i := 1; i < n; i++ {
		brk[i] = breakCost(words[i-1], words[i], lw)
	}

	// best(i, j, prev): least cost to lay out words[i:] on lines j..k-1 when
	// the line above is prev runes long. Memoised; the state space is small
	// (words × lines × chars).
	type state struct{ i, j, prev int }
	type choice struct{ cost, end int }
	memo := map[state]choice{}
	var best func(i, j, prev int) choice
	best = func(i, j, prev int) choice {
		st := state{i, j, prev}
		if c, hit := memo[st]; hit {
			return c
		}
		res := choice{cost: int(^uint(0) >> 1), end: -1}
		left := k - j // lines left including this one
		for e := i + 1; e <= n; e++ {
			wd := width(i, e)
			if wd > maxChars {
				break
			}
			if left == 1 && e != n {
				continue
			}
			if left > 1 && (e == n || minFrom[e] > left-1) {
				continue
			}
			c := 0
			if j > 0 {
				c += shapeCost(prev, wd)
			}
			if e < n {
				c += brk[e]
				sub := best(e, j+1, wd)
				if sub.end < 0 {
					continue
				}
				c += sub.cost
			}
			if c < res.cost { // ties keep the shorter upper line
				res = choice{c, e}
			}
		}
		memo[st] = res
		return res
	}
	i, prev := 0, 0
	for j := range k {
		ch := best(i, j, prev)
		if ch.end < 0 {
			return nil, false // cannot happen: k lines are feasible
		}
		lines = append(lines, strings.Join(words[i:ch.end], " "))
		prev = width(i, ch.end)
		i = ch.end
	}
	return lines, true
}
