// Package endpoint decides when an utterance has ended, with the rule1/2/3
// scheme of streaming recognisers (reference MODEL-CONTRACT §1.9): a long
// silence, a pause after speech, or a forced cut after a maximum length.
package endpoint

import "time"

// Rule is one endpoint rule; one with both thresholds zero is disabled. It fires when the utterance has speech (or the
// rule does not require it), the trailing silence is at least
// MinTrailingSilence and the utterance is at least MinUtteranceLength long.
type Rule struct {
	MustContainNonSilence bool
	MinTrailingSilence    time.Duration
	MinUtteranceLength    time.Duration
}

// Options holds the three rules.
type Options struct {
	Rule1, Rule2, Rule3 Rule
}

// MaxCutDelay is how long a cut that no silence asked for (a rule with no
// MinTrailingSilence, such as the forced cut of rule 3) waits for the search
// to be between words. A cut resets the search, so cutting inside a word
// splits it in two ("we | come"); in continuous speech the next word break
// comes within a few hundred milliseconds.
const MaxCutDelay = 2 * time.Second

// DefaultOptions returns the usual defaults: 2.4 s of silence with or without
// speech, 1.2 s of silence after speech, and a forced cut every 20 s.
func DefaultOptions() Options {
	return Options{
		Rule1: Rule{MustContainNonSilence: false, MinTrailingSilence: 2400 * time.Millisecond},
		Rule2: Rule{MustContainNonSilence: true, MinTrailingSilence: 1200 * time.Millisecond},
		Rule3: Rule{MinUtteranceLength: 20 * time.Second},
	}
}

// Check applies the rules to an utterance of frames output frames whose last
// trailing ones were blank, each frame covering frameDur of audio; inWord
// reports that the search's best hypothesis ends inside a word. It returns
// the rule that fires (1, 2 or 3), or 0 when none does. A rule that needs no
// trailing silence does not fire inside a word until the utterance is
// MaxCutDelay past its MinUtteranceLength.
func (o Options) Check(frames, trailing int64, inWord bool, frameDur time.Duration) int {
	silence := time.Duration(trailing) * frameDur
	length := time.Duration(frames) * frameDur
	hasSpeech := length > silence
	for i, r := range []Rule{o.Rule1, o.Rule2, o.Rule3} {
		if r.MinTrailingSilence <= 0 && r.MinUtteranceLength <= 0 {
			continue // a rule with no threshold is disabled
		}
		if (hasSpeech || !r.MustContainNonSilence) &&
			silence >= r.MinTrailingSilence && length >= r.MinUtteranceLength {
			if inWord && r.MinTrailingSilence <= 0 && length < r.MinUtteranceLength+MaxCutDelay {
				continue // wait for the word to end
			}
			return i + 1
		}
	}
	return 0
}
