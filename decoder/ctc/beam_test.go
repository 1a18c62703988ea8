package ctc

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/subtitled/subtitled/decoder"
)

// charTable is a character model's table like the demo model's: blank,
// word break, a-z and the apostrophe.
func charTable() string {
	var b strings.Builder
	b.WriteString("<blk> 0\n▁ 1\n")
	for c := 'a'; c <= 'z'; c++ {
		fmt.Fprintf(&b, "%c %d\n", c, c-'a'+2)
	}
	b.WriteString("' 28\n")
	return b.String()
}

// mat builds log-probs from a frame script: frames separated by spaces, each
// "sym" (probability 0.9) or "sym:p/sym:p/…"; "_" is the blank and "|" the
// word break "▁". Tokens not named share what is left.
func mat(t testing.TB, tok *Tokens, script string) []float32 {
	t.Helper()
	v := tok.Len()
	var out []float32
	for _, f := range strings.Fields(script) {
		probs := map[int]float64{}
		sum := 0.0
		for _, part := range strings.Split(f, "/") {
			sym, ps, ok := strings.Cut(part, ":")
			p := 0.9
			if ok {
				var err error
				if p, err = strconv.ParseFloat(ps, 64); err != nil {
					t.Fatalf("frame %q: %v", f, err)
				}
			}
			switch sym {
			case "_":
				sym = "<blk>"
			case "|":
				sym = WordStart
			}
			id, found := tok.Lookup(sym)
			if !found {
				t.Fatalf("frame %q: no symbol %q", f, sym)
			}
			probs[id] = p
			sum += p
		}
		rest := (1 - sum) / float64(v-len(probs))
		if rest <= 0 {
			rest = 1e-6
		}
		for id := 0; id < v; id++ {
			p, ok := probs[id]
			if !ok {
				p = rest
			}
			out = append(out, float32(math.Log(p)))
		}
	}
	return out
}

// randomLogProbs makes n frames of log-softmax rows over v classes, some
// peaky and some flat.
func randomLogProbs(r *rand.Rand, n, v int) []float32 {
	out := make([]float32, 0, n*v)
	logits := make([]float64, v)
	for range n {
		scale := []float64{0.3, 1, 3, 8}[r.IntN(4)]
		m := math.Inf(-1)
		for j := range logits {
			logits[j] = r.NormFloat64() * scale
			if j == 0 && r.IntN(2) == 0 {
				logits[j] += 4 // blank-heavy frames, as CTC models make
			}
			m = max(m, logits[j])
		}
		s := 0.0
		for _, x := range logits {
			s += math.Exp(x - m)
		}
		for _, x := range logits {
			out = append(out, float32(x-m-math.Log(s)))
		}
	}
	return out
}

// addPauses overwrites random stretches of 5 to 40 frames with frames whose
// arg-max is the blank (id 0), so that pauses end words.
func addPauses(r *rand.Rand, lp []float32, v int) {
	n := len(lp) / v
	for f := 0; f < n; f++ {
		if r.IntN(12) != 0 {
			continue
		}
		for end := min(n, f+5+r.IntN(36)); f < end; f++ {
			row := lp[f*v : (f+1)*v]
			for j := range row {
				row[j] = float32(math.Log(0.05 / float64(v-1)))
			}
			row[0] = float32(math.Log(0.95))
		}
	}
}

