package ctc

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/subtitled/subtitled/decoder"
)

// committing runs a Search with a Commit after every chunk and keeps the
// segment's committed words, so that committed + Words() can be compared
// with a search that never commits.
type committing struct {
	s    Search
	done []decoder.Word
}

func (c *committing) accept(t *testing.T, lp []float32) {
	t.Helper()
	if err := c.s.Accept(lp); err != nil {
		t.Fatal(err)
	}
	c.done = append(c.done, c.s.Commit()...)
}

func (c *committing) words() []decoder.Word {
	return append(append([]decoder.Word{}, c.done...), c.s.Words()...)
}

func (c *committing) cut() []decoder.Word {
	w := append(c.done, c.s.Cut()...)
	c.done = nil
	return w
}

// sameWords is reflect.DeepEqual with nil equal to empty.
func sameWords(a, b []decoder.Word) bool {
	return len(a) == len(b) && (len(a) == 0 || reflect.DeepEqual(a, b))
}

// Without force, Commit only hands out words that no later frame can
// change: the committed words followed by the remaining Words (and Cut) are
// exactly what a search that never commits reports, after every chunk and
// at every cut, for greedy search and for beam search with and without an
// LM.
func TestCommitIsExact(t *testing.T) {
	tok := mustTokens(t, charTable())
	lex := mustLexicon(t, tok, "ab", "abc", "ba", "cab", "i", "see", "sea", "the", "a", "b", "c")
	lm := mustARPA(t, homophoneLM)
	searches := map[string]func() Search{
		"greedy":   func() Search { g, _ := NewGreedy(tok, 0, 4, 5000); return g },
		"beam sum": func() Search { return mustBeam(t, tok, 4, 5000, BeamOptions{Beam: 8}) },
		"beam max": func() Search { return mustBeam(t, tok, 4, 5000, BeamOptions{Beam: 4, Merge: MergeMax}) },
		"beam LM":  func() Search { return mustBeam(t, tok, 4, 5000, BeamOptions{Beam: 8, LM: lm, Alpha: 1, Beta: 0.5}) },
		"beam lexicon LM": func() Search {
			return mustBeam(t, tok, 4, 5000, BeamOptions{Beam: 16, Lexicon: lex, LM: lm, Alpha: 0.5, Beta: 1})
		},
	}
	v := tok.Len()
	for name, mk := range searches {
		committed := 0
		for seed := range uint64(30) {
			r := rand.New(rand.NewPCG(seed, 7))
			lp := randomLogProbs(r, 60+r.IntN(200), v)
			addPauses(r, lp, v)
			plain, c := mk(), &committing{s: mk()}
			for from := 0; from < len(lp)/v; {
				to := min(len(lp)/v, from+1+r.IntN(10))
				chunk := lp[from*v : to*v]
				from = to
				if err := plain.Accept(chunk); err != nil {
					t.Fatal(err)
				}
				c.accept(t, chunk)
				committed += len(c.done)
				where := fmt.Sprintf("%s seed %d frame %d", name, seed, from)
				if want, got := plain.Words(), c.words(); !sameWords(want, got) {
					t.Fatalf("%s: committed+words\n%+v\nwant\n%+v", where, got, want)
				}
				if plain.TrailingBlanks() != c.s.TrailingBlanks() || plain.Frames() != c.s.Frames() {
					t.Fatalf("%s: trailing/frames differ", where)
				}
				if r.IntN(8) == 0 {
					if want, got := plain.Cut(), c.cut(); !sameWords(want, got) {
						t.Fatalf("%s: cut\n%+v\nwant\n%+v", where, got, want)
					}
				}
			}
		}
		if committed == 0 {
			t.Errorf("%s: nothing was ever committed", name)
		}
	}
}

