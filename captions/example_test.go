package captions_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/subtitled/subtitled/captions"
	"github.com/subtitled/subtitled/decoder"
)

// words makes words 0.3 s apart starting at start (90 kHz).
func words(text string, start int64) []decoder.Word {
	var ws []decoder.Word
	for i, f := range strings.Fields(text) {
		s := start + int64(i)*27000
		ws = append(ws, decoder.Word{Text: f, Start: s, End: s + 24000})
	}
	return ws
}

func ExampleBuilder() {
	opts := captions.DefaultOptions()
	opts.Clock = func() time.Time { return time.Date(2024, 1, 1, 20, 0, 0, 0, time.UTC) }
	b, err := captions.NewBuilder(opts)
	if err != nil {
		panic(err)
	}
	ws := words("Good evening. Storms are moving across the north of the country tonight, with heavy rain", 900000)

	// Partials update the revisable text.
	u, _ := b.Push(decoder.Result{Track: decoder.TrackVerbatim, Words: ws[:4], Segment: 1})
	fmt.Printf("partial: %q\n", u.Partial.Lines)

	// The final closes cues; the last waits for the next speech or Advance.
	u, _ = b.Push(decoder.Result{Track: decoder.TrackVerbatim, Words: ws, Segment: 1, Final: true})
	for _, c := range u.Cues {
		fmt.Printf("cue %d %.2f-%.2f %q\n", c.ID, float64(c.Start)/captions.ClockRate, float64(c.End)/captions.ClockRate, c.Lines)
	}
	for _, c := range b.Advance(ws[len(ws)-1].End + 3*captions.ClockRate) {
		fmt.Printf("cue %d %.2f-%.2f %q\n", c.ID, float64(c.Start)/captions.ClockRate, float64(c.End)/captions.ClockRate, c.Lines)
	}
	fmt.Println("next id:", b.NextID())
	// Output:
	// partial: ["Good evening. Storms are"]
	// cue 1 10.00-13.52 ["Good evening. Storms are moving" "across the north of the country tonight,"]
	// cue 2 13.60-15.47 ["with heavy rain"]
	// next id: 3
}

func ExampleRules() {
	r, err := captions.NewRules(captions.DefaultRulesConfig("en"))
	if err != nil {
		panic(err)
	}
	out := r.Apply(decoder.Result{Track: decoder.TrackVerbatim, Final: true,
		Words: words("UM THE THE WEATHER IS UH FINE", 0)})
	fmt.Println(out.Track+":", out.Text())
	// Output: subtitle: The weather is fine.
}