func mustBeam(t testing.TB, tok *Tokens, sub int, anchor int64, opt BeamOptions) *Beam {
	t.Helper()
	b, err := NewBeam(tok, 0, sub, anchor, opt)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// With no lexicon, no LM and Viterbi merging, beam search finds greedy
// search's path for any beam width: same words (pause breaks included),
// times, confidences and trailing blanks after every chunk, and at every cut.
func TestBeamEqualsGreedyRandom(t *testing.T) {
	tables := map[string]string{"letters": letters, "bpe": bpeTable, "chars": charTable()}
	opts := []BeamOptions{
		{Beam: 1, Merge: MergeMax},
		{Beam: 1, Merge: MergeMax, TokenBeam: math.Inf(1)},
		{Beam: 3, Merge: MergeMax},
		{Beam: 8, Merge: MergeMax, TokenBeam: 2},
	}
	for name, table := range tables {
		tok := mustTokens(t, table)
		v := tok.Len()
		for oi, opt := range opts {
			for seed := range uint64(25) {
				r := rand.New(rand.NewPCG(seed, uint64(oi)))
				lp := randomLogProbs(r, 40+r.IntN(120), v)
				if seed%2 == 1 {
					addPauses(r, lp, v)
				}
				const R, anchor = 4, 123456
				g, _ := NewGreedy(tok, 0, R, anchor)
				b := mustBeam(t, tok, R, anchor, opt)
				for from := 0; from < len(lp)/v; {
					n := 1 + r.IntN(12)
					to := min(len(lp)/v, from+n)
					chunk := lp[from*v : to*v]
					from = to
					if err := g.Accept(chunk); err != nil {
						t.Fatal(err)
					}
					if err := b.Accept(chunk); err != nil {
						t.Fatal(err)
					}
					where := fmt.Sprintf("%s opt %d seed %d frame %d", name, oi, seed, from)
					if gw, bw := g.Words(), b.Words(); !reflect.DeepEqual(gw, bw) {
						t.Fatalf("%s: beam words\n%+v\ngreedy\n%+v", where, bw, gw)
					}
					if g.Text() != b.Text() || g.TrailingBlanks() != b.TrailingBlanks() || g.Frames() != b.Frames() {
						t.Fatalf("%s: beam %q %d %d, greedy %q %d %d", where, b.Text(), b.TrailingBlanks(), b.Frames(),
							g.Text(), g.TrailingBlanks(), g.Frames())
					}
					if r.IntN(6) == 0 {
						if gw, bw := g.Cut(), b.Cut(); !reflect.DeepEqual(gw, bw) {
							t.Fatalf("%s: cut: beam %+v, greedy %+v", where, bw, gw)
						}
					}
				}
			}
		}
	}
}

// With log-add merging and a beam holding every prefix, the best prefix is
// the label sequence of highest total probability, checked against brute
// force over all alignments.
func TestBeamSumIsExact(t *testing.T) {
	tok := mustTokens(t, "<blk> 0\na 1\nb 2\n")
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 7))
		T := 1 + r.IntN(6)
		lp := randomLogProbs(r, T, 3)
		// Total probability of every collapsed label sequence.
		total := map[string]float64{}
		path := make([]int, T)
		for n := 0; n < int(math.Pow(3, float64(T))); n++ {
			x, logp := n, 0.0
			for i := range path {
				path[i] = x % 3
				x /= 3
				logp += float64(lp[i*3+path[i]])
			}
			var s strings.Builder
			prev := 0
			for _, id := range path {
				if id != 0 && id != prev {
					s.WriteByte("_ab"[id])
				}
				prev = id
			}
			total[s.String()] += math.Exp(logp)
		}
		want, wantP := "", -1.0
		for k, p := range total {
			if p > wantP || (p == wantP && k < want) {
				want, wantP = k, p
			}
		}
		b := mustBeam(t, tok, 1, 0, BeamOptions{Beam: MaxBeam, TokenBeam: math.Inf(1)})
		if err := b.Accept(lp); err != nil {
			t.Fatal(err)
		}
		if got := b.Text(); got != want {
			t.Fatalf("seed %d: beam %q, brute force %q (p=%v, beam's p=%v)", seed, got, want, wantP, total[got])
		}
		if got := b.Cut(); len(want) > 0 && (len(got) != 1 || got[0].Text != want) {
			t.Fatalf("seed %d: cut %+v, want %q", seed, got, want)
		}
	}
}