// With force, a finished word the beam still holds alternatives for is
// committed with the best reading once it is old enough, and the
// alternatives are dropped, so the reading never changes afterwards.
func TestCommitForce(t *testing.T) {
	tok := mustTokens(t, charTable())
	lex := mustLexicon(t, tok, "i", "see", "sea", "the")
	lm := mustARPA(t, homophoneLM)
	const R, anchor = 4, 0
	// "i se[a|e] the …", 19 frames: after "i", the LM prefers "see"
	// although the acoustics lean to "sea"; some prefixes read the "i"
	// frame as noise. "i" ends at frame 1, "see" at frame 7.
	script := mat(t, tok, "i _ | s e _ a:.46/e:.44 _ | t h e _ _ _ _ _ _ _")
	v := tok.Len()
	texts := func(ws []decoder.Word) string {
		out := make([]string, len(ws))
		for i, w := range ws {
			out[i] = w.Text
		}
		return strings.Join(out, " ")
	}
	reads := func(b *Beam, word string) int {
		n := 0
		for i := range b.hyps {
			for _, w := range b.words(&b.hyps[i], b.hyps[i].best()) {
				if w.Text == word {
					n++
				}
			}
		}
		return n
	}
	tests := []struct {
		force int64
		want  map[int]string // frame count → words committed after it
		rival bool           // "sea" still read by a prefix at the end
	}{
		{force: 0, want: map[int]string{}, rival: true},
		{force: 13, want: map[int]string{14: "i"}, rival: true},
		{force: 12, want: map[int]string{13: "i", 19: "see"}},
		{force: 2, want: map[int]string{3: "i", 9: "see"}},
	}
	for _, tc := range tests {
		b := mustBeam(t, tok, R, anchor, BeamOptions{Beam: 8, Lexicon: lex, LM: lm, Alpha: 1})
		b.SetCommitForce(tc.force)
		got := map[int]string{}
		for f := 0; f < len(script)/v; f++ {
			if err := b.Accept(script[f*v : (f+1)*v]); err != nil {
				t.Fatal(err)
			}
			if ws := b.Commit(); len(ws) > 0 {
				got[f+1] = texts(ws)
			}
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("force %d: commits %v, want %v", tc.force, got, tc.want)
		}
		if r := reads(b, "sea") > 0; r != tc.rival {
			t.Errorf("force %d: a prefix reads sea: %v, want %v", tc.force, r, tc.rival)
		}
		// The open word "the" is never committed, however old.
		if cut := texts(b.Cut()); !strings.HasSuffix(cut, "the") {
			t.Errorf("force %d: cut %q, want it to end with the open word", tc.force, cut)
		}
	}
}

// With force, the words committed and cut never overlap or go back, and
// they do not depend on how the log-probs are grouped into calls.
func TestCommitForceRandom(t *testing.T) {
	tok := mustTokens(t, charTable())
	lm := mustARPA(t, homophoneLM)
	v := tok.Len()
	run := func(lp []float32, force int64, r *rand.Rand) []decoder.Word {
		b := mustBeam(t, tok, 4, 0, BeamOptions{Beam: 8, LM: lm, Alpha: 1})
		b.SetCommitForce(force)
		c := &committing{s: b}
		for from := 0; from < len(lp)/v; {
			to := min(len(lp)/v, from+1+r.IntN(10))
			c.accept(t, lp[from*v:to*v])
			from = to
		}
		return c.cut()
	}
	for seed := range uint64(30) {
		r := rand.New(rand.NewPCG(seed, 9))
		lp := randomLogProbs(r, 100+r.IntN(200), v)
		addPauses(r, lp, v)
		force := 1 + int64(r.IntN(6))
		all := run(lp, force, r)
		end := int64(math.MinInt64)
		for i, w := range all {
			if w.Start < end || w.End < w.Start {
				t.Fatalf("seed %d word %d %+v overlaps the word before (end %d): %+v", seed, i, w, end, all)
			}
			end = w.End
		}
		if again := run(lp, force, r); !sameWords(all, again) {
			t.Fatalf("seed %d: another grouping gave\n%+v\nnot\n%+v", seed, again, all)
		}
	}
}
