package tonegen

import (
	"bytes"
	"testing"

	"github.com/subtitled/subtitled/ingest/wav"
)

func TestSpellOnsetsAndWAV(t *testing.T) {
	tab, err := Load("../../testdata/models/tone/tones.json")
	if err != nil {
		t.Fatal(err)
	}
	sp, err := tab.Spell("hi yo", 16000, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	per := (tab.ToneMS + tab.GapMS) * 16
	lead := tab.LeadInMS * 16
	// "hi" starts after the lead-in; "yo" after h, i and the word break.
	want := []int{lead, lead + 3*per}
	if len(sp.WordOnsets) != 2 || sp.WordOnsets[0] != want[0] || sp.WordOnsets[1] != want[1] {
		t.Fatalf("onsets %v, want %v", sp.WordOnsets, want)
	}
	if got, wantN := len(sp.Samples), lead+5*per+8000; got != wantN {
		t.Fatalf("%d samples, want %d", got, wantN)
	}
	r, err := wav.NewReader(bytes.NewReader(WAV(sp.Samples, 16000)))
	if err != nil {
		t.Fatal(err)
	}
	if f := r.Format(); f.SampleRate != 16000 || f.Channels != 1 {
		t.Fatalf("format %+v", f)
	}
	if _, err := tab.Spell("hello 42", 16000, 0); err == nil {
		t.Fatal("digits have no tone; want an error")
	}
}
