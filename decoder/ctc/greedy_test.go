package ctc

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/subtitled/subtitled/decoder"
)

const letters = "<blk> 0\n▁ 1\nh 2\ni 3\n<unk> 4\n▁yo 5\n"

// frames builds log-probs [len(ids)][v] whose arg-max per frame is ids[i]
// with probability p.
func frames(v int, p float64, ids ...int) []float32 {
	out := make([]float32, len(ids)*v)
	rest := float32(math.Log((1 - p) / float64(v-1)))
	for i, id := range ids {
		for j := 0; j < v; j++ {
			out[i*v+j] = rest
		}
		out[i*v+id] = float32(math.Log(p))
	}
	return out
}

// oneHot builds log-probs [len(ids)][v] that are 0 for ids[i] in frame i and
// -9 for every other token.
func oneHot(v int, ids ...int) []float32 {
	out := make([]float32, 0, len(ids)*v)
	for _, id := range ids {
		row := make([]float32, v)
		for j := range row {
			row[j] = -9
		}
		row[id] = 0
		out = append(out, row...)
	}
	return out
}

// mustGreedy is NewGreedy with blank 0 that fails the test on an error.
func mustGreedy(t *testing.T, tok *Tokens, subsampling int, anchor int64) *Greedy {
	t.Helper()
	g, err := NewGreedy(tok, 0, subsampling, anchor)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestGreedy(t *testing.T) {
	tok := mustTokens(t, letters)
	const R, anchor = 4, 1000
	at := func(f int64) int64 { return anchor + f*R*FrameTicks }
	tests := []struct {
		name string
		ids  []int
		want []decoder.Word
	}{
		{"collapse repeats", []int{0, 2, 2, 3, 0}, []decoder.Word{{Text: "hi", Start: at(1), End: at(4)}}},
		{"blank separates repeats", []int{2, 0, 2, 2, 0, 0}, []decoder.Word{{Text: "hh", Start: at(0), End: at(4)}}},
		{"word break token", []int{2, 1, 1, 3, 3}, []decoder.Word{{Text: "h", Start: at(0), End: at(1)}, {Text: "i", Start: at(3), End: at(5)}}},
		{"word-start piece", []int{2, 5, 0, 3}, []decoder.Word{{Text: "h", Start: at(0), End: at(1)}, {Text: "yoi", Start: at(1), End: at(4)}}},
		{"unk skipped, does not extend", []int{2, 4, 4, 4, 0}, []decoder.Word{{Text: "h", Start: at(0), End: at(1)}}},
		{"only blanks", []int{0, 0, 0}, []decoder.Word{}},
		{"leading break", []int{1, 0, 3}, []decoder.Word{{Text: "i", Start: at(2), End: at(3)}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := mustGreedy(t, tok, R, anchor)
			if err := g.Accept(frames(tok.Len(), 0.9, tc.ids...)); err != nil {
				t.Fatal(err)
			}
			got := g.Words()
			for i := range got {
				if math.Abs(float64(got[i].Conf)-0.9) > 1e-5 {
					t.Errorf("word %d conf %v, want 0.9", i, got[i].Conf)
				}
				got[i].Conf = 0
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Words = %+v, want %+v", got, tc.want)
			}
			if g.Frames() != int64(len(tc.ids)) {
				t.Errorf("Frames = %d", g.Frames())
			}
		})
	}
}

// Feeding frame by frame equals feeding everything at once.
func TestGreedyStreamingEqualsBatch(t *testing.T) {
	tok := mustTokens(t, letters)
	ids := []int{0, 2, 2, 0, 2, 3, 1, 1, 5, 5, 0, 4, 3, 0, 0, 2}
	all := frames(tok.Len(), 0.7, ids...)
	one, _ := NewGreedy(tok, 0, 2, 0)
	if err := one.Accept(all); err != nil {
		t.Fatal(err)
	}
	inc, _ := NewGreedy(tok, 0, 2, 0)
	v := tok.Len()
	for i := 0; i < len(ids); i += 3 {
		end := min(len(ids), i+3)
		if err := inc.Accept(all[i*v : end*v]); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(one.Words(), inc.Words()) {
		t.Fatalf("incremental %+v != whole %+v", inc.Words(), one.Words())
	}
	if got, want := one.Text(), "hhi yoih"; got != want {
		t.Fatalf("Text = %q, want %q", got, want)
	}
	one.Reset(500)
	if len(one.Words()) != 0 || one.Frames() != 0 {
		t.Fatal("Reset kept output")
	}
	_ = one.Accept(frames(v, 0.9, 3))
	if w := one.Words(); len(w) != 1 || w[0].Start != 500 {
		t.Fatalf("after Reset: %+v", w)
	}
}

func TestGreedyErrors(t *testing.T) {
	tok := mustTokens(t, letters)
	if _, err := NewGreedy(tok, 6, 4, 0); err == nil || !strings.Contains(err.Error(), "blank id 6") {
		t.Errorf("blank out of range: %v", err)
	}
	if _, err := NewGreedy(tok, 0, 0, 0); err == nil {
		t.Error("subsampling 0 accepted")
	}
	if _, err := NewGreedy(nil, 0, 4, 0); err == nil {
		t.Error("nil tokens accepted")
	}
	g, _ := NewGreedy(tok, 0, 4, 0)
	if err := g.Accept(make([]float32, tok.Len()+1)); !errors.Is(err, ErrShape) {
		t.Errorf("ragged log-probs: %v", err)
	}
}

func TestGreedyTrailingBlanksAndCut(t *testing.T) {
	tok := mustTokens(t, "<blk> 0\n▁a 1\nb 2\n")
	g := mustGreedy(t, tok, 4, 1000)
	if err := g.Accept(oneHot(3, 1, 1, 2, 0, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if g.TrailingBlanks() != 3 {
		t.Fatalf("trailing blanks %d, want 3", g.TrailingBlanks())
	}
	words := g.Cut()
	if len(words) != 1 || words[0].Text != "ab" || words[0].Start != 1000 {
		t.Fatalf("cut words %+v", words)
	}
	if g.Frames() != 0 || g.TrailingBlanks() != 0 || len(g.Words()) != 0 {
		t.Fatalf("cut did not start a new segment")
	}
	if err := g.Accept(oneHot(3, 1)); err != nil {
		t.Fatal(err)
	}
	// The new segment's frame 0 is output frame 6 of the old one.
	if w := g.Words(); len(w) != 1 || w[0].Start != 1000+6*4*FrameTicks {
		t.Fatalf("after cut words %+v, want start %d", w, 1000+6*4*FrameTicks)
	}
}

// A pause ends a word even without a word-break token: character models
// trained on single sentences emit "agree" then "and" across a sentence
// pause with no "▁" between them.
func TestGreedyPauseBreak(t *testing.T) {
	tok := mustTokens(t, "<blk> 0\n▁ 1\na 2\nb 3\n")
	const blank, a, b = 0, 2, 3
	// R = 4: 40 ms output frames; the 400 ms default is 10 frames.
	tests := []struct {
		name  string
		ids   []int
		pause time.Duration
		want  string
	}{
		{"short gap stays one word", []int{a, blank, blank, blank, b}, DefaultPauseBreak, "ab"},
		{"9 blank frames stay one word", []int{a, blank, blank, blank, blank, blank, blank, blank, blank, blank, b}, DefaultPauseBreak, "ab"},
		{"10 blank frames break", []int{a, blank, blank, blank, blank, blank, blank, blank, blank, blank, blank, b}, DefaultPauseBreak, "a b"},
		{"disabled", []int{a, blank, blank, blank, blank, blank, blank, blank, blank, blank, blank, b}, 0, "ab"},
		{"repeat after a pause is a new letter", []int{a, blank, blank, blank, blank, blank, blank, blank, blank, blank, blank, a}, DefaultPauseBreak, "a a"},
	}
	for _, tc := range tests {
		g := mustGreedy(t, tok, 4, 0)
		g.SetPauseBreak(tc.pause)
		if err := g.Accept(oneHot(4, tc.ids...)); err != nil {
			t.Fatal(err)
		}
		if got := g.Text(); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// Punctuation after a pause still attaches to the word before it.
func TestGreedyPauseKeepsPunctuation(t *testing.T) {
	g := mustGreedy(t, mustTokens(t, "<blk> 0\n▁ok 1\n. 2\n"), 4, 0)
	ids := append(append([]int{1}, make([]int, 20)...), 2) // ▁ok, 20 blanks, "."
	if err := g.Accept(oneHot(3, ids...)); err != nil {
		t.Fatal(err)
	}
	if got := g.Text(); got != "ok." {
		t.Fatalf("%q, want ok.", got)
	}
}
