package endpoint

import (
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	const frame = 40 * time.Millisecond // subsampling 4 × 10 ms
	tests := []struct {
		name             string
		frames, trailing int64
		inWord           bool
		rule             int
	}{
		{"silence shorter than rule1", 59, 59, false, 0},
		{"rule1: 2.4 s of silence alone", 60, 60, false, 1},
		{"speech then short pause", 39, 29, false, 0},
		{"rule2: 1.2 s pause after speech", 40, 30, false, 2},
		{"rule2 does not wait for a word to end", 40, 30, true, 2},
		{"rule3: 20 s of speech", 500, 0, false, 3},
		{"just under 20 s of speech", 499, 0, false, 0},
		{"rule3 waits inside a word", 500, 0, true, 0},
		{"rule3 waits at most MaxCutDelay", 549, 1, true, 0},
		{"rule3 cuts a word after MaxCutDelay", 550, 0, true, 3},
		{"rule3 cuts once the word has ended", 520, 0, false, 3},
		{"rule1 also fires after speech", 100, 60, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DefaultOptions().Check(tt.frames, tt.trailing, tt.inWord, frame); got != tt.rule {
				t.Fatalf("Check(%d, %d, %v) = rule %d, want %d", tt.frames, tt.trailing, tt.inWord, got, tt.rule)
			}
		})
	}
}

func TestZeroRulesAreDisabled(t *testing.T) {
	o := Options{Rule2: Rule{MustContainNonSilence: true, MinTrailingSilence: 400 * time.Millisecond}}
	if got := o.Check(100, 0, false, 40*time.Millisecond); got != 0 {
		t.Fatalf("only rule2 is set and there is no silence, got rule %d", got)
	}
	if got := o.Check(100, 10, false, 40*time.Millisecond); got != 2 {
		t.Fatalf("400 ms after speech should fire rule2, got %d", got)
	}
}