// Summing alignments can beat the single best path: two frames of
// blank 0.4, a 0.35, b 0.25 are "" by the best path but "a" by total
// probability (0.4025 > 0.16).
func TestBeamSumVersusMax(t *testing.T) {
	tok := mustTokens(t, "<blk> 0\na 1\nb 2\n")
	lp := mat(t, tok, "_:.4/a:.35/b:.25 _:.4/a:.35/b:.25")
	for _, tc := range []struct {
		merge Merge
		want  string
	}{{MergeSum, "a"}, {MergeMax, ""}} {
		b := mustBeam(t, tok, 1, 0, BeamOptions{Merge: tc.merge})
		if err := b.Accept(lp); err != nil {
			t.Fatal(err)
		}
		if got := b.Text(); got != tc.want {
			t.Errorf("merge %d: %q, want %q", tc.merge, got, tc.want)
		}
	}
}

func mustLexicon(t testing.TB, tok *Tokens, words ...string) *Lexicon {
	t.Helper()
	l, err := NewLexicon(words, tok)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func mustARPA(t testing.TB, text string) *LM {
	t.Helper()
	lm, err := ParseARPA(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return lm
}

// homophoneLM prefers "see" after "i" and "sea" after "the", and "sea" at
// the start of a sentence.
const homophoneLM = `
\data\
ngram 1=7
ngram 2=6

\1-grams:
-1.0 </s>
-99 <s> -0.3
-1.0 i -0.3
-1.0 the -0.3
-1.0 see -0.3
-1.0 sea -0.3
-2.0 <unk>

\2-grams:
-0.3 i see
-3.0 i sea
-0.3 the sea
-3.0 the see
-0.5 <s> sea
-2.5 <s> see

\end\
`

func TestBeamLexiconAndLM(t *testing.T) {
	tok := mustTokens(t, charTable())
	lex := mustLexicon(t, tok, "water", "weather", "the", "i", "see", "sea", "ab", "abcd")
	lm := mustARPA(t, homophoneLM)
	// An LM without <unk>: unknown words cost UnkPenalty.
	unkLM := mustARPA(t, "\\data\\\nngram 1=3\n\\1-grams:\n-99 <s>\n-1 </s>\n-1 ab\n\\end\\\n")
	const R, anchor = 2, 9000
	at := func(f int64) int64 { return anchor + f*R*FrameTicks }
	tests := []struct {
		name   string
		script string
		opt    BeamOptions
		greedy string // greedy's text, to show the search changed something
		want   string
	}{
		{"lexicon fixes a misspelling", "w a t h:.6/_:.4 e r _", BeamOptions{Lexicon: lex}, "wather", "water"},
		{"lexicon only keeps words", "w e a t h e r _ | _ w a t h:.6/_:.4 e r", BeamOptions{Lexicon: lex}, "weather wather", "weather water"},
		{"acoustics alone pick sea", "i | s e _ a:.46/e:.44 _", BeamOptions{Lexicon: lex}, "i sea", "i sea"},
		{"LM picks see after i", "i | s e _ a:.46/e:.44 _", BeamOptions{Lexicon: lex, LM: lm, Alpha: 1}, "i sea", "i see"},
		{"LM picks sea after the", "t h e | s e _ a:.44/e:.46 _", BeamOptions{Lexicon: lex, LM: lm, Alpha: 1}, "the see", "the sea"},
		{"LM weight 0 is no LM", "i | s e _ a:.46/e:.44 _", BeamOptions{Lexicon: lex, LM: lm}, "i sea", "i sea"},
		{"LM without lexicon", "i | s e _ a:.46/e:.44 _", BeamOptions{LM: lm, Alpha: 1}, "i sea", "i see"},
		{"word bonus inserts a break", "a b:.45/|:.4/_:.15 c", BeamOptions{Beta: 5}, "abc", "a c"},
		{"unknown word penalty", "a b:.45/c:.5 _", BeamOptions{LM: unkLM, Alpha: 1, UnkPenalty: 5}, "ac", "ab"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lp := mat(t, tok, tc.script)
			g, _ := NewGreedy(tok, 0, R, anchor)
			_ = g.Accept(lp)
			if g.Text() != tc.greedy {
				t.Fatalf("greedy %q, want %q (bad test matrix)", g.Text(), tc.greedy)
			}
			b := mustBeam(t, tok, R, anchor, tc.opt)
			if err := b.Accept(lp); err != nil {
				t.Fatal(err)
			}
			words := b.Cut()
			texts := make([]string, len(words))
			for i, w := range words {
				texts[i] = w.Text
			}
			if got := strings.Join(texts, " "); got != tc.want {
				t.Fatalf("beam %q, want %q", got, tc.want)
			}
		})
	}

	// Word times: "water" starts at its w (frame 0) and ends after its r
	// (frame 5, so End is frame 6).
	b := mustBeam(t, tok, R, anchor, BeamOptions{Lexicon: lex, LM: lm, Alpha: 0.5, Beta: 1})
	_ = b.Accept(mat(t, tok, "w a t h:.6/_:.4 e r r _ | _ t t h e"))
	got := b.Words()
	want := []decoder.Word{{Text: "water", Start: at(0), End: at(7)}, {Text: "the", Start: at(10), End: at(14)}}
	for i := range got {
		if got[i].Conf <= 0.5 || got[i].Conf > 0.95 {
			t.Errorf("word %d conf %v", i, got[i].Conf)
		}
		got[i].Conf = 0
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("words %+v, want %+v", got, want)
	}
	if b.TrailingBlanks() != 0 || b.Frames() != 14 {
		t.Errorf("trailing %d frames %d", b.TrailingBlanks(), b.Frames())
	}
	_ = b.Accept(mat(t, tok, "_ _ _"))
	if b.TrailingBlanks() != 3 {
		t.Errorf("trailing %d, want 3", b.TrailingBlanks())
	}
}

// A long pause ends a word without a word break, as in Greedy; with a
// lexicon only after a word.
func TestBeamPauseBreak(t *testing.T) {
	tok := mustTokens(t, charTable())
	lex := mustLexicon(t, tok, "the", "sea", "thesea", "ab", "abc", "c")
	const R = 2 // 20 ms frames: a pause is 400 ms = 20 frames
	pause := strings.Repeat(" _", 20)
	short := strings.Repeat(" _", 19)
	tests := []struct {
		name, script string
		opt          BeamOptions
		want         string
	}{
		{"pause ends a word", "t h e" + pause + " s e a", BeamOptions{}, "the sea"},
		{"a shorter gap does not", "t h e" + short + " s e a", BeamOptions{}, "thesea"},
		{"pause with a lexicon", "t h e" + pause + " s e a", BeamOptions{Lexicon: lex}, "the sea"},
		{"lexicon, short gap", "t h e" + short + " s e a", BeamOptions{Lexicon: lex}, "thesea"},
		{"no break after a non-word", "a b" + pause + " c:.6/_:.4", BeamOptions{Lexicon: mustLexicon(t, tok, "a", "abc")}, "abc"},
		{"repeat after a pause is a new word", "c" + pause + " c", BeamOptions{Lexicon: lex}, "c c"},
		{"pause break off", "t h e" + pause + " s e a", BeamOptions{PauseBreak: -1}, "thesea"},
		{"longer pause setting", "t h e" + pause + " s e a", BeamOptions{PauseBreak: 500 * time.Millisecond}, "thesea"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lp := mat(t, tok, tc.script)
			b := mustBeam(t, tok, R, 0, tc.opt)
			if err := b.Accept(lp); err != nil {
				t.Fatal(err)
			}
			if got := b.Text(); got != tc.want {
				t.Errorf("Text %q, want %q", got, tc.want)
			}
			var texts []string
			for _, w := range b.Cut() {
				texts = append(texts, w.Text)
			}
			if got := strings.Join(texts, " "); got != tc.want {
				t.Errorf("Cut %q, want %q", got, tc.want)
			}
			if tc.opt.Lexicon == nil {
				g, _ := NewGreedy(tok, 0, R, 0)
				if tc.opt.PauseBreak != 0 {
					g.SetPauseBreak(max(0, tc.opt.PauseBreak))
				}
				_ = g.Accept(lp)
				if g.Text() != tc.want {
					t.Errorf("greedy %q, want %q", g.Text(), tc.want)
				}
			}
		})
	}
}

