package captions

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/subtitled/subtitled/decoder"
)

var rulesVocab = []string{"uh", "Um,", "um.", "(uh)", "you", "know,", "know", "the", "The", "I", "i", "I,",
	"that", "shit!", "new", "york", "York.", "hello", "HELLO", "WORLD", "world.", "a", "é", "ÉTÉ", "\"so,", "4",
	"erm?\"", "like", "gonna", ",", "...", "—", "Mr.", "ok", "euh", "äh", "o", "sea,"}

// TestRulesProperties runs random word streams through every rule and
// checks that words stay non-empty and in time order, and that nothing
// panics.
func TestRulesProperties(t *testing.T) {
	for seed := uint64(1); seed <= 300; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		cfg := RulesConfig{
			Language:            []string{"en", "de", "fr", "es", "xx"}[r.IntN(5)],
			RemoveFillers:       r.IntN(2) == 0,
			CollapseRepetitions: r.IntN(2) == 0,
			RestoreCasing:       r.IntN(2) == 0,
			Filter:              FilterMode(r.IntN(3)),
			Fillers:             []string{"like"},
			Replacements:        []Replacement{{"new york", "New York"}, {"gonna", "going to"}, {"ok", ""}},
		}
		rules, err := NewRules(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var tm int64
		for seg := range uint64(10) {
			n := r.IntN(15)
			var ws []decoder.Word
			for range n {
				d := int64(1 + r.IntN(9000))
				ws = append(ws, decoder.Word{Text: rulesVocab[r.IntN(len(rulesVocab))], Start: tm, End: tm + d})
				tm += d + int64(r.IntN(9000))
			}
			in := decoder.Result{Track: decoder.TrackVerbatim, Words: ws, Final: r.IntN(2) == 0, Segment: seg}
			out := rules.Apply(in)
			if out.Track != decoder.TrackSubtitle || out.Segment != seg || out.Final != in.Final {
				t.Fatalf("seed %d: header %+v", seed, out)
			}
			if len(out.Words) > 2*len(ws) {
				t.Fatalf("seed %d: %d words from %d", seed, len(out.Words), len(ws))
			}
			for i, w := range out.Words {
				if w.Text == "" || strings.TrimSpace(w.Text) != w.Text || strings.Contains(w.Text, " ") {
					t.Fatalf("seed %d: bad word %q in %q → %q", seed, w.Text, in.Text(), out.Text())
				}
				if w.End < w.Start || (i > 0 && w.Start < out.Words[i-1].Start) {
					t.Fatalf("seed %d: times out of order in %q → %+v", seed, in.Text(), out.Words)
				}
			}
		}
	}
}
