package onnx

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/subtitled/subtitled/decoder/ctc"
)

const toneARPA = `\data\
ngram 1=5
ngram 2=2

\1-grams:
-99 <s> -0.5
-1 </s>
-1 hello -0.3
-1 world -0.3
-1 water -0.3

\2-grams:
-0.1 <s> hello
-0.1 hello world

\end\
`

// decodingBundle copies the tone bundle and adds a lexicon, an LM and the
// given bundle.yaml.
func decodingBundle(t *testing.T, yaml string) string {
	return bundleWith(t, func(d string) {
		write(t, filepath.Join(d, "words.txt"), "hello\nworld\nwater\n")
		write(t, filepath.Join(d, "lm.arpa"), toneARPA)
		write(t, filepath.Join(d, "bundle.yaml"), yaml)
	})
}

func TestBundleDecodingConfig(t *testing.T) {
	dir := decodingBundle(t, "name: t\nlexicon: words.txt\nlm: lm.arpa\ndecoding: {beam: 4, lm_weight: 0.8, word_bonus: 1.5}\n")
	b, err := OpenBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	if b.Lexicon == nil || b.Lexicon.Len() != 3 || b.LM == nil || b.LM.Order() != 2 ||
		b.LexiconPath != filepath.Join(dir, "words.txt") || b.LMPath != filepath.Join(dir, "lm.arpa") {
		t.Fatalf("bundle %+v", b)
	}
	opt, ok := b.BeamOptions()
	want := ctc.BeamOptions{Beam: 4, Lexicon: b.Lexicon, LM: b.LM, Alpha: 0.8, Beta: 1.5, UnkPenalty: DefaultUnkPenalty}
	if !ok || !reflect.DeepEqual(opt, want) {
		t.Fatalf("BeamOptions = %+v %v, want %+v", opt, ok, want)
	}
	// Defaults; a lexicon alone is enough for beam search.
	b, err = OpenBundle(decodingBundle(t, "lexicon: words.txt\n"))
	if err != nil {
		t.Fatal(err)
	}
	opt, ok = b.BeamOptions()
	want = ctc.BeamOptions{Beam: ctc.DefaultBeam, Lexicon: b.Lexicon, Alpha: DefaultLMWeight, Beta: DefaultWordBonus, UnkPenalty: DefaultUnkPenalty}
	if !ok || !reflect.DeepEqual(opt, want) {
		t.Fatalf("default BeamOptions = %+v %v", opt, ok)
	}
	// Neither: greedy.
	b, _ = openTone(t)
	if _, ok := b.BeamOptions(); ok || b.Lexicon != nil || b.LM != nil {
		t.Fatal("the tone bundle asks for beam search")
	}
}

