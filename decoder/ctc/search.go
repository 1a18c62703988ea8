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
}

var (
	_ Search = (*Greedy)(nil)
	_ Search = (*Beam)(nil)
)
