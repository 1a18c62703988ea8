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
		rule             int
	}{
		{"silence shorter than rule1", 59, 59, 0},
		{"rule1: 2.4 s of silence alone", 60, 60, 1},
		{"speech then short pause", 39, 29, 0},
		{"rule2: 1.2 s pause after speech", 40, 30, 2},
		{"rule3: 20 s of speech", 500, 0, 3},
		{"just under 20 s of speech", 499, 0, 0},
		{"rule1 also fires after speech", 100, 60, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DefaultOptions().Check(tt.frames, tt.trailing, frame); got != tt.rule {
				t.Fatalf("Check(%d, %d) = rule %d, want %d", tt.frames, tt.trailing, got, tt.rule)
			}
		})
	}
}

func TestZeroRulesAreDisabled(t *testing.T) {
	o := Options{Rule2: Rule{MustContainNonSilence: true, MinTrailingSilence: 400 * time.Millisecond}}
	if got := o.Check(100, 0, 40*time.Millisecond); got != 0 {
		t.Fatalf("only rule2 is set and there is no silence, got rule %d", got)
	}
	if got := o.Check(100, 10, 40*time.Millisecond); got != 2 {
		t.Fatalf("400 ms after speech should fire rule2, got %d", got)
	}
}