func TestBundleDecodingErrors(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		edit  func(t *testing.T, dir string)
		wraps error
		msg   []string
	}{
		{"missing lexicon", "lexicon: nope.txt\n", nil, ErrBundleDecoding, []string{"nope.txt", "no such file"}},
		{"missing lm", "lm: nope.arpa\n", nil, ErrBundleDecoding, []string{"lm ", "nope.arpa"}},
		{"unspellable word", "lexicon: words.txt\n", func(t *testing.T, d string) {
			write(t, filepath.Join(d, "words.txt"), "hello\nWorld\n")
		}, ctc.ErrLexicon, []string{"words.txt:2: ", `"World" cannot be spelled`, "tokens.txt"}},
		{"broken arpa", "lexicon: words.txt\nlm: lm.arpa\n", func(t *testing.T, d string) {
			write(t, filepath.Join(d, "lm.arpa"), "\\data\\\nngram 1=1\n\\1-grams:\n-1 a b c\n")
		}, ctc.ErrARPA, []string{"lm.arpa:4: "}},
		{"decoding alone", "decoding: {beam: 4}\n", nil, ErrBundleDecoding, []string{"need a lexicon or an lm"}},
		{"bad beam", "lexicon: words.txt\ndecoding: {beam: -2}\n", nil, ErrBundleDecoding, []string{"decoding.beam -2"}},
		{"bad weight", "lm: lm.arpa\ndecoding: {lm_weight: .nan}\n", nil, ErrBundleDecoding, []string{"lm_weight NaN"}},
		{"negative weight", "lm: lm.arpa\ndecoding: {lm_weight: -1}\n", nil, ErrBundleDecoding, []string{"lm_weight -1"}},
		{"weight without lm", "lexicon: words.txt\ndecoding: {lm_weight: 1}\n", nil, ErrBundleDecoding, []string{"without an lm"}},
		{"infinite bonus", "lexicon: words.txt\ndecoding: {word_bonus: .inf}\n", nil, ErrBundleDecoding, []string{"word_bonus"}},
		{"unknown key", "lexicon: words.txt\ndecoding: {beam_size: 4}\n", nil, ErrBundleConfig, []string{"beam_size"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := decodingBundle(t, tc.yaml)
			if tc.edit != nil {
				tc.edit(t, dir)
			}
			_, err := OpenBundle(dir)
			if !errors.Is(err, tc.wraps) {
				t.Fatalf("err = %v, want %v", err, tc.wraps)
			}
			if tc.wraps != ErrBundleConfig && !errors.Is(err, ErrBundleDecoding) {
				t.Errorf("err %v does not wrap ErrBundleDecoding", err)
			}
			mustContain(t, err, tc.msg...)
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

// A bundle with a lexicon streams through beam search, directly and
// through a Scheduler: the lexicon turns the spelled "wather" into "water",
// and words the lexicon has come out with greedy search's times.
func TestStreamerBeamSearch(t *testing.T) {
	b, err := OpenBundle(decodingBundle(t, "lexicon: words.txt\nlm: lm.arpa\n"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewModel(b, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	_, tone := openTone(t)
	sched := NewScheduler(m, SchedulerOptions{})
	defer sched.Close()
	const anchor = 450_000
	for _, tc := range []struct{ text, want string }{
		{"hello world", "hello world"},
		{"wather", "water"},
	} {
		s := spell(t, tc.text, 3, 23, 11, 12, 30)
		greedy, err := tone.NewStreamer(anchor)
		if err != nil {
			t.Fatal(err)
		}
		direct, err := m.NewStreamer(anchor)
		if err != nil {
			t.Fatal(err)
		}
		batched, err := sched.NewStreamer(anchor)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range []*Streamer{greedy, direct, batched} {
			acceptAll(t, st, s.frames)
		}
		batched.Close()
		if _, ok := direct.Search().(*ctc.Beam); !ok {
			t.Fatalf("search is %T, want *ctc.Beam", direct.Search())
		}
		if _, ok := greedy.Search().(*ctc.Greedy); !ok {
			t.Fatalf("tone search is %T, want *ctc.Greedy", greedy.Search())
		}
		if greedy.Text() != tc.text {
			t.Fatalf("greedy %q, want %q", greedy.Text(), tc.text)
		}
		if direct.Text() != tc.want || batched.Text() != tc.want {
			t.Fatalf("beam %q / batched %q, want %q", direct.Text(), batched.Text(), tc.want)
		}
		if !reflect.DeepEqual(direct.Words(), batched.Words()) {
			t.Errorf("direct %+v != batched %+v", direct.Words(), batched.Words())
		}
		if tc.text == tc.want {
			gw, bw := greedy.Words(), direct.Words()
			for i := range gw {
				if gw[i].Text != bw[i].Text || gw[i].Start != bw[i].Start || gw[i].End != bw[i].End {
					t.Errorf("word %d: beam %+v, greedy %+v", i, bw[i], gw[i])
				}
			}
		}
		if w := direct.Search().Cut(); len(w) != len(strings.Fields(tc.want)) {
			t.Errorf("cut %+v", w)
		}
	}
}