// Cut ends the open word: a prefix whose open word is no lexicon word
// loses to one that is a word; the next segment starts after the cut with
// the LM history back at <s>.
func TestBeamCut(t *testing.T) {
	tok := mustTokens(t, charTable())
	lex := mustLexicon(t, tok, "ab", "abcd", "i", "see", "sea", "the")
	lm := mustARPA(t, homophoneLM)
	const R, anchor = 4, 1000
	b := mustBeam(t, tok, R, anchor, BeamOptions{Lexicon: lex, LM: lm, Alpha: 1})
	_ = b.Accept(mat(t, tok, "a b c:.7/_:.3"))
	if got := b.Text(); got != "abc" {
		t.Fatalf("partial %q, want the open word abc", got)
	}
	words := b.Cut()
	if len(words) != 1 || words[0].Text != "ab" || words[0].Start != anchor || words[0].End != anchor+2*R*FrameTicks {
		t.Fatalf("cut %+v, want ab over frames 0-1", words)
	}
	if b.Frames() != 0 || len(b.Words()) != 0 || b.Text() != "" {
		t.Fatal("cut kept output")
	}
	// "i" then a cut: the next segment scores "sea|see" after <s>, which
	// prefers "sea" although the acoustics lean to "see" and, after "i",
	// the LM would pick "see".
	_ = b.Accept(mat(t, tok, "i _"))
	if w := b.Cut(); len(w) != 1 || w[0].Text != "i" || w[0].Start != anchor+3*R*FrameTicks {
		t.Fatalf("cut %+v", w)
	}
	_ = b.Accept(mat(t, tok, "s e _ a:.44/e:.46 _"))
	if w := b.Cut(); len(w) != 1 || w[0].Text != "sea" || w[0].Start != anchor+5*R*FrameTicks {
		t.Fatalf("after cut: %+v, want sea at frame 5", w)
	}
	// Reset restarts everything at a new anchor.
	_ = b.Accept(mat(t, tok, "i | s"))
	b.Reset(77)
	_ = b.Accept(mat(t, tok, "_ t h e"))
	if w := b.Words(); len(w) != 1 || w[0].Text != "the" || w[0].Start != 77+R*FrameTicks {
		t.Fatalf("after reset: %+v", w)
	}
	// With a beam of 1 no prefix ending in a word survives: the best
	// prefix is kept as it is.
	one := mustBeam(t, tok, R, anchor, BeamOptions{Beam: 1, Lexicon: lex, LM: lm, Alpha: 1})
	_ = one.Accept(mat(t, tok, "t h e | a b c"))
	if w := one.Cut(); len(w) != 2 || w[0].Text != "the" || w[1].Text != "abc" {
		t.Fatalf("cut with no word fitting: %+v", w)
	}
}

