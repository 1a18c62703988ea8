package format

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/subtitled/subtitled/captions"
	"github.com/subtitled/subtitled/decoder"
)

// TestBuilderToFiles writes builder output as WebVTT and SRT, reads it
// back, and checks that text and times survive (to the millisecond) and
// that the parsers find nothing to warn about.
func TestBuilderToFiles(t *testing.T) {
	b, err := captions.NewBuilder(captions.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	var cues []captions.Cue
	pts := int64(123456789)
	for seg := range uint64(20) {
		var ws []decoder.Word
		for i := range 5 + int(seg)%7 {
			text := fmt.Sprintf("w%d_%d", seg, i)
			if i%4 == 3 {
				text += "."
			}
			ws = append(ws, decoder.Word{Text: text, Start: pts, End: pts + 20000})
			pts += 25000 + int64(i%3)*9000
		}
		pts += int64(seg%3) * 90000
		u, err := b.Push(decoder.Result{Track: decoder.TrackVerbatim, Words: ws, Final: true, Segment: seg})
		if err != nil {
			t.Fatal(err)
		}
		cues = append(cues, u.Cues...)
	}
	cues = append(cues, b.Flush().Cues...)
	if len(cues) < 20 {
		t.Fatalf("only %d cues", len(cues))
	}
	for _, tt := range []struct {
		f     Format
		parse func(string) (*File, error)
	}{{VTT, vttParse}, {SRT, srtParse}} {
		out := writeAll(t, tt.f, Options{TimeBase: FixedOrigin, Origin: cues[0].Start}, cues)
		f, err := tt.parse(string(out))
		if err != nil {
			t.Fatalf("%s: %v", tt.f, err)
		}
		if len(f.Warnings) != 0 {
			t.Errorf("%s: warnings %v", tt.f, f.Warnings)
		}
		if len(f.Cues) != len(cues) {
			t.Fatalf("%s: %d cues, want %d", tt.f, len(f.Cues), len(cues))
		}
		for i, c := range f.Cues {
			w := cues[i]
			if c.ID != w.ID || !slices.Equal(c.Lines, w.Lines) ||
				abs(c.Start+cues[0].Start-w.Start) > 45 || abs(c.End+cues[0].Start-w.End) > 45 {
				t.Errorf("%s cue %d: got %d %d..%d %q, want %d %d..%d %q", tt.f, i,
					c.ID, c.Start, c.End, strings.Join(c.Lines, "|"), w.ID, w.Start-cues[0].Start, w.End-cues[0].Start, strings.Join(w.Lines, "|"))
			}
		}
	}
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
