package transducer

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzWords decodes a scripted token sequence (one byte per encoder frame,
// taken modulo V; blanks and <unk> included) and checks the assembled words:
// valid UTF-8 even for unpaired byte-fallback tokens, the same text as the
// CTC token assembly, ordered timestamps, and the same result from both
// search methods.
func FuzzWords(f *testing.F) {
	f.Add([]byte{10, 7, 8, 0, 9, 3, 4})      // CAF <0xC3> <0xA9> ▁ HEL LO
	f.Add([]byte{8, 7, 7, 0, 8})             // lone continuation bytes
	f.Add([]byte{2, 9, 9, 2, 5, 2, 6, 0, 0}) // <unk> and bare ▁ between pieces
	f.Add([]byte{4, 6, 7, 1, 3})             // pieces without a word start, <sos/eos>
	f.Fuzz(func(t *testing.T, script []byte) {
		if len(script) > 256 {
			script = script[:256]
		}
		tok := tokens(t)
		spec := make([]int, len(script))
		var want []int
		for i, b := range script {
			spec[i] = int(b) % tok.Len()
			if spec[i] != BlankID && spec[i] != 2 {
				want = append(want, spec[i])
			}
		}
		var texts []string
		for _, method := range []string{Greedy, ModifiedBeam} {
			net, s := newSearch(t, Options{Method: method})
			st := s.NewStream(0)
			decodeChunks(t, s, st, net.frames(spec...), 5)
			if got := st.Tokens(); !slices.Equal(got, want) {
				t.Fatalf("%s: tokens %v, want %v", method, got, want)
			}
			words := st.Words()
			var prevEnd int64
			for i, w := range words {
				if w.Text == "" || !utf8.ValidString(w.Text) || strings.ContainsAny(w.Text, " \u2581") {
					t.Fatalf("%s: word %d %q", method, i, w.Text)
				}
				if w.Start >= w.End || w.Start < prevEnd {
					t.Fatalf("%s: word %d spans [%d,%d) after %d", method, i, w.Start, w.End, prevEnd)
				}
				prevEnd = w.End
			}
			text := st.Text()
			if oracle := tok.Text(want); text != oracle {
				t.Fatalf("%s: text %q, token assembly %q", method, text, oracle)
			}
			texts = append(texts, text)
		}
		if texts[0] != texts[1] {
			t.Fatalf("greedy %q, beam %q", texts[0], texts[1])
		}
	})
}