// A subword vocabulary: "▁" pieces start words, and the lexicon spells
// words with them.
func TestBeamSubwordLexicon(t *testing.T) {
	tok := mustTokens(t, bpeTable)
	lex := mustLexicon(t, tok, "AFTER", "EARLY", "NIGHTFALL", "café")
	ids := func(syms ...string) string { return strings.Join(syms, " ") }
	// ▁E AR L(Y weak) → the lexicon forces EARLY over EAR+…; ▁caf + bytes of é.
	script := ids("▁AFTER", "▁E", "AR", "LY:.4/_:.6", "_", "▁NIGHT", "F", "A", "LL", "▁caf", "<0xC3>", "<0xA9>")
	lp := mat(t, tok, script)
	g, _ := NewGreedy(tok, 0, 4, 0)
	_ = g.Accept(lp)
	if g.Text() != "AFTER EAR NIGHTFALL café" {
		t.Fatalf("greedy %q", g.Text())
	}
	b := mustBeam(t, tok, 4, 0, BeamOptions{Lexicon: lex})
	_ = b.Accept(lp)
	if got := b.Text(); got != "AFTER EARLY NIGHTFALL café" {
		t.Fatalf("beam %q", got)
	}
}

// Feeding frame by frame equals feeding everything at once, and running
// twice gives the same result.
func TestBeamStreamingDeterministic(t *testing.T) {
	tok := mustTokens(t, charTable())
	words := strings.Fields("the a cat sat on mat and i see sea water weather at an in")
	lex := mustLexicon(t, tok, words...)
	lm := mustARPA(t, homophoneLM)
	r := rand.New(rand.NewPCG(3, 4))
	lp := randomLogProbs(r, 300, tok.Len())
	opt := BeamOptions{Lexicon: lex, LM: lm, Alpha: 0.8, Beta: 1.5, UnkPenalty: 4}
	whole := mustBeam(t, tok, 2, 0, opt)
	_ = whole.Accept(lp)
	v := tok.Len()
	for run := range 2 {
		inc := mustBeam(t, tok, 2, 0, opt)
		for i := 0; i < 300; i++ {
			_ = inc.Accept(lp[i*v : (i+1)*v])
		}
		if !reflect.DeepEqual(inc.Words(), whole.Words()) || inc.TrailingBlanks() != whole.TrailingBlanks() {
			t.Fatalf("run %d: frame by frame %+v, whole %+v", run, inc.Words(), whole.Words())
		}
	}
	if whole.Text() == "" {
		t.Fatal("random frames decoded to nothing; the test would prove little")
	}
	for _, w := range whole.Words()[:len(whole.Words())-1] {
		if !lex.Contains(w.Text) {
			t.Errorf("finished word %q is not in the lexicon", w.Text)
		}
	}
}

