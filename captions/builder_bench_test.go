package captions

import (
	"math/rand/v2"
	"testing"

	"github.com/subtitled/subtitled/decoder"
)

// BenchmarkBuilder measures a live-like stream: every segment of 20 words
// arrives as 5 growing partials and a final. One op is one segment.
func BenchmarkBuilder(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	g := &streamGen{r: r, long: 43}
	segs := make([][]decoder.Word, 64)
	for i := range segs {
		for range 20 {
			segs[i] = append(segs[i], g.word())
		}
	}
	bl, err := NewBuilder(DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var seg uint64
	for i := 0; b.Loop(); i++ {
		if i%len(segs) == 0 {
			bl.Discontinuity() // the words repeat: start a new timeline
		}
		ws := segs[i%len(segs)]
		for k := 4; k <= len(ws); k += 4 {
			if _, err := bl.Push(decoder.Result{Track: decoder.TrackVerbatim, Words: ws[:k], Segment: seg}); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := bl.Push(decoder.Result{Track: decoder.TrackVerbatim, Words: ws, Segment: seg, Final: true}); err != nil {
			b.Fatal(err)
		}
		seg++
	}
}

// BenchmarkRules measures the verbatim → subtitle pipeline on a 20-word final.
func BenchmarkRules(b *testing.B) {
	cfg := DefaultRulesConfig("en")
	cfg.Filter = FilterMask
	cfg.Replacements = []Replacement{{From: "new york", To: "New York"}}
	rules, err := NewRules(cfg)
	if err != nil {
		b.Fatal(err)
	}
	res := decoder.Result{Track: decoder.TrackVerbatim, Final: true,
		Words: mkWords("UM SO THE THE WEATHER IN NEW YORK IS UH GOING TO BE VERY VERY COLD YOU KNOW TONIGHT AND")}
	b.ReportAllocs()
	for b.Loop() {
		rules.Apply(res)
	}
}
