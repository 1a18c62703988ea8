package ctc

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const trigramARPA = `This header is ignored.

\data\
ngram 1=5
ngram  2 = 3
ngram 3=1

\1-grams:
-1.0	<s>	-0.5
-0.7	a	-0.25
-0.9	b	-0.1
-1.2	</s>
-2	<unk>

\2-grams:
-0.3	<s> a	-0.2
-0.4	a b	-0.15
-0.5	b </s>

\3-grams:
-0.05	<s> a b
\end\
`

func TestLogProbBackoff(t *testing.T) {
	lm := mustARPA(t, trigramARPA)
	if lm.Order() != 3 || lm.Len() != 5 || !lm.Contains("a") || lm.Contains("c") {
		t.Fatalf("order %d len %d", lm.Order(), lm.Len())
	}
	tests := []struct {
		hist []string
		word string
		want float64 // log10
	}{
		{nil, "a", -0.7},
		{[]string{"<s>", "a"}, "b", -0.05},              // trigram
		{[]string{"b", "a"}, "b", -0.4},                 // no trigram, no bigram (b a): bigram a b
		{[]string{"<s>", "a"}, "a", -0.2 + -0.25 - 0.7}, // bow(<s> a) + bow(a) + P(a)
		{[]string{"a"}, "</s>", -0.25 - 1.2},            // bow(a) + P(</s>)
		{[]string{"b"}, "</s>", -0.5},
		{[]string{"<s>"}, "zzz", -0.5 - 2},           // unknown word scores as <unk>
		{[]string{"zzz", "a"}, "b", -0.4},            // unknown history word counts as <unk>
		{[]string{"a", "b", "<s>", "a"}, "b", -0.05}, // only the last two words count
	}
	for _, tc := range tests {
		got, ok := lm.LogProb(tc.hist, tc.word)
		if !ok || math.Abs(got-tc.want*math.Ln10) > 1e-5 {
			t.Errorf("P(%s | %v) = %v %v, want %v", tc.word, tc.hist, got/math.Ln10, ok, tc.want)
		}
	}
	noUnk := mustARPA(t, "\\data\\\nngram 1=2\n\\1-grams:\n-0.5 a -0.1\n-0.5 b\n\\end\\\n")
	if _, ok := noUnk.LogProb(nil, "c"); ok {
		t.Error("unknown word scored without <unk>")
	}
	if got, ok := noUnk.LogProb([]string{"c"}, "b"); !ok || math.Abs(got+0.5*math.Ln10) > 1e-6 {
		t.Errorf("after an unknown word: %v %v", got, ok)
	}
}

func TestParseARPAErrors(t *testing.T) {
	head := "\\data\\\nngram 1=2\n\n\\1-grams:\n"
	tests := []struct {
		name, text, substr string
	}{
		{"no data", "hello\n", `file ends before \data\`},
		{"no counts", "\\data\\\n\\1-grams:\n", "no \"ngram N=COUNT\""},
		{"bad count", "\\data\\\nngram one=3\n", "2: invalid ARPA language model: bad count line"},
		{"counts out of order", "\\data\\\nngram 2=3\n", "ngram 2 listed where ngram 1"},
		{"order 4", "\\data\\\nngram 1=1\nngram 2=1\nngram 3=1\nngram 4=1\n", "order 4 is not supported"},
		{"no unigrams", "\\data\\\nngram 1=0\n\\1-grams:\n\\end\\\n", "no unigrams"},
		{"wrong section", "\\data\\\nngram 1=1\n\\2-grams:\n", `want \1-grams:`},
		{"too few", head + "-1 a\n\\end\\\n", "6: invalid ARPA language model: 1 1-grams listed, 2 declared"},
		{"too many", head + "-1 a\n-1 b\n-1 c\n", "7: invalid ARPA language model: more 1-grams"},
		{"fields", head + "-1 a b c\n", "has 2 or 3 fields, got 4"},
		{"not a number", head + "x a\n", `log10 probability "x"`},
		{"NaN", head + "NaN a\n", "not a finite number"},
		{"positive", head + "0.5 a\n", "is positive"},
		{"bad backoff", head + "-1 a inf\n", "back-off weight"},
		{"duplicate", head + "-1 a\n-1 a\n", `unigram "a" listed twice`},
		{"unknown word", "\\data\\\nngram 1=1\nngram 2=1\n\\1-grams:\n-1 a\n\\2-grams:\n-1 a b\n\\end\\\n", `7: invalid ARPA language model: word "b" of a 2-gram is not a unigram`},
		{"duplicate bigram", "\\data\\\nngram 1=1\nngram 2=2\n\\1-grams:\n-1 a\n\\2-grams:\n-1 a a\n-2 a a\n\\end\\\n", "listed twice"},
		{"no end", head + "-1 a\n-1 b\n", `file ends before \end\`},
		{"bad end", head + "-1 a\n-1 b\n\\3-grams:\n", `want \end\`},
		{"long line", "\\data\\\n" + strings.Repeat("x", maxARPALine+1), "token too long"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseARPA(strings.NewReader(tc.text))
			if !errors.Is(err, ErrARPA) {
				t.Fatalf("err %v does not wrap ErrARPA", err)
			}
			if !strings.Contains(err.Error(), tc.substr) {
				t.Fatalf("err %q lacks %q", err, tc.substr)
			}
		})
	}
}

func TestLoadARPANamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lm.arpa")
	if err := os.WriteFile(path, []byte("\\data\\\nngram 1=1\n\\1-grams:\n-1 a b c\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadARPA(path); !errors.Is(err, ErrARPA) || !strings.HasPrefix(err.Error(), path+":4: ") {
		t.Fatalf("err %v", err)
	}
	if _, err := LoadARPA(filepath.Join(t.TempDir(), "none")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
}

func FuzzARPA(f *testing.F) {
	f.Add(trigramARPA)
	f.Add(homophoneLM)
	f.Add("\\data\\\nngram 1=1\nngram 2=1\n\\1-grams:\n-1 a\n\\2-grams:\n-1 a a\n\\end\\\n")
	f.Fuzz(func(t *testing.T, text string) {
		lm, err := ParseARPA(strings.NewReader(text))
		if err != nil {
			if !errors.Is(err, ErrARPA) {
				t.Fatalf("error does not wrap ErrARPA: %v", err)
			}
			return
		}
		if lm.Order() < 1 || lm.Order() > MaxLMOrder || lm.Len() < 1 || len(lm.uni) != lm.Len() {
			t.Fatalf("order %d, %d words", lm.Order(), lm.Len())
		}
		// Every word scores a finite log-probability in every short history.
		hist := []string{"<s>"}
		for i, w := range lm.words {
			if i > 20 {
				break
			}
			lp, ok := lm.LogProb(hist, w)
			if !ok || math.IsNaN(lp) || math.IsInf(lp, 0) {
				t.Fatalf("P(%q | %v) = %v %v", w, hist, lp, ok)
			}
			hist = append(hist, w)
		}
	})
}