func TestBeamErrors(t *testing.T) {
	tok := mustTokens(t, letters)
	other := mustTokens(t, charTable())
	lex := mustLexicon(t, other, "ab")
	tests := []struct {
		name   string
		tok    *Tokens
		blank  int
		sub    int
		opt    BeamOptions
		substr string
	}{
		{"nil tokens", nil, 0, 1, BeamOptions{}, "empty token table"},
		{"blank", tok, 9, 1, BeamOptions{}, "blank id 9"},
		{"subsampling", tok, 0, 0, BeamOptions{}, "subsampling"},
		{"beam", tok, 0, 1, BeamOptions{Beam: MaxBeam + 1}, "beam 1025"},
		{"negative beam", tok, 0, 1, BeamOptions{Beam: -1}, "beam -1"},
		{"alpha", tok, 0, 1, BeamOptions{Alpha: math.NaN()}, "alpha"},
		{"beta", tok, 0, 1, BeamOptions{Beta: math.Inf(1)}, "beta"},
		{"token beam", tok, 0, 1, BeamOptions{TokenBeam: -1}, "token beam"},
		{"merge", tok, 0, 1, BeamOptions{Merge: 7}, "merge"},
		{"lexicon tokens", tok, 0, 1, BeamOptions{Lexicon: lex}, "another token table"},
	}
	for _, tc := range tests {
		if _, err := NewBeam(tc.tok, tc.blank, tc.sub, 0, tc.opt); err == nil || !strings.Contains(err.Error(), tc.substr) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.substr)
		}
	}
	// A lexicon built for an equal table is accepted.
	if _, err := NewBeam(mustTokens(t, charTable()), 0, 1, 0, BeamOptions{Lexicon: lex}); err != nil {
		t.Errorf("equal table refused: %v", err)
	}
	b := mustBeam(t, tok, 1, 0, BeamOptions{})
	if err := b.Accept(make([]float32, tok.Len()+1)); !errors.Is(err, ErrShape) {
		t.Errorf("ragged log-probs: %v", err)
	}
}

