package ctc

import "github.com/subtitled/subtitled/decoder"

// Search is streaming CTC search for one stream, fed one model call's
// log-probs at a time: Greedy and Beam. Output frame o stands for feature
// frame o·R, at media time anchor + o·R·900 (90 kHz).
type Search interface {
	// Accept consumes log-probs of consecutive output frames, laid out [frames][V].
	Accept(logProbs []float32) error
	// TrailingBlanks is the number of blank output frames at the end of
	// the best path, the silence measure endpointing uses.
	TrailingBlanks() int64
	// InWord reports whether the best path ends inside a word that may
	// still grow, so that a cut now would split it.
	InWord() bool
	// Cut ends the current segment: it returns its words and starts a new
	// one whose frame 0 is the next output frame.
	Cut() []decoder.Word
	// Frames is the number of output frames consumed since the last Reset.
	Frames() int64
	// Words returns the best words so far, the last one possibly still growing.
	Words() []decoder.Word
	// Text returns Words joined by single spaces.
	Text() string
	// Reset forgets all output and re-anchors frame 0 at anchor.
	Reset(anchor int64)
	// Commit returns the words of the segment that can no longer change
	// and takes them out of Words and Cut, which go on with the rest; the
	// segment, its frame count and its times go on unchanged. A word is
	// committed once it is finished (another word has begun) and every
	// hypothesis the search keeps agrees on it and on the words before it.
	Commit() []decoder.Word
	// SetCommitForce makes a finished word of the best hypothesis that
	// ended force output frames ago committable even without agreement:
	// the hypotheses that disagree are dropped, frame by frame (force <= 0:
	// never). Greedy search has one hypothesis and ignores it.
	SetCommitForce(force int64)
}

var (
	_ Search = (*Greedy)(nil)
	_ Search = (*Beam)(nil)
)