// BenchmarkBeam measures the search alone on a demo-like character model:
// 29 tokens, 20 ms output frames (R=2), a 800-word lexicon and a bigram LM,
// on peaky random log-probs. rtf is search time over audio time per stream.
func BenchmarkBeam(b *testing.B) {
	tok := mustTokens(b, charTable())
	r := rand.New(rand.NewPCG(1, 2))
	words := make([]string, 0, 800)
	seen := map[string]bool{}
	for len(words) < 800 {
		n := 1 + r.IntN(9)
		w := make([]byte, n)
		for i := range w {
			w[i] = byte('a' + r.IntN(26))
		}
		if !seen[string(w)] {
			seen[string(w)] = true
			words = append(words, string(w))
		}
	}
	lex := mustLexicon(b, tok, words...)
	var arpa strings.Builder
	const bigrams = 20000
	fmt.Fprintf(&arpa, "\\data\\\nngram 1=%d\nngram 2=%d\n\n\\1-grams:\n-99 <s> -0.5\n-1.5 </s> -0.5\n", len(words)+2, bigrams)
	for _, w := range words {
		fmt.Fprintf(&arpa, "%.3f %s -0.4\n", -2-r.Float64(), w)
	}
	arpa.WriteString("\n\\2-grams:\n")
	pairs := map[[2]int]bool{}
	for len(pairs) < bigrams {
		p := [2]int{r.IntN(len(words)), r.IntN(len(words))}
		if !pairs[p] {
			pairs[p] = true
			fmt.Fprintf(&arpa, "%.3f %s %s\n", -1-r.Float64(), words[p[0]], words[p[1]])
		}
	}
	arpa.WriteString("\n\\end\\\n")
	lm := mustARPA(b, arpa.String())
	const frames = 500 // 10 s of audio at 20 ms per output frame
	lp := randomLogProbs(r, frames, tok.Len())
	for _, tc := range []struct {
		name string
		opt  BeamOptions
	}{
		{"greedy", BeamOptions{}},
		{"beam8", BeamOptions{Beam: 8}},
		{"beam8+lexicon+lm", BeamOptions{Beam: 8, Lexicon: lex, LM: lm, Alpha: 0.8, Beta: 1}},
		{"beam32+lexicon+lm", BeamOptions{Beam: 32, Lexicon: lex, LM: lm, Alpha: 0.8, Beta: 1}},
		{"beam64+lexicon+lm", BeamOptions{Beam: 64, Lexicon: lex, LM: lm, Alpha: 0.8, Beta: 1}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var s Search
			if tc.name == "greedy" {
				s, _ = NewGreedy(tok, 0, 2, 0)
			} else {
				s = mustBeam(b, tok, 2, 0, tc.opt)
			}
			v := tok.Len()
			b.ResetTimer()
			for b.Loop() {
				s.Reset(0)
				for i := 0; i < frames; i += 16 { // one model call: 16 output frames
					_ = s.Accept(lp[i*v : min(frames, i+16)*v])
				}
				_ = s.Cut()
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/(frames*0.02), "rtf")
		})
	}
}

// InWord tells the endpointer whether a cut now would split a word: true
// while a word is open, false before any word, after a word break and
// once a pause has ended the word. Greedy and beam search agree.
func TestInWord(t *testing.T) {
	tok := mustTokens(t, charTable())
	const R = 2 // 20 ms frames: a pause is 400 ms = 20 frames
	tests := []struct {
		name, script string
		want         bool
	}{
		{"nothing yet", "_ _ _", false},
		{"open word", "_ w e", true},
		{"open word, short gap", "w e" + strings.Repeat(" _", 19), true},
		{"after a word break", "w e |", false},
		{"blanks after a word break", "w e | _ _", false},
		{"next word begun", "w e | c", true},
		{"a pause ended the word", "w e" + strings.Repeat(" _", 20), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lp := mat(t, tok, tc.script)
			b := mustBeam(t, tok, R, 0, BeamOptions{})
			g := mustGreedy(t, tok, R, 0)
			for _, s := range []Search{g, b} {
				if err := s.Accept(lp); err != nil {
					t.Fatal(err)
				}
				if got := s.InWord(); got != tc.want {
					t.Errorf("%T: InWord %v after %q, want %v", s, got, tc.script, tc.want)
				}
				s.Cut()
				if s.InWord() {
					t.Errorf("%T: InWord after Cut", s)
				}
			}
		})
	}
}
